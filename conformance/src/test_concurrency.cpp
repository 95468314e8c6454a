// test_concurrency.cpp — RacingWriters.*, TwoHandles.* (docs/contract.md §2: serializable
// read-write transactions; many handles on one store).
#include <atomic>
#include <barrier>
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
  EXPECT_EQ(projection(1), std::optional<int64_t>(kWriters * kEach))
      << "contract: read-write transactions are serializable: " << kWriters * kEach
      << " read-increment-write transactions give " << kWriters * kEach << " (lost updates?)";
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
