// runner_test.cpp — tests of the conformance runner itself: its helpers
// (expand_uri, next_unique_id, redact_uri, categories) and the
// evdb-conformance executable (--list, --help, usage errors, a bad URI, a
// driver loaded with --driver, {unique} substitution, the summary, XML output).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <evdb/conformance.hpp>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using evdb::conformance::categories;
using evdb::conformance::expand_uri;
using evdb::conformance::next_unique_id;
using evdb::conformance::redact_uri;

// Output (stdout + stderr) and exit status of one runner invocation.
struct RunResult {
  std::string out;
  int status = -1;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

RunResult run_runner(const std::vector<std::string>& args) {
  std::string cmd = quote(EVDB_CONFORMANCE_RUNNER);
  for (const auto& a : args) {
    cmd += ' ';  // not " " + quote(a): GCC 12 -O3 false -Wrestrict (bug 105329)
    cmd += quote(a);
  }
  cmd += " 2>&1";
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// The whole file, or "" when it cannot be read; the file is removed.
std::string take_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::remove(path.c_str());
  return ss.str();
}

bool file_exists(const std::string& path) {
  return ::access(path.c_str(), R_OK) == 0;
}

// (std::regex is avoided: GCC 12 warns inside it under the sanitizers.)
bool only(std::string_view s, const char* allowed) {
  if (s.empty()) return false;
  for (char c : s)
    if (std::strchr(allowed, c) == nullptr) return false;
  return true;
}
// True for "t<digits>_<[a-z0-9]+>_<digits>".
bool is_unique_id(std::string_view id) {
  if (id.empty() || id[0] != 't') return false;
  size_t a = id.find('_'), b = id.rfind('_');
  if (a == std::string_view::npos || b == a) return false;
  return only(id.substr(1, a - 1), "0123456789") &&
         only(id.substr(a + 1, b - a - 1), "0123456789abcdefghijklmnopqrstuvwxyz") &&
         only(id.substr(b + 1), "0123456789");
}
// The numbers on the summary line of `category`, or {} when absent.
std::vector<long> summary_row(const std::string& out, const std::string& category) {
  size_t at = out.find("\n" + category + " ");
  if (at == std::string::npos) return {};
  size_t end = out.find('\n', at + 1);
  std::istringstream line(out.substr(at + 1 + category.size(), end - at - 1 - category.size()));
  std::vector<long> v;
  long x;
  while (line >> x) v.push_back(x);
  return v;
}

// ---- helpers ----------------------------------------------------------------

TEST(ExpandUri, ReplacesEveryToken) {
  EXPECT_EQ(expand_uri("memory:{unique}", "t1_2"), "memory:t1_2");
  EXPECT_EQ(expand_uri("sqlite:///tmp/{unique}/{unique}.db", "x"), "sqlite:///tmp/x/x.db");
  EXPECT_EQ(expand_uri("postgres://h/db?schema={unique}&x=1", "s"), "postgres://h/db?schema=s&x=1");
  EXPECT_EQ(expand_uri("memory:fixed", "x"), "memory:fixed");
  EXPECT_EQ(expand_uri("{unique", "x"), "{unique");
  EXPECT_EQ(expand_uri("", "x"), "");
}

TEST(NextUniqueId, ShapeAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = next_unique_id();
    EXPECT_TRUE(is_unique_id(id)) << id;
    EXPECT_LE(id.size(), 32u) << "must fit a Postgres identifier / key prefix: " << id;
    EXPECT_TRUE(seen.insert(id).second) << "duplicate id " << id;
  }
}

