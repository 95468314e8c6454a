// sqlite_test_util.hpp — shared helpers of the SQLite driver tests.
#pragma once

#include <evdb/driver.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sqlite_driver.hpp"
#include "test_support/child_process.hpp"
#include "test_support/events.hpp"
#include "test_support/opening.hpp"

namespace evdb::sqlite::test {

// Registers the driver linked into the test in-process.
inline void register_driver() {
  test_support::register_driver(evdb_driver_entry_sqlite);
}

using test_support::OpenResult;
using test_support::try_open;

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

// Event number i of the tests (the same i gives the same event).
inline evdb::Event make_event(int i) {
  return test_support::event("Tested", "{\"i\": " + std::to_string(i) + "}",
                             1'700'000'000'000'000 + i, "rev-" + std::to_string(i));
}

// A running helper process (sqlite_test_helper.cpp) with its stdout.
class Helper : public test_support::ChildProcess {
 public:
  explicit Helper(const std::vector<std::string>& args)
      : ChildProcess(EVDB_SQLITE_TEST_HELPER, args) {}
};

}  // namespace evdb::sqlite::test
