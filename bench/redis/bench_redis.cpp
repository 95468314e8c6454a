// bench_redis.cpp — the Redis driver through libevdb (C API, driver
// registered in-process) against raw hiredis sending the same commands on
// the same keys (the snapshot MULTI/XLEN/HGETALL/EXEC at begin, the commit
// script by EVALSHA, XRANGE for reads, XREAD BLOCK for listening):
//   AppendOne:    one read-write transaction per event (begin, read the
//                 head, append, commit); run with 1 and with 8 threads
//                 (racing writers retry on VERSION_MISMATCH on both sides;
//                 retries_per_commit = lost races per committed event; the
//                 driver's writers queue on the write lock, the raw side's
//                 race); AppendOneUnqueued: the driver with write_lock_ms=0;
//   AppendBatch:  one transaction appending 1000 events;
//   ReadEvents:   one read-only transaction reading 1000 events (every
//                 field looked at) from a log of 10000;
//   ListenLatency: one-event transactions, each waiting until a listener on
//                 another thread has it: counters p50_us / p99_us from the
//                 transaction's start, ret_p50_us / ret_p99_us from the
//                 commit's return.
// The server: $EVDB_REDIS_URI without "?prefix" (default: the one
// scripts/redis-local starts, redis://evdb:evdb-test-pw@127.0.0.1:16379).
#include <benchmark/benchmark.h>
#include <evdb/driver.h>
#include <hiredis/hiredis.h>
#include <evdb/evdb.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "redis_driver.hpp"

#include "../bench_common.hpp"

