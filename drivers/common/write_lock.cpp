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
        // The next waiter is now the first: it starts polling (reserve()).
        if (!t.waiters_.empty()) t.waiters_.front()->cv.notify_one();
      }
      // Else no one is woken: the first waiter polls (see reserve()), and a
      // running thread, most often this one starting its next transaction,
      // may take the turn first. Waking a waiter at each release cost the
      // releasing thread a wake-up (an interrupt to the other core) and the
      // woken one a context switch, most of them for nothing: 0.2 switches
      // and +4 µs of CPU per commit for 8 SQLite writers
      // (docs/sqlite-driver.md, "Writers queue").
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
      // Only the first waiter wakes up by itself, to poll: after kPollFirst,
      // then twice as long each time it finds the turn taken, up to
      // kPollMax. The others sleep until they are first (the one before them
      // left and woke them) or a release hands them the turn.
      Clock::duration poll = kPollFirst;
      for (;;) {
        const bool first = waiters_.front() == &w;
        w.cv.wait_until(lock, first ? std::min(until, Clock::now() + poll) : until);
        if (w.handed) {  // out of waiters_ already; held_ and thread_ are ours
          serial = w.serial;
          break;
        }
        const bool free = !held_;
        if (free || Clock::now() >= until) {
          waiters_.erase(queued);
          if (!waiters_.empty()) waiters_.front()->cv.notify_one();  // it polls now
          if (!free) return Reserve::kBusy;
          held_ = true;
          thread_.store(me, std::memory_order_relaxed);
          serial = ++serial_;
          break;
        }
        if (first) poll = std::min<Clock::duration>(poll * 2, kPollMax);
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
