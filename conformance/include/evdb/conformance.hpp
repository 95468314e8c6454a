// conformance.hpp — the evdb conformance suite as a library.
//
// The suite (GoogleTest tests of the contract, docs/contract.md §1-§4, grouped in
// one test suite per category: EmptyStore.*, Append.*, …) lives in the static
// library evdb_conformance (CMake target evdb::conformance). The runner
// evdb-conformance is just `return evdb::conformance::run_main(argc, argv);`.
// A driver author who wants their own runner (e.g. to register a driver
// in-process first) links evdb::conformance, calls evdb_register_driver(), and
// then run_main().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace evdb::conformance {

// The token replaced by a fresh store id in the URI template.
inline constexpr std::string_view kUniqueToken = "{unique}";

// The categories of the suite, in the order they run. Each is a GoogleTest
// test suite name; EvdbConformance.cmake registers one ctest test per entry.
const std::vector<std::string>& categories();

// Runs the suite like the evdb-conformance executable:
//   evdb-conformance --uri URI [--driver FILE] [--list] [gtest flags]
// --uri     the store URI; every "{unique}" in it is replaced by a fresh id
//           per test (see next_unique_id()).
// --driver  a driver file to load first (evdb_driver_load_file()).
// --list    prints the tests grouped by category and exits.
// GoogleTest flags (--gtest_filter=Append.*, --gtest_output=xml:FILE, …) work
// as usual. Prints a per-category summary at the end. Returns the process exit
// status: 0 when every selected test passed or was skipped, 1 when one
// failed, 2 for bad command-line usage or when the URI cannot be opened.
// Also serves the hidden `--child-append` mode the CrossProcess tests use to
// re-execute the runner (/proc/self/exe) as a second writer.
int run_main(int argc, char** argv);

// Replaces every occurrence of kUniqueToken in `uri_template` by `id`.
std::string expand_uri(std::string_view uri_template, std::string_view id);

// A fresh store id: "t<pid>_<base36 start time>_<counter>", only [a-z0-9_],
// at most 32 characters, so it fits a Postgres schema name, a Redis key
// prefix or a file name. Unique within the process (counter) and across runs
// (pid + start time). Thread-safe.
std::string next_unique_id();

// The URI with its password hidden for printing: the password in
// "scheme://user:password@host" and the value of every query parameter whose
// name contains "password" or is "pass" or "passwd" become "***".
std::string redact_uri(std::string_view uri);

}  // namespace evdb::conformance
