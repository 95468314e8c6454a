// Tests of common/wait.hpp: a ready descriptor is reported, a cancelled
// context ends the wait (with or without a cancel fd), the cap is honoured.
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <thread>

#include "common/clock.hpp"
#include "common/wait.hpp"
#include "test_support/fake_host.hpp"

namespace {

using evdb::common::wait_fd;
using evdb::drv::Ctx;
using evdb::test_support::CancelFd;
using evdb::test_support::FakeContext;

struct Pipe {
  Pipe() { EXPECT_EQ(::pipe(fd), 0); }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  int fd[2];
};

TEST(WaitFd, ReportsAReadyDescriptor) {
  Pipe p;
  ASSERT_EQ(::write(p.fd[1], "x", 1), 1);
  EXPECT_EQ(wait_fd(nullptr, p.fd[0], POLLIN, -1, "reading") & POLLIN, POLLIN);
}

TEST(WaitFd, ReturnsZeroWhenTheCapPasses) {
  Pipe p;
  EXPECT_EQ(wait_fd(nullptr, p.fd[0], POLLIN, 0, "reading"), 0);
}

class WaitFdCancel : public ::testing::TestWithParam<CancelFd> {};

// Without the context, these waits would never end (the pipe stays empty).
TEST_P(WaitFdCancel, ACancelledContextEndsTheWait) {
  Pipe p;
  FakeContext fctx(GetParam());
  Ctx ctx(fctx.raw(), FakeContext::host());
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    fctx.cancel();
  });
  while (ctx.status() == EVDB_OK) EXPECT_EQ(wait_fd(&ctx, p.fd[0], POLLIN, -1, "reading"), 0);
  canceller.join();
  EXPECT_EQ(ctx.status(), EVDB_CANCELED);
}

INSTANTIATE_TEST_SUITE_P(WithAndWithoutCancelFd, WaitFdCancel,
                         ::testing::Values(CancelFd::Eventfd, CancelFd::None));

TEST(WaitFd, ADeadlineEndsTheWait) {
  Pipe p;
  FakeContext fctx;
  fctx.expire_in_us(20000);
  Ctx ctx(fctx.raw(), FakeContext::host());
  while (ctx.status() == EVDB_OK) EXPECT_EQ(wait_fd(&ctx, p.fd[0], POLLIN, -1, "reading"), 0);
  EXPECT_EQ(ctx.status(), EVDB_DEADLINE_EXCEEDED);
}

TEST(Clock, WallTimeIsMicrosecondsSinceTheEpoch) {
  int64_t before = static_cast<int64_t>(::time(nullptr));
  int64_t us = evdb::common::wall_now_us();
  int64_t after = static_cast<int64_t>(::time(nullptr));
  EXPECT_GE(us / 1000000, before);
  EXPECT_LE(us / 1000000, after);
}

}  // namespace
