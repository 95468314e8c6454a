// signals.cpp — SignalWatcher: sigwait on a helper thread.
#include "signals.hpp"

#include <pthread.h>
#include <signal.h>

#include <utility>

namespace evdb::cli {

namespace {
sigset_t watched_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}
}  // namespace

SignalWatcher::SignalWatcher(std::function<void(int)> on_signal)
    : on_signal_(std::move(on_signal)) {
  sigset_t set = watched_set();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] {
    sigset_t s = watched_set();
    for (;;) {
      int sig = 0;
      if (sigwait(&s, &sig) != 0) continue;
      if (sig == SIGUSR1) {
        if (stopping_.load()) return;
        continue;  // not ours: ignore
      }
      received_.store(sig);
      if (on_signal_) on_signal_(sig);
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stopping_.store(true);
  pthread_kill(thread_.native_handle(), SIGUSR1);
  thread_.join();
}

}  // namespace evdb::cli
