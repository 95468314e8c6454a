// write_lock.cpp — this process's record of who holds a store's write lock.
#include "common/write_lock.hpp"

#include <algorithm>
#include <iterator>

namespace evdb::common {

WriteLockTracker::Hold WriteLockTracker::acquired(std::thread::id user) {
  std::lock_guard lock(mu_);
  held_ = true;
  thread_.store(user, std::memory_order_relaxed);
  return Hold(this, ++serial_);
}

// A thread waiting in reserve(), in waiters_ while it waits. Lives on that
// thread's stack: others touch it only under mu_, and it leaves waiters_
// (or was taken out by a hand-over) before reserve() returns.
struct WriteLockTracker::Waiter {
  std::condition_variable cv;
  std::thread::id id;
  std::chrono::steady_clock::time_point since;  // when its wait began (the order)
  bool handed = false;  // a release handed it the turn (serial is its record)
  uint64_t serial = 0;
};

void WriteLockTracker::Hold::release() noexcept {
  if (t_ == nullptr) return;
  WriteLockTracker& t = *t_;
  t_ = nullptr;
  bool freed = true;
  {
    std::lock_guard lock(t.mu_);
    if (!t.held_ || t.serial_ != serial_) return;  // replaced by a later holder
    if (!t.waiters_.empty()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= t.fair_at_) {
        // The first waiter has been outrun long enough: hand it the turn
        // (held_ stays set), so that no waiter is outrun for ever.
        Waiter* w = t.waiters_.front();
        t.waiters_.pop_front();
        w->handed = true;
        w->serial = ++t.serial_;
        t.thread_.store(w->id, std::memory_order_relaxed);
        t.fair_at_ = now + kFairEvery;
        w->cv.notify_one();  // under mu_: the waiter cannot leave meanwhile
        freed = false;
      } else if (!t.waking_) {
        // Wake the first waiter, keeping nothing for it: a running thread
        // (often this one, starting its next transaction) may take the turn
        // first, and the woken one waits again. None while one woken earlier
        // has not run yet. Waking every waiter made 7 of 8 writers run for
        // nothing at each commit (docs/sqlite-driver.md, "Writers queue").
        t.waking_ = true;
        t.waiters_.front()->cv.notify_one();
      }
    }
    if (freed) {
      t.held_ = false;
      t.thread_.store(std::thread::id(), std::memory_order_relaxed);
    }
  }
  if (freed) t.released_.notify_all();
}

void WriteLockTracker::retouch(uint64_t serial, std::thread::id user) {
  std::lock_guard lock(mu_);
  if (held_ && serial_ == serial) thread_.store(user, std::memory_order_relaxed);
}

bool WriteLockTracker::held_by(std::thread::id me) const {
  std::lock_guard lock(mu_);
  return held_ && thread_.load(std::memory_order_relaxed) == me;
}

WriteLockTracker::Wait WriteLockTracker::wait_for_holder(std::thread::id me,
                                                         std::chrono::microseconds slice) {
  std::unique_lock lock(mu_);
  if (!held_) return Wait::kNoHolder;
  if (thread_.load(std::memory_order_relaxed) == me) return Wait::kSelf;
  released_.wait_for(lock, slice, [&] { return !held_; });
  return Wait::kWaited;
}

WriteLockTracker::Reserve WriteLockTracker::reserve(std::thread::id me,
                                                    std::chrono::microseconds slice, Hold& out,
                                                    std::chrono::steady_clock::time_point since) {
  using Clock = std::chrono::steady_clock;
  uint64_t serial = 0;
  {
    std::unique_lock lock(mu_);
    if (held_) {
      if (thread_.load(std::memory_order_relaxed) == me) return Reserve::kSelf;
      if (slice <= std::chrono::microseconds::zero()) return Reserve::kBusy;
      const Clock::time_point now = Clock::now();
      const Clock::time_point until = now + slice;
      Waiter w;
      w.id = me;
      w.since = since == Clock::time_point{} ? now : since;
      if (waiters_.empty()) fair_at_ = now + kFairEvery;
      auto place = waiters_.end();  // after every waiter that began before
      while (place != waiters_.begin() && (*std::prev(place))->since > w.since) --place;
      const auto queued = waiters_.insert(place, &w);
      for (;;) {
        const bool timed_out = w.cv.wait_until(lock, until) == std::cv_status::timeout;
        if (!w.handed && !held_ && !timed_out) {
          // Woken by a release: the releasing thread is often starting its
          // next transaction, and this wake-up may have taken its core.
          // Yield while the turn stays free, up to kGrace, so that it can
          // take the turn back rather than hand it over at every commit.
          const Clock::time_point grace_end = std::min(until, Clock::now() + kGrace);
          lock.unlock();
          while (!held_.load(std::memory_order_relaxed) && Clock::now() < grace_end)
            std::this_thread::yield();
          lock.lock();
        }
        // Whoever returns (woken, timed out or spuriously) lets the next
        // release wake a waiter again: no wake-up is lost, at worst one
        // more waiter than needed runs.
        waking_ = false;
        if (w.handed) {  // out of waiters_ already; held_ and thread_ are ours
          serial = w.serial;
          break;
        }
        if (!held_ || timed_out || Clock::now() >= until) {
          waiters_.erase(queued);
          if (held_) return Reserve::kBusy;
          held_ = true;
          thread_.store(me, std::memory_order_relaxed);
          serial = ++serial_;
          break;
        }
      }
    } else {
      held_ = true;
      thread_.store(me, std::memory_order_relaxed);
      serial = ++serial_;
    }
  }
  out = Hold(this, serial);  // out is empty: assigning releases nothing
  return Reserve::kReserved;
}

}  // namespace evdb::common
