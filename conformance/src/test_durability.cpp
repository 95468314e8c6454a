// test_durability.cpp — Durability.* (EVDB_CAP_DURABLE: data survives closing
// every handle) and CrossProcess.* (EVDB_CAP_CROSS_PROCESS: the runner
// re-executes itself as a second writer).
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "harness.hpp"

extern char** environ;

namespace evdb::conformance {
int link_durability() {
  return 0;
}

int child_append(const std::string& uri, int count, const std::string& tag) {
  try {
    evdb::DB db = evdb::DB::open(uri);
    for (int i = 0; i < count; ++i) {
      std::string payload = "{\"tag\":\"" + tag + "\",\"i\":" + std::to_string(i) + "}";
      for (int attempt = 0;; ++attempt) {
        try {
          db.tx_rw([&](evdb::TxRW& tx) {
            tx.append_event(tx.read_system_version(), make_event("ChildAppend", payload));
          });
          break;
        } catch (const evdb::Error& e) {
          if (!e.retryable() || attempt > 100000) throw;
        }
      }
    }
    return 0;
  } catch (const evdb::Error& e) {
    std::fprintf(stderr, "evdb-conformance child: %s: %s\n", evdb_status_name(e.code()), e.what());
    return 1;
  }
}

namespace {

// ---------------------------------------------------------------------------
// Durability
// ---------------------------------------------------------------------------

TEST_F(Durability, SurvivesReopen) {
  if (!has(EVDB_CAP_DURABLE)) GTEST_SKIP() << "driver lacks EVDB_CAP_DURABLE (not durable)";
  std::vector<evdb::Event> in = {make_event("A", R"({"a": 1})", "rev1", 1700000000000001),
                                 make_event("B", "[1, 2]", "", 1700000000000002),
                                 make_event("C", "\"s\"", "rev3", 1700000000000003)};
  for (const auto& e : in) append(e);
  db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(1);
    tx.set_projection_version(1, 2);
  });
  reopen();
  auto all = all_events();
  ASSERT_EQ(all.size(), in.size()) << "contract (EVDB_CAP_DURABLE): committed events survive "
                                      "closing every handle and reopening";
  for (size_t i = 0; i < in.size(); ++i) EXPECT_TRUE(event_matches(byte_exact(), in[i], all[i]));
  EXPECT_EQ(projection(1), std::optional<int64_t>(2))
      << "contract (EVDB_CAP_DURABLE): projections survive reopening";
  // And the store goes on from there.
  int64_t v = append();
  EXPECT_GT(v, all.back().version);
  if (gapless()) {
    EXPECT_EQ(v, 4);
  }
}

TEST_F(Durability, RolledBackNotPresentAfterReopen) {
  if (!has(EVDB_CAP_DURABLE)) GTEST_SKIP() << "driver lacks EVDB_CAP_DURABLE (not durable)";
  append();
  evdb::Status s = db().tx_rw([](evdb::TxRW& tx) {
    tx.append_event(tx.read_system_version(), make_event("Gone"));
    tx.init_projection_version(3);
    return evdb::Status(EVDB_INTERNAL, "conformance: roll back");
  });
  EXPECT_EQ(s.code(), EVDB_INTERNAL);
  reopen();
  EXPECT_EQ(all_events().size(), 1u) << "contract: a rollback leaves no trace, also on disk";
  EXPECT_FALSE(projection(3).has_value());
}

TEST_F(Durability, ManyReopens) {
  if (!has(EVDB_CAP_DURABLE)) GTEST_SKIP() << "driver lacks EVDB_CAP_DURABLE (not durable)";
  for (int i = 0; i < 5; ++i) {
    append();
    reopen();
    EXPECT_EQ(all_events().size(), static_cast<size_t>(i + 1));
  }
}

// ---------------------------------------------------------------------------
// CrossProcess
// ---------------------------------------------------------------------------

// Starts `<self> --child-append --uri URI --count N --tag T [--driver F]`.
pid_t spawn_child(const std::string& uri, int count, const std::string& tag) {
  const Settings& s = settings();
  std::vector<std::string> args = {s.self_exe, "--child-append",      "--uri", uri,
                                   "--count",  std::to_string(count), "--tag", tag};
  if (!s.driver_file.empty()) {
    args.push_back("--driver");
    args.push_back(s.driver_file);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, s.self_exe.c_str(), nullptr, nullptr, argv.data(), environ);
  return rc == 0 ? pid : -1;
}

