// What the NATS link shows of its URLs (cluster/nats_link.hpp): never a password.
#include <gtest/gtest.h>

#include "cluster/nats_link.hpp"

namespace valtronics::cluster {
namespace {

TEST(NatsLinkDisplay, PasswordsAreMaskedAndTheRestKept) {
  EXPECT_EQ(NatsLink::display("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  EXPECT_EQ(NatsLink::display("nats://app:s3cret@nats:4222"), "nats://app:***@nats:4222");
  EXPECT_EQ(NatsLink::display("tls://app:pw@a:4222, nats://b:4222"),
            "tls://app:***@a:4222,nats://b:4222");
  EXPECT_EQ(NatsLink::display("nats://t0ken@nats:4222"), "nats://***@nats:4222");
}

}  // namespace
}  // namespace valtronics::cluster