namespace {

using namespace evdb::bench;  // NOLINT: the shared sample event and helpers

using Clock = std::chrono::steady_clock;

std::string g_base = "redis://evdb:evdb-test-pw@127.0.0.1:16379";
std::string g_host = "127.0.0.1";
int g_port = 16379;
std::string g_user = "evdb";
std::string g_password = "evdb-test-pw";

constexpr int kBatch = 1000;
constexpr int kReadN = 1000;
constexpr int kLogSize = 10000;

std::string fresh_prefix(const char* what) {
  static std::atomic<int> n{0};
  return std::string("bench-") + what + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(n.fetch_add(1));
}

// ---- raw hiredis --------------------------------------------------------------

struct RawConn {
  redisContext* c = nullptr;
  RawConn() {
    c = redisConnect(g_host.c_str(), g_port);
    if (c == nullptr || c->err) throw std::runtime_error("raw connect failed");
    redisReply* r =
        static_cast<redisReply*>(redisCommand(c, "AUTH %s %s", g_user.c_str(), g_password.c_str()));
    if (r == nullptr || r->type == REDIS_REPLY_ERROR) throw std::runtime_error("raw AUTH failed");
    freeReplyObject(r);
  }
  ~RawConn() { redisFree(c); }
  redisReply* get() {
    void* r = nullptr;
    if (redisGetReply(c, &r) != REDIS_OK) throw std::runtime_error("raw reply failed");
    return static_cast<redisReply*>(r);
  }
  void append(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> len;
    for (auto& a : args) {
      argv.push_back(a.data());
      len.push_back(a.size());
    }
    redisAppendCommandArgv(c, static_cast<int>(args.size()), argv.data(), len.data());
  }
};

std::string load_script(RawConn& rc) {
  redisReply* r = static_cast<redisReply*>(redisCommand(rc.c, "SCRIPT LOAD %b",
                                                        evdb::redis::commit_script().data(),
                                                        evdb::redis::commit_script().size()));
  std::string sha(r->str, r->len);
  freeReplyObject(r);
  return sha;
}

// The snapshot the driver takes at begin; returns the head.
int64_t raw_snapshot(RawConn& rc, const std::string& log, const std::string& proj) {
  rc.append({"MULTI"});
  rc.append({"XLEN", log});
  rc.append({"HGETALL", proj});
  rc.append({"EXEC"});
  for (int i = 0; i < 3; ++i) freeReplyObject(rc.get());
  redisReply* exec = rc.get();
  int64_t head = exec->element[0]->integer;
  freeReplyObject(exec);
  return head;
}

// Appends n events at head by the commit script; false when the head moved.
bool raw_append(RawConn& rc, const std::string& sha, const std::string& p, int n) {
  std::string log = "{" + p + "}:log", proj = "{" + p + "}:proj";
  int64_t head = raw_snapshot(rc, log, proj);
  std::vector<std::string> args = {"EVALSHA",        sha, "2", log, proj, std::to_string(head), "0",
                                   std::to_string(n)};
  for (int i = 0; i < n; ++i) {
    args.push_back(std::to_string(head + 1 + i) + "-0");
    args.push_back(kType);
    args.push_back(kPayload);
    args.push_back(std::to_string(kTime));
    args.push_back(kRev);
  }
  args.push_back("0");
  rc.append(args);
  redisReply* r = rc.get();
  bool ok = r->type == REDIS_REPLY_ARRAY && r->element[0]->integer == 2;
  if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error(std::string("raw commit: ") + r->str);
  freeReplyObject(r);
  return ok;
}

// ---- driver -------------------------------------------------------------------

evdb_db* open_db(const std::string& prefix, const std::string& extra = "") {
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  std::string uri = g_base + "?prefix=" + prefix + extra;
  if (evdb_open(uri.c_str(), nullptr, &db, &err) != EVDB_OK) {
    std::string m = err.message ? err.message : "?";
    evdb_error_release(&err);
    throw std::runtime_error("open: " + m);
  }
  return db;
}

void drop_store(const std::string& p) {
  RawConn rc;
  std::string log = "{" + p + "}:log", proj = "{" + p + "}:proj";
  rc.append({"DEL", log, proj});
  freeReplyObject(rc.get());
}

// ---- AppendOne (1 and 8 threads) -------------------------------------------------

struct Shared {
  std::string prefix;
  std::atomic<evdb_db*> db{nullptr};
};
Shared g_one_driver, g_one_raw;

// One event per transaction through the driver; `extra` is added to the URI.
// Thread 0 opens the store before its loop (the others wait for it) and
// closes it after (Google Benchmark ends every thread's loop together).
void driver_append_one(benchmark::State& state, const char* kind, const std::string& extra) {
  if (state.thread_index() == 0) {
    g_one_driver.prefix = fresh_prefix(kind);
    g_one_driver.db.store(open_db(g_one_driver.prefix, extra));
  }
  evdb_db* db = nullptr;
  while ((db = g_one_driver.db.load()) == nullptr) std::this_thread::yield();
  open_connections(state, db);
  writers_loop(state, 1, [&] {
    int64_t lost = 0;
    while (!driver_append(db, 1)) ++lost;
    return lost;
  });
  if (state.thread_index() == 0) {
    evdb_close(g_one_driver.db.exchange(nullptr));
    drop_store(g_one_driver.prefix);
  }
}

void BM_Driver_AppendOne(benchmark::State& state) {
  driver_append_one(state, "one-drv", "");
}

// Without the write lock (write_lock_ms=0): racing writers lose at commit
// and retry, as before writers queued.
void BM_Driver_AppendOneUnqueued(benchmark::State& state) {
  driver_append_one(state, "one-unq", "&write_lock_ms=0");
}

void BM_Raw_AppendOne(benchmark::State& state) {
  if (state.thread_index() == 0) g_one_raw.prefix = fresh_prefix("one-raw");
  RawConn rc;
  std::string sha = load_script(rc);
  writers_loop(state, 1, [&] {
    int64_t lost = 0;
    while (!raw_append(rc, sha, g_one_raw.prefix, 1)) ++lost;
    return lost;
  });
  if (state.thread_index() == 0) drop_store(g_one_raw.prefix);
}

// ---- AppendBatch -------------------------------------------------------------------

void BM_Driver_AppendBatch(benchmark::State& state) {
  std::string p = fresh_prefix("batch-drv");
  evdb_db* db = open_db(p);
  for (auto _ : state) driver_append(db, kBatch);
  state.SetItemsProcessed(state.iterations() * kBatch);
  evdb_close(db);
  drop_store(p);
}

void BM_Raw_AppendBatch(benchmark::State& state) {
  std::string p = fresh_prefix("batch-raw");
  RawConn rc;
  std::string sha = load_script(rc);
  for (auto _ : state) raw_append(rc, sha, p, kBatch);
  state.SetItemsProcessed(state.iterations() * kBatch);
  drop_store(p);
}

// ---- ReadEvents ----------------------------------------------------------------------

std::string filled_store(const char* what) {
  std::string p = fresh_prefix(what);
  RawConn rc;
  std::string sha = load_script(rc);
  for (int i = 0; i < kLogSize / kBatch; ++i) raw_append(rc, sha, p, kBatch);
  return p;
}

void BM_Driver_ReadEvents(benchmark::State& state) {
  std::string p = filled_store("read-drv");
  evdb_db* db = open_db(p);
  std::vector<evdb_event> buf(kReadN, evdb_event EVDB_EVENT_INIT);
  size_t bytes = 0;
  for (auto _ : state) {
    evdb_tx* tx = nullptr;
    check(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, nullptr), "begin");
    size_t got = 0;
    check(evdb_read_events(tx, nullptr, 4001, 0, buf.data(), buf.size(), &got, nullptr), "read");
    if (got != kReadN) throw std::runtime_error("short read");
    for (size_t i = 0; i < got; ++i) bytes += buf[i].payload_len + buf[i].type_name_len;
    check(evdb_commit(tx, nullptr, nullptr), "commit");
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations() * kReadN);
  evdb_close(db);
  drop_store(p);
}

