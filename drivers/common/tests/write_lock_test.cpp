// Tests of common/write_lock.hpp: the holder's thread follows the
// transaction, a replaced record is not released by its old holder, waiting
// for one's own holder is refused, reserve() takes turns one at a time, loses
// no wake-up to a thread taking the turn back, bounds a starved waiter by its
// slice, and shared_per_key shares per key.
#include "common/write_lock.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace {

using evdb::common::WriteLockTracker;
using namespace std::chrono_literals;

std::thread::id other_thread_id() {
  std::thread t([] {});
  std::thread::id id = t.get_id();
  t.join();
  return id;
}

TEST(WriteLockTracker, HeldByTheThreadThatLastUsedTheHolder) {
  WriteLockTracker t;
  const auto me = std::this_thread::get_id();
  const auto other = other_thread_id();
  EXPECT_FALSE(t.held_by(me));
  WriteLockTracker::Hold h = t.acquired(me);
  EXPECT_TRUE(h);
  EXPECT_TRUE(t.held_by(me));
  EXPECT_FALSE(t.held_by(other));
  h.touch(other);  // the transaction moved to another thread
  EXPECT_FALSE(t.held_by(me));
  EXPECT_TRUE(t.held_by(other));
  h.release();
  EXPECT_FALSE(h);
  EXPECT_FALSE(t.held_by(other));
  h.release();  // idempotent
}

TEST(WriteLockTracker, DestroyingTheHoldReleases) {
  WriteLockTracker t;
  const auto me = std::this_thread::get_id();
  {
    WriteLockTracker::Hold h = t.acquired(me);
    WriteLockTracker::Hold moved = std::move(h);
    EXPECT_FALSE(h);  // NOLINT(bugprone-use-after-move): moved-from is empty
    EXPECT_TRUE(t.held_by(me));
  }
  EXPECT_FALSE(t.held_by(me));
}

// A holder whose lock passed to another transaction (a Redis lock that
// expired) releases nothing and no longer moves the record's thread.
TEST(WriteLockTracker, AReplacedHolderReleasesNothing) {
  WriteLockTracker t;
  const auto me = std::this_thread::get_id();
  const auto other = other_thread_id();
  WriteLockTracker::Hold first = t.acquired(me);
  WriteLockTracker::Hold second = t.acquired(other);
  first.touch(me);
  EXPECT_TRUE(t.held_by(other));
  first.release();
  EXPECT_TRUE(t.held_by(other));
  second.release();
  EXPECT_FALSE(t.held_by(other));
}

TEST(WriteLockTracker, WaitingForOnesOwnHolderIsRefused) {
  WriteLockTracker t;
  const auto me = std::this_thread::get_id();
  EXPECT_EQ(t.wait_for_holder(me, 1ms), WriteLockTracker::Wait::kNoHolder);
  WriteLockTracker::Hold h = t.acquired(me);
  EXPECT_EQ(t.wait_for_holder(me, 1ms), WriteLockTracker::Wait::kSelf);
  // Anyone else waits (here: for the slice, as the holder stays).
  EXPECT_EQ(t.wait_for_holder(other_thread_id(), 1ms), WriteLockTracker::Wait::kWaited);
  h.release();
  EXPECT_EQ(t.wait_for_holder(me, 1ms), WriteLockTracker::Wait::kNoHolder);
}

TEST(WriteLockTracker, ReserveTakesAFreeTurnAndRefusesOnesOwn) {
  WriteLockTracker t;
  const auto me = std::this_thread::get_id();
  const auto other = other_thread_id();
  WriteLockTracker::Hold h;
  ASSERT_EQ(t.reserve(me, 0ms, h), WriteLockTracker::Reserve::kReserved);
  EXPECT_TRUE(h);
  EXPECT_TRUE(t.held_by(me));
  WriteLockTracker::Hold again;
  EXPECT_EQ(t.reserve(me, 1ms, again), WriteLockTracker::Reserve::kSelf);
  EXPECT_FALSE(again);
  WriteLockTracker::Hold theirs;
  EXPECT_EQ(t.reserve(other, 0ms, theirs), WriteLockTracker::Reserve::kBusy);
  EXPECT_EQ(t.reserve(other, 1ms, theirs), WriteLockTracker::Reserve::kBusy);
  EXPECT_FALSE(theirs);
  EXPECT_TRUE(t.held_by(me)) << "a refused reservation records nothing";
  h.release();
  EXPECT_EQ(t.reserve(other, 0ms, theirs), WriteLockTracker::Reserve::kReserved);
  EXPECT_TRUE(t.held_by(other));
}

