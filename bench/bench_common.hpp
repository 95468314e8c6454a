// bench_common.hpp — what the driver-vs-raw-client benchmarks share: the
// sample event, status checks, and one read-write transaction appending n
// events through libevdb. Each bench/<driver>/ keeps only its backend's raw
// side and its own sizes.
#pragma once

#include <benchmark/benchmark.h>
#include <evdb/evdb.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace evdb::bench {

// Reports `retries` (this thread's lost races) as the counter
// retries_per_commit: summed over threads, divided by the committed events
// of all threads (one per iteration).
inline void report_retries(benchmark::State& state, int64_t retries) {
  state.counters["retries_per_commit"] =
      benchmark::Counter(static_cast<double>(retries), benchmark::Counter::kAvgIterations);
}

// The event every benchmark appends, on both sides (raw and driver).
inline constexpr int64_t kTime = 1'700'000'000'000'000;
inline const std::string kType = "OrderPlaced";
inline const std::string kPayload =
    R"({"order":12345,"customer":"c-778","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":59.90})";
inline const std::string kRev = "3f2a9c1";

// Throws when s is not EVDB_OK, naming what was attempted.
inline void check(evdb_status s, const char* what) {
  if (s != EVDB_OK) throw std::runtime_error(std::string(what) + ": " + evdb_status_name(s));
}

// The sample event as the C API takes it (points into the constants above).
inline evdb_event make_event() {
  return evdb_event{
      sizeof(evdb_event), 0,           kTime,      kType.data(), kType.size(), kPayload.data(),
      kPayload.size(),    kRev.data(), kRev.size()};
}

// One read-write transaction appending n events at the head it reads.
// Returns false when it lost a race (VERSION_MISMATCH / CONFLICT at any
// step; nothing was applied: retry), throws on any other failure.
inline bool driver_append(evdb_db* db, int n) {
  evdb_event e = make_event();
  evdb_tx* tx = nullptr;
  check(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), "begin");
  int64_t head = 0;
  evdb_status s = evdb_read_system_version(tx, nullptr, &head, nullptr);
  for (int i = 0; s == EVDB_OK && i < n; ++i)
    s = evdb_append_event(tx, nullptr, head, &e, &head, nullptr);
  if (s != EVDB_OK) {
    evdb_rollback(tx);
    if (evdb_status_is_retryable(s)) return false;
    check(s, "append");
  }
  s = evdb_commit(tx, nullptr, nullptr);
  if (evdb_status_is_retryable(s)) return false;
  check(s, "commit");
  return true;
}

}  // namespace evdb::bench
