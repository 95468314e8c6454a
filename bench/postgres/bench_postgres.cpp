// bench_postgres.cpp — the PostgreSQL driver through libevdb (C API, driver
// registered in-process) against raw libpqxx running the same statements
// (the driver's own SQL from make_statements, same BEGIN/COMMIT) on a schema
// of the same layout:
//   AppendOne:     one read-write transaction per event: begin, read the
//                  head, append, commit; with 1 and with 8 client threads
//                  (conflicts retried; items = committed events;
//                  retries_per_commit = lost races per committed event;
//                  wall_items_per_s: see bench_common.hpp);
//                  RawUnqueued: raw with the BEGIN that does not take the
//                  write lock (the driver's before writers queued);
//   AppendBatch:   one transaction: read the head, append 100 events, commit;
//   (AppendOne with 1 thread and AppendBatch also run with the argument
//   1000: through a TcpProxy adding 1 ms to every round trip; the raw client
//   sends one statement per round trip, as the driver did before PG-9)
//   ReadEvents:    one read-only transaction reading 1000 events (fields
//                  copied out) from a log of 2000;
//   ListenLatency: a listener on a thread of its own (raw: the notification
//                  read by poll()+get_notifs on a LISTEN connection); time
//                  from the start of a one-event transaction (begin, append,
//                  commit) to the listener's callback: counters p50_us and
//                  p99_us; ret_p50_us and ret_p99_us from the return of the
//                  commit instead (the notification may even arrive first:
//                  negative values).
// The server is scripts/postgres-local's (URI from EVDB_PG_URI, default the
// script's default); each benchmark uses a fresh schema, dropped afterwards.
#include <benchmark/benchmark.h>
#include <evdb/driver.h>
#include <poll.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_internal.hpp"
#include "test_support/tcp_proxy.hpp"

#include "../bench_common.hpp"

