// main.cpp — evdb-example-bank: a small event-sourced application on evdb,
// wired the way Conductor wires one (see docs/example.md).
//
//  * Commands (transfers) use the optimistic check: read the head and the
//    state at the head, validate the command against that state, append at
//    the head. When another writer got there first the append (or the commit)
//    fails with VersionMismatch / Conflict and the command starts over.
//  * A projection (the balances, kept in memory) follows the log through its
//    projection version: one read-write transaction reads the events after
//    the version it has, and sets the projection version to the last one.
//  * A listener on its own thread wakes the projection whenever an event is
//    committed, by this process or any other.
//
// Usage: evdb-example-bank [URI] [--threads N] [--transfers N] [--think-us N]
// The same program runs unchanged on every driver; only the URI differs.
#include "bank.hpp"

#include <CLI/CLI.hpp>
#include <evdb/evdb.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

namespace {

constexpr int32_t kBalancesProjection = 1;  // id of our projection version
constexpr int64_t kInitialBalance = 1000;
const std::vector<std::string> kAccounts = {"alice", "bob", "carol", "dave"};

// ---------------------------------------------------------------------------
// The projection: balances in memory, its position kept as projection version
// kBalancesProjection in the store.
// ---------------------------------------------------------------------------
class Projection {
 public:
  explicit Projection(evdb::DB& db) : db_(db) {}

  // Starts from scratch. The balances live in memory, so a new process has
  // none: set the stored projection version back to 0 (rebuild) and return
  // where it was.
  int64_t reset() {
    int64_t was = db_.tx_rw([](evdb::TxRW& tx) {
      int64_t v = tx.init_projection_version(kBalancesProjection);  // creates it at 0 if absent
      tx.set_projection_version(kBalancesProjection, 0);
      return v;
    });
    std::lock_guard<std::mutex> lock(mu_);
    state_ = bank::Balances{};
    return was;
  }

  // Applies every event after the projection's version, and records the new
  // version in the same read-write transaction: either both move or neither.
  // A lost race (Conflict/VersionMismatch at commit) is retried.
  void catch_up() {
    std::lock_guard<std::mutex> catch_up_lock(catch_up_mu_);  // one catch-up at a time
    for (;;) {
      bank::Balances next = snapshot();
      try {
        db_.tx_rw([&](evdb::TxRW& tx) {
          int64_t stored = tx.read_projection_version(kBalancesProjection);
          if (stored != next.version) moved_elsewhere_ = true;  // another process shares it
          std::vector<evdb::Event> events;
          do {
            events = tx.read_events(next.version + 1, 256);
            for (const auto& e : events) bank::apply(next, e);
          } while (events.size() == 256);
          if (next.version != stored) tx.set_projection_version(kBalancesProjection, next.version);
        });
      } catch (const evdb::Error& e) {
        if (!e.retryable()) throw;
        retries_.fetch_add(1);
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        state_ = std::move(next);
      }
      cv_.notify_all();
      return;
    }
  }

  // A copy of the balances and the version they are at.
  bank::Balances snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }

  // Blocks until the projection has applied `version` (true), or until
  // abandon() is called or `guard` passes (false).
  bool wait_for(int64_t version, std::chrono::seconds guard) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, guard, [&] { return state_.version >= version || abandoned_; });
    return state_.version >= version;
  }

  // Wakes every wait_for(): nobody will move the projection any more.
  void abandon() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      abandoned_ = true;
    }
    cv_.notify_all();
  }

  int64_t retries() const { return retries_.load(); }
  bool moved_elsewhere() const { return moved_elsewhere_; }

 private:
  evdb::DB& db_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bank::Balances state_;
  bool abandoned_ = false;
  std::mutex catch_up_mu_;
  std::atomic<int64_t> retries_{0};
  bool moved_elsewhere_ = false;  // guarded by catch_up_mu_
};

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------
struct Stats {
  std::atomic<int64_t> committed{0};
  std::atomic<int64_t> rejected{0};
  std::atomic<int64_t> mismatches{0};  // VersionMismatch: retried
  std::atomic<int64_t> conflicts{0};   // Conflict: retried
};

// The state at the head of the log: the projection's balances plus whatever
// was committed after them, read in one read-only transaction.
std::pair<int64_t, bank::Balances> state_at_head(evdb::DB& db, Projection& projection) {
  bank::Balances state = projection.snapshot();  // taken first: its events are all visible below
  int64_t head = db.tx_read_only([&](evdb::TxRO& tx) {
    int64_t h = tx.read_system_version();
    while (state.version < h) {
      auto events = tx.read_events(state.version + 1, 256);
      if (events.empty()) break;
      for (const auto& e : events) bank::apply(state, e);
    }
    return h;
  });
  return {head, std::move(state)};
}

