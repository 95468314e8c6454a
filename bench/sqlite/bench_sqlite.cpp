// bench_sqlite.cpp — the SQLite driver through libevdb (C API, driver
// registered in-process) against the raw sqlite3 C API doing the same work on
// the same schema with the same pragmas (WAL, synchronous as given by
// --sync=, default normal):
//   AppendBatch: one read-write transaction: read the head, append 1000
//                events, commit;
//   AppendOne:   the same with one event per transaction;
//   ReadEvents:  one read-only transaction reading 1000 events (copied out)
//                from a log of 10000;
//   Writers:     one event per transaction from 1 and from 8 threads on one
//                file (8000 transactions in all either way): the driver's
//                threads share one handle, the raw side's open a connection
//                each (busy_timeout 60 s); both take the write lock with
//                BEGIN IMMEDIATE, so writers queue; retries_per_commit and
//                wall_items_per_s as in bench_common.hpp.
// Direct_* call the driver's C table without libevdb (no argument validation)
// to separate the driver's cost from libevdb's.
// Each benchmark works on its own fresh file in a temporary folder. Both sides
// open their connection SQLITE_OPEN_NOMUTEX and use prepared statements.
#include <benchmark/benchmark.h>
#include <evdb/driver.h>
#include <sqlite3.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sqlite_driver.hpp"

#include "../bench_common.hpp"

namespace {

using namespace evdb::bench;  // NOLINT: the shared sample event and helpers

std::string g_sync = "normal";

constexpr int kBatch = 1000;
constexpr int kReadN = 1000;
constexpr int kLogSize = 10000;
constexpr int kWriterTxs = 8000;  // transactions of the Writers cases, all threads

// A temporary folder with one database file, removed afterwards.
class TempFile {
 public:
  TempFile() {
    char tmpl[] = "/tmp/evdb-bench-sqlite-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path() const { return dir_ + "/bench.db"; }
  std::string uri() const { return "sqlite://" + path() + "?synchronous=" + g_sync; }

 private:
  std::string dir_;
};

// ---- driver side ------------------------------------------------------------

void BM_Driver_AppendBatch(benchmark::State& st) {
  TempFile f;
  evdb::DB db = evdb::DB::open(f.uri());
  for (auto _ : st) driver_append(db.raw(), kBatch);
  st.SetItemsProcessed(st.iterations() * kBatch);
}

void BM_Driver_AppendOne(benchmark::State& st) {
  TempFile f;
  evdb::DB db = evdb::DB::open(f.uri());
  for (auto _ : st) driver_append(db.raw(), 1);
  st.SetItemsProcessed(st.iterations());
}

void BM_Driver_ReadEvents(benchmark::State& st) {
  TempFile f;
  evdb::DB db = evdb::DB::open(f.uri());
  for (int i = 0; i < kLogSize / kBatch; ++i) driver_append(db.raw(), kBatch);
  std::vector<evdb_event> buf(kReadN, evdb_event EVDB_EVENT_INIT);
  int64_t at = 1;
  size_t bytes = 0;
  for (auto _ : st) {
    evdb_tx* tx = nullptr;
    check(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_ONLY, &tx, nullptr), "begin");
    size_t n = 0;
    check(evdb_read_events(tx, nullptr, at, 0, buf.data(), buf.size(), &n, nullptr), "read");
    if (n != kReadN) throw std::runtime_error("short read");
    bytes += buf[n - 1].payload_len;
    check(evdb_commit(tx, nullptr, nullptr), "commit");
    at = at + kReadN > kLogSize - kReadN ? 1 : at + kReadN;
  }
  benchmark::DoNotOptimize(bytes);
  st.SetItemsProcessed(st.iterations() * kReadN);
}

// ---- the driver's C table called directly (no libevdb, no validation) ----------

// Opens `path` through the table as libevdb would, with a hand-made URI.
struct Direct {
  explicit Direct(const std::string& path) : table(evdb_driver_entry_sqlite(1, nullptr)) {
    evdb_uri_param p{"synchronous", g_sync.c_str()};
    evdb_uri u{};
    u.struct_size = sizeof u;
    std::string text = "sqlite://" + path;
    u.text = u.redacted = text.c_str();
    u.scheme = "sqlite";
    u.has_authority = 1;
    u.user = u.password = u.host = "";
    u.path = path.c_str();
    u.params = &p;
    u.param_count = 1;
    check(table->open(&u, nullptr, &db, nullptr), "open");
  }
  ~Direct() { table->close(db); }
  void append(int n) {
    evdb_event e = make_event();
    evdb_driver_tx* tx = nullptr;
    check(table->begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), "begin");
    int64_t head = 0;
    check(table->read_system_version(tx, nullptr, &head, nullptr), "head");
    for (int i = 0; i < n; ++i)
      check(table->append_event(tx, nullptr, head, &e, &head, nullptr), "append");
    check(table->commit(tx, nullptr, nullptr), "commit");
  }
  const evdb_driver* table;
  evdb_driver_db* db = nullptr;
};

