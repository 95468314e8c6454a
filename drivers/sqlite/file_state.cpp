// file_state.cpp — process-wide per-file state of the SQLite driver.
#include "file_state.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>

namespace evdb::sqlite {

std::shared_ptr<FileState> FileState::get(const std::string& canonical_path) {
  static std::mutex registry_mu;
  // Leaked on purpose: handles may be closed from static destructors.
  static auto* registry = new std::map<std::string, std::weak_ptr<FileState>>();
  std::lock_guard lock(registry_mu);
  // Drop entries whose handles are all gone.
  for (auto it = registry->begin(); it != registry->end();) {
    if (it->second.expired())
      it = registry->erase(it);
    else
      ++it;
  }
  auto& slot = (*registry)[canonical_path];
  std::shared_ptr<FileState> state = slot.lock();
  if (!state) {
    state = std::make_shared<FileState>(canonical_path);
    slot = state;
  }
  return state;
}

FileState::FileState(std::string canonical_path) : path_(std::move(canonical_path)) {}

void FileState::lock_acquired(std::thread::id user) {
  std::lock_guard lock(mu_);
  held_ = true;
  holder_thread_.store(user, std::memory_order_relaxed);
}

void FileState::lock_released() {
  {
    std::lock_guard lock(mu_);
    held_ = false;
    holder_thread_.store(std::thread::id(), std::memory_order_relaxed);
  }
  released_.notify_all();
}

FileState::Wait FileState::wait_for_holder(std::thread::id me, std::chrono::microseconds slice) {
  std::unique_lock lock(mu_);
  if (!held_) return Wait::kNoHolder;
  if (holder_thread_.load(std::memory_order_relaxed) == me) return Wait::kSelf;
  released_.wait_for(lock, slice, [&] { return !held_; });
  return Wait::kWaited;
}

void FileState::add_listener(int event_fd) {
  std::lock_guard lock(mu_);
  listeners_.push_back(event_fd);
  listener_count_.fetch_add(1, std::memory_order_release);
}

void FileState::remove_listener(int event_fd) {
  std::lock_guard lock(mu_);
  auto it = std::find(listeners_.begin(), listeners_.end(), event_fd);
  if (it != listeners_.end()) {
    listeners_.erase(it);
    listener_count_.fetch_sub(1, std::memory_order_release);
  }
}

void FileState::notify_commit() {
  if (listener_count_.load(std::memory_order_acquire) == 0) return;
  std::lock_guard lock(mu_);
  for (int fd : listeners_) {
    uint64_t one = 1;
    // An eventfd only fails to take the write when its counter would
    // overflow, which means the listener is already awake.
    ssize_t n = ::write(fd, &one, sizeof one);
    (void)n;
  }
}

}  // namespace evdb::sqlite
