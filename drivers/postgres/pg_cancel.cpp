// pg_cancel.cpp — Canceller: interrupts statements whose context ends.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <vector>

#include "common/clock.hpp"
#include "pg_internal.hpp"

namespace evdb::postgres {

Canceller::~Canceller() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  if (thread_.joinable()) {
    wake();
    thread_.join();
  }
  if (pipe_[0] >= 0) ::close(pipe_[0]);
  if (pipe_[1] >= 0) ::close(pipe_[1]);
}

void Canceller::wake() {
  char b = 1;
  ssize_t r = ::write(pipe_[1], &b, 1);  // non-blocking; a full pipe wakes anyway
  (void)r;
}

Canceller::Watch Canceller::watch(Connection& conn, const drv::Ctx& ctx) {
  if (ctx.raw() == nullptr) return Watch();
  int fd = ctx.cancel_fd();
  int64_t rem_us = ctx.remaining_us();
  if (fd < 0 && rem_us < 0) return Watch();
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) {
      if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0)
        drv::fail(EVDB_INTERNAL, "cannot create the canceller's pipe");
      thread_ = std::thread([this] { loop(); });
    }
    id = next_++;
    entries_.emplace(
        id, Entry{&conn, ctx, fd, rem_us < 0 ? -1 : common::steady_now_ms() + (rem_us + 999) / 1000,
                  false});
  }
  wake();
  return Watch(this, id);
}

bool Canceller::Watch::end() noexcept {
  if (c_ == nullptr) return false;
  bool fired = false;
  {
    std::lock_guard lock(c_->mu_);
    auto it = c_->entries_.find(id_);
    if (it != c_->entries_.end()) {
      fired = it->second.fired;
      c_->entries_.erase(it);
    }
  }
  c_ = nullptr;
  return fired;
}

void Canceller::loop() {
  std::vector<pollfd> fds;
  for (;;) {
    int timeout = -1;
    fds.clear();
    fds.push_back({pipe_[0], POLLIN, 0});
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      int64_t now = common::steady_now_ms();
      for (auto& [id, e] : entries_) {
        if (e.fired) continue;
        // Cancel what has ended (under the lock, so that Watch::end never
        // returns while a request for its statement is in flight).
        if (e.ctx.status() != EVDB_OK) {
          try {
            e.conn->cancel_query();
          } catch (...) {
          }
          e.fired = true;
          continue;
        }
        if (e.fd >= 0) fds.push_back({e.fd, POLLIN, 0});
        if (e.deadline_ms >= 0) {
          int64_t left = e.deadline_ms > now ? e.deadline_ms - now : 0;
          if (timeout < 0 || left < timeout) timeout = static_cast<int>(left);
        }
      }
    }
    ::poll(fds.data(), fds.size(), timeout);
    if ((fds[0].revents & POLLIN) != 0) {
      char buf[64];
      while (::read(pipe_[0], buf, sizeof buf) > 0) {
      }
    }
  }
}

}  // namespace evdb::postgres
