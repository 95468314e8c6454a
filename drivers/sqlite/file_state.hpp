// file_state.hpp — process-wide state shared by every handle on one SQLite file.
//
// Internal to the SQLite driver. Every evdb handle that opens the same file
// (by canonical path) in this process shares one FileState. It tracks:
//  * which thread last used the read-write transaction that holds SQLite's
//    write lock (common/write_lock.hpp), so a second read-write transaction
//    on that same thread can see that waiting would deadlock (see
//    docs/sqlite-driver.md), and other threads can wait on a condition
//    variable instead of polling;
//  * the in-process listeners, woken right after every commit that appended.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/write_lock.hpp"

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

  // Who in this process holds SQLite's write lock on the file.
  common::WriteLockTracker& write_lock() { return write_lock_; }

  // ---- listeners ------------------------------------------------------------
  // Registers an eventfd to be written to after each commit that appended.
  void add_listener(int event_fd);
  void remove_listener(int event_fd);
  // Wakes every registered listener (cheap when there is none).
  void notify_commit();

 private:
  std::string path_;
  common::WriteLockTracker write_lock_;
  std::mutex mu_;  // guards listeners_
  std::atomic<int> listener_count_{0};
  std::vector<int> listeners_;
};

}  // namespace evdb::sqlite
