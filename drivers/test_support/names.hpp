// names.hpp — names no other test, process or earlier run uses, for the
// stores the drivers' tests create (memory names, redis prefixes, postgres
// schemas, sqlite files). Header-only. Not installed.
#pragma once

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>

namespace evdb::test_support {

// "<base>_<pid>_<time>_<n>": letters, digits and '_' only (valid as a
// PostgreSQL identifier when base is, and as a redis prefix). Unique within
// the process (a counter) and across processes and runs (pid, time).
// Thread-safe.
inline std::string unique_name(const std::string& base) {
  static std::atomic<int> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return base + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count() %
                        1000000000) +
         "_" + std::to_string(counter++);
}

}  // namespace evdb::test_support
