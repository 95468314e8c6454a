// sqlite_test_util.hpp — shared helpers of the SQLite driver tests.
#pragma once

#include <evdb/driver.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sqlite_driver.hpp"

namespace evdb::sqlite::test {

// Registers the driver linked into the test in-process (once).
inline void register_driver() {
  static const bool done = [] {
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = evdb_register_driver(evdb_driver_entry_sqlite, &err);
    if (s != EVDB_OK) {
      std::string m = err.message ? err.message : "";
      evdb_error_release(&err);
      throw std::runtime_error("cannot register the sqlite driver: " + m);
    }
    return true;
  }();
  (void)done;
}

// A fresh folder under /tmp, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/evdb-sqlite-test-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    if (p == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }
  // "sqlite:///tmp/…/name" plus an optional "?query".
  std::string uri(const std::string& name, const std::string& query = "") const {
    return "sqlite://" + file(name) + (query.empty() ? "" : "?" + query);
  }

 private:
  std::string dir_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline evdb::Event make_event(int i) {
  return evdb::Event{0, 1'700'000'000'000'000 + i, "Tested", "{\"i\": " + std::to_string(i) + "}",
                     "rev-" + std::to_string(i)};
}

// The opening result of `uri` through the C API: status and message.
struct OpenResult {
  evdb_status status;
  std::string message;
};
inline OpenResult try_open(const std::string& uri) {
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_open(uri.c_str(), nullptr, &db, &err);
  OpenResult r{s, err.message ? err.message : ""};
  evdb_error_release(&err);
  evdb_close(db);
  return r;
}

// A running helper process (sqlite_test_helper.cpp) with its stdout.
class Helper {
 public:
  explicit Helper(const std::vector<std::string>& args) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
    // Everything the child needs is built before fork: only
    // async-signal-safe calls happen between fork and exec.
    std::string exe = EVDB_SQLITE_TEST_HELPER;
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    argv.push_back(exe.data());
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = fds[0];
  }
  ~Helper() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
    if (out_ >= 0) ::close(out_);
  }
  Helper(const Helper&) = delete;
  Helper& operator=(const Helper&) = delete;

  // The next line of output (without '\n'); "" at end of output. Waits at
  // most `timeout_ms` (a safety net so a broken helper cannot hang the test).
  std::string line(int timeout_ms = 30000) {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return "";
      char tmp[4096];
      ssize_t n = ::read(out_, tmp, sizeof tmp);
      if (n <= 0) {
        std::string rest;
        rest.swap(buf_);
        return rest;
      }
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  // Everything else it prints, until it exits.
  std::string rest() {
    std::string all;
    for (std::string l = line(); !l.empty(); l = line()) all += l + "\n";
    return all;
  }
  void kill(int sig) { ::kill(pid_, sig); }
  // Waits for the exit; returns the exit code, or 128 + signal.
  int wait() {
    if (pid_ <= 0) return status_;
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = -1;
  std::string buf_;
};

}  // namespace evdb::sqlite::test
