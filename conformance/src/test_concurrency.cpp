// test_concurrency.cpp — RacingWriters.*, TwoHandles.* (docs/contract.md §2: serializable
// read-write transactions; many handles on one store).
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "harness.hpp"

namespace evdb::conformance {
int link_concurrency() {
  return 0;
}

namespace {

// What one racing writer did.
struct WriterLog {
  int attempts = 0;
  int mismatches = 0;
  int conflicts = 0;
  std::vector<std::pair<int64_t, int>> wins;  // (version, item)
  std::vector<std::string> violations;        // contract breaches seen
};

// Appends `m` events {"w":w,"i":i} at the head it reads, retrying on
// VersionMismatch / Conflict, and logs every attempt.
void racing_writer(evdb::DB& db, int w, int m, std::latch& start, WriterLog& log) {
  start.arrive_and_wait();
  for (int i = 0; i < m; ++i) {
    std::string payload = "{\"w\":" + std::to_string(w) + ",\"i\":" + std::to_string(i) + "}";
    while (true) {
      if (++log.attempts > 100000) {
        log.violations.push_back("writer " + std::to_string(w) +
                                 " made no progress in 100000 attempts");
        return;
      }
      const char* stage = "begin";
      try {
        int64_t v = db.tx_rw([&](evdb::TxRW& tx) {
          stage = "read_system_version";
          int64_t h = tx.read_system_version();
          stage = "append_event";
          int64_t nv = tx.append_event(h, make_event("Race", payload));
          stage = "commit";
          return nv;
        });
        log.wins.emplace_back(v, i);
        break;
      } catch (const evdb::VersionMismatch&) {
        ++log.mismatches;
        if (std::string(stage) != "append_event" && std::string(stage) != "commit")
          log.violations.push_back(std::string("VERSION_MISMATCH from ") + stage +
                                   " before the transaction appended (contract: CONFLICT)");
      } catch (const evdb::Conflict&) {
        ++log.conflicts;
        if (std::string(stage) == "append_event" || std::string(stage) == "commit")
          log.violations.push_back(std::string("CONFLICT from ") + stage +
                                   " after the transaction appended (contract: VERSION_MISMATCH)");
      } catch (const evdb::Error& e) {
        log.violations.push_back(std::string("non-retryable ") + evdb_status_name(e.code()) +
                                 " from " + stage + ": " + e.what());
        return;
      }
    }
  }
}

TEST_F(RacingWriters, EveryAppendAccountedFor) {
  const int kWriters = 4, kEach = 25;
  std::vector<evdb::DB> handles;
  // Half the writers share the fixture's handle, half have their own.
  for (int w = 0; w < kWriters / 2; ++w) handles.push_back(open_again());
  std::vector<WriterLog> logs(kWriters);
  std::latch start(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    evdb::DB& on = (w % 2 == 0) ? db() : handles[static_cast<size_t>(w / 2)];
    threads.emplace_back(racing_writer, std::ref(on), w, kEach, std::ref(start), std::ref(logs[w]));
  }
  for (auto& t : threads) t.join();

  int wins = 0, attempts = 0, losses = 0;
  std::map<int64_t, std::string> expected;  // version -> payload
  for (int w = 0; w < kWriters; ++w) {
    for (const auto& v : logs[w].violations) ADD_FAILURE() << "contract breach: " << v;
    wins += static_cast<int>(logs[w].wins.size());
    attempts += logs[w].attempts;
    losses += logs[w].mismatches + logs[w].conflicts;
    EXPECT_EQ(logs[w].attempts,
              static_cast<int>(logs[w].wins.size()) + logs[w].mismatches + logs[w].conflicts)
        << "every attempt either wins or loses with VERSION_MISMATCH/CONFLICT";
    for (const auto& [version, i] : logs[w].wins) {
      bool fresh =
          expected
              .emplace(version, "{\"w\":" + std::to_string(w) + ",\"i\":" + std::to_string(i) + "}")
              .second;
      EXPECT_TRUE(fresh) << "contract: exactly one writer wins per version; version " << version
                         << " was returned to two committed appends";
    }
  }
  RecordProperty("attempts", attempts);
  RecordProperty("losses", losses);
  saw(losses > 0 ? "the writers raced: " + std::to_string(losses) + " lost attempts, each retried"
                 : std::string("no writer lost: the writers never overlapped or waited for each "
                               "other (the losers' codes are checked by TwoWritersOnOneThread)"));
  EXPECT_EQ(wins, kWriters * kEach) << "every append eventually commits";
  EXPECT_EQ(attempts, wins + losses);

  auto all = all_events();
  EXPECT_EQ(all.size(), static_cast<size_t>(kWriters * kEach))
      << "contract: no lost and no duplicate events (" << wins << " commits succeeded)";
  std::vector<int64_t> versions;
  std::set<std::string> seen;
  for (const auto& e : all) {
    versions.push_back(e.version);
    auto it = expected.find(e.version);
    if (it == expected.end()) {
      ADD_FAILURE() << "contract: event " << e.version << " (" << e.payload
                    << ") is in the log but no committed append returned that version";
      continue;
    }
    EXPECT_TRUE(payload_matches(byte_exact(), it->second, e.payload))
        << "the event at version " << e.version << " is not the one whose commit returned it";
    EXPECT_TRUE(seen.insert(it->second).second) << "duplicate event " << it->second;
  }
  EXPECT_TRUE(versions_well_formed(gapless(), versions)) << "no gaps, no duplicates";
}

TEST_F(RacingWriters, ExactlyOneWinsEachRound) {
  const int kWriters = 4, kRounds = 15;
  std::atomic<int64_t> assumed{head()};
  std::mutex mu;
  std::vector<std::vector<evdb_status>> rounds(kRounds);
  std::barrier<> sync(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int r = 0; r < kRounds; ++r) {
        sync.arrive_and_wait();  // everyone uses the same assumed version
        int64_t a = assumed.load();
        evdb_status s = EVDB_OK;
        try {
          db().tx_rw([&](evdb::TxRW& tx) {
            tx.append_event(a, make_event("Round", "{\"r\":" + std::to_string(r) +
                                                       ",\"w\":" + std::to_string(w) + "}"));
          });
        } catch (const evdb::Error& e) {
          s = e.code();
        }
        {
          std::lock_guard<std::mutex> g(mu);
          rounds[static_cast<size_t>(r)].push_back(s);
        }
        sync.arrive_and_wait();  // round over
        if (w == 0) assumed.store(head());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int r = 0; r < kRounds; ++r) {
    int ok = 0, mismatch = 0;
    std::string codes;
    for (evdb_status s : rounds[static_cast<size_t>(r)]) {
      ok += s == EVDB_OK;
      mismatch += s == EVDB_VERSION_MISMATCH;
      codes += std::string(evdb_status_name(s)) + " ";
    }
    EXPECT_EQ(ok, 1) << "contract: exactly one of " << kWriters
                     << " appends at the same assumed version wins (round " << r
                     << "); got: " << codes;
    EXPECT_EQ(mismatch, kWriters - 1)
        << "contract: the losers get VERSION_MISMATCH (round " << r << "); got: " << codes;
  }
  EXPECT_EQ(all_events().size(), static_cast<size_t>(kRounds)) << "one event per round";
}

TEST_F(RacingWriters, ProjectionIncrementsAreSerializable) {
  const int kWriters = 4, kEach = 20;
  db().tx_rw([](evdb::TxRW& tx) { tx.init_projection_version(1); });
  std::atomic<int> mismatches{0}, conflicts{0};
  std::mutex mu;
  std::vector<std::string> violations;
  std::latch start(kWriters);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int i = 0; i < kEach; ++i) {
        for (int attempt = 0;; ++attempt) {
          if (attempt > 100000) {
            std::lock_guard<std::mutex> g(mu);
            violations.push_back("no progress in 100000 attempts");
            return;
          }
          try {
            db().tx_rw([](evdb::TxRW& tx) {
              int64_t v = tx.read_projection_version(1);
              tx.set_projection_version(1, v + 1);
            });
            break;
          } catch (const evdb::Conflict&) {
            ++conflicts;
          } catch (const evdb::VersionMismatch&) {
            ++mismatches;
          } catch (const evdb::Error& e) {
            std::lock_guard<std::mutex> g(mu);
            violations.push_back(std::string(evdb_status_name(e.code())) + ": " + e.what());
            return;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& v : violations) ADD_FAILURE() << "non-retryable error while racing: " << v;
  EXPECT_EQ(mismatches.load(), 0)
      << "contract: a losing transaction that did not append gets CONFLICT, not VERSION_MISMATCH";
  RecordProperty("conflicts", conflicts.load());
  saw(conflicts.load() + mismatches.load() > 0
          ? "the writers raced: " + std::to_string(conflicts.load() + mismatches.load()) +
                " lost attempts, each retried"
          : std::string("no writer lost: the writers never overlapped or waited for each other "
                        "(the loser's code is checked by ProjectionLoserGetsConflictOnOneThread)"));
  EXPECT_EQ(projection(1), std::optional<int64_t>(kWriters * kEach))
      << "contract: read-write transactions are serializable: " << kWriters * kEach
      << " read-increment-write transactions give " << kWriters * kEach << " (lost updates?)";
}

// ---------------------------------------------------------------------------
// Two read-write transactions at once, driven step by step (DRV-18, DRV-21,
// DRV-41). The contract allows two behaviours and each test asserts the
// contract for whichever it saw: the second writer *waits* for the first
// (a lock held from begin to commit; it must then end with its context:
// EVDB_DEADLINE_EXCEEDED), or it *proceeds* and exactly one of the two wins,
// the loser getting VERSION_MISMATCH if it appended, CONFLICT if not.
// ---------------------------------------------------------------------------

// One read-write transaction driven through the C API, each call under its
// own context, remembering the outcome of its last call.
class StepTx {
 public:
  StepTx(evdb::DB& db, int64_t deadline_ms) : db_(db), deadline_ms_(deadline_ms) {}
  ~StepTx() {
    if (tx_ != nullptr) evdb_rollback(tx_);
  }
  StepTx(const StepTx&) = delete;
  StepTx& operator=(const StepTx&) = delete;

  bool open() const { return tx_ != nullptr; }
  const char* stage() const { return stage_; }
  evdb_status code() const { return code_; }
  std::string failure() const {
    return std::string(evdb_status_name(code_)) + " from " + stage_ +
           (message_.empty() ? "" : " (" + message_ + ")");
  }

  evdb_status begin() {
    return call("begin", [&](evdb_ctx* c, evdb_error* e) {
      return evdb_begin(db_.raw(), c, EVDB_TX_READ_WRITE, &tx_, e);
    });
  }
  evdb_status head(int64_t& out) {
    return call("read_system_version", [&](evdb_ctx* c, evdb_error* e) {
      return evdb_read_system_version(tx_, c, &out, e);
    });
  }
  evdb_status append(int64_t assumed, const char* type, int64_t& out) {
    evdb_event ev = EVDB_EVENT_INIT;
    ev.type_name = type;
    ev.type_name_len = std::strlen(type);
    ev.payload = "{}";
    ev.payload_len = 2;
    return call("append_event", [&](evdb_ctx* c, evdb_error* e) {
      return evdb_append_event(tx_, c, assumed, &ev, &out, e);
    });
  }
  evdb_status read_projection(int32_t id, int64_t& out) {
    return call("read_projection_version", [&](evdb_ctx* c, evdb_error* e) {
      return evdb_read_projection_version(tx_, c, id, &out, e);
    });
  }
  evdb_status set_projection(int32_t id, int64_t v) {
    return call("set_projection_version", [&](evdb_ctx* c, evdb_error* e) {
      return evdb_set_projection_version(tx_, c, id, v, e);
    });
  }
  evdb_status commit() {
    evdb_tx* tx = tx_;
    tx_ = nullptr;  // commit frees it whatever the outcome
    return call("commit", [&](evdb_ctx* c, evdb_error* e) { return evdb_commit(tx, c, e); });
  }
  // Ends the transaction after a failed call (the API leaves it open).
  void rollback() {
    if (tx_ != nullptr) evdb_rollback(tx_);
    tx_ = nullptr;
  }

 private:
  template <class F>
  evdb_status call(const char* stage, F&& f) {
    evdb_ctx* ctx = evdb_ctx_new();
    if (ctx != nullptr && deadline_ms_ > 0) evdb_ctx_set_timeout_ms(ctx, deadline_ms_);
    evdb_error err = EVDB_ERROR_INIT;
    stage_ = stage;
    code_ = f(ctx, &err);
    message_ = err.message ? err.message : "";
    evdb_error_release(&err);
    evdb_ctx_free(ctx);
    return code_;
  }
  evdb::DB& db_;
  int64_t deadline_ms_;
  evdb_tx* tx_ = nullptr;
  const char* stage_ = "";
  evdb_status code_ = EVDB_OK;
  std::string message_;
};

// How long the second writer may wait for the first before the test calls
// it waiting: not a speed check, only where a wait is told from progress.
constexpr int64_t kWaitMs = 1500;
// A liveness bound: a writer still stuck this long after the other ended is
// deadlocked.
constexpr int64_t kLivenessMs = 10000;

bool waited(evdb_status s) {
  return s == EVDB_DEADLINE_EXCEEDED || s == EVDB_CANCELED;
}

TEST_F(RacingWriters, TwoWritersOnOneThread) {
  int64_t h0 = append(make_event("Before"));
  StepTx first(db(), 0), second(db(), kWaitMs);
  int64_t seen = -1, v1 = -1, v2 = -1;
  ASSERT_EQ(first.begin(), EVDB_OK) << first.failure();
  ASSERT_EQ(first.head(seen), EVDB_OK) << first.failure();
  ASSERT_EQ(first.append(h0, "First", v1), EVDB_OK)
      << "contract: the first writer appends at the head; " << first.failure();

  // The second writer, on the same thread, while the first is open: every
  // call either proceeds, or waits and ends with its deadline (DRV-21, DRV-41).
  std::string behaviour;
  int64_t second_seen = -1;
  if (second.begin() == EVDB_OK && second.head(second_seen) == EVDB_OK) {
    EXPECT_EQ(second_seen, h0) << "contract (DRV-17, DRV-18): the other writer's uncommitted "
                                  "append is invisible; head "
                               << h0 << ", the second writer read " << second_seen;
    second.append(h0, "Second", v2);
  }
  if (second.code() == EVDB_OK) {
    behaviour = "the second writer proceeded and appended";
  } else if (waited(second.code())) {
    behaviour = std::string("the second writer waited at ") + second.stage() +
                " and ended with its deadline";
    second.rollback();
  } else if (second.code() == EVDB_VERSION_MISMATCH &&
             std::string(second.stage()) == "append_event") {
    behaviour = "the second writer lost at append_event with VERSION_MISMATCH";
    second.rollback();
  } else if (second.code() == EVDB_CONFLICT && std::string(second.stage()) != "append_event") {
    behaviour = std::string("the second writer lost at ") + second.stage() + " with CONFLICT";
    second.rollback();
  } else {
    ADD_FAILURE() << "contract (DRV-18, DRV-21): while another read-write transaction is open, "
                     "a writer proceeds, waits until its deadline, or loses with "
                     "VERSION_MISMATCH (after appending) / CONFLICT (before); it got "
                  << second.failure();
    second.rollback();
  }

  EXPECT_EQ(first.commit(), EVDB_OK)
      << "contract (DRV-18): the first writer to commit wins; " << first.failure();
  if (second.open()) {
    EXPECT_EQ(second.commit(), EVDB_VERSION_MISMATCH)
        << "contract (DRV-18): the second writer appended at " << h0
        << ", which the first commit took: its commit gives VERSION_MISMATCH; got "
        << second.failure();
    behaviour += ", then lost at commit with " + std::string(evdb_status_name(second.code()));
  }
  saw(behaviour);
  auto all = all_events();
  ASSERT_EQ(all.size(), 2u) << "contract (DRV-19): only the winner's event is in the log";
  EXPECT_EQ(all[1].type_name, "First");
  EXPECT_EQ(all[1].version, v1);
}

TEST_F(RacingWriters, TwoWritersOnTwoThreads) {
  int64_t h0 = append(make_event("Before"));
  StepTx first(db(), 0);
  int64_t seen = -1, v1 = -1;
  ASSERT_EQ(first.begin(), EVDB_OK) << first.failure();
  ASSERT_EQ(first.head(seen), EVDB_OK) << first.failure();
  ASSERT_EQ(first.append(h0, "First", v1), EVDB_OK) << first.failure();

  // The second writer runs a whole transaction on its own thread.
  struct Second {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int64_t seen = -1, version = -1;
    std::string stage, failure;
    evdb_status code = EVDB_OK;
  } b;
  std::thread t([&] {
    StepTx second(db(), kLivenessMs);
    int64_t head = -1, v = -1;
    if (second.begin() == EVDB_OK && second.head(head) == EVDB_OK &&
        second.append(head, "Second", v) == EVDB_OK)
      second.commit();
    second.rollback();
    std::lock_guard<std::mutex> g(b.mu);
    b.seen = head;
    b.version = v;
    b.stage = second.stage();
    b.code = second.code();
    b.failure = second.failure();
    b.done = true;
    b.cv.notify_all();
  });
  bool done_first;
  {
    std::unique_lock<std::mutex> g(b.mu);
    done_first = b.cv.wait_for(g, std::chrono::milliseconds(kWaitMs), [&] { return b.done; });
  }
  evdb_status c1 = first.commit();
  t.join();

  bool first_won = c1 == EVDB_OK, second_won = b.code == EVDB_OK;
  std::string behaviour;
  if (first_won && second_won) {
    behaviour = "the second writer waited for the first and saw its commit";
    EXPECT_EQ(b.seen, v1)
        << "contract (DRV-18): both committed, so the second ran after the first: it must have "
           "read the head the first committed";
    EXPECT_GT(b.version, v1);
  } else if (first_won) {
    behaviour = std::string("the writers raced") + (done_first ? "" : " (the second waited)") +
                "; the second lost with " + evdb_status_name(b.code) + " at " + b.stage;
    bool appended = b.stage == "append_event" || b.stage == "commit";
    evdb_status expected = appended ? EVDB_VERSION_MISMATCH : EVDB_CONFLICT;
    EXPECT_EQ(b.code, expected) << "contract (DRV-18): a writer that lost "
                                << (appended ? "after appending gets VERSION_MISMATCH"
                                             : "before appending gets CONFLICT")
                                << " (a wait must end when the other commits, DRV-21); got "
                                << b.failure;
  } else if (second_won) {
    behaviour = "the writers raced; the second committed first and the first lost at commit";
    EXPECT_EQ(c1, EVDB_VERSION_MISMATCH)
        << "contract (DRV-18): the first appended, so losing it gets VERSION_MISMATCH; got "
        << first.failure();
    EXPECT_TRUE(done_first);
  } else {
    ADD_FAILURE() << "contract (DRV-18, DRV-21): of two writers, one wins; the first got "
                  << first.failure() << ", the second " << b.failure;
  }
  saw(behaviour);
  auto all = all_events();
  std::vector<std::string> types;
  for (size_t i = 1; i < all.size(); ++i) types.push_back(all[i].type_name);
  std::vector<std::string> expected;
  if (first_won) expected.push_back("First");
  if (second_won) expected.push_back("Second");
  EXPECT_EQ(types, expected) << "contract (DRV-19): the log holds exactly the winners' events";
}

TEST_F(RacingWriters, ProjectionLoserGetsConflictOnOneThread) {
  db().tx_rw([](evdb::TxRW& tx) { tx.init_projection_version(1); });
  StepTx first(db(), 0), second(db(), kWaitMs);
  int64_t a = -1, b = -1;
  ASSERT_EQ(first.begin(), EVDB_OK) << first.failure();
  ASSERT_EQ(first.read_projection(1, a), EVDB_OK) << first.failure();
  ASSERT_EQ(a, 0);

  // The second increments and commits while the first is open.
  if (second.begin() == EVDB_OK && second.read_projection(1, b) == EVDB_OK &&
      second.set_projection(1, b + 1) == EVDB_OK)
    second.commit();
  second.rollback();
  bool second_won = second.code() == EVDB_OK;
  if (!second_won && !waited(second.code())) {
    EXPECT_EQ(second.code(), EVDB_CONFLICT)
        << "contract (DRV-18): a writer that loses without appending gets CONFLICT; got "
        << second.failure();
  }

  // The first increments from the value it read.
  evdb_status s = first.set_projection(1, a + 1);
  if (s == EVDB_OK) s = first.commit();
  first.rollback();
  if (second_won) {
    saw("the second writer committed first; the first lost with " +
        std::string(evdb_status_name(s)) + " at " + first.stage());
    EXPECT_EQ(s, EVDB_CONFLICT)
        << "contract (DRV-18): the first read 0 before the second committed 1, so it cannot "
           "commit 1 (a lost update); a loser that did not append gets CONFLICT; got "
        << first.failure();
  } else {
    saw(std::string(waited(second.code()) ? "the second writer waited at "
                                          : "the second lost at ") +
        second.stage() + "; the first committed");
    EXPECT_EQ(s, EVDB_OK) << "contract (DRV-18): the only writer that got to commit wins; got "
                          << first.failure();
  }
  EXPECT_EQ(projection(1), std::optional<int64_t>(1))
      << "contract (DRV-18): two increments of which one lost leave 1";
}

// ---------------------------------------------------------------------------
// TwoHandles
// ---------------------------------------------------------------------------

TEST_F(TwoHandles, WritesVisibleToTheOther) {
  evdb::DB b = open_again();
  int64_t v = append(make_event("FromA"));
  EXPECT_EQ(head(b), v) << "contract: a second handle on the same store sees the commit";
  auto e = b.tx_read_only([&](evdb::TxRO& tx) { return tx.read_event_at(v); });
  EXPECT_EQ(e.type_name, "FromA");
  int64_t w = append(b, make_event("FromB"));
  EXPECT_EQ(head(), w);
  EXPECT_EQ(all_events().size(), 2u);
}

TEST_F(TwoHandles, AlternatingAppends) {
  evdb::DB b = open_again();
  for (int i = 0; i < 10; ++i) append(i % 2 ? b : db(), make_event(i % 2 ? "B" : "A"));
  auto from_a = all_events();
  auto from_b = all_events(b);
  ASSERT_EQ(from_a.size(), 10u);
  EXPECT_EQ(from_a, from_b) << "contract: both handles read the same log";
  for (size_t i = 0; i < from_a.size(); ++i) EXPECT_EQ(from_a[i].type_name, i % 2 ? "B" : "A");
}

TEST_F(TwoHandles, StaleHeadFromOtherHandleMismatches) {
  evdb::DB b = open_again();
  int64_t seen_by_b = head(b);
  append(make_event("A"));
  EXPECT_CODE(EVDB_VERSION_MISMATCH,
              b.tx_rw([&](evdb::TxRW& tx) { tx.append_event(seen_by_b, make_event("B")); }));
  EXPECT_EQ(all_events().size(), 1u) << "contract: VERSION_MISMATCH appends nothing";
}

TEST_F(TwoHandles, ProjectionsShared) {
  evdb::DB b = open_again();
  db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(1);
    tx.set_projection_version(1, 7);
  });
  int64_t v = b.tx_read_only([](evdb::TxRO& tx) { return tx.read_projection_version(1); });
  EXPECT_EQ(v, 7) << "contract: one projection table per store";
  int64_t init = b.tx_rw([](evdb::TxRW& tx) { return tx.init_projection_version(1); });
  EXPECT_EQ(init, 7) << "contract: init from another handle never resets";
}

TEST_F(TwoHandles, ClosingOneLeavesTheOther) {
  std::optional<evdb::DB> b(open_again());
  append();
  b.reset();
  append();
  EXPECT_EQ(all_events().size(), 2u) << "contract: closing a handle does not affect another";
}

TEST_F(TwoHandles, RacingAcrossHandles) {
  evdb::DB b = open_again();
  std::latch start(2);
  WriterLog la, lb;
  std::thread ta(racing_writer, std::ref(db()), 0, 20, std::ref(start), std::ref(la));
  std::thread tb(racing_writer, std::ref(b), 1, 20, std::ref(start), std::ref(lb));
  ta.join();
  tb.join();
  for (const auto& v : la.violations) ADD_FAILURE() << "contract breach: " << v;
  for (const auto& v : lb.violations) ADD_FAILURE() << "contract breach: " << v;
  EXPECT_EQ(la.wins.size() + lb.wins.size(), 40u);
  auto all = all_events(b);
  EXPECT_EQ(all.size(), 40u) << "contract: no lost and no duplicate events across handles";
  std::vector<int64_t> versions;
  for (const auto& e : all) versions.push_back(e.version);
  EXPECT_TRUE(versions_well_formed(gapless(), versions));
}

}  // namespace
}  // namespace evdb::conformance