void BM_Direct_AppendBatch(benchmark::State& st) {
  TempFile f;
  Direct d(f.path());
  for (auto _ : st) d.append(kBatch);
  st.SetItemsProcessed(st.iterations() * kBatch);
}

void BM_Direct_AppendOne(benchmark::State& st) {
  TempFile f;
  Direct d(f.path());
  for (auto _ : st) d.append(1);
  st.SetItemsProcessed(st.iterations());
}

// ---- raw side -------------------------------------------------------------------

class Raw {
 public:
  // create: make the schema (false: the file has it already).
  explicit Raw(const std::string& path, bool create = true) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
      throw std::runtime_error("open");
    // Other writers' BEGIN IMMEDIATE (Writers): wait. SQLite's own busy
    // handler polls with sleeps of up to 100 ms, so a waiter can miss the
    // lock many times in a row: give it a minute, not the driver's 5 s.
    sqlite3_busy_timeout(db_, 60000);
    exec("PRAGMA journal_mode = WAL");
    exec(("PRAGMA synchronous = " + g_sync).c_str());
    if (create) exec(evdb::sqlite::kSchemaSql);
    begin_rw_ = prepare("BEGIN IMMEDIATE");
    begin_ro_ = prepare("BEGIN");
    commit_ = prepare("COMMIT");
    head_ = prepare("SELECT version FROM events ORDER BY version DESC LIMIT 1");
    insert_ = prepare(
        "INSERT INTO events(version, type, payload, time_us, revision_vcs) VALUES (?1, ?2, ?3, "
        "?4, ?5)");
    read_ = prepare(
        "SELECT version, type, payload, time_us, revision_vcs FROM events WHERE version >= ?1 "
        "ORDER BY version LIMIT ?2");
  }
  ~Raw() {
    for (auto* s : {begin_rw_, begin_ro_, commit_, head_, insert_, read_}) sqlite3_finalize(s);
    sqlite3_close(db_);
  }

  void append(int n) {
    step_done(begin_rw_);
    int64_t head = 0;
    if (sqlite3_step(head_) == SQLITE_ROW) head = sqlite3_column_int64(head_, 0);
    sqlite3_reset(head_);
    for (int i = 0; i < n; ++i) {
      sqlite3_bind_int64(insert_, 1, ++head);
      sqlite3_bind_text(insert_, 2, kType.data(), static_cast<int>(kType.size()), SQLITE_STATIC);
      sqlite3_bind_text(insert_, 3, kPayload.data(), static_cast<int>(kPayload.size()),
                        SQLITE_STATIC);
      sqlite3_bind_int64(insert_, 4, kTime);
      sqlite3_bind_text(insert_, 5, kRev.data(), static_cast<int>(kRev.size()), SQLITE_STATIC);
      step_done(insert_);
    }
    step_done(commit_);
  }

  // Reads n events from `at` into rows, copying their strings (as the
  // driver does into its buffer).
  struct Row {
    int64_t version, time_us;
    std::string type, payload, rev;
  };
  size_t read(int64_t at, int n, std::vector<Row>& rows) {
    step_done(begin_ro_);
    sqlite3_bind_int64(read_, 1, at);
    sqlite3_bind_int64(read_, 2, n);
    size_t i = 0;
    while (sqlite3_step(read_) == SQLITE_ROW) {
      Row& r = rows[i++];
      r.version = sqlite3_column_int64(read_, 0);
      r.time_us = sqlite3_column_int64(read_, 3);
      auto text = [&](int c, std::string& out) {
        const char* t = reinterpret_cast<const char*>(sqlite3_column_text(read_, c));
        out.assign(t, static_cast<size_t>(sqlite3_column_bytes(read_, c)));
      };
      text(1, r.type);
      text(2, r.payload);
      text(4, r.rev);
    }
    sqlite3_reset(read_);
    step_done(commit_);
    return i;
  }

 private:
  void exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
      throw std::runtime_error(sqlite3_errmsg(db_));
    return s;
  }
  void step_done(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db_));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt *begin_rw_, *begin_ro_, *commit_, *head_, *insert_, *read_;
};

