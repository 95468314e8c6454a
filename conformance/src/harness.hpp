// harness.hpp — what every conformance test uses: the run's settings, the
// per-test store fixture, outcome checks that say what the contract expected
// and what the driver did, and event/JSON comparisons.
#pragma once

#include <evdb/evdb.h>
#include <gtest/gtest.h>
#include <evdb/conformance.hpp>
#include <evdb/evdb.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace evdb::conformance {

// Settings of this run, filled by run_main() before the tests run.
struct Settings {
  // The --uri template (may contain {unique}).
  std::string uri_template;
  // The --driver file, or "" when none.
  std::string driver_file;
  // Absolute path of the running executable (for CrossProcess children).
  std::string self_exe;
};
Settings& settings();

// What a call did: EVDB_OK or the failure's code and message.
struct Outcome {
  evdb_status code = EVDB_OK;
  std::string message;
  // For C calls: the evdb_error was not filled as evdb.h promises (code equal
  // to the returned status, a message set). Empty when it was.
  std::string c_error_problem;
};

// Runs f() and turns an evdb::Error it throws into an Outcome. Any other
// exception propagates (the test then fails with it).
template <class F>
Outcome outcome_of(F&& f) {
  try {
    f();
    return {};
  } catch (const evdb::Error& e) {
    return Outcome{e.code(), e.what(), {}};
  }
}

// Runs f(evdb_error*) (a C call returning evdb_status) and checks that the
// error struct was filled consistently with the status.
template <class F>
Outcome c_outcome_of(F&& f) {
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = f(&err);
  Outcome o;
  o.code = s;
  if (s != EVDB_OK) {
    if (err.code != s)
      o.c_error_problem = std::string("err->code is ") + evdb_status_name(err.code) +
                          " but the call returned " + evdb_status_name(s);
    else if (err.message == nullptr || err.message[0] == '\0')
      o.c_error_problem = "err->message is empty: every failure must carry a message";
    if (err.message != nullptr) o.message = err.message;
  }
  evdb_error_release(&err);
  return o;
}

// Success when got.code == expected; otherwise a message of the form
// "contract: <what> gives EVDB_X; the driver gave EVDB_Y: <message>".
::testing::AssertionResult code_is(evdb_status expected, const Outcome& got, const char* what);

// EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(0)); — the statement runs
// through the C++ API; its thrown evdb::Error (or none) is compared.
#define EXPECT_CODE(expected, ...)          \
  EXPECT_TRUE(::evdb::conformance::code_is( \
      (expected), ::evdb::conformance::outcome_of([&] { __VA_ARGS__; }), #__VA_ARGS__))
#define ASSERT_CODE(expected, ...)          \
  ASSERT_TRUE(::evdb::conformance::code_is( \
      (expected), ::evdb::conformance::outcome_of([&] { __VA_ARGS__; }), #__VA_ARGS__))
// EXPECT_C_CODE(EVDB_READ_ONLY, evdb_append_event(tx, nullptr, 0, &e, nullptr, err));
// — a C call; `err` is an evdb_error* provided by the macro.
#define EXPECT_C_CODE(expected, ...)                                                               \
  EXPECT_TRUE(::evdb::conformance::code_is(                                                        \
      (expected), ::evdb::conformance::c_outcome_of([&](evdb_error* err) { return __VA_ARGS__; }), \
      #__VA_ARGS__))
#define ASSERT_C_CODE(expected, ...)                                                               \
  ASSERT_TRUE(::evdb::conformance::code_is(                                                        \
      (expected), ::evdb::conformance::c_outcome_of([&](evdb_error* err) { return __VA_ARGS__; }), \
      #__VA_ARGS__))

// An event to append: type name and payload; time 0 (now), empty revision.
evdb::Event make_event(std::string type_name = "Tested", std::string payload = R"({"n":1})",
                       std::string revision_vcs = "", int64_t time_us = 0);

// Compares payloads: byte for byte when byte_exact, else as JSON values
// (objects as unordered key sets, numbers by value).
::testing::AssertionResult payload_matches(bool byte_exact, const std::string& expected,
                                           const std::string& actual);
// True when both texts parse as JSON and denote the same value.
bool json_equal(const std::string& a, const std::string& b);

// Checks an event read back against what was appended: type, payload (see
// payload_matches), revision, and time when `expected.time_us` is non-zero.
::testing::AssertionResult event_matches(bool byte_exact, const evdb::Event& expected,
                                         const evdb::Event& actual);

// Checks a list of versions read from the whole log: 1..n when gapless, else
// strictly increasing and positive.
::testing::AssertionResult versions_well_formed(bool gapless, const std::vector<int64_t>& versions);

// Human-readable names of the capability flags ("LISTENER DURABLE …").
std::string capability_names(uint64_t caps);

// The base of every test: a fresh store per test, opened from the URI template
// with {unique} replaced by a new id.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The store's handle (opened in SetUp).
  evdb::DB& db() { return *db_; }
  // Opens another handle on the same store.
  evdb::DB open_again() const;
  // Closes the fixture's handle and opens it again (Durability).
  void reopen();
  // True when the store has every capability in `caps`.
  bool has(uint64_t caps) const { return (caps_ & caps) == caps; }
  bool gapless() const { return has(EVDB_CAP_GAPLESS); }
  bool byte_exact() const { return has(EVDB_CAP_BYTE_EXACT_PAYLOAD); }

  // Head of the log, read in its own read-only transaction.
  int64_t head();
  int64_t head(evdb::DB& on);
  // Every event of the log, ascending, read in one read-only transaction.
  std::vector<evdb::Event> all_events();
  std::vector<evdb::Event> all_events(evdb::DB& on);
  // Appends `e` at the current head in its own read-write transaction and
  // returns the new version (no retry: the test owns the store).
  int64_t append(const evdb::Event& e = make_event());
  int64_t append(evdb::DB& on, const evdb::Event& e);
  // Appends n events {"i":k} for k = 0..n-1, one transaction each; returns
  // their versions.
  std::vector<int64_t> append_n(int n, const std::string& type_name = "Tested");
  // The projection's version, or nullopt when never initialised.
  std::optional<int64_t> projection(int32_t id);
  // Says which of the behaviours the contract allows this test saw (a writer
  // waited, or raced and lost, …): printed in the log and recorded as the
  // XML property "saw", so a pass always says what it was a pass of.
  void saw(const std::string& behaviour);

  std::string uri_;
  std::string store_id_;
  uint64_t caps_ = 0;
  std::optional<evdb::DB> db_;
};

// Test-suite names are the categories; each is the StoreTest fixture.
using EmptyStore = StoreTest;
using Append = StoreTest;
using RoundTrip = StoreTest;
using Reads = StoreTest;
using Projections = StoreTest;
using Transactions = StoreTest;
using ReadOnly = StoreTest;
using Snapshot = StoreTest;
using RacingWriters = StoreTest;
using TwoHandles = StoreTest;
using Listener = StoreTest;
using Durability = StoreTest;
using CrossProcess = StoreTest;
using BadInput = StoreTest;
using Errors = StoreTest;

// Link anchors: each test file defines one; run_main() references them all so
// a static link keeps every test (GoogleTest registers tests from static
// initialisers, which a linker drops from unreferenced archive members).
int link_basic();
int link_projections();
int link_transactions();
int link_concurrency();
int link_listener();
int link_durability();
int link_bad_input();
int link_errors();

// The hidden child mode of run_main: appends `count` events tagged `tag` to
// the store at `uri` (retrying on VersionMismatch/Conflict). Returns the exit
// status (0 ok).
int child_append(const std::string& uri, int count, const std::string& tag);

}  // namespace evdb::conformance