namespace {

using namespace evdb::bench;  // NOLINT: the shared sample event and helpers

namespace pg = evdb::postgres;

constexpr int kBatch = 100;
constexpr int kReadN = 1000;
constexpr int kLogSize = 2000;

std::string base_uri() {
  const char* u = std::getenv("EVDB_PG_URI");
  return u ? u : "postgres://evdb:evdb-test-pw@127.0.0.1:15432/evdb";
}

std::string fresh_schema(const char* kind) {
  static std::atomic<int> n{0};
  return std::string("bench_") + kind + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(n++);
}

// `uri` with its port replaced by `port` (the first ":digits/" after the
// authority's '@', or after "//").
std::string with_port(const std::string& uri, int port) {
  size_t at = uri.find('@');
  size_t colon = uri.find(':', at == std::string::npos ? uri.find("//") + 2 : at);
  size_t slash = uri.find('/', colon);
  if (colon == std::string::npos || slash == std::string::npos)
    throw std::runtime_error("cannot find the port in EVDB_PG_URI");
  return uri.substr(0, colon + 1) + std::to_string(port) + uri.substr(slash);
}

int port_of(const std::string& uri) {
  size_t at = uri.find('@');
  size_t colon = uri.find(':', at == std::string::npos ? uri.find("//") + 2 : at);
  return std::stoi(uri.substr(colon + 1));
}

// A fresh schema in the evdb layout (created by opening it through evdb),
// with an evdb handle on it and raw statements for the same schema. With
// delay_us > 0, both reach the server through a TcpProxy that passes on
// what the client sends delay_us later: every round trip costs delay_us
// more, as on a network with that round-trip time (the URI must then carry
// the password: a passfile entry names the server's port).
class Schema {
 public:
  explicit Schema(const char* kind, int64_t delay_us = 0) : name_(fresh_schema(kind)) {
    static const bool reg = [] {
      check(evdb_register_driver(evdb_driver_entry_postgres, nullptr), "register");
      return true;
    }();
    (void)reg;
    conn_uri_ = base_uri();
    if (delay_us > 0) {
      proxy_ = std::make_unique<evdb::test_support::TcpProxy>("127.0.0.1", port_of(conn_uri_),
                                                              std::chrono::microseconds(delay_us));
      conn_uri_ = with_port(conn_uri_, proxy_->port());
    }
    const std::string& b = conn_uri_;
    uri_ = b + (b.find('?') == std::string::npos ? "?" : "&") + "schema=" + name_ + "&pool_max=16";
    check(evdb_open(uri_.c_str(), nullptr, &db_, nullptr), "open");
    pqxx::connection c(base_uri());
    stmts_ = pg::make_statements(pg::Layout::Evdb, c.quote_name(name_));
    // The raw client begins as the driver did before PG-9: BEGIN, the lock
    // and a snapshot, then reads the head by itself.
    raw_begin_ = stmts_.rw_begin + "; " + stmts_.lock + "; SELECT 1";
  }
  ~Schema() {
    evdb_close(db_);
    try {
      pqxx::connection c(base_uri());
      pqxx::nontransaction t(c);
      t.exec0("DROP SCHEMA IF EXISTS " + c.quote_name(name_) + " CASCADE");
    } catch (...) {
    }
  }
  evdb_db* db() const { return db_; }
  // A raw libpqxx connection with the driver's statements prepared.
  std::unique_ptr<pqxx::connection> raw() const {
    auto c = std::make_unique<pqxx::connection>(conn_uri_);
    for (const auto& [name, sql] : stmts_.all) c->prepare(name, sql);
    return c;
  }
  const pg::Statements& stmts() const { return stmts_; }
  const std::string& raw_begin() const { return raw_begin_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::unique_ptr<evdb::test_support::TcpProxy> proxy_;
  std::string conn_uri_;
  std::string uri_;
  std::string raw_begin_;
  evdb_db* db_ = nullptr;
  pg::Statements stmts_;
};

// ---- driver side ------------------------------------------------------------

// ---- raw side: the same statements over libpqxx ------------------------------

// One transaction of n appends, one statement per round trip: BEGIN (with
// the lock and a snapshot), the head, each INSERT (checking the head), COMMIT.
bool raw_append(pqxx::connection& c, const std::string& begin, int n) {
  pqxx::nontransaction t(c);
  try {
    t.exec(begin);
    int64_t head = t.exec_prepared(pg::stmt::kHead)[0][0].as<int64_t>();
    for (int i = 0; i < n; ++i) {
      pqxx::result r = t.exec_prepared(pg::stmt::kAppend, head, kType, kPayload, kTime, kRev);
      if (r.empty()) throw pqxx::serialization_failure("mismatch");
      head = r[0][0].as<int64_t>();
    }
    t.exec("COMMIT");
    return true;
  } catch (const pqxx::transaction_rollback&) {
  } catch (const pqxx::unique_violation&) {
  }
  t.exec("ROLLBACK");
  return false;
}

// ---- AppendOne ----------------------------------------------------------------

// The schema shared by the threads of a multi-thread run: thread 0 creates it
// before the loop (the others wait for it) and drops it after (Google
// Benchmark ends the loop of every thread together).
std::atomic<Schema*> g_schema{nullptr};

Schema& shared_schema(benchmark::State& state, const char* kind) {
  if (state.thread_index() == 0) g_schema.store(new Schema(kind, state.range(0)));
  Schema* s = nullptr;
  while ((s = g_schema.load()) == nullptr) std::this_thread::yield();
  return *s;
}

void drop_shared_schema(benchmark::State& state) {
  if (state.thread_index() == 0) delete g_schema.exchange(nullptr);
}

void BM_AppendOne_Evdb(benchmark::State& state) {
  Schema& s = shared_schema(state, "a1e");
  open_connections(state, s.db());
  writers_loop(state, 1, [&] {
    int64_t lost = 0;
    while (!driver_append(s.db(), 1)) ++lost;
    return lost;
  });
  drop_shared_schema(state);
}

// Raw appends of one event per transaction; `begin` replaces the driver's
// read-write BEGIN when not empty.
void raw_append_one(benchmark::State& state, const char* kind, const std::string& begin) {
  Schema& s = shared_schema(state, kind);
  const std::string b = begin.empty() ? s.raw_begin() : begin;
  auto c = s.raw();
  writers_loop(state, 1, [&] {
    int64_t lost = 0;
    while (!raw_append(*c, b, 1)) ++lost;
    return lost;
  });
  c.reset();
  drop_shared_schema(state);
}

void BM_AppendOne_Raw(benchmark::State& state) {
  raw_append_one(state, "a1r", "");
}

// What the driver's read-write BEGIN was before writers queued on the table
// lock: racing writers then lose at the head and retry.
void BM_AppendOne_RawUnqueued(benchmark::State& state) {
  raw_append_one(state, "a1u", "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT 1");
}

// ---- AppendBatch ----------------------------------------------------------------

void BM_AppendBatch_Evdb(benchmark::State& state) {
  Schema s("abe", state.range(0));
  for (auto _ : state)
    if (!driver_append(s.db(), kBatch)) throw std::runtime_error("unexpected conflict");
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_AppendBatch_Raw(benchmark::State& state) {
  Schema s("abr", state.range(0));
  auto c = s.raw();
  for (auto _ : state)
    if (!raw_append(*c, s.raw_begin(), kBatch)) throw std::runtime_error("unexpected conflict");
  state.SetItemsProcessed(state.iterations() * kBatch);
}

// ---- ReadEvents ----------------------------------------------------------------

struct Copied {
  int64_t version, time_us;
  std::string type, payload, rev;
};

void BM_ReadEvents_Evdb(benchmark::State& state) {
  Schema s("rde");
  for (int i = 0; i < kLogSize / kBatch; ++i) driver_append(s.db(), kBatch);
  std::vector<evdb_event> buf(kReadN, evdb_event EVDB_EVENT_INIT);
  std::vector<Copied> out;
  out.reserve(kReadN);
  for (auto _ : state) {
    evdb_tx* tx = nullptr;
    check(evdb_begin(s.db(), nullptr, EVDB_TX_READ_ONLY, &tx, nullptr), "begin");
    size_t n = 0;
    check(evdb_read_events(tx, nullptr, 500, 0, buf.data(), buf.size(), &n, nullptr), "read");
    out.clear();
    for (size_t i = 0; i < n; ++i)
      out.push_back({buf[i].version, buf[i].time_us,
                     std::string(buf[i].type_name, buf[i].type_name_len),
                     std::string(buf[i].payload, buf[i].payload_len),
                     std::string(buf[i].revision_vcs, buf[i].revision_vcs_len)});
    check(evdb_commit(tx, nullptr, nullptr), "commit");
    if (out.size() != kReadN) throw std::runtime_error("short read");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kReadN);
}

void BM_ReadEvents_Raw(benchmark::State& state) {
  Schema s("rdr");
  for (int i = 0; i < kLogSize / kBatch; ++i) driver_append(s.db(), kBatch);
  auto c = s.raw();
  std::vector<Copied> out;
  out.reserve(kReadN);
  for (auto _ : state) {
    pqxx::nontransaction t(*c);
    t.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1");
    pqxx::result r = t.exec_prepared(pg::stmt::kAsc, int64_t{500}, int64_t{kReadN});
    out.clear();
    for (const auto& row : r)
      out.push_back(
          {row[0].as<int64_t>(), row[3].as<int64_t>(), std::string(row[1].c_str(), row[1].size()),
           std::string(row[2].c_str(), row[2].size()), std::string(row[4].c_str(), row[4].size())});
    t.exec("COMMIT");
    if (out.size() != kReadN) throw std::runtime_error("short read");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kReadN);
}

// ---- ListenLatency ----------------------------------------------------------------
//
// Both sides: a listener on a thread of its own (evdb_listen; raw: a LISTEN
// connection read with poll() + get_notifs()), and the benchmark's thread
// committing one event per iteration (begin, append at the head, commit) and
// waiting until the listener has it (bench_common.hpp: Deliveries,
// ListenLatencies).

using Clock = std::chrono::steady_clock;

void BM_ListenLatency_Evdb(benchmark::State& state) {
  Schema s("lle");
  Deliveries got;
  evdb::Context ctx;
  std::thread listener([&] {
    evdb_listen(
        s.db(), ctx.raw(),
        [](void* u, evdb_error*) -> evdb_status {
          static_cast<Deliveries*>(u)->set_ready();
          return EVDB_OK;
        },
        [](void* u, int64_t v, evdb_error*) {
          static_cast<Deliveries*>(u)->deliver(v);
          return EVDB_OK;
        },
        &got, nullptr);
  });
  got.wait_ready();
  ListenLatencies lat;
  evdb_event e = make_event();
  int64_t head = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    evdb_tx* tx = nullptr;
    check(evdb_begin(s.db(), nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), "begin");
    check(evdb_append_event(tx, nullptr, head, &e, &head, nullptr), "append");
    check(evdb_commit(tx, nullptr, nullptr), "commit");
    const auto t1 = Clock::now();
    lat.add(t0, t1, got.wait_for(head));
  }
  ctx.cancel();
  listener.join();
  lat.report(state);
}

void BM_ListenLatency_Raw(benchmark::State& state) {
  Schema s("llr");
  std::string channel;
  {
    pqxx::connection c(base_uri());
    pqxx::nontransaction t(c);
    channel = t.exec_params1("SELECT 'evdb_' || md5($1)", s.name())[0].as<std::string>();
  }
  Deliveries got;
  std::atomic<bool> stop{false};
  std::thread listener([&] {
    struct Rx final : pqxx::notification_receiver {
      Rx(pqxx::connection_base& c, const std::string& ch, Deliveries& d)
          : pqxx::notification_receiver(c, ch), got(d) {}
      void operator()(const std::string& payload, int) override { got.deliver(std::stoll(payload)); }
      Deliveries& got;
    };
    pqxx::connection lc(base_uri());
    Rx rx(lc, channel, got);  // sends LISTEN
    got.set_ready();
    while (!stop.load()) {
      pollfd p{lc.sock(), POLLIN, 0};
      ::poll(&p, 1, 100);
      lc.get_notifs();
    }
  });
  got.wait_ready();
  auto w = s.raw();
  ListenLatencies lat;
  int64_t head = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    pqxx::nontransaction t(*w);
    t.exec(s.raw_begin());
    head =
        t.exec_prepared(pg::stmt::kAppend, head, kType, kPayload, kTime, kRev)[0][0].as<int64_t>();
    t.exec("COMMIT");
    const auto t1 = Clock::now();
    lat.add(t0, t1, got.wait_for(head));
  }
  stop.store(true);
  listener.join();
  lat.report(state);
}

// Commit → callback latency across range(0) listens on one handle (one
// subscription fanned out, docs/contract.md LSN-1); range(1): one context for
// all listens instead of one each.
void BM_ListenFanOut_Evdb(benchmark::State& state) {
  Schema s("lfo");
  fan_out_latency(state, s.db(), static_cast<int>(state.range(0)), state.range(1) != 0);
}

}  // namespace

