// Tests of common/reconnect.hpp: the pauses double up to the maximum, the
// time limit ends reconnecting with CONNECTION, success starts over.
#include <gtest/gtest.h>

#include <vector>

#include "common/reconnect.hpp"
#include "test_support/fake_host.hpp"

namespace {

using evdb::common::Reconnect;
using evdb::drv::Ctx;
using evdb::test_support::FakeContext;

TEST(Reconnect, PausesDoubleUpToTheMaximum) {
  FakeContext fctx;
  Ctx ctx(fctx.raw(), FakeContext::host());
  Reconnect r(60000, 100);
  for (int i = 0; i < 5; ++i) r.failed(ctx, "refused");
  EXPECT_EQ(fctx.sleeps(), (std::vector<int64_t>{20000, 40000, 80000, 100000, 100000}));
}

TEST(Reconnect, SuccessStartsOverFromTheFirstPause) {
  FakeContext fctx;
  Ctx ctx(fctx.raw(), FakeContext::host());
  Reconnect r(60000, 1000);
  r.failed(ctx, "refused");
  r.failed(ctx, "refused");
  r.connected();
  r.failed(ctx, "refused");
  EXPECT_EQ(fctx.sleeps(), (std::vector<int64_t>{20000, 40000, 20000}));
}

TEST(Reconnect, GivesUpWithConnectionNamingTheLimitAndTheCause) {
  FakeContext fctx;
  Ctx ctx(fctx.raw(), FakeContext::host());
  Reconnect r(0, 1000);
  try {
    r.failed(ctx, "connection refused");
    ADD_FAILURE() << "a zero reconnect time allowed another attempt";
  } catch (const evdb::drv::Error& e) {
    EXPECT_EQ(e.code(), EVDB_CONNECTION);
    std::string m = e.what();
    EXPECT_NE(m.find("listen_reconnect_timeout_ms=0"), std::string::npos) << m;
    EXPECT_NE(m.find("connection refused"), std::string::npos) << m;
  }
  EXPECT_TRUE(fctx.sleeps().empty());
}

TEST(Reconnect, NoPauseReachesPastTheLimit) {
  FakeContext fctx;
  Ctx ctx(fctx.raw(), FakeContext::host());
  Reconnect r(30, 1000);
  r.lost();
  try {
    for (int i = 0; i < 10; ++i) r.failed(ctx, "refused");
    ADD_FAILURE() << "reconnecting went on past the limit";
  } catch (const evdb::drv::Error& e) {
    EXPECT_EQ(e.code(), EVDB_CONNECTION);
  }
  // Each pause is at most what is left of the 30 ms, so together they fit.
  int64_t total = 0;
  for (int64_t us : fctx.sleeps()) total += us;
  EXPECT_LE(total, 30000);
}

}  // namespace