void BM_Raw_ReadEvents(benchmark::State& state) {
  std::string p = filled_store("read-raw");
  std::string log = "{" + p + "}:log", proj = "{" + p + "}:proj";
  RawConn rc;
  size_t bytes = 0;
  for (auto _ : state) {
    raw_snapshot(rc, log, proj);
    rc.append({"XRANGE", log, "4001-0", std::to_string(kLogSize) + "-0", "COUNT",
               std::to_string(kReadN)});
    redisReply* r = rc.get();
    if (r->elements != kReadN) throw std::runtime_error("short read");
    // Look at every field, as the driver does when it fills evdb_event.
    for (size_t i = 0; i < r->elements; ++i) {
      const redisReply* f = r->element[i]->element[1];
      int64_t v = std::strtoll(r->element[i]->element[0]->str, nullptr, 10);
      for (size_t k = 0; k + 1 < f->elements; k += 2) {
        if (std::strcmp(f->element[k]->str, "p") == 0 || std::strcmp(f->element[k]->str, "t") == 0)
          bytes += f->element[k + 1]->len;
        else if (std::strcmp(f->element[k]->str, "ts") == 0)
          bytes += static_cast<size_t>(std::strtoll(f->element[k + 1]->str, nullptr, 10) & 1);
      }
      bytes += static_cast<size_t>(v & 1);
    }
    freeReplyObject(r);
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(state.iterations() * kReadN);
  drop_store(p);
}

// ---- ListenLatency -----------------------------------------------------------------------
//
// Both sides: a listener on a thread of its own (evdb_listen; raw: a blocking
// XREAD loop), and the benchmark's thread committing one event per iteration
// (snapshot, append, commit) and waiting until the listener has it
// (bench_common.hpp: Deliveries, ListenLatencies).

void BM_Driver_ListenLatency(benchmark::State& state) {
  std::string p = fresh_prefix("listen-drv");
  evdb_db* db = open_db(p);
  evdb_ctx* ctx = evdb_ctx_new();
  Deliveries got;
  std::thread listener([&] {
    evdb_listen(
        db, ctx,
        [](void* u, evdb_error*) -> evdb_status {
          static_cast<Deliveries*>(u)->set_ready();
          return EVDB_OK;
        },
        [](void* u, int64_t v, evdb_error*) -> evdb_status {
          static_cast<Deliveries*>(u)->deliver(v);
          return EVDB_OK;
        },
        &got, nullptr);
  });
  got.wait_ready();
  ListenLatencies lat;
  int64_t v = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    driver_append(db, 1);
    const auto t1 = Clock::now();
    lat.add(t0, t1, got.wait_for(++v));
  }
  evdb_ctx_cancel(ctx);
  listener.join();
  evdb_ctx_free(ctx);
  lat.report(state);
  evdb_close(db);
  drop_store(p);
}

