// The server's TLS context: versions, cipher policy, buffer release, client-certificate mode,
// errors naming the file, and the reloadable store keeping the old context on a bad file.

#include "net/tls_context.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "net/test_pki.hpp"

namespace valtronics::net {
namespace {

using testing::TestPki;

config::TlsConfig tls_of(const TestPki& pki, const std::string& name = "server") {
  config::TlsConfig t;
  t.cert = pki.path(name + ".pem");
  t.key = pki.path(name + ".key");
  return t;
}

std::string error_of(const config::TlsConfig& t) {
  try {
    make_server_tls_context(t);
  } catch (const TlsError& e) {
    return e.what();
  }
  return "";
}

std::string common_name(SSL_CTX* ctx) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  char buf[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
  return buf;
}

TEST(TlsContextTest, PolicyOfTheContext) {
  TestPki pki;
  SslCtxPtr ctx = make_server_tls_context(tls_of(pki));
  ASSERT_TRUE(ctx);
  EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_2_VERSION);
  EXPECT_EQ(SSL_CTX_get_max_proto_version(ctx.get()), TLS1_3_VERSION);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx.get()), SSL_VERIFY_NONE);
  EXPECT_TRUE(SSL_CTX_get_mode(ctx.get()) & SSL_MODE_RELEASE_BUFFERS);
  EXPECT_TRUE(SSL_CTX_get_mode(ctx.get()) & SSL_MODE_ENABLE_PARTIAL_WRITE);
  EXPECT_EQ(common_name(ctx.get()), "valtronics-unit-1");
  // Every suite on offer: TLS 1.3 (all AEAD), or TLS 1.2 with ECDHE and an AEAD cipher.
  STACK_OF(SSL_CIPHER)* ciphers = SSL_CTX_get_ciphers(ctx.get());
  ASSERT_GT(sk_SSL_CIPHER_num(ciphers), 0);
  for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
    const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
    EXPECT_TRUE(SSL_CIPHER_is_aead(c)) << SSL_CIPHER_get_name(c);
    const int kx = SSL_CIPHER_get_kx_nid(c);
    EXPECT_TRUE(kx == NID_kx_ecdhe || kx == NID_kx_any) << SSL_CIPHER_get_name(c);
  }
}

TEST(TlsContextTest, ClientCertificatesRequiredWithACaFile) {
  TestPki pki;
  auto t = tls_of(pki);
  t.ca_file = pki.path("ca.pem");
  SslCtxPtr ctx = make_server_tls_context(t);
  EXPECT_EQ(SSL_CTX_get_verify_mode(ctx.get()),
            SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
  EXPECT_EQ(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(ctx.get())), 1);
}

TEST(TlsContextTest, ErrorsNameTheFile) {
  TestPki pki;
  auto t = tls_of(pki);
  t.cert = pki.path("missing.pem");
  EXPECT_NE(error_of(t).find("cannot read TLS certificate " + t.cert), std::string::npos);

  t = tls_of(pki);
  t.key = pki.path("missing.key");
  EXPECT_NE(error_of(t).find("cannot read TLS key " + t.key), std::string::npos);

  t = tls_of(pki);
  pki.write("garbage.pem", "not a certificate\n");
  t.cert = pki.path("garbage.pem");
  EXPECT_NE(error_of(t).find("TLS certificate " + t.cert + ": not a PEM certificate"),
            std::string::npos);

  t = tls_of(pki);
  t.key = pki.path("other.key");
  EXPECT_NE(error_of(t).find("TLS key " + t.key + " does not match the certificate"),
            std::string::npos);

  t = tls_of(pki);
  t.ca_file = pki.path("garbage.pem");
  EXPECT_NE(error_of(t).find("TLS client CA file " + t.ca_file), std::string::npos);
}

TEST(TlsContextTest, StoreReloadsAndKeepsTheOldContextOnABadFile) {
  TestPki pki;
  pki.server("live", "valtronics-unit-1");
  TlsContextStore store(tls_of(pki, "live"));
  SslCtxPtr first = store.current();
  EXPECT_EQ(common_name(first.get()), "valtronics-unit-1");

  pki.server("live", "valtronics-unit-2");  // new files under the same names
  EXPECT_TRUE(store.reload());
  SslCtxPtr second = store.current();
  EXPECT_NE(first.get(), second.get());
  EXPECT_EQ(common_name(second.get()), "valtronics-unit-2");
  // The first context lives on for whoever still holds it (open connections).
  EXPECT_EQ(common_name(first.get()), "valtronics-unit-1");

  pki.write("live.key", "broken\n");
  EXPECT_FALSE(store.reload());
  EXPECT_EQ(store.current().get(), second.get());
}

}  // namespace
}  // namespace valtronics::net