// Runs one command with the optimistic check. `decide` looks at the state at
// the head and returns the event to append, or nullopt to reject. Returns
// true when an event was committed.
template <class Decide>
bool run_command(evdb::DB& db, Projection& projection, Stats& stats,
                 std::chrono::microseconds think, Decide&& decide) {
  for (;;) {
    // 1. Read the head and the state at the head.
    auto [head, state] = state_at_head(db, projection);
    // 2. Validate against that state.
    std::optional<evdb::Event> event = decide(state);
    if (!event) {
      stats.rejected.fetch_add(1);
      return false;
    }
    // (A real command would do its work here; the pause lets other threads
    // append meanwhile, so the retry path below really runs.)
    if (think.count() > 0) std::this_thread::sleep_for(think);
    // 3. Append at the head we validated against.
    try {
      db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(head, *event); });
      stats.committed.fetch_add(1);
      return true;
    } catch (const evdb::VersionMismatch&) {
      stats.mismatches.fetch_add(1);  // someone appended after our read: start over
    } catch (const evdb::Conflict&) {
      stats.conflicts.fetch_add(1);
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers for the output
// ---------------------------------------------------------------------------

// The URI without its password (never print one).
std::string redact(const std::string& uri) {
  auto scheme_end = uri.find("://");
  if (scheme_end == std::string::npos) return uri;
  size_t auth = scheme_end + 3;
  size_t auth_end = uri.find_first_of("/?#", auth);
  if (auth_end == std::string::npos) auth_end = uri.size();
  size_t at = uri.rfind('@', auth_end);
  if (at == std::string::npos || at < auth) return uri;
  size_t colon = uri.find(':', auth);
  if (colon == std::string::npos || colon > at) return uri;
  return uri.substr(0, colon + 1) + "***" + uri.substr(at);
}

// A file path as a sqlite: URI (percent-encoding what a URI cannot hold).
std::string sqlite_uri(const std::filesystem::path& file) {
  std::string out = "sqlite://";
  for (unsigned char c : file.string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string caps_text(uint64_t caps) {
  std::string out;
  auto add = [&](uint64_t bit, const char* name) {
    if (caps & bit) out += (out.empty() ? "" : ",") + std::string(name);
  };
  add(EVDB_CAP_LISTENER, "listener");
  add(EVDB_CAP_DURABLE, "durable");
  add(EVDB_CAP_CROSS_PROCESS, "cross-process");
  add(EVDB_CAP_GAPLESS, "gapless");
  add(EVDB_CAP_BYTE_EXACT_PAYLOAD, "byte-exact-payload");
  add(EVDB_CAP_LISTENER_RECONNECT, "listener-reconnect");
  return out.empty() ? "none" : out;
}

int run(const std::string& uri_arg, int threads, int transfers, int think_us) {
  // ---- the store --------------------------------------------------------
  std::string uri = uri_arg;
  std::filesystem::path default_file;
  if (uri.empty()) {
    default_file = std::filesystem::absolute("evdb-demo") / "bank.db";
    std::filesystem::create_directories(default_file.parent_path());
    uri = sqlite_uri(default_file);
  }
  evdb::DB db = [&] {
    try {
      return evdb::DB::open(uri);
    } catch (const evdb::DriverNotFound& e) {
      if (!default_file.empty())
        throw evdb::DriverNotFound(std::string(e.what()) +
                                   "\n(the default store needs the sqlite driver; pass another "
                                   "URI, e.g. evdb-example-bank memory:demo)");
      throw;
    }
  }();
  std::printf("evdb bank example: event sourcing the Conductor way\n");
  std::printf("  store:      %s (driver %s: %s)\n", redact(uri).c_str(), db.driver_name().c_str(),
              caps_text(db.capabilities()).c_str());
  if (!default_file.empty())
    std::printf("  file:       %s (the default; delete it to start over, or pass a URI)\n",
                default_file.c_str());

  // ---- the projection, rebuilt from the log --------------------------------
  Projection projection(db);
  int64_t was = projection.reset();
  int64_t start_head = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });

  // ---- the listener: wakes the projector on every commit -------------------
  evdb::Context listen_ctx;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false, listen_done = false, stop = false;
  int64_t notified = 0;
  std::atomic<int64_t> wakeups{0};
  evdb::Status listen_status;
  std::thread listener([&] {
    evdb::Status st;
    try {
      st = db.listen(
          listen_ctx,
          [&] {
            std::lock_guard<std::mutex> lock(mu);
            ready = true;
            cv.notify_all();
          },
          [&](int64_t version) {
            wakeups.fetch_add(1);
            std::lock_guard<std::mutex> lock(mu);
            notified = std::max(notified, version);
            cv.notify_all();
          });
    } catch (const evdb::Error& e) {
      st = evdb::Status::from(e);
    } catch (const std::exception& e) {
      st = evdb::Status(EVDB_INTERNAL, e.what());
    }
    std::lock_guard<std::mutex> lock(mu);
    listen_done = true;
    listen_status = st;
    cv.notify_all();
  });

  // ---- the projector: catches up whenever the listener says so -------------
  std::exception_ptr projector_error;
  std::thread projector([&] {
    try {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return ready || listen_done || stop; });
      int64_t done_up_to = -1;
      while (!stop && !listen_done) {
        lock.unlock();
        projection.catch_up();  // also the first replay of the history
        lock.lock();
        done_up_to = std::max(done_up_to, projection.snapshot().version);
        cv.wait(lock, [&] { return notified > done_up_to || stop || listen_done; });
      }
    } catch (...) {
      projector_error = std::current_exception();
      listen_ctx.cancel();
    }
    projection.abandon();  // the projector is gone: nobody waits for it in vain
  });

  int exit_code = 0;
  auto stop_threads = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    listen_ctx.cancel();
    if (listener.joinable()) listener.join();
    if (projector.joinable()) projector.join();
  };
  // When the projection cannot follow: the projector's or listener's error.
  auto projection_stuck = [&](const std::string& what) {
    stop_threads();
    if (projector_error) std::rethrow_exception(projector_error);
    listen_status.throw_if_error();
    throw std::runtime_error(what);
  };

  try {
    // Commands start once the listener is subscribed: from then on every
    // commit wakes the projector.
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return ready || listen_done; });
      if (!ready) {
        lock.unlock();
        projection_stuck("the listener ended before it was ready");
      }
    }
    if (!projection.wait_for(start_head, std::chrono::seconds(60)))
      projection_stuck("the projection did not replay the history");
    if (start_head == 0)
      std::printf(
          "  history:    0 events: a new store; projection \"balances\" (id %d) starts "
          "at 0\n",
          kBalancesProjection);
    else
      std::printf(
          "  history:    %lld events already in the store; projection \"balances\" (id "
          "%d) was at %lld, rebuilt from 0 by replaying them\n",
          static_cast<long long>(start_head), kBalancesProjection, static_cast<long long>(was));

    // ---- commands: open the accounts --------------------------------------
    Stats stats;
    auto think = std::chrono::microseconds(think_us);
    std::vector<std::string> opened, existing;
    for (const auto& name : kAccounts) {
      bool ok = run_command(db, projection, stats, think,
                            [&](const bank::Balances& s) -> std::optional<evdb::Event> {
                              if (s.accounts.count(name)) return std::nullopt;  // already open
                              return bank::account_opened(name, kInitialBalance);
                            });
      (ok ? opened : existing).push_back(name);
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (auto& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    if (!opened.empty())
      std::printf("  accounts:   opened %s with %lld each\n", join(opened).c_str(),
                  static_cast<long long>(kInitialBalance));
    if (!existing.empty())
      std::printf("  accounts:   %s already open from an earlier run\n", join(existing).c_str());

    // ---- commands: concurrent transfers -----------------------------------
    Stats tstats;
    std::vector<std::thread> workers;
    std::vector<std::exception_ptr> worker_errors(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        try {
          std::mt19937 rng(std::random_device{}());
          std::uniform_int_distribution<size_t> pick(0, kAccounts.size() - 1);
          std::uniform_int_distribution<int64_t> amount(1, 400);
          for (int i = 0; i < transfers; ++i) {
            const std::string& from = kAccounts[pick(rng)];
            std::string to = kAccounts[pick(rng)];
            while (to == from) to = kAccounts[pick(rng)];
            int64_t a = amount(rng);
            run_command(db, projection, tstats, think,
                        [&](const bank::Balances& s) -> std::optional<evdb::Event> {
                          if (bank::check_transfer(s, from, to, a)) return std::nullopt;
                          return bank::money_transferred(from, to, a);
                        });
          }
        } catch (...) {
          worker_errors[static_cast<size_t>(t)] = std::current_exception();
        }
      });
    }
    for (auto& w : workers) w.join();
    for (auto& e : worker_errors)
      if (e) std::rethrow_exception(e);
    int64_t retries = tstats.mismatches + tstats.conflicts + stats.mismatches + stats.conflicts;
    std::printf(
        "  commands:   %d threads x %d transfers: %lld committed, %lld rejected "
        "(insufficient funds)\n",
        threads, transfers, static_cast<long long>(tstats.committed.load()),
        static_cast<long long>(tstats.rejected.load()));
    std::printf(
        "  retries:    %lld (%lld VersionMismatch, %lld Conflict): appends that lost a "
        "race, re-validated and retried\n",
        static_cast<long long>(retries),
        static_cast<long long>(tstats.mismatches + stats.mismatches),
        static_cast<long long>(tstats.conflicts + stats.conflicts));

    // ---- the projection follows through the listener -----------------------
    int64_t head = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });
    if (!projection.wait_for(head, std::chrono::seconds(60)))
      projection_stuck("the listener did not bring the projection to version " +
                       std::to_string(head));
    std::printf(
        "  projection: at version %lld = head, kept up by the listener (%lld wake-ups, "
        "%lld projection retries)\n",
        static_cast<long long>(head), static_cast<long long>(wakeups.load()),
        static_cast<long long>(projection.retries()));
    stop_threads();
    if (projector_error) std::rethrow_exception(projector_error);
    if (!listen_status.ok() && !listen_status.is<evdb::Canceled>()) listen_status.throw_if_error();

    // ---- the result, checked ------------------------------------------------
    bank::Balances balances = projection.snapshot();
    std::string line;
    for (const auto& [name, b] : balances.accounts) line += name + " " + std::to_string(b) + "  ";
    int64_t expected_total = kInitialBalance * static_cast<int64_t>(balances.accounts.size());
    std::printf("  balances:   %s(total %lld, %s)\n", line.c_str(),
                static_cast<long long>(balances.total()),
                balances.total() == expected_total ? "conserved" : "NOT CONSERVED");

    // Replay the log from version 1 up to the projection's version in one
    // snapshot and compare. (Up to that version, not to the head: another
    // process may be appending to the same store right now.)
    const int64_t upto = balances.version;
    auto [replayed, stored] = db.tx_read_only([upto](evdb::TxRO& tx) {
      bank::Balances b;
      while (b.version < upto) {
        auto events = tx.read_events(b.version + 1,
                                     static_cast<size_t>(std::min<int64_t>(256, upto - b.version)));
        if (events.empty()) break;
        for (const auto& e : events) bank::apply(b, e);
      }
      return std::pair{b, tx.read_projection_version(kBalancesProjection)};
    });
    const bool shared = projection.moved_elsewhere();
    bool ok = replayed == balances && upto >= head && balances.total() == expected_total &&
              (shared || stored == upto);
    for (const auto& [name, b] : balances.accounts) ok = ok && b >= 0;
    if (ok) {
      std::printf(
          "  check:      OK: replaying versions 1..%lld gives the same balances; stored "
          "projection version %lld%s; no balance below 0\n",
          static_cast<long long>(upto), static_cast<long long>(stored), shared ? "" : " = head");
    } else {
      std::printf(
          "  check:      FAILED: replayed up to %lld (total %lld), projection at %lld "
          "(stored %lld), head %lld\n",
          static_cast<long long>(replayed.version), static_cast<long long>(replayed.total()),
          static_cast<long long>(upto), static_cast<long long>(stored),
          static_cast<long long>(head));
      exit_code = 1;
    }
    if (shared)
      std::printf(
          "  note:       another process used projection %d of this store meanwhile; "
          "run one example per store at a time to keep its stored version exact\n",
          kBalancesProjection);
  } catch (...) {
    stop_threads();
    throw;
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "evdb-example-bank: concurrent money transfers on an evdb event log, with optimistic "
      "appends, a projection kept by its projection version, and a listener.\n"
      "Default store: the SQLite file ./evdb-demo/bank.db (created if missing)."};
  std::string uri;
  int threads = 4, transfers = 50, think_us = 200;
  app.add_option("URI", uri,
                 "Store URI, e.g. memory:demo, sqlite:///tmp/bank.db, "
                 "postgres://localhost/evdb?schema=bank, redis://localhost:6379?prefix=bank");
  app.add_option("--threads", threads, "Concurrent command threads")->check(CLI::Range(1, 64));
  app.add_option("--transfers", transfers, "Transfers per thread")->check(CLI::Range(0, 100000));
  app.add_option("--think-us", think_us,
                 "Pause between validating and appending, in microseconds (a command's work)")
      ->check(CLI::Range(0, 1000000));
  app.footer(
      "Exit status: 0 success, 1 the final check failed, 2 bad command line, 3 an evdb "
      "error (message on stderr).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run(uri, threads, transfers, think_us);
  } catch (const evdb::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "evdb-example-bank: %s (%s)\n", e.what(), evdb_status_name(e.code()));
    return 3;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "evdb-example-bank: %s\n", e.what());
    return 3;
  }
}
