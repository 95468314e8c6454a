// Failover of a PostgreSQL primary with a synchronous standby
// (scripts/postgres-cluster; ctest label "failover"; docs/deployment.md):
// 4 writers appending with retries and one listener run; the primary is
// SIGKILLed and the standby promoted mid-run; the run goes on. Afterwards
// every acknowledged commit is in the log, versions are gapless, no event is
// there twice, the listener delivered every version once in order, and every
// commit in doubt is resolved as the log shows. Prints the measured times
// (for docs/deployment.md).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <evdb/evdb.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pg_driver.hpp"
#include "test_support/events.hpp"
#include "test_support/names.hpp"
#include "test_support/opening.hpp"

using namespace evdb;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(t - t0).count();
}

// What one writer did with one event.
struct Outcome {
  int64_t version = 0;  // OK: the version it got
  bool in_doubt = false;
};

}  // namespace

TEST(PgFailover, WritersAndListenerGoOnAcrossAFailover) {
  test_support::register_driver(evdb_driver_entry_postgres);
  const std::string schema = test_support::unique_name("pgfo");
  const std::string uri = std::string(EVDB_PG_CLUSTER_URI) + "&schema=" + schema +
                          "&commit_resolve_timeout_ms=30000&listen_reconnect_timeout_ms=30000"
                          "&connect_timeout=2";
  DB db = DB::open(uri);

  std::mutex mu;
  std::vector<std::pair<int64_t, Clock::time_point>> delivered;  // version, when
  std::atomic<bool> killed{false};
  Subscription sub(db, [&](int64_t v) {
    std::lock_guard lock(mu);
    delivered.emplace_back(v, Clock::now());
  });

  constexpr int kWriters = 4;
  std::atomic<bool> stop{false};
  std::map<std::string, Outcome> outcomes;  // event id -> outcome (under mu)
  // The outage as the writers saw it: the first failure after the kill was
  // ordered, each writer's first failure and first commit after it, and the
  // first version committed after the outage began.
  std::optional<Clock::time_point> outage_start, first_ok_after_outage;
  std::vector<bool> failed(kWriters, false);
  std::vector<std::optional<Clock::time_point>> resumed(kWriters);
  int64_t resume_version = 0;
  std::atomic<int> retries{0}, not_applied{0};
  std::vector<std::string> errors;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int n = 0; !stop; ++n) {
        const std::string id = std::to_string(w) + "-" + std::to_string(n);
        // Retry this event until it is committed or in doubt.
        while (!stop) {
          int64_t version = 0;
          Status s;
          try {
            s = db.tx_rw([&](TxRW& tx) {
              version = tx.append_event(tx.read_system_version(),
                                        test_support::event("e", "{\"id\":\"" + id + "\"}"));
              return Status();
            });
          } catch (const evdb::Error& e) {  // a read or append failed (rolled back)
            s = Status::from(e);
          }
          const Clock::time_point now = Clock::now();
          std::lock_guard lock(mu);
          if (s.ok()) {
            outcomes[id] = Outcome{version, false};
            if (failed[w] && !resumed[w]) {
              resumed[w] = now;
              if (resume_version == 0 || version < resume_version) resume_version = version;
              if (!first_ok_after_outage) first_ok_after_outage = now;
            }
            break;
          }
          if (killed) {
            if (!outage_start) outage_start = now;
            failed[w] = true;
          }
          if (s.code() == EVDB_COMMIT_IN_DOUBT) {
            outcomes[id] = Outcome{0, true};
            break;
          }
          if (s.message().find("NOT applied") != std::string::npos) ++not_applied;
          if (s.code() != EVDB_CONNECTION && s.code() != EVDB_VERSION_MISMATCH &&
              s.code() != EVDB_CONFLICT) {
            errors.push_back(s.message());
            stop = true;
            break;
          }
          ++retries;
          mu.unlock();
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          mu.lock();
        }
      }
    });
  }

  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  size_t before_kill = 0;
  {
    std::lock_guard lock(mu);
    before_kill = outcomes.size();
  }
  const Clock::time_point kill_at = Clock::now();
  killed = true;
  const std::string failover = std::string(EVDB_PG_CLUSTER_COMMAND) + " failover >/dev/null";
  ASSERT_EQ(std::system(failover.c_str()), 0) << failover;
  const Clock::time_point promoted_at = Clock::now();
  // The run goes on until every writer has committed again (bounded).
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(mu);
    bool all = true;
    // Every writer that saw the outage has committed since (one whose
    // begin came after the promotion never saw it).
    for (int w = 0; w < kWriters; ++w) all = all && (!failed[w] || resumed[w].has_value());
    all = all && first_ok_after_outage.has_value();
    if (all || !errors.empty()) break;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_TRUE(errors.empty()) << errors.front();

  // The log, read on the new primary.
  std::map<int64_t, std::string> log;  // version -> id
  {
    pqxx::connection c(std::string(EVDB_PG_CLUSTER_URI));
    pqxx::nontransaction t(c);
    for (const auto& row : t.exec("SELECT version, payload::json->>'id' FROM " +
                                  t.quote_name(schema) + ".events ORDER BY version"))
      log[row[0].as<int64_t>()] = row[1].as<std::string>();
  }
  ASSERT_FALSE(log.empty());
  const int64_t head = log.rbegin()->first;
  // Versions gapless, no event twice.
  EXPECT_EQ(static_cast<int64_t>(log.size()), head);
  EXPECT_EQ(log.begin()->first, 1);
  std::map<std::string, int64_t> version_of;
  for (const auto& [v, id] : log) {
    EXPECT_TRUE(version_of.emplace(id, v).second) << "event " << id << " is in the log twice";
  }
  // Every acknowledged commit is there; every in-doubt one is counted as the
  // log shows it.
  int in_doubt = 0, in_doubt_applied = 0;
  for (const auto& [id, o] : outcomes) {
    if (o.in_doubt) {
      ++in_doubt;
      in_doubt_applied += version_of.count(id) ? 1 : 0;
    } else {
      auto it = version_of.find(id);
      ASSERT_NE(it, version_of.end()) << "acknowledged event " << id << " is not in the log";
      EXPECT_EQ(it->second, o.version) << "event " << id << " is not at the version acknowledged";
    }
  }
  // Nothing in the log that no writer attempted.
  for (const auto& [id, v] : version_of)
    EXPECT_EQ(outcomes.count(id), 1u) << "event " << id << " at " << v << " was never committed";

  // The listener caught up from the log after reconnecting: every version,
  // once, in order.
  for (int i = 0; i < 300; ++i) {
    {
      std::lock_guard lock(mu);
      if (!delivered.empty() && delivered.back().first >= head) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Status ended = sub.stop();
  EXPECT_EQ(ended.code(), EVDB_CANCELED) << ended.message();
  std::vector<int64_t> want;
  for (int64_t v = 1; v <= head; ++v) want.push_back(v);
  std::vector<int64_t> got;
  std::optional<Clock::time_point> listener_back;
  for (const auto& [v, when] : delivered) {
    got.push_back(v);
    if (v == resume_version) listener_back = when;
  }
  EXPECT_EQ(got, want);

  // The figures docs/deployment.md quotes, from the first failure a writer
  // saw (the primary gone) on.
  ASSERT_TRUE(outage_start.has_value()) << "no writer noticed the failover";
  ASSERT_TRUE(first_ok_after_outage.has_value());
  double writers_resumed = 0;
  for (const auto& r : resumed)
    if (r) writers_resumed = std::max(writers_resumed, ms_since(*outage_start, *r));
  const double listener_resumed = listener_back ? ms_since(*outage_start, *listener_back) : -1;
  std::printf(
      "failover figures: failover script (SIGKILL, promote) %.0f ms; no commit possible for "
      "%.0f ms (first failure to first commit); all 4 writers committing again after %.0f ms; "
      "listener delivering the first version committed after the outage %.0f ms after its "
      "start; commits: %zu before the kill, %zu in all (head %lld); failed attempts retried %d "
      "(of which %d COMMITs lost in flight and resolved as NOT applied); in doubt %d (in the log: "
      "%d)\n",
      ms_since(kill_at, promoted_at), ms_since(*outage_start, *first_ok_after_outage),
      writers_resumed, listener_resumed, before_kill, outcomes.size(), static_cast<long long>(head),
      retries.load(), not_applied.load(), in_doubt, in_doubt_applied);
  RecordProperty("outage_ms", static_cast<int>(ms_since(*outage_start, *first_ok_after_outage)));
  RecordProperty("writers_resumed_ms", static_cast<int>(writers_resumed));
  RecordProperty("listener_resumed_ms", static_cast<int>(listener_resumed));
  EXPECT_GE(listener_resumed, 0) << "the listener never delivered version " << resume_version;
  EXPECT_GT(outcomes.size(), before_kill) << "no commit after the failover";

  // Back to a primary with a synchronous standby (the old primary rejoins).
  const std::string start = std::string(EVDB_PG_CLUSTER_COMMAND) + " start >/dev/null";
  EXPECT_EQ(std::system(start.c_str()), 0) << start;
  try {
    pqxx::connection c(std::string(EVDB_PG_CLUSTER_URI));
    pqxx::work t(c);
    t.exec0("DROP SCHEMA IF EXISTS " + t.quote_name(schema) + " CASCADE");
    t.commit();
  } catch (const std::exception&) {
  }
}

// read_only_on=standby: read-only transactions are served by the standby
// (its pg_stat_activity shows their connection), read-write ones by the
// primary; with synchronous_commit=remote_apply a read right after a commit
// sees it.
TEST(PgFailover, ReadOnlyTransactionsOnTheStandby) {
  test_support::register_driver(evdb_driver_entry_postgres);
  const std::string schema = test_support::unique_name("pgro");
  const std::string app = "evdb_ro_" + schema;
  {
    DB db = DB::open(std::string(EVDB_PG_CLUSTER_URI) + "&schema=" + schema +
                     "&read_only_on=standby&application_name=" + app);
    for (int i = 1; i <= 3; ++i) {
      db.tx_rw([&](TxRW& tx) { tx.append_event(i - 1, test_support::event("e")); });
      EXPECT_EQ(db.tx_read_only([](TxRO& tx) { return tx.read_system_version(); }), i);
    }
    std::string standby = EVDB_PG_CLUSTER_URI;
    standby.replace(standby.find("read-write"), std::string("read-write").size(), "standby");
    pqxx::connection c(standby);
    pqxx::nontransaction t(c);
    EXPECT_TRUE(t.exec("SELECT pg_is_in_recovery()")[0][0].as<bool>());
    EXPECT_GE(t.exec_params("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                            app)[0][0]
                  .as<int>(),
              1);
  }
  pqxx::connection c(std::string(EVDB_PG_CLUSTER_URI));
  pqxx::work t(c);
  t.exec0("DROP SCHEMA IF EXISTS " + t.quote_name(schema) + " CASCADE");
  t.commit();
}