void BM_Raw_ListenLatency(benchmark::State& state) {
  std::string p = fresh_prefix("listen-raw");
  std::string log = "{" + p + "}:log";
  Deliveries got;
  std::atomic<bool> stop{false};
  std::thread listener([&] {
    RawConn lc;
    std::string last = "0-0";
    got.set_ready();
    while (!stop) {
      lc.append({"XREAD", "COUNT", "1000", "BLOCK", "100", "STREAMS", log, last});
      redisReply* r = lc.get();
      if (r->type == REDIS_REPLY_ARRAY) {
        const redisReply* entries = r->element[0]->element[1];
        for (size_t i = 0; i < entries->elements; ++i) {
          last = entries->element[i]->element[0]->str;
          got.deliver(std::strtoll(last.c_str(), nullptr, 10));
        }
      }
      freeReplyObject(r);
    }
  });
  got.wait_ready();
  RawConn rc;
  std::string sha = load_script(rc);
  ListenLatencies lat;
  int64_t v = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    raw_append(rc, sha, p, 1);
    const auto t1 = Clock::now();
    lat.add(t0, t1, got.wait_for(++v));
  }
  stop = true;
  listener.join();
  lat.report(state);
  drop_store(p);
}

// Commit → callback latency across range(0) listens on one handle (one
// subscription fanned out, docs/contract.md LSN-1); range(1): one context for
// all listens instead of one each.
void BM_Driver_ListenFanOut(benchmark::State& state) {
  std::string p = fresh_prefix("listen-fan");
  evdb_db* db = open_db(p);
  fan_out_latency(state, db, static_cast<int>(state.range(0)), state.range(1) != 0);
  evdb_close(db);
  drop_store(p);
}

}  // namespace

BENCHMARK(BM_Driver_AppendOne)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Raw_AppendOne)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Driver_AppendOne)->Unit(benchmark::kMicrosecond)->Threads(8)->UseRealTime();
BENCHMARK(BM_Raw_AppendOne)->Unit(benchmark::kMicrosecond)->Threads(8)->UseRealTime();
BENCHMARK(BM_Driver_AppendOneUnqueued)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Driver_AppendOneUnqueued)->Unit(benchmark::kMicrosecond)->Threads(8)->UseRealTime();
BENCHMARK(BM_Driver_AppendBatch)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Raw_AppendBatch)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Driver_ReadEvents)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Raw_ReadEvents)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Driver_ListenLatency)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Raw_ListenLatency)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Driver_ListenFanOut)
    ->ArgNames({"listeners", "shared_ctx"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Iterations(300);

int main(int argc, char** argv) {
  if (const char* u = std::getenv("EVDB_REDIS_URI"); u != nullptr && *u != '\0') {
    // redis://user:password@host:port — the raw side needs the parts.
    g_base = u;
    std::string s = g_base.substr(g_base.find("://") + 3);
    auto at = s.rfind('@');
    if (at != std::string::npos) {
      std::string cred = s.substr(0, at);
      s = s.substr(at + 1);
      auto colon = cred.find(':');
      g_user = cred.substr(0, colon);
      g_password = colon == std::string::npos ? "" : cred.substr(colon + 1);
      if (g_user.empty()) g_user = "default";
    }
    auto colon = s.rfind(':');
    g_host = s.substr(0, colon);
    if (colon != std::string::npos) g_port = std::atoi(s.c_str() + colon + 1);
  }
  evdb_error err = EVDB_ERROR_INIT;
  if (evdb_register_driver(evdb_driver_entry_redis, &err) != EVDB_OK) return 1;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
