"""Test certificates made at test time with the openssl CLI: a self-signed CA, server
certificates for 127.0.0.1 and localhost signed by it, and a client certificate (mTLS). Nothing
is checked in; every test run has fresh keys."""
import os
import ssl
import subprocess

SERVER_SAN = "subjectAltName=IP:127.0.0.1,DNS:localhost"


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _key(name, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", name, cwd=cwd)


class TestPki:
    """Files in `directory`: ca.pem/ca.key, server.pem/server.key (CN=valtronics-test-1),
    client.pem/client.key. server_cert(n) makes more server certificates (for reloads)."""

    def __init__(self, directory):
        self.dir = directory
        _key("ca.key", directory)
        _openssl("req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "2",
                 "-subj", "/CN=Valtronics Test CA", cwd=directory)
        self.server_cert(1, "server")
        _key("client.key", directory)
        _openssl("req", "-new", "-key", "client.key", "-out", "client.csr",
                 "-subj", "/CN=device-7", cwd=directory)
        self._sign("client.csr", "client.pem", "extendedKeyUsage=clientAuth")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _sign(self, csr, out, ext):
        ext_file = os.path.join(self.dir, out + ".ext")
        with open(ext_file, "w") as f:
            f.write(ext + "\n")
        _openssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", out, "-days", "2", "-extfile", ext_file, cwd=self.dir)

    def server_cert(self, n, name):
        """Makes NAME.pem / NAME.key, CN=valtronics-test-N, for 127.0.0.1 and localhost."""
        _key(name + ".key", self.dir)
        _openssl("req", "-new", "-key", name + ".key", "-out", name + ".csr",
                 "-subj", f"/CN=valtronics-test-{n}", cwd=self.dir)
        self._sign(name + ".csr", name + ".pem",
                   SERVER_SAN + "\nextendedKeyUsage=serverAuth")
        return self.path(name + ".pem"), self.path(name + ".key")

    def client_context(self, client_cert=False):
        """An ssl.SSLContext trusting the test CA (and presenting the client certificate)."""
        ctx = ssl.create_default_context(cafile=self.path("ca.pem"))
        if client_cert:
            ctx.load_cert_chain(self.path("client.pem"), self.path("client.key"))
        return ctx


def peer_common_name(cert):
    """CN of a certificate as returned by SSLSocket.getpeercert()."""
    for rdn in cert["subject"]:
        for k, v in rdn:
            if k == "commonName":
                return v
    return None
