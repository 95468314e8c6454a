// bench_memory — the cost of the loader/ABI path over the memory driver.
//
// Each case runs twice: "Loader" goes through libevdb (evdb_open("memory:"),
// the C API with its argument validation, the driver's C table built by the
// adapter, the driver file found beside libevdb); "Direct" calls the C++
// classes of evdb_driver_memory_impl linked into this program; "Table" calls
// that library's C table (the adapter) without libevdb, as libevdb does. All
// use a private store ("memory:").
//
// Run: bench_memory --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Instructions per operation (callgrind): bench_memory --count=N CASE, below.
// Results and the command used: docs/benchmarks.md, section "memory".
#include <benchmark/benchmark.h>
#include <evdb/driver.h>
#include <evdb/evdb.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../bench_common.hpp"
#include "memory_driver.hpp"
#include "validate.hpp"

namespace {

constexpr const char kType[] = "OrderPlaced";
constexpr const char kPayload[] =
    R"({"order_id":12345,"customer":"c-42","amount":19.99,"items":[1,2,3]})";
constexpr const char kRev[] = "3f9c2ab";
// The store is replaced once it holds this many events, so memory stays
// bounded however long a case runs (the swap is not timed). A replaced
// store's memory goes to the next one, not back to the kernel: its blocks of
// 2 MiB and more through the driver's kept blocks (docs/memory-driver.md 3,
// up to 64 MiB), the smaller ones through malloc with the settings of main().
// The cases then time the code paths, not the kernel's page zeroing.
constexpr int64_t kResetAt = 200'000;
// Events in the store the read case reads from.
constexpr int64_t kReadStoreSize = 100'000;

evdb_event sample_event() {
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = kType;
  e.type_name_len = sizeof(kType) - 1;
  e.payload = kPayload;
  e.payload_len = sizeof(kPayload) - 1;
  e.revision_vcs = kRev;
  e.revision_vcs_len = sizeof(kRev) - 1;
  return e;
}

[[noreturn]] void die(const char* what, evdb_status s, evdb_error& err) {
  std::cerr << "bench_memory: " << what << ": " << evdb_status_name(s) << ": "
            << (err.message ? err.message : "") << "\n";
  std::exit(1);
}

// ---- the two paths, behind one small interface -------------------------------

// Through libevdb.
struct LoaderPath {
  evdb_db* db = nullptr;
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;

  LoaderPath() { open(); }
  ~LoaderPath() { evdb_close(db); }
  void open() {
    evdb_close(db);
    db = nullptr;
    if (evdb_status s = evdb_open("memory:", nullptr, &db, &err); s != EVDB_OK) die("open", s, err);
  }
  void begin(bool ro) {
    evdb_status s = evdb_begin(db, nullptr, ro ? EVDB_TX_READ_ONLY : EVDB_TX_READ_WRITE, &tx, &err);
    if (s != EVDB_OK) die("begin", s, err);
  }
  int64_t append(int64_t assumed, const evdb_event& e) {
    int64_t nv = 0;
    evdb_status s = evdb_append_event(tx, nullptr, assumed, &e, &nv, &err);
    if (s != EVDB_OK) die("append", s, err);
    return nv;
  }
  size_t read(int64_t at, evdb_event* buf, size_t n) {
    size_t got = 0;
    evdb_status s = evdb_read_events(tx, nullptr, at, 0, buf, n, &got, &err);
    if (s != EVDB_OK) die("read_events", s, err);
    return got;
  }
  void commit() {
    evdb_status s = evdb_commit(tx, nullptr, &err);
    tx = nullptr;
    if (s != EVDB_OK) die("commit", s, err);
  }
};

// The driver's C++ classes, called directly.
struct DirectPath {
  std::unique_ptr<evdb::memory::MemoryDb> db;
  std::unique_ptr<evdb::drv::Tx> tx;
  evdb::drv::Ctx ctx{nullptr, nullptr};

  DirectPath() { open(); }
  void open() { db = evdb::memory::open_name(""); }
  void begin(bool ro) { tx = db->begin(ctx, ro); }
  int64_t append(int64_t assumed, const evdb_event& e) { return tx->append_event(ctx, assumed, e); }
  size_t read(int64_t at, evdb_event* buf, size_t n) {
    return tx->read_events(ctx, at, false, buf, n);
  }
  void commit() {
    tx->commit(ctx);
    tx.reset();
  }
};

// The driver called directly plus the very argument check libevdb makes on
// every append (loader/validate.cpp compiled in): what the contract costs
// without the loader. Loader vs DirectChecked is the loader/ABI overhead;
// DirectChecked vs Direct is the validation docs/contract.md §4 asks for.
struct DirectCheckedPath : DirectPath {
  int64_t append(int64_t assumed, const evdb_event& e) {
    if (!evdb::loader::check_event(e).empty()) std::abort();
    return DirectPath::append(assumed, e);
  }
};

// The driver's C table (what libevdb calls: the adapter of drivers/adapter.hpp
// around the same classes) without libevdb, as the sqlite benchmark's Direct
// cases do. Splits Loader − Direct into libevdb's part (Loader − Table) and
// the adapter's (Table − Direct); no validation.
struct TablePath {
  const evdb_driver* t = evdb_driver_entry_memory(EVDB_DRIVER_ABI_VERSION, nullptr);
  evdb_driver_db* db = nullptr;
  evdb_driver_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;

