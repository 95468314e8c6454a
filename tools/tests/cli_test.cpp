// End-to-end tests of the `evdb` binary: each test runs the real program and
// checks its stdout, stderr and exit status. Stores that must outlive one
// invocation are SQLite files in a temporary folder (skipped when the sqlite
// driver is not built); the rest uses memory: stores.
#include "subprocess.hpp"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#ifndef EVDB_CLI_PATH
#error "EVDB_CLI_PATH must be defined"
#endif
#ifndef EVDB_HAVE_SQLITE
#define EVDB_HAVE_SQLITE 0
#endif

namespace fs = std::filesystem;
using evdb::testing::Child;
using evdb::testing::run;
using evdb::testing::RunResult;

namespace {

RunResult evdb_cli(std::vector<std::string> args, const std::string& input = "",
                   const evdb::testing::EnvChanges& env = {}) {
  args.insert(args.begin(), EVDB_CLI_PATH);
  return run(args, input, env);
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// A fresh temporary folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "evdb-cli-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

#define EXPECT_EXIT_CODE(r, code) \
  EXPECT_EQ((r).exit_code, (code)) << "stdout:\n" << (r).out << "stderr:\n" << (r).err

// ---------------------------------------------------------------------------
// Help and usage
// ---------------------------------------------------------------------------

TEST(CliHelp, TopLevelHelpListsCommandsAndExitCodes) {
  auto r = evdb_cli({"--help"});
  EXPECT_EXIT_CODE(r, 0);
  for (const char* cmd : {"drivers", "head", "append", "read", "tail", "projection"})
    EXPECT_TRUE(contains(r.out, cmd)) << cmd;
  EXPECT_TRUE(contains(r.out, "Exit status"));
  EXPECT_TRUE(contains(r.out, "130"));
}

TEST(CliHelp, EveryCommandHasHelp) {
  for (const char* cmd : {"drivers", "head", "append", "read", "tail", "projection"}) {
    auto r = evdb_cli({cmd, "--help"});
    EXPECT_EXIT_CODE(r, 0);
    EXPECT_TRUE(contains(r.out, "Exit status")) << cmd;
  }
  auto r = evdb_cli({"append", "--help"});
  EXPECT_TRUE(contains(r.out, "--expect-version"));
  EXPECT_TRUE(contains(r.out, "--payload"));
}

TEST(CliUsage, BadCommandLinesExitWithStatus1) {
  std::vector<std::vector<std::string>> bad = {
      {},
      {"frobnicate"},
      {"head"},
      {"append", "memory:u"},                            // no --type/--payload
      {"append", "memory:u", "--type", "T"},             // no --payload
      {"read", "memory:u", "--format", "xml"},           //
      {"read", "memory:u", "--limit", "-1"},             //
      {"read", "memory:u", "--from", "abc"},             //
      {"projection", "memory:u", "frob", "1"},           //
      {"projection", "memory:u", "set", "1"},            // set needs VERSION
      {"projection", "memory:u", "get", "1", "5"},       // get takes none
      {"projection", "memory:u", "get", "99999999999"},  // id not int32
      {"head", "memory:u", "--timeout", "-5"},           //
  };
  for (const auto& args : bad) {
    auto r = evdb_cli(args);
    std::string joined;
    for (auto& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 1) << joined << "\nstderr: " << r.err;
    EXPECT_FALSE(r.err.empty()) << joined;
    EXPECT_TRUE(r.out.empty()) << joined;
  }
}

// ---------------------------------------------------------------------------
// Errors from the library
// ---------------------------------------------------------------------------

TEST(CliErrors, UnknownSchemeIsDriverNotFound) {
  auto r = evdb_cli({"head", "nosuchscheme:x"});
  EXPECT_EXIT_CODE(r, 6);
  EXPECT_TRUE(contains(r.err, "evdb head: ")) << r.err;
  EXPECT_TRUE(contains(r.err, "nosuchscheme")) << r.err;
}

TEST(CliErrors, PasswordNeverPrinted) {
  auto r = evdb_cli({"head", "nosuchscheme://alice:hunter2secret@localhost:1/db"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.err.empty());
  EXPECT_FALSE(contains(r.err, "hunter2secret")) << r.err;
  EXPECT_FALSE(contains(r.out, "hunter2secret")) << r.out;
}

TEST(CliErrors, BadPayloadIsInvalidArgument) {
  auto r = evdb_cli({"append", "memory:bad", "--type", "T", "--payload", "{not json"});
  EXPECT_EXIT_CODE(r, 5);
  EXPECT_TRUE(contains(r.err, "evdb append: ")) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliErrors, EmptyTypeIsInvalidArgument) {
  auto r = evdb_cli({"append", "memory:bad", "--type", "", "--payload", "1"});
  EXPECT_EXIT_CODE(r, 5);
}

TEST(CliErrors, UnknownUriParameterIsInvalidArgument) {
  auto r = evdb_cli({"head", "memory:x?nosuchparam=1"});
  EXPECT_EXIT_CODE(r, 5);
  EXPECT_TRUE(contains(r.err, "nosuchparam")) << r.err;
}

TEST(CliErrors, DriverFileThatDoesNotExist) {
  auto r = evdb_cli({"--driver", "/nonexistent/libevdb_driver_x.so", "head", "memory:x"});
  EXPECT_EXIT_CODE(r, 6);
  EXPECT_TRUE(contains(r.err, "/nonexistent/libevdb_driver_x.so")) << r.err;
}

// ---------------------------------------------------------------------------
// One invocation on a memory store
// ---------------------------------------------------------------------------

TEST(CliMemory, EmptyStore) {
  auto h = evdb_cli({"head", "memory:"});
  EXPECT_EXIT_CODE(h, 0);
  EXPECT_EQ(h.out, "0\n");
  auto r = evdb_cli({"read", "memory:"});
  EXPECT_EXIT_CODE(r, 0);
  ASSERT_EQ(lines(r.out).size(), 1u) << r.out;  // the header only
  EXPECT_TRUE(contains(r.out, "VERSION"));
  auto j = evdb_cli({"read", "memory:", "--format", "json"});
  EXPECT_EXIT_CODE(j, 0);
  EXPECT_EQ(j.out, "");
  auto n = evdb_cli({"read", "memory:", "--no-header"});
  EXPECT_EQ(n.out, "");
}

TEST(CliMemory, AppendPrintsNewVersion) {
  auto r = evdb_cli({"append", "memory:a", "--type", "T", "--payload", R"({"a":1})"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "1\n");
  auto e =
      evdb_cli({"append", "memory:a", "--type", "T", "--payload", "[]", "--expect-version", "0"});
  EXPECT_EXIT_CODE(e, 0);
  EXPECT_EQ(e.out, "1\n");
}

TEST(CliMemory, PayloadFromStdin) {
  auto r = evdb_cli({"append", "memory:a", "--type", "T", "--payload", "-"}, "{\"x\": [1, 2]}\n");
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "1\n");
  auto bad = evdb_cli({"append", "memory:a", "--type", "T", "--payload", "-"}, "nope");
  EXPECT_EXIT_CODE(bad, 5);
}

TEST(CliMemory, StaleExpectVersionIsMismatch) {
  auto r =
      evdb_cli({"append", "memory:a", "--type", "T", "--payload", "1", "--expect-version", "4"});
  EXPECT_EXIT_CODE(r, 3);
  EXPECT_TRUE(contains(r.err, "the head is now 0")) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(CliMemory, Projections) {
  auto g = evdb_cli({"projection", "memory:p", "get", "1"});
  EXPECT_EXIT_CODE(g, 2);
  EXPECT_TRUE(contains(g.err, "evdb projection: ")) << g.err;
  auto s = evdb_cli({"projection", "memory:p", "set", "1", "4"});
  EXPECT_EXIT_CODE(s, 2);  // never initialised
  auto i = evdb_cli({"projection", "memory:p", "init", "-3"});
  EXPECT_EXIT_CODE(i, 0);
  EXPECT_EQ(i.out, "0\n");
}

TEST(CliMemory, TailStopsWithExitZeroOnSigint) {
  for (int sig : {SIGINT, SIGTERM}) {
    Child tail({EVDB_CLI_PATH, "tail", "memory:t"});
    auto header = tail.read_line();
    ASSERT_TRUE(header.has_value()) << "tail printed nothing";
    EXPECT_TRUE(contains(*header, "VERSION"));
    tail.signal(sig);
    auto r = tail.wait();
    EXPECT_EXIT_CODE(r, 0);
    EXPECT_EQ(r.term_signal, 0);
  }
}

// ---------------------------------------------------------------------------
// Drivers
// ---------------------------------------------------------------------------

// Every evdb command is a process of its own: on a store its driver does not
// share between processes (memory), each command says so on stderr.
TEST(CliMemory, StorePrivateToTheProcessIsFlagged) {
  auto r = evdb_cli({"head", "memory:private"});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "0\n");
  EXPECT_TRUE(contains(r.err,
                       "evdb head: warning: this memory store is not shared between "
                       "processes"))
      << r.err;
}

TEST(CliDrivers, ListsMemoryDriverAndProblems) {
  TempDir dir;
  fs::path bogus = dir.path() / "libevdb_driver_bogus.so";
  std::ofstream(bogus) << "this is not a shared object\n";
  auto r = evdb_cli({"drivers"}, "", {{"EVDB_DRIVER_PATH", dir.path().string()}});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_TRUE(contains(r.out, "Search path")) << r.out;
  EXPECT_TRUE(contains(r.out, dir.path().string())) << r.out;
  EXPECT_TRUE(contains(r.out, "  memory ")) << r.out;
  EXPECT_TRUE(contains(r.out, "libevdb_driver_memory.so")) << r.out;
  EXPECT_TRUE(contains(r.out, "schemes:      memory")) << r.out;
  EXPECT_TRUE(contains(r.out, "abi version:  1")) << r.out;
  EXPECT_TRUE(contains(r.out, "capabilities: ")) << r.out;
  EXPECT_TRUE(contains(r.out, "gapless")) << r.out;
  EXPECT_TRUE(contains(r.out, "Problems")) << r.out;
  EXPECT_TRUE(contains(r.out, bogus.string() + ": ")) << r.out;
}

// ---------------------------------------------------------------------------
// Across invocations: SQLite files (or EVDB_CLI_TEST_STORE)
// ---------------------------------------------------------------------------

// Stores that outlive one invocation: a fresh SQLite file per test, or, when
// EVDB_CLI_TEST_STORE is set (ctest does it for the postgres and redis runs),
// that URI with "{unique}" replaced by a fresh id per test.
class CliStore : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* store = std::getenv("EVDB_CLI_TEST_STORE");
    if (store != nullptr && *store != '\0') {
      uri_ = store;
      static const char kHex[] = "0123456789abcdef";
      std::random_device rd;
      std::string id;
      for (int i = 0; i < 12; ++i) id += kHex[rd() % 16];
      for (size_t p; (p = uri_.find("{unique}")) != std::string::npos;) uri_.replace(p, 8, id);
      return;
    }
    if (!EVDB_HAVE_SQLITE) GTEST_SKIP() << "the sqlite driver is not built";
    uri_ = "sqlite://" + (dir_.path() / "store.db").string();
  }
  // Appends events with types T1..Tn and payloads {"n":i}.
  void append_n(int n) {
    for (int i = 1; i <= n; ++i) {
      // .append, not "literal" + std::string&&: GCC 12 -O3 false -Wrestrict (bug 105329).
      const std::string n = std::to_string(i);
      auto r = evdb_cli({"append", uri_, "--type", std::string("T").append(n), "--payload",
                         std::string("{\"n\":").append(n).append("}"), "--revision",
                         std::string("rev").append(n)});
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  TempDir dir_;
  std::string uri_;
};

TEST_F(CliStore, AppendHeadReadAcrossInvocations) {
  append_n(3);
  auto h = evdb_cli({"head", uri_});
  EXPECT_EXIT_CODE(h, 0);
  EXPECT_EQ(h.out, "3\n");

  auto t = evdb_cli({"read", uri_});
  EXPECT_EXIT_CODE(t, 0);
  auto tl = lines(t.out);
  ASSERT_EQ(tl.size(), 4u) << t.out;
  EXPECT_TRUE(contains(tl[0], "VERSION"));
  EXPECT_EQ(tl[1].substr(0, 7), "      1");
  EXPECT_TRUE(contains(tl[1], "T1"));
  EXPECT_TRUE(contains(tl[1], "rev1"));
  EXPECT_TRUE(contains(tl[3], "{\"n\":3}"));
}

TEST_F(CliStore, SharedStoreHasNoProcessWarning) {
  auto r = evdb_cli({"head", uri_});
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_FALSE(contains(r.err, "not shared between processes")) << r.err;
}

TEST_F(CliStore, ReadJsonIsOneParseableObjectPerLine) {
  auto r = evdb_cli({"append", uri_, "--type", "Multi\"Line", "--payload", "{\n \"k\": \"v\"\n}"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  append_n(2);
  auto j = evdb_cli({"read", uri_, "--format", "json"});
  EXPECT_EXIT_CODE(j, 0);
  auto jl = lines(j.out);
  ASSERT_EQ(jl.size(), 3u) << j.out;
  simdjson::dom::parser parser;
  for (size_t i = 0; i < jl.size(); ++i) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(jl[i]).get(doc), simdjson::SUCCESS) << jl[i];
    int64_t version = 0;
    ASSERT_EQ(doc["version"].get(version), simdjson::SUCCESS);
    EXPECT_EQ(version, static_cast<int64_t>(i + 1));
    int64_t time_us = 0;
    EXPECT_EQ(doc["time_us"].get(time_us), simdjson::SUCCESS);
    EXPECT_GT(time_us, 0);
    EXPECT_TRUE(doc["payload"].is_object()) << "payload must be JSON, not a string: " << jl[i];
  }
  simdjson::dom::element first;
  ASSERT_EQ(parser.parse(jl[0]).get(first), simdjson::SUCCESS);
  std::string_view type, k;
  ASSERT_EQ(first["type"].get(type), simdjson::SUCCESS);
  EXPECT_EQ(type, "Multi\"Line");
  ASSERT_EQ(first["payload"]["k"].get(k), simdjson::SUCCESS);
  EXPECT_EQ(k, "v");
  simdjson::dom::element third;
  ASSERT_EQ(parser.parse(jl[2]).get(third), simdjson::SUCCESS);
  int64_t n = 0;
  ASSERT_EQ(third["payload"]["n"].get(n), simdjson::SUCCESS);
  EXPECT_EQ(n, 2);
  std::string_view rev;
  ASSERT_EQ(third["revision"].get(rev), simdjson::SUCCESS);
  EXPECT_EQ(rev, "rev2");
}

TEST_F(CliStore, ReadFromReverseLimit) {
  append_n(5);
  auto versions = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"read", uri_, "--no-header"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto r = evdb_cli(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<int> v;
    for (auto& l : lines(r.out)) v.push_back(std::stoi(l));
    return v;
  };
  EXPECT_EQ(versions({}), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(versions({"--from", "3"}), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(versions({"--from", "2", "--limit", "2"}), (std::vector<int>{2, 3}));
  EXPECT_EQ(versions({"--reverse"}), (std::vector<int>{5, 4, 3, 2, 1}));
  EXPECT_EQ(versions({"--reverse", "--limit", "2"}), (std::vector<int>{5, 4}));
  EXPECT_EQ(versions({"--reverse", "--from", "2"}), (std::vector<int>{2, 1}));
  EXPECT_EQ(versions({"--reverse", "--from", "99", "-n", "1"}), (std::vector<int>{5}));
  EXPECT_EQ(versions({"--from", "6"}), (std::vector<int>{}));
  EXPECT_EQ(versions({"--limit", "0"}), (std::vector<int>{}));
}

TEST_F(CliStore, ExpectVersion) {
  append_n(2);
  auto stale = evdb_cli({"append", uri_, "-t", "T", "-p", "1", "--expect-version", "1"});
  EXPECT_EXIT_CODE(stale, 3);
  EXPECT_TRUE(contains(stale.err, "the head is now 2")) << stale.err;
  auto ahead = evdb_cli({"append", uri_, "-t", "T", "-p", "1", "--expect-version", "3"});
  EXPECT_EXIT_CODE(ahead, 3);
  EXPECT_EQ(evdb_cli({"head", uri_}).out, "2\n");  // nothing written
  auto ok = evdb_cli({"append", uri_, "-t", "T", "-p", "1", "--expect-version", "2"});
  EXPECT_EXIT_CODE(ok, 0);
  EXPECT_EQ(ok.out, "3\n");
}

TEST_F(CliStore, ProjectionsAcrossInvocations) {
  EXPECT_EXIT_CODE(evdb_cli({"projection", uri_, "get", "7"}), 2);
  auto i = evdb_cli({"projection", uri_, "init", "7"});
  EXPECT_EXIT_CODE(i, 0);
  EXPECT_EQ(i.out, "0\n");
  auto s = evdb_cli({"projection", uri_, "set", "7", "42"});
  EXPECT_EXIT_CODE(s, 0);
  EXPECT_EQ(s.out, "42\n");
  auto g = evdb_cli({"projection", uri_, "get", "7"});
  EXPECT_EXIT_CODE(g, 0);
  EXPECT_EQ(g.out, "42\n");
  auto again = evdb_cli({"projection", uri_, "init", "7"});  // never resets
  EXPECT_EQ(again.out, "42\n");
  auto back = evdb_cli({"projection", uri_, "set", "7", "3"});  // backwards is allowed
  EXPECT_EXIT_CODE(back, 0);
  EXPECT_EQ(evdb_cli({"projection", uri_, "get", "7"}).out, "3\n");
}

TEST_F(CliStore, TailPrintsOldThenNewEventsUntilSigint) {
  append_n(2);
  Child tail({EVDB_CLI_PATH, "tail", uri_, "--format", "json"});
  std::vector<std::string> got;
  for (int i = 0; i < 2; ++i) {
    auto l = tail.read_line();
    ASSERT_TRUE(l.has_value()) << "tail stopped after " << got.size() << " lines";
    got.push_back(*l);
  }
  EXPECT_TRUE(contains(got[0], "\"version\":1,")) << got[0];
  EXPECT_TRUE(contains(got[1], "\"version\":2,")) << got[1];
  // Events appended by other processes show up, in order.
  for (int i = 3; i <= 4; ++i) {
    auto r = evdb_cli({"append", uri_, "--type", "Live", "--payload", std::to_string(i)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto l = tail.read_line();
    ASSERT_TRUE(l.has_value()) << "tail did not report version " << i;
    EXPECT_TRUE(contains(*l, "\"version\":" + std::to_string(i) + ",")) << *l;
    EXPECT_TRUE(contains(*l, "\"payload\":" + std::to_string(i) + "}")) << *l;
  }
  tail.signal(SIGINT);
  auto r = tail.wait();
  EXPECT_EXIT_CODE(r, 0);
  EXPECT_EQ(r.out, "");  // nothing printed twice
}

TEST_F(CliStore, TailFrom) {
  append_n(3);
  Child tail({EVDB_CLI_PATH, "tail", uri_, "--from", "3", "--no-header"});
  auto l = tail.read_line();
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(l->substr(0, 7), "      3");
  tail.signal(SIGTERM);
  auto r = tail.wait();
  EXPECT_EXIT_CODE(r, 0);
}

}  // namespace