TEST(RedactUri, HidesPasswords) {
  EXPECT_EQ(redact_uri("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
  EXPECT_EQ(redact_uri("redis://:pw@h/0?prefix=x"), "redis://:***@h/0?prefix=x");
  EXPECT_EQ(redact_uri("postgres://h/db?password=secret&schema=s"),
            "postgres://h/db?password=***&schema=s");
  EXPECT_EQ(redact_uri("postgres://h/db?schema=s&db_password=x"),
            "postgres://h/db?schema=s&db_password=***");
  EXPECT_EQ(redact_uri("x://h/db?pass=a&passwd=b&keep=c"), "x://h/db?pass=***&passwd=***&keep=c");
  EXPECT_EQ(redact_uri("postgres://u@h/db"), "postgres://u@h/db");
  EXPECT_EQ(redact_uri("memory:{unique}"), "memory:{unique}");
  EXPECT_EQ(redact_uri("sqlite:///tmp/a@b:c.db"), "sqlite:///tmp/a@b:c.db");
}

TEST(Categories, MatchTheCMakeList) {
  // EVDB_CONFORMANCE_CATEGORIES in EvdbConformance.cmake registers one ctest
  // test per entry: it must equal the suite's own list.
  std::string cmake_list = EVDB_CONFORMANCE_CATEGORY_LIST;
  std::string joined;
  for (const auto& c : categories()) joined += (joined.empty() ? "" : ",") + c;
  EXPECT_EQ(joined, cmake_list);
}

// ---- the executable ---------------------------------------------------------

TEST(Runner, ListGroupsTestsByCategory) {
  RunResult r = run_runner({"--list"});
  EXPECT_EQ(r.status, 0) << r.out;
  // Every category appears as a heading, in the suite's order, followed by
  // its tests.
  size_t last = 0;
  for (const auto& c : categories()) {
    size_t at = r.out.rfind(c + " (", 0) == 0 ? 0 : r.out.find("\n" + c + " (");
    ASSERT_NE(at, std::string::npos) << "category " << c << " missing:\n" << r.out;
    EXPECT_GE(at, last) << "category " << c << " out of order:\n" << r.out;
    last = at;
    EXPECT_NE(r.out.find("\n  " + c + ".", at), std::string::npos) << "no tests listed under " << c;
  }
  EXPECT_NE(r.out.find("  Listener.CancelReturnsCanceledWithin100ms\n"), std::string::npos);
  size_t tail = r.out.find(" tests in 15 categories\n");
  ASSERT_NE(tail, std::string::npos) << r.out;
  size_t line = r.out.rfind('\n', tail);
  EXPECT_TRUE(only(r.out.substr(line + 1, tail - line - 1), "0123456789")) << r.out;
}

TEST(Runner, HelpExitsZero) {
  RunResult r = run_runner({"--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("usage: evdb-conformance --uri URI"), std::string::npos) << r.out;
}

TEST(Runner, MissingUriIsAUsageError) {
  RunResult r = run_runner({});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--uri is required"), std::string::npos) << r.out;
}

TEST(Runner, UnknownArgumentIsAUsageError) {
  RunResult r = run_runner({"--uri", "memory:{unique}", "--frobnicate"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("unknown argument '--frobnicate'"), std::string::npos) << r.out;
}

TEST(Runner, OptionWithoutValueIsAUsageError) {
  RunResult r = run_runner({"--uri"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("missing its value"), std::string::npos) << r.out;
}

TEST(Runner, UnknownSchemeGivesClearErrorAndNonZeroExit) {
  RunResult r = run_runner({"--uri", "nosuchscheme:{unique}"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("cannot open"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("EVDB_DRIVER_NOT_FOUND"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("[ RUN"), std::string::npos) << "no test runs when the URI cannot open";
}

TEST(Runner, MalformedUriGivesClearError) {
  RunResult r = run_runner({"--uri", "memory:%zz{unique}"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("EVDB_INVALID_ARGUMENT"), std::string::npos) << r.out;
}

TEST(Runner, PasswordNeverPrinted) {
  RunResult r = run_runner({"--uri", "nosuchscheme://user:hunter2secret@localhost/{unique}"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_EQ(r.out.find("hunter2secret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("user:***@"), std::string::npos) << r.out;
}

TEST(Runner, MissingDriverFileGivesClearError) {
  RunResult r =
      run_runner({"--uri", "memory:{unique}", "--driver", "/nonexistent/libevdb_driver_x.so"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("cannot load driver '/nonexistent/libevdb_driver_x.so'"), std::string::npos)
      << r.out;
}

TEST(Runner, DriverFileLoadedAndUniqueSubstituted) {
  // The probe driver refuses to open and quotes the URI it was given.
  RunResult r = run_runner({"--driver", EVDB_PROBE_DRIVER, "--uri", "cfprobe:{unique}"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("cfprobe: open: this test driver opens nothing"), std::string::npos)
      << "--driver was not loaded:\n"
      << r.out;
  size_t uri = r.out.find("(uri cfprobe:");
  size_t close = uri == std::string::npos ? uri : r.out.find(')', uri);
  EXPECT_TRUE(close != std::string::npos && is_unique_id(r.out.substr(uri + 13, close - uri - 13)))
      << "{unique} was not substituted:\n"
      << r.out;
}

TEST(Runner, RunsSuiteWithSummaryAndXml) {
  if (!file_exists(EVDB_MEMORY_DRIVER))
    GTEST_SKIP() << "memory driver not built: " << EVDB_MEMORY_DRIVER;
  std::string xml =
      ::testing::TempDir() + "evdb_conformance_runner_test_" + std::to_string(::getpid()) + ".xml";
  RunResult r =
      run_runner({"--driver", EVDB_MEMORY_DRIVER, "--uri", "memory:{unique}",
                  "--gtest_filter=EmptyStore.*:Durability.*", "--gtest_output=xml:" + xml});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("==== evdb conformance summary ===="), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("driver:       memory"), std::string::npos) << r.out;
  std::vector<long> empty = summary_row(r.out, "EmptyStore"),
                    dur = summary_row(r.out, "Durability");
  ASSERT_EQ(empty.size(), 3u) << r.out;
  EXPECT_GT(empty[0], 0) << r.out;
  EXPECT_EQ(empty[1], 0) << r.out;
  EXPECT_EQ(empty[2], 0) << r.out;
  ASSERT_EQ(dur.size(), 3u) << r.out;
  EXPECT_EQ(dur[0], 0) << r.out;
  EXPECT_GT(dur[1], 0) << r.out;
  EXPECT_EQ(dur[2], 0) << r.out;
  EXPECT_NE(r.out.find("Durability.SurvivesReopen: driver lacks EVDB_CAP_DURABLE"),
            std::string::npos)
      << "skips are listed with their reason:\n"
      << r.out;
  EXPECT_EQ(r.out.find("\nReads "), std::string::npos) << "only selected categories are tallied";

  ASSERT_TRUE(file_exists(xml)) << "--gtest_output=xml did not write " << xml;
  std::string report = take_file(xml);
  // Each test records the URI it used: all different (a fresh store per test).
  const std::string key = "name=\"uri\" value=\"";
  std::set<std::string> uris;
  int count = 0;
  for (size_t at = report.find(key); at != std::string::npos; at = report.find(key, at + 1)) {
    size_t start = at + key.size();
    std::string uri = report.substr(start, report.find('"', start) - start);
    EXPECT_EQ(uri.rfind("memory:", 0), 0u) << uri;
    EXPECT_TRUE(is_unique_id(uri.substr(7))) << uri;
    uris.insert(uri);
    ++count;
  }
  EXPECT_GE(count, 5) << report;
  EXPECT_EQ(static_cast<int>(uris.size()), count) << "{unique} must differ per test:\n" << report;
}

TEST(Runner, AllSkippedCategoryIsFlaggedForCtest) {
  if (!file_exists(EVDB_MEMORY_DRIVER))
    GTEST_SKIP() << "memory driver not built: " << EVDB_MEMORY_DRIVER;
  RunResult r = run_runner(
      {"--driver", EVDB_MEMORY_DRIVER, "--uri", "memory:{unique}", "--gtest_filter=Durability.*"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("evdb-conformance: every selected test was skipped"), std::string::npos)
      << r.out;
}

TEST(Runner, FailuresAreSummarisedWithNonZeroExit) {
  // A URI without {unique} makes every test share one store: in the second
  // repetition EmptyStore.HeadIsZero sees the events Append wrote in the
  // first, and must fail, visibly (EmptyStore registers before Append). In
  // one process: a memory store is not shared with another one.
  if (!file_exists(EVDB_MEMORY_DRIVER))
    GTEST_SKIP() << "memory driver not built: " << EVDB_MEMORY_DRIVER;
  std::string name = "memory:shared_" + std::to_string(::getpid());
  RunResult r = run_runner({"--driver", EVDB_MEMORY_DRIVER, "--uri", name,
                            "--gtest_filter=EmptyStore.HeadIsZero:Append.ChainsInOneTransaction",
                            "--gtest_repeat=2", "--isolate=none"});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("warning: the URI has no {unique}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("failed:\n  EmptyStore.HeadIsZero: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("contract: read_system_version() is 0 when the log is empty"),
            std::string::npos)
      << "the failure says what the contract expected:\n"
      << r.out;
}

// ---- the suite catches broken drivers ---------------------------------------

#ifdef EVDB_FAULTY_DRIVER
// One injected contract breach (see faulty_driver.cpp) and the test that must
// catch it.
struct Fault {
  const char* fault;
  const char* test;
};

class CatchesFault : public ::testing::TestWithParam<Fault> {};

TEST_P(CatchesFault, TargetedTestFailsOnlyWithTheFault) {
  const Fault& f = GetParam();
  std::string filter = std::string("--gtest_filter=") + f.test;
  RunResult good =
      run_runner({"--driver", EVDB_FAULTY_DRIVER, "--uri", "faulty:{unique}?fault=none", filter});
  EXPECT_EQ(good.status, 0) << "without the fault, " << f.test << " passes:\n" << good.out;
  RunResult bad = run_runner({"--driver", EVDB_FAULTY_DRIVER, "--uri",
                              std::string("faulty:{unique}?fault=") + f.fault, filter});
  EXPECT_EQ(bad.status, 1) << "with fault " << f.fault << ", " << f.test << " must fail:\n"
                           << bad.out;
  EXPECT_NE(bad.out.find(std::string("failed:\n  ") + f.test + ": "), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("contract"), std::string::npos)
      << "the failure says what the contract expected:\n"
      << bad.out;
}

// A crash ends only the test it happened in: the runner (by default, one
// process per category) reports it as that test's failure, runs the tests
// after it in a new process, and still prints the summary and the report.
TEST(Runner, CrashFailsOnlyItsTestAndTheSummaryStillPrints) {
  std::string xml =
      ::testing::TempDir() + "evdb_conformance_crash_" + std::to_string(::getpid()) + ".xml";
  RunResult r = run_runner({"--driver", EVDB_FAULTY_DRIVER, "--uri", "faulty:{unique}?fault=crash",
                            "--gtest_filter=Reads.*", "--gtest_output=xml:" + xml});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("==== evdb conformance summary ===="), std::string::npos) << r.out;
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reports the SEGV and aborts (abort_on_error=1).
  const std::string died = "died of signal 6";
#else
  const std::string died = "died of signal 11";
#endif
  EXPECT_NE(
      r.out.find("  Reads.EventAfterPicksTheSmallestGreaterVersion: the test process " + died),
      std::string::npos)
      << r.out;
  // Reads has 12 tests, 4 of which call read_event_after: the other 8 ran
  // (some after a crash, in a new process) and passed.
  std::vector<long> row = summary_row(r.out, "Reads");
  ASSERT_EQ(row.size(), 3u) << r.out;
  EXPECT_EQ(row[0], 8) << r.out;
  EXPECT_EQ(row[2], 4) << r.out;
  std::string report = take_file(xml);
  EXPECT_NE(report.find("<testsuites tests=\"12\" failures=\"4\""), std::string::npos) << report;
  EXPECT_NE(report.find("name=\"EventsLimit\""), std::string::npos) << report;
  EXPECT_NE(report.find(died), std::string::npos) << report;
}

TEST(Runner, ExitingDriverIsReportedPerTest) {
  RunResult r =
      run_runner({"--driver", EVDB_FAULTY_DRIVER, "--uri", "faulty:{unique}?fault=exits",
                  "--isolate", "test", "--gtest_filter=Reads.EventAfter*:Reads.EventsLimit"});
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("  Reads.EventAfterManyEvents: the test process exited with status 3 (a "
                       "driver must not exit the process: DRV-5)"),
            std::string::npos)
      << r.out;
  std::vector<long> row = summary_row(r.out, "Reads");
  ASSERT_EQ(row.size(), 3u) << r.out;
  EXPECT_EQ(row[0], 1) << "EventsLimit passes in its own process:\n" << r.out;
  EXPECT_EQ(row[2], 3) << r.out;
}

TEST(Runner, SummaryGivesTheContractSentenceAndNoSourcePaths) {
  RunResult r =
      run_runner({"--driver", EVDB_FAULTY_DRIVER, "--uri", "faulty:{unique}?fault=after_head",
                  "--gtest_filter=Reads.EventAfterManyEvents"});
  EXPECT_EQ(r.status, 1) << r.out;
  size_t at = r.out.find("failed:\n");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::string failed = r.out.substr(at, r.out.find("=====", at) - at);
  EXPECT_EQ(failed,
            "failed:\n  Reads.EventAfterManyEvents: contract: read_event_after(v) is the smallest "
            "version > v\n")
      << r.out;
}

TEST(Runner, BadIsolateIsAUsageError) {
  RunResult r = run_runner({"--uri", "memory:{unique}", "--isolate", "thread"});
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--isolate takes category, test or none"), std::string::npos) << r.out;
}

// A driver whose writers never race (a lock from begin to commit) conforms:
// the tests pass and say that they saw waiting, not a race.
TEST(Runner, WaitingWritersPassAndSaySo) {
  RunResult r =
      run_runner({"--driver", EVDB_FAULTY_DRIVER, "--uri", "faulty:{unique}?fault=serial_writers",
                  "--gtest_filter=RacingWriters.*"});
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(
      r.out.find("[      SAW ] the second writer waited at begin and ended with its deadline"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("[      SAW ] the second writer waited for the first and saw its commit"),
            std::string::npos)
      << r.out;
  RunResult racing =
      run_runner({"--driver", EVDB_FAULTY_DRIVER, "--uri", "faulty:{unique}?fault=none",
                  "--gtest_filter=RacingWriters.TwoWritersOnOneThread"});
  EXPECT_EQ(racing.status, 0) << racing.out;
  EXPECT_NE(racing.out.find("[      SAW ] the second writer proceeded and appended, then lost at "
                            "commit with EVDB_VERSION_MISMATCH"),
            std::string::npos)
      << racing.out;
}

INSTANTIATE_TEST_SUITE_P(
    Runner, CatchesFault,
    ::testing::Values(Fault{"after_head", "Reads.EventAfterPicksTheSmallestGreaterVersion"},
                      Fault{"after_head", "Reads.EventAfterManyEvents"},
                      Fault{"set_uninit_ok", "Projections.NotFoundWhenNeverInitialised"},
                      Fault{"ignore_assumed", "Append.StaleVersionMismatchWritesNothing"},
                      Fault{"ignore_assumed", "RacingWriters.ExactlyOneWinsEachRound"},
                      Fault{"rollback_commits", "Transactions.ReturnedErrorRollsBackAndComesBack"},
                      Fault{"rollback_commits", "Listener.RollbacksAreSilent"},
                      Fault{"snapshot_leak", "Snapshot.CommitAfterBeginInvisible"},
                      Fault{"snapshot_leak", "Snapshot.CommitAfterFirstReadInvisible"},
                      Fault{"notify_twice", "Listener.ReadyThenEachCommitOnceInOrder"},
                      Fault{"slow_cancel", "Listener.CancelReturnsCanceledWithin100ms"},
                      Fault{"no_err", "Errors.EveryFailureFillsErrWithCodeAndMessage"},
                      Fault{"no_err", "EmptyStore.NoEventAnywhere"},
                      Fault{"caps_superset", "EmptyStore.CapabilitiesAreTheDriversAndFixed"},
                      Fault{"loser_mismatch",
                            "RacingWriters.ProjectionLoserGetsConflictOnOneThread"}),
    [](const ::testing::TestParamInfo<Fault>& i) {
      std::string name = std::string(i.param.fault) + "_" + i.param.test;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });
#endif

}  // namespace
