// file_state.hpp — process-wide state shared by every handle on one SQLite file.
//
// Internal to the SQLite driver. Every evdb handle that opens the same file
// (by canonical path) in this process shares one FileState. It tracks:
//  * which thread last used the read-write transaction that holds SQLite's
//    write lock, so a second read-write transaction on that same thread can
//    see that waiting would deadlock (see docs/sqlite-driver.md), and other
//    threads can wait on a condition variable instead of polling;
//  * the in-process listeners, woken right after every commit that appended.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace evdb::sqlite {

class FileState {
 public:
  // The state for the file at `canonical_path` (realpath of the database
  // file), created on first use; kept alive while any handle holds it.
  // Thread-safe.
  static std::shared_ptr<FileState> get(const std::string& canonical_path);

  explicit FileState(std::string canonical_path);
  FileState(const FileState&) = delete;
  FileState& operator=(const FileState&) = delete;

  const std::string& path() const { return path_; }

  // ---- the write lock -----------------------------------------------------
  // A transaction of this process now holds the write lock; `user` is the
  // thread using it.
  void lock_acquired(std::thread::id user);
  // The holder was used by thread `user` (called on each of its operations).
  void lock_touched(std::thread::id user) {
    if (holder_thread_.load(std::memory_order_relaxed) != user)
      holder_thread_.store(user, std::memory_order_relaxed);
  }
  // The holder committed or rolled back; wakes waiters.
  void lock_released();

  enum class Wait {
    kNoHolder,  // no transaction of this process holds the lock
    kSelf,      // the holder was last used by the calling thread: waiting deadlocks
    kWaited,    // waited up to `slice` for the in-process holder to finish
  };
  // Called by a would-be writer that found the lock taken.
  Wait wait_for_holder(std::thread::id me, std::chrono::microseconds slice);

  // ---- listeners ------------------------------------------------------------
  // Registers an eventfd to be written to after each commit that appended.
  void add_listener(int event_fd);
  void remove_listener(int event_fd);
  // Wakes every registered listener (cheap when there is none).
  void notify_commit();

 private:
  std::string path_;
  std::mutex mu_;
  std::condition_variable released_;
  bool held_ = false;
  std::atomic<std::thread::id> holder_thread_{};
  std::atomic<int> listener_count_{0};
  std::vector<int> listeners_;
};

}  // namespace evdb::sqlite