// The argument: the added round-trip time in microseconds (0: straight to
// the server over loopback; else through the delaying TcpProxy).
BENCHMARK(BM_AppendOne_Evdb)->ArgName("delay_us")->Arg(0)->Arg(1000)->Threads(1)->UseRealTime();
BENCHMARK(BM_AppendOne_Raw)->ArgName("delay_us")->Arg(0)->Arg(1000)->Threads(1)->UseRealTime();
BENCHMARK(BM_AppendOne_Evdb)->ArgName("delay_us")->Arg(0)->Threads(8)->UseRealTime();
BENCHMARK(BM_AppendOne_Raw)->ArgName("delay_us")->Arg(0)->Threads(8)->UseRealTime();
BENCHMARK(BM_AppendOne_RawUnqueued)->ArgName("delay_us")->Arg(0)->Threads(1)->UseRealTime();
BENCHMARK(BM_AppendOne_RawUnqueued)->ArgName("delay_us")->Arg(0)->Threads(8)->UseRealTime();
BENCHMARK(BM_AppendBatch_Evdb)->ArgName("delay_us")->Arg(0)->Arg(1000)->UseRealTime();
BENCHMARK(BM_AppendBatch_Raw)->ArgName("delay_us")->Arg(0)->Arg(1000)->UseRealTime();
BENCHMARK(BM_ReadEvents_Evdb)->UseRealTime();
BENCHMARK(BM_ReadEvents_Raw)->UseRealTime();
BENCHMARK(BM_ListenLatency_Evdb)->UseRealTime()->Iterations(1000);
BENCHMARK(BM_ListenLatency_Raw)->UseRealTime()->Iterations(1000);
BENCHMARK(BM_ListenFanOut_Evdb)
    ->ArgNames({"listeners", "shared_ctx"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->UseRealTime()
    ->Iterations(300);

BENCHMARK_MAIN();