// Threads that wait in reserve() get the turn one at a time, and no wake-up
// is lost: with waits far longer than the test, a lost one would hang it
// (ctest's timeout).
TEST(WriteLockTracker, ReleasesHandTheTurnToWaitingThreadsOneAtATime) {
  WriteLockTracker t;
  constexpr int kThreads = 8, kTurns = 200;
  std::atomic<int> inside{0}, overlaps{0}, turns{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      const auto me = std::this_thread::get_id();
      for (int n = 0; n < kTurns; ++n) {
        WriteLockTracker::Hold h;
        while (t.reserve(me, std::chrono::microseconds(600s), h) !=
               WriteLockTracker::Reserve::kReserved) {
        }
        if (inside.fetch_add(1) != 0) overlaps++;
        turns++;
        if (n % 8 == 0) std::this_thread::yield();
        inside.fetch_sub(1);
      }  // h releases
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(turns.load(), kThreads * kTurns);
  EXPECT_FALSE(t.held_by(std::this_thread::get_id()));
}

// A release keeps nothing for the waiter it wakes: a running thread may take
// the turn again first, and the woken one waits again. The wake-ups must not
// be lost for all that: after the barging holder stops, both waiters (with
// waits far longer than the test) still get the turn.
TEST(WriteLockTracker, AWaiterThatLostToABargerIsWokenAgainLater) {
  WriteLockTracker t;
  const auto me = std::this_thread::get_id();
  WriteLockTracker::Hold h;
  ASSERT_EQ(t.reserve(me, 0ms, h), WriteLockTracker::Reserve::kReserved);
  std::atomic<int> waiting{0}, got{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i)
    waiters.emplace_back([&] {
      const auto id = std::this_thread::get_id();
      WriteLockTracker::Hold mine;
      waiting++;
      while (t.reserve(id, std::chrono::microseconds(600s), mine) !=
             WriteLockTracker::Reserve::kReserved) {
      }
      got++;
    });  // mine releases
  while (waiting.load() < 2) std::this_thread::yield();
  std::this_thread::sleep_for(5ms);  // both asleep in reserve()
  for (int n = 0; n < 1000; ++n) {   // release and take again at once
    h.release();
    if (t.reserve(me, 0ms, h) != WriteLockTracker::Reserve::kReserved) break;
  }
  h.release();
  for (auto& th : waiters) th.join();
  EXPECT_EQ(got.load(), 2);
  EXPECT_FALSE(t.held_by(me));
}

// A waiter that keeps losing to threads taking the turn back to back (not
// in arrival order) is bounded by its own wait: reserve() returns kBusy when
// its slice ends (here shorter than the 5 ms after which a release hands the
// turn to the longest waiter), recording nothing, and never hangs.
TEST(WriteLockTracker, AStarvedWaiterEndsWhenItsSliceEnds) {
  WriteLockTracker t;
  std::atomic<bool> stop{false};
  std::vector<std::thread> bargers;
  for (int i = 0; i < 2; ++i)
    bargers.emplace_back([&] {
      const auto id = std::this_thread::get_id();
      while (!stop.load()) {
        WriteLockTracker::Hold h;
        if (t.reserve(id, 1ms, h) != WriteLockTracker::Reserve::kReserved) continue;
        const auto end = std::chrono::steady_clock::now() + 20us;  // a short transaction
        while (std::chrono::steady_clock::now() < end) {
        }
      }  // h releases; the next loop asks again at once
    });
  const auto me = std::this_thread::get_id();
  int reserved = 0, busy = 0;
  for (int n = 0; n < 50; ++n) {
    WriteLockTracker::Hold h;
    const auto before = std::chrono::steady_clock::now();
    switch (t.reserve(me, 2ms, h)) {
      case WriteLockTracker::Reserve::kReserved:
        EXPECT_TRUE(h);
        EXPECT_TRUE(t.held_by(me));
        reserved++;
        break;
      case WriteLockTracker::Reserve::kBusy:
        EXPECT_FALSE(h) << "a refused reservation records nothing";
        EXPECT_GE(std::chrono::steady_clock::now() - before, 2ms) << "it waited its slice";
        busy++;
        break;
      case WriteLockTracker::Reserve::kSelf:
        ADD_FAILURE() << "this thread holds nothing";
    }
  }
  stop = true;
  for (auto& th : bargers) th.join();
  EXPECT_EQ(reserved + busy, 50);
}

struct Named {
  explicit Named(const std::string& k) : key(k) {}
  std::string key;
};

TEST(SharedPerKey, OnePerKeyWhileHeld) {
  auto a = evdb::common::shared_per_key<Named>("a");
  auto a2 = evdb::common::shared_per_key<Named>("a");
  auto b = evdb::common::shared_per_key<Named>("b");
  EXPECT_EQ(a, a2);
  EXPECT_NE(a, b);
  EXPECT_EQ(a->key, "a");
  auto t1 = evdb::common::shared_per_key<WriteLockTracker>("a");
  auto t2 = evdb::common::shared_per_key<WriteLockTracker>("a");
  EXPECT_EQ(t1, t2);
  std::weak_ptr<Named> gone = b;
  b.reset();
  EXPECT_TRUE(gone.expired()) << "the registry keeps no strong reference";
}

}  // namespace
