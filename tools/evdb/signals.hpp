// signals.hpp — turns SIGINT/SIGTERM into a plain callback on a helper thread.
//
// The callback runs on an ordinary thread (the one blocked in sigwait), not in
// a signal handler, so it may lock mutexes and call evdb_ctx_cancel().
#pragma once

#include <atomic>
#include <functional>
#include <thread>

namespace evdb::cli {

class SignalWatcher {
 public:
  // Blocks SIGINT and SIGTERM (and the private stop signal SIGUSR1) in the
  // calling thread, which must be the main thread before it starts any other
  // thread, so every later thread inherits the mask; then starts a thread that
  // waits for them and calls `on_signal(signo)` once per signal received.
  explicit SignalWatcher(std::function<void(int)> on_signal);
  // Stops and joins the waiting thread. The signal mask stays as it is.
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  // The last signal received (SIGINT or SIGTERM), or 0 when none.
  int received() const noexcept { return received_.load(); }

 private:
  std::function<void(int)> on_signal_;
  std::atomic<int> received_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace evdb::cli
