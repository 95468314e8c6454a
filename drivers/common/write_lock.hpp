// write_lock.hpp — which transaction of this process holds a store's write
// lock, and which thread used it last.
//
// Drivers whose read-write transactions take a per-store write lock at begin
// (SQLite's BEGIN IMMEDIATE, PostgreSQL's table lock, Redis's {prefix}:wlock)
// keep one WriteLockTracker per store and process. A read-write transaction
// begun on the thread that last used the holder must not wait for the lock:
// it would wait for itself (docs/contract.md OP-18, SQL-4, PG-8, RDS-7). The
// tracker only knows about this process's transactions; the lock itself is
// the backend's. A driver may also make its writers queue here for their
// turn before they ask the backend (reserve(); the SQLite driver does), so
// the backend's lock is contended only by other processes. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>

namespace evdb::common {

class WriteLockTracker {
 public:
  WriteLockTracker() = default;
  WriteLockTracker(const WriteLockTracker&) = delete;
  WriteLockTracker& operator=(const WriteLockTracker&) = delete;

  // The record that one transaction holds the lock, owned by that
  // transaction. Empty (false) when it holds nothing. Moving it moves the
  // record; destroying it releases it. Used by one thread at a time, like
  // the transaction owning it; must not outlive its tracker.
  class Hold {
   public:
    Hold() = default;
    Hold(Hold&& o) noexcept : t_(o.t_), serial_(o.serial_) { o.t_ = nullptr; }
    Hold& operator=(Hold&& o) noexcept {
      if (this != &o) {
        release();
        t_ = o.t_;
        serial_ = o.serial_;
        o.t_ = nullptr;
      }
      return *this;
    }
    ~Hold() { release(); }
    explicit operator bool() const { return t_ != nullptr; }

    // The holding transaction is being used by thread `user`: call it on
    // each of its operations (a load and a compare when the thread is the
    // same as last time). No-op when empty.
    void touch(std::thread::id user) {
      if (t_ != nullptr && t_->thread_.load(std::memory_order_relaxed) != user)
        t_->retouch(serial_, user);
    }
    // The transaction ended (or gave the lock up): records the lock as free
    // and wakes wait_for_holder() (reserve() waiters are not woken: the
    // longest one polls); or, when reserve() waiters have been outrun for
    // 5 ms, hands the lock to the longest one instead (see reserve()).
    // Idempotent; never throws.
    void release() noexcept;

   private:
    friend class WriteLockTracker;
    Hold(WriteLockTracker* t, uint64_t serial) : t_(t), serial_(serial) {}
    WriteLockTracker* t_ = nullptr;
    uint64_t serial_ = 0;
  };

  // A transaction used by thread `user` has just taken the lock. Replaces
  // any earlier record (on Redis a holder's lock can expire and pass to
  // another transaction; the earlier Hold then releases nothing).
  Hold acquired(std::thread::id user);

  // Whether a transaction of this process holds the lock and was last used
  // by thread `me`: a writer on `me` that waited for the lock would wait for
  // itself.
  bool held_by(std::thread::id me) const;

  enum class Wait {
    kNoHolder,  // no transaction of this process holds the lock
    kSelf,      // the holder was last used by `me`: waiting would deadlock
    kWaited,    // waited up to `slice` for the in-process holder to end
  };
  // For a would-be writer that found the lock taken: waits for this
  // process's holder to end, at most `slice`, unless there is none or it
  // was last used by `me`.
  Wait wait_for_holder(std::thread::id me, std::chrono::microseconds slice);

  enum class Reserve {
    kReserved,  // `out` now records the caller (thread `me`) as the holder
    kSelf,      // the holder was last used by `me`: waiting would deadlock
    kBusy,      // another transaction of this process still holds it
  };
  // For a writer about to ask the backend for the lock (SQLite's BEGIN
  // IMMEDIATE): takes this process's turn first, so that the backend's lock
  // is contended only by other processes. When the lock is free in this
  // process, records the caller as its holder at once; else waits at most
  // `slice` (0: not at all) for the holder to end. Not in arrival order: a
  // release wakes no one and keeps nothing for the waiters; whichever thread
  // asks first while the turn is free takes it, most often the releasing
  // thread starting its next transaction, so a stream of transactions from
  // one thread runs without a wake-up or a context switch per commit (as
  // SQLite's own sleeping busy handler lets it). The longest waiter polls
  // (after 50 µs, then twice as long each time it finds the turn taken, up
  // to 1 ms), so a free turn is taken within 1 ms; the others sleep until it
  // leaves. Waiters are not outrun for ever: a release 5 ms or more after
  // the last hand-over (or after the first waiter came) hands the turn to
  // the longest waiter. Beyond that, a waiter's bound is the time its caller
  // gives it (slices until its deadline or budget).
  // Nothing is recorded unless kReserved. `out` must be empty. The caller
  // calls again, after looking at its context and budget, on kBusy, passing
  // as `since` when its wait began, which keeps its place among the waiters
  // (default: now).
  Reserve reserve(std::thread::id me, std::chrono::microseconds slice, Hold& out,
                  std::chrono::steady_clock::time_point since = {});

 private:
  void retouch(uint64_t serial, std::thread::id user);

  struct Waiter;  // a thread waiting in reserve() (write_lock.cpp)
  // How soon the longest waiter first looks whether the turn is free, and
  // how long at most it sleeps between two looks (see reserve()).
  static constexpr std::chrono::microseconds kPollFirst{50};
  static constexpr std::chrono::microseconds kPollMax{1000};
  // How often at most a release hands the turn to the longest waiter
  // instead of letting running threads take it back (see reserve()).
  static constexpr std::chrono::milliseconds kFairEvery{5};

  mutable std::mutex mu_;
  std::condition_variable released_;  // wait_for_holder() waits on it
  std::list<Waiter*> waiters_;        // reserve()'s waiters by when they began to wait
  std::chrono::steady_clock::time_point fair_at_{};  // a release from then on hands over
  bool held_ = false;
  uint64_t serial_ = 0;  // of the current (or last) record
  std::atomic<std::thread::id> thread_{};
};

// The T for `key`, one per key in this process (strictly: in this driver
// module), created on first use from T(key) or T(), and kept while any
// shared_ptr to it lives. For state shared by every handle on one store
// (key: a file's canonical path, a server and schema, …). Thread-safe.
template <class T>
std::shared_ptr<T> shared_per_key(const std::string& key) {
  static std::mutex mu;
  // Leaked on purpose: handles may be closed from static destructors.
  static auto* registry = new std::map<std::string, std::weak_ptr<T>>();
  std::lock_guard lock(mu);
  for (auto it = registry->begin(); it != registry->end();) {  // drop the dead
    if (it->second.expired())
      it = registry->erase(it);
    else
      ++it;
  }
  std::weak_ptr<T>& slot = (*registry)[key];
  std::shared_ptr<T> state = slot.lock();
  if (!state) {
    if constexpr (std::is_constructible_v<T, const std::string&>)
      state = std::make_shared<T>(key);
    else
      state = std::make_shared<T>();
    slot = state;
  }
  return state;
}

}  // namespace evdb::common