// Waits for the child; returns its exit status (or -1).
int wait_child(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(CrossProcess, ConcurrentAppendsFromTwoProcesses) {
  if (!has(EVDB_CAP_CROSS_PROCESS))
    GTEST_SKIP() << "driver lacks EVDB_CAP_CROSS_PROCESS (one process per store)";
  ASSERT_FALSE(settings().self_exe.empty()) << "the runner's own path is unknown";
  const int kEach = 20;
  pid_t pid = spawn_child(uri_, kEach, "child");
  ASSERT_GT(pid, 0) << "cannot start " << settings().self_exe;
  for (int i = 0; i < kEach; ++i) {
    std::string payload = "{\"tag\":\"parent\",\"i\":" + std::to_string(i) + "}";
    while (true) {
      try {
        append(make_event("ParentAppend", payload));
        break;
      } catch (const evdb::Error& e) {
        ASSERT_TRUE(e.retryable())
            << "non-retryable " << evdb_status_name(e.code()) << ": " << e.what();
      }
    }
  }
  ASSERT_EQ(wait_child(pid), 0) << "the child process failed to append (see its stderr)";
  auto all = all_events();
  EXPECT_EQ(all.size(), static_cast<size_t>(2 * kEach))
      << "contract: appends from two processes are all kept, none duplicated";
  std::set<std::string> seen;
  std::vector<int64_t> versions;
  for (const auto& e : all) {
    versions.push_back(e.version);
    EXPECT_TRUE(seen.insert(e.type_name + e.payload).second) << "duplicate " << e.payload;
  }
  EXPECT_TRUE(versions_well_formed(gapless(), versions));
}

TEST_F(CrossProcess, ChildWritesVisible) {
  if (!has(EVDB_CAP_CROSS_PROCESS))
    GTEST_SKIP() << "driver lacks EVDB_CAP_CROSS_PROCESS (one process per store)";
  append();
  pid_t pid = spawn_child(uri_, 3, "child");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(wait_child(pid), 0) << "the child process failed to append (see its stderr)";
  auto all = all_events();
  ASSERT_EQ(all.size(), 4u) << "contract: another process's commits are visible";
  EXPECT_EQ(all[1].type_name, "ChildAppend");
}

TEST_F(CrossProcess, ListenerSeesOtherProcess) {
  if (!has(EVDB_CAP_CROSS_PROCESS))
    GTEST_SKIP() << "driver lacks EVDB_CAP_CROSS_PROCESS (one process per store)";
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::vector<int64_t> got;
  evdb::Context ctx;
  evdb::Status result;
  bool done = false;
  std::thread t([&] {
    try {
      result = db().listen(
          ctx,
          [&] {
            std::lock_guard<std::mutex> l(mu);
            ready = true;
            cv.notify_all();
          },
          [&](int64_t v) {
            std::lock_guard<std::mutex> l(mu);
            got.push_back(v);
            cv.notify_all();
          });
    } catch (const evdb::Error& e) {
      result = evdb::Status::from(e);
    }
    std::lock_guard<std::mutex> l(mu);
    done = true;
    cv.notify_all();
  });
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait_for(l, std::chrono::seconds(10), [&] { return ready || done; });
  }
  pid_t pid = spawn_child(uri_, 3, "child");
  int rc = pid > 0 ? wait_child(pid) : -1;
  bool all3 = false;
  {
    std::unique_lock<std::mutex> l(mu);
    all3 = cv.wait_for(l, std::chrono::seconds(10), [&] { return got.size() >= 3 || done; }) &&
           got.size() >= 3;
  }
  ctx.cancel();
  t.join();
  ASSERT_TRUE(ready) << "contract: on_ready is called; listen returned "
                     << evdb_status_name(result.code()) << " " << result.message();
  ASSERT_EQ(rc, 0) << "the child process failed to append";
  EXPECT_TRUE(all3) << "contract: a listener sees events written by other processes; got "
                    << got.size() << " of 3";
  std::vector<int64_t> want;
  for (const auto& e : all_events()) want.push_back(e.version);
  EXPECT_EQ(got, want) << "contract: each once, in order";
}

}  // namespace
}  // namespace evdb::conformance
