// listening.hpp — a listener on a thread of its own that records what it is
// told, for the drivers' tests (header-only; C++ API only, so any driver's
// tests can use it). Not installed.
#pragma once

#include <evdb/evdb.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace evdb::test_support {

// Runs db.listen() on its own thread from construction (which waits up to
// 30 s for on_ready) until stop() or destruction; records each version.
class Listening {
 public:
  explicit Listening(DB& db) : db_(db) {
    thread_ = std::thread([this] {
      Status st = db_.listen(
          ctx_,
          [this] {
            std::lock_guard l(mu_);
            ready_ = true;
            cv_.notify_all();
          },
          [this](int64_t v) {
            std::lock_guard l(mu_);
            got_.push_back(v);
            cv_.notify_all();
          });
      std::lock_guard l(mu_);
      result_ = st;
      ended_ = true;
      cv_.notify_all();
    });
    std::unique_lock l(mu_);
    cv_.wait_for(l, std::chrono::seconds(30), [this] { return ready_ || ended_; });
  }
  ~Listening() { stop(); }
  Listening(const Listening&) = delete;
  Listening& operator=(const Listening&) = delete;

  // Whether on_ready was called.
  bool ready() {
    std::lock_guard l(mu_);
    return ready_;
  }
  // Waits until `n` versions arrived, listen ended, or `limit` passed;
  // returns the versions so far.
  std::vector<int64_t> wait_for(size_t n,
                                std::chrono::milliseconds limit = std::chrono::seconds(60)) {
    std::unique_lock l(mu_);
    cv_.wait_for(l, limit, [&] { return got_.size() >= n || ended_; });
    return got_;
  }
  // The versions so far.
  std::vector<int64_t> versions() {
    std::lock_guard l(mu_);
    return got_;
  }
  // Waits for listen to end on its own (up to 60 s); returns its status.
  Status wait_end() {
    std::unique_lock l(mu_);
    cv_.wait_for(l, std::chrono::seconds(60), [&] { return ended_; });
    return result_;
  }
  // Cancels the listener's context, joins its thread; returns listen's status.
  Status stop() {
    ctx_.cancel();
    if (thread_.joinable()) thread_.join();
    return result_;
  }

 private:
  DB& db_;
  Context ctx_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false, ended_ = false;
  std::vector<int64_t> got_;
  Status result_;
};

}  // namespace evdb::test_support