void BM_Raw_AppendBatch(benchmark::State& st) {
  TempFile f;
  Raw raw(f.path());
  for (auto _ : st) raw.append(kBatch);
  st.SetItemsProcessed(st.iterations() * kBatch);
}

void BM_Raw_AppendOne(benchmark::State& st) {
  TempFile f;
  Raw raw(f.path());
  for (auto _ : st) raw.append(1);
  st.SetItemsProcessed(st.iterations());
}

void BM_Raw_ReadEvents(benchmark::State& st) {
  TempFile f;
  Raw raw(f.path());
  for (int i = 0; i < kLogSize / kBatch; ++i) raw.append(kBatch);
  std::vector<Raw::Row> rows(kReadN);
  int64_t at = 1;
  size_t bytes = 0;
  for (auto _ : st) {
    size_t n = raw.read(at, kReadN, rows);
    if (n != kReadN) throw std::runtime_error("short read");
    bytes += rows[n - 1].payload.size();
    at = at + kReadN > kLogSize - kReadN ? 1 : at + kReadN;
  }
  benchmark::DoNotOptimize(bytes);
  st.SetItemsProcessed(st.iterations() * kReadN);
}

// ---- Writers: 1 and 8 threads on one file --------------------------------------

// The file (and the driver's handle on it) shared by the threads of a run:
// thread 0 makes it before its loop, the others wait for it; thread 0 drops
// it after (Google Benchmark ends every thread's loop together).
struct SharedFile {
  TempFile file;
  evdb::DB db = evdb::DB::open(file.uri());
};
std::atomic<SharedFile*> g_shared{nullptr};

SharedFile& shared_file(benchmark::State& st) {
  if (st.thread_index() == 0) g_shared.store(new SharedFile);
  SharedFile* f = nullptr;
  while ((f = g_shared.load()) == nullptr) std::this_thread::yield();
  return *f;
}

void drop_shared_file(benchmark::State& st) {
  if (st.thread_index() == 0) delete g_shared.exchange(nullptr);
}

void BM_Driver_Writers(benchmark::State& st) {
  SharedFile& f = shared_file(st);
  open_connections(st, f.db.raw());
  writers_loop(st, 1, [&] {
    int64_t lost = 0;
    while (!driver_append(f.db.raw(), 1)) ++lost;
    return lost;
  });
  drop_shared_file(st);
}

void BM_Raw_Writers(benchmark::State& st) {
  SharedFile& f = shared_file(st);  // the driver made the schema; same pragmas
  {
    Raw raw(f.file.path(), false);
    writers_loop(st, 1, [&] {
      raw.append(1);
      return 0;
    });
  }
  drop_shared_file(st);
}

// Fixed iteration counts: both sides do exactly the same work on files of the
// same size (a file's size changes the cost of WAL checkpoints).
BENCHMARK(BM_Driver_AppendBatch)->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK(BM_Raw_AppendBatch)->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK(BM_Direct_AppendBatch)->Unit(benchmark::kMicrosecond)->Iterations(200);
BENCHMARK(BM_Driver_AppendOne)->Unit(benchmark::kMicrosecond)->Iterations(20000);
BENCHMARK(BM_Raw_AppendOne)->Unit(benchmark::kMicrosecond)->Iterations(20000);
BENCHMARK(BM_Direct_AppendOne)->Unit(benchmark::kMicrosecond)->Iterations(20000);
BENCHMARK(BM_Driver_ReadEvents)->Unit(benchmark::kMicrosecond)->Iterations(2000);
BENCHMARK(BM_Raw_ReadEvents)->Unit(benchmark::kMicrosecond)->Iterations(2000);
// Iterations are per thread: kWriterTxs transactions in all either way.
BENCHMARK(BM_Driver_Writers)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Threads(1)
    ->Iterations(kWriterTxs);
BENCHMARK(BM_Raw_Writers)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Threads(1)
    ->Iterations(kWriterTxs);
BENCHMARK(BM_Driver_Writers)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Threads(8)
    ->Iterations(kWriterTxs / 8);
BENCHMARK(BM_Raw_Writers)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime()
    ->Threads(8)
    ->Iterations(kWriterTxs / 8);

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first: --sync=off|normal|full|extra (PRAGMA synchronous).
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--sync=", 7) == 0)
      g_sync = argv[i] + 7;
    else
      rest.push_back(argv[i]);
  }
  int n = static_cast<int>(rest.size());
  evdb_error err = EVDB_ERROR_INIT;
  if (evdb_register_driver(evdb_driver_entry_sqlite, &err) != EVDB_OK) return 1;
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