  TablePath() { open(); }
  ~TablePath() { t->close(db); }
  void open() {
    if (db != nullptr) t->close(db);
    db = nullptr;
    evdb_uri u{};
    u.struct_size = sizeof u;
    u.text = u.redacted = "memory:";
    u.scheme = "memory";
    u.user = u.password = u.host = u.path = "";
    if (evdb_status s = t->open(&u, nullptr, &db, &err); s != EVDB_OK) die("open", s, err);
  }
  void begin(bool ro) {
    evdb_status s = t->begin(db, nullptr, ro ? EVDB_TX_READ_ONLY : EVDB_TX_READ_WRITE, &tx, &err);
    if (s != EVDB_OK) die("begin", s, err);
  }
  int64_t append(int64_t assumed, const evdb_event& e) {
    int64_t nv = 0;
    evdb_status s = t->append_event(tx, nullptr, assumed, &e, &nv, &err);
    if (s != EVDB_OK) die("append", s, err);
    return nv;
  }
  size_t read(int64_t at, evdb_event* buf, size_t n) {
    size_t got = 0;
    evdb_status s = t->read_events(tx, nullptr, at, 0, buf, n, &got, &err);
    if (s != EVDB_OK) die("read_events", s, err);
    return got;
  }
  void commit() {
    evdb_status s = t->commit(tx, nullptr, &err);
    tx = nullptr;
    if (s != EVDB_OK) die("commit", s, err);
  }
};

// ---- the cases -------------------------------------------------------------------

// One append + commit per read-write transaction.
template <class Path>
void AppendCommitOne(benchmark::State& state) {
  Path p;
  const evdb_event e = sample_event();
  int64_t head = 0;
  for (auto _ : state) {
    p.begin(false);
    head = p.append(head, e);
    p.commit();
    if (head >= kResetAt) {
      state.PauseTiming();
      p.open();
      head = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}

// `batch` appends per read-write transaction.
template <class Path>
void AppendBatch(benchmark::State& state) {
  Path p;
  const evdb_event e = sample_event();
  const int64_t batch = state.range(0);
  int64_t head = 0;
  for (auto _ : state) {
    p.begin(false);
    for (int64_t i = 0; i < batch; ++i) head = p.append(head, e);
    p.commit();
    if (head >= kResetAt) {
      state.PauseTiming();
      p.open();
      head = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

// read_events of `n` events per call, ascending, over a 100k-event store, in
// one long read-only transaction.
template <class Path>
void ReadEvents(benchmark::State& state) {
  Path p;
  const evdb_event e = sample_event();
  int64_t head = 0;
  p.begin(false);
  for (int64_t i = 0; i < kReadStoreSize; ++i) head = p.append(head, e);
  p.commit();
  const size_t n = static_cast<size_t>(state.range(0));
  std::vector<evdb_event> buf(n, evdb_event EVDB_EVENT_INIT);
  p.begin(true);
  int64_t at = 1;
  for (auto _ : state) {
    size_t got = p.read(at, buf.data(), n);
    benchmark::DoNotOptimize(buf.data());
    at += static_cast<int64_t>(got);
    if (at + static_cast<int64_t>(n) > head + 1) at = 1;
  }
  p.commit();
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}

// An empty read-only transaction: begin + commit.
template <class Path>
void EmptyReadOnlyTx(benchmark::State& state) {
  Path p;
  for (auto _ : state) {
    p.begin(true);
    p.commit();
  }
  state.SetItemsProcessed(state.iterations());
}

// What libevdb's argument check of one append costs by itself: the very
// function libevdb calls (loader/validate.cpp, compiled into this program).
// Not a path of its own: it tells how much of the Loader/Direct gap on
// appends is validation.
void ValidateEventLikeTheLoader(benchmark::State& state) {
  const evdb_event e = sample_event();
  for (auto _ : state) {
    bool ok = evdb::loader::check_event(e).empty();
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}

// One-event transactions from 1 and from 8 threads on one store through
// libevdb ("memory:" opened once, shared by the threads). The memory driver's
// writers do not queue: they validate at commit and the loser retries
// (docs/memory-driver.md), so retries_per_commit counts lost races;
// wall_items_per_s and the per-commit counters as in bench_common.hpp.
// Both cases commit kWriterCommits transactions in all (Iterations is per
// thread) into a fresh store, so they do the same work into a store of the
// same final size.
constexpr int64_t kWriterCommits = 200'000;
std::atomic<evdb_db*> g_writers_db{nullptr};

void Writers(benchmark::State& state) {
  if (state.thread_index() == 0) {
    evdb_db* db = nullptr;
    evdb::bench::check(evdb_open("memory:", nullptr, &db, nullptr), "open");
    g_writers_db.store(db);
  }
  evdb_db* db = nullptr;
  while ((db = g_writers_db.load()) == nullptr) std::this_thread::yield();
  evdb::bench::writers_loop(state, 1, [&] {
    int64_t lost = 0;
    while (!evdb::bench::driver_append(db, 1)) ++lost;
    return lost;
  });
  if (state.thread_index() == 0) evdb_close(g_writers_db.exchange(nullptr));
}

BENCHMARK_TEMPLATE(AppendCommitOne, LoaderPath);
BENCHMARK_TEMPLATE(AppendCommitOne, DirectCheckedPath);
BENCHMARK_TEMPLATE(AppendCommitOne, DirectPath);
BENCHMARK_TEMPLATE(AppendBatch, LoaderPath)->Arg(1000);
BENCHMARK_TEMPLATE(AppendBatch, DirectCheckedPath)->Arg(1000);
BENCHMARK_TEMPLATE(AppendBatch, DirectPath)->Arg(1000);
BENCHMARK_TEMPLATE(ReadEvents, LoaderPath)->Arg(1000);
BENCHMARK_TEMPLATE(ReadEvents, DirectPath)->Arg(1000);
BENCHMARK_TEMPLATE(EmptyReadOnlyTx, LoaderPath);
BENCHMARK_TEMPLATE(EmptyReadOnlyTx, TablePath);
BENCHMARK_TEMPLATE(EmptyReadOnlyTx, DirectPath);
BENCHMARK(ValidateEventLikeTheLoader);
BENCHMARK(Writers)->Threads(1)->Iterations(kWriterCommits)->UseRealTime();
BENCHMARK(Writers)->Threads(8)->Iterations(kWriterCommits / 8)->UseRealTime();

// Commit → callback latency across range(0) listens on one handle (one
// subscription fanned out, docs/contract.md LSN-1); range(1): one context for
// all listens instead of one each.
void ListenFanOut(benchmark::State& state) {
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  if (evdb_status s = evdb_open("memory:", nullptr, &db, &err); s != EVDB_OK) die("open", s, err);
  evdb::bench::fan_out_latency(state, db, static_cast<int>(state.range(0)), state.range(1) != 0);
  evdb_close(db);
}
BENCHMARK(ListenFanOut)
    ->ArgNames({"listeners", "shared_ctx"})
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Iterations(300)
    ->UseRealTime();

// The same rounds with threads woken without evdb: the floor of a thread per
// listen (bench_common.hpp, wake_floor_latency).
void ThreadWakeFloor(benchmark::State& state) {
  evdb::bench::wake_floor_latency(state, static_cast<int>(state.range(0)));
}
BENCHMARK(ThreadWakeFloor)->ArgName("listeners")->Arg(1000)->Iterations(300)->UseRealTime();

// ---- counting mode ----------------------------------------------------------------
//
// `bench_memory --count=N CASE` runs one case N times without Google
// Benchmark's timing loop, so that callgrind can count the instructions of
// one operation independently of the machine's load: run it with N and with
// 0 and divide the difference by N (docs/benchmarks.md, "Validation without
// a DOM"). CASE is one of the names below.

template <class Path>
void count_append_one(long n) {
  Path p;
  const evdb_event e = sample_event();
  int64_t head = 0;
  for (long i = 0; i < n; ++i) {
    p.begin(false);
    head = p.append(head, e);
    p.commit();
  }
}

template <class Path>
void count_empty_read_only(long n) {
  Path p;
  for (long i = 0; i < n; ++i) {
    p.begin(true);
    p.commit();
  }
}

void count_validate(long n) {
  const evdb_event e = sample_event();
  long bad = 0;
  for (long i = 0; i < n; ++i) bad += !evdb::loader::check_event(e).empty();
  if (bad != 0) std::abort();
}

int count_mode(long n, const std::string& name) {
  const std::pair<const char*, void (*)(long)> cases[] = {
      {"append-one/loader", count_append_one<LoaderPath>},
      {"append-one/direct-checked", count_append_one<DirectCheckedPath>},
      {"append-one/table", count_append_one<TablePath>},
      {"append-one/direct", count_append_one<DirectPath>},
      {"empty-read-only/loader", count_empty_read_only<LoaderPath>},
      {"empty-read-only/table", count_empty_read_only<TablePath>},
      {"empty-read-only/direct", count_empty_read_only<DirectPath>},
      {"validate", count_validate},
  };
  for (const auto& [case_name, run] : cases) {
    if (name != case_name) continue;
    run(n);
    return 0;
  }
  std::cerr << "bench_memory: unknown case '" << name << "'; the cases are:";
  for (const auto& c : cases) std::cerr << " " << c.first;
  std::cerr << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Keep freed memory in the process (see kResetAt).
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  if (argc == 3 && std::strncmp(argv[1], "--count=", 8) == 0)
    return count_mode(std::atol(argv[1] + 8), argv[2]);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
