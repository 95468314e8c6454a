// pool.hpp — a pool of connections, the one every networked or file driver
// keeps per store handle.
//
// A Pool<Connection> hands out connections exclusively (acquire) and takes
// them back (release): reusable ones wait idle for the next acquire, broken
// ones are closed. Optionally it bounds how many are open at once (acquire
// then waits for one to come back, watching the caller's context). Every
// member is thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "adapter.hpp"

namespace evdb::common {

// What the user of a connection says about it when giving it back.
enum class Health {
  Reusable,  // outside any transaction, in a known state: may serve the next acquire
  Broken,    // state unknown (lost, interrupted, failed): close it
};

template <class Connection>
class Pool {
 public:
  // Opens a new connection; throws drv::Error when it cannot.
  using Open = std::function<std::unique_ptr<Connection>(const drv::Ctx&)>;

  struct Limits {
    // Most idle connections kept; more are closed when given back.
    size_t max_idle = 16;
    // Most connections open at once (idle or handed out), 0 for no limit.
    size_t max_open = 0;
    // The URI parameter that sets max_open, named in the message of a wait
    // that the context ends ("pool_max").
    std::string max_open_parameter;
  };

  Pool(Limits limits, Open open) : limits_(std::move(limits)), open_(std::move(open)) {
    idle_.reserve(limits_.max_idle);  // release() then never allocates
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An idle connection, else a new one from Open. With max_open reached it
  // waits for a release; throws CANCELED / DEADLINE_EXCEEDED when ctx ends
  // first, and whatever Open throws.
  std::unique_ptr<Connection> acquire(const drv::Ctx& ctx) {
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (!idle_.empty()) {
          auto c = std::move(idle_.back());
          idle_.pop_back();
          return c;
        }
        if (limits_.max_open == 0 || open_count_ < limits_.max_open) {
          ++open_count_;
          break;
        }
        ctx.check("waiting for a free connection (" + limits_.max_open_parameter + "=" +
                  std::to_string(limits_.max_open) + ")");
        // The context has no wake-up here: look at it every 10 ms.
        released_.wait_for(lock, std::chrono::milliseconds(10));
      }
    }
    try {
      return open_(ctx);
    } catch (...) {
      closed();
      throw;
    }
  }

  // Takes back a connection from acquire (or adopt); keeps it idle when
  // `health` is Reusable and fewer than max_idle wait, closes it otherwise.
  // A null connection only frees its place. Every acquired connection must
  // come back here (Broken to close it), or its place stays taken. Never
  // throws.
  void release(std::unique_ptr<Connection> c, Health health) noexcept {
    {
      std::lock_guard lock(mu_);
      if (c && health == Health::Reusable && idle_.size() < limits_.max_idle) {
        idle_.push_back(std::move(c));
        released_.notify_one();
        return;
      }
    }
    c.reset();  // closed outside the lock
    closed();
  }

  // Adds a connection opened elsewhere (the one open() checked the store
  // with) as idle, counted towards max_open; closes it when max_idle wait
  // already.
  void adopt(std::unique_ptr<Connection> c) {
    std::lock_guard lock(mu_);
    if (idle_.size() >= limits_.max_idle) return;  // c closes on return
    ++open_count_;
    idle_.push_back(std::move(c));
  }

  // Closes every idle connection: after one died with its server, the others
  // did too.
  void drop_idle() {
    std::vector<std::unique_ptr<Connection>> gone;
    {
      std::lock_guard lock(mu_);
      gone.reserve(idle_.size());
      for (auto& c : idle_) gone.push_back(std::move(c));
      idle_.clear();  // keeps the capacity release() relies on
      open_count_ -= gone.size();
    }
    released_.notify_all();
  }

 private:
  void closed() noexcept {
    std::lock_guard lock(mu_);
    --open_count_;
    released_.notify_one();
  }

  const Limits limits_;
  const Open open_;
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t open_count_ = 0;
};

}  // namespace evdb::common
