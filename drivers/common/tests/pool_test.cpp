// Tests of common/pool.hpp: reuse, closing broken connections, the idle and
// open limits, and a wait for a free connection ended by the context.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "common/pool.hpp"
#include "test_support/fake_host.hpp"

namespace {

using evdb::common::Health;
using evdb::drv::Ctx;
using evdb::test_support::FakeContext;

// A connection that counts how many of its kind are alive.
struct Connection {
  explicit Connection(std::atomic<int>& alive, int id) : alive(alive), id(id) { ++alive; }
  ~Connection() { --alive; }
  std::atomic<int>& alive;
  int id;
};
using Pool = evdb::common::Pool<Connection>;

struct PoolTest : ::testing::Test {
  std::atomic<int> alive{0};
  std::atomic<int> opened{0};
  Pool::Open open = [this](const Ctx&) { return std::make_unique<Connection>(alive, ++opened); };
  Ctx none{nullptr, nullptr};

  // Opens two connections at once, then gives both back as reusable.
  void acquire_two_and_release(Pool& pool) {
    auto a = pool.acquire(none);
    auto b = pool.acquire(none);
    pool.release(std::move(a), Health::Reusable);
    pool.release(std::move(b), Health::Reusable);
  }
};

TEST_F(PoolTest, ReusesAReleasedConnection) {
  Pool pool({4, 0, ""}, open);
  auto c = pool.acquire(none);
  int id = c->id;
  pool.release(std::move(c), Health::Reusable);
  EXPECT_EQ(pool.acquire(none)->id, id);
  EXPECT_EQ(opened, 1);
}

TEST_F(PoolTest, ClosesABrokenConnection) {
  Pool pool({4, 0, ""}, open);
  pool.release(pool.acquire(none), Health::Broken);
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(pool.acquire(none)->id, 2);
}

TEST_F(PoolTest, KeepsAtMostMaxIdle) {
  Pool pool({1, 0, ""}, open);
  acquire_two_and_release(pool);
  EXPECT_EQ(alive, 1);
}

TEST_F(PoolTest, AdoptedConnectionServesTheFirstAcquire) {
  Pool pool({2, 0, ""}, open);
  pool.adopt(std::make_unique<Connection>(alive, 100));
  EXPECT_EQ(pool.acquire(none)->id, 100);
  EXPECT_EQ(opened, 0);
}

TEST_F(PoolTest, AdoptIntoAPoolThatKeepsNothingClosesIt) {
  Pool pool({0, 0, ""}, open);
  pool.adopt(std::make_unique<Connection>(alive, 100));
  EXPECT_EQ(alive, 0);
}

TEST_F(PoolTest, DropIdleClosesEveryIdleConnection) {
  Pool pool({4, 0, ""}, open);
  acquire_two_and_release(pool);
  EXPECT_EQ(alive, 2);
  pool.drop_idle();
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(pool.acquire(none)->id, 3);
}

TEST_F(PoolTest, AFailedOpenFreesItsPlace) {
  bool fail = true;
  Pool pool({1, 1, "pool_max"}, [&](const Ctx& ctx) {
    if (fail) evdb::drv::fail(EVDB_CONNECTION, "down");
    return open(ctx);
  });
  EXPECT_THROW(pool.acquire(none), evdb::drv::Error);
  fail = false;
  EXPECT_NE(pool.acquire(none), nullptr);  // would wait for ever if the place were lost
}

TEST_F(PoolTest, AtMaxOpenAcquireWaitsForARelease) {
  Pool pool({1, 1, "pool_max"}, open);
  auto held = pool.acquire(none);
  int id = held->id;
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    auto c = pool.acquire(none);
    got = true;
    EXPECT_EQ(c->id, id);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_FALSE(got);  // still waiting: the only place is taken
  pool.release(std::move(held), Health::Reusable);
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(opened, 1);
}

TEST_F(PoolTest, AtMaxOpenABrokenReleaseLetsANewOneOpen) {
  Pool pool({1, 1, "pool_max"}, open);
  auto held = pool.acquire(none);
  std::thread waiter([&] { EXPECT_EQ(pool.acquire(none)->id, 2); });
  pool.release(std::move(held), Health::Broken);
  waiter.join();
}

TEST_F(PoolTest, AWaitAtMaxOpenEndsWithTheContext) {
  Pool pool({1, 1, "pool_max"}, open);
  auto held = pool.acquire(none);
  FakeContext fctx;
  Ctx ctx(fctx.raw(), FakeContext::host());
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    fctx.cancel();
  });
  try {
    pool.acquire(ctx);
    ADD_FAILURE() << "acquire returned a connection beyond max_open";
  } catch (const evdb::drv::Error& e) {
    EXPECT_EQ(e.code(), EVDB_CANCELED);
    EXPECT_NE(std::string(e.what()).find("pool_max=1"), std::string::npos) << e.what();
  }
  canceller.join();
}

}  // namespace
