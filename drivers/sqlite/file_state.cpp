// file_state.cpp — process-wide per-file state of the SQLite driver.
#include "file_state.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace evdb::sqlite {

std::shared_ptr<FileState> FileState::get(const std::string& canonical_path) {
  return common::shared_per_key<FileState>(canonical_path);
}

FileState::FileState(std::string canonical_path) : path_(std::move(canonical_path)) {}

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
