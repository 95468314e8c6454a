// bench_common.hpp — what the driver-vs-raw-client benchmarks share: the
// sample event, status checks, one read-write transaction appending n events
// through libevdb, the loop of the writer cases (1 and 8 threads: lost races
// per commit, committed events per wall-clock second) and the commit →
// callback latency of many listens on one handle, with its floor (threads
// woken without evdb). Each bench/<driver>/ keeps
// only its backend's raw side and its own sizes. scripts/bench runs them all
// and bench/bench_table.py makes the tables of docs/benchmarks.md.
#pragma once

#include <benchmark/benchmark.h>
#include <evdb/evdb.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace evdb::bench {

// Reports `retries` (this thread's lost races) as the counter
// retries_per_commit: summed over threads, divided by the committed events
// of all threads (one per iteration).
inline void report_retries(benchmark::State& state, int64_t retries) {
  state.counters["retries_per_commit"] =
      benchmark::Counter(static_cast<double>(retries), benchmark::Counter::kAvgIterations);
}

// What the whole process spent between two points (all threads): CPU time,
// context switches and page faults, from getrusage(RUSAGE_SELF).
struct ProcessUsage {
  double cpu_us = 0;          // user + system
  double vol_switches = 0;    // the thread slept (a lock, a futex, I/O)
  double invol_switches = 0;  // the thread was preempted
  double minor_faults = 0;    // pages mapped in (fresh ones zeroed by the kernel)
  static ProcessUsage now() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto us = [](const timeval& t) {
      return static_cast<double>(t.tv_sec) * 1e6 + static_cast<double>(t.tv_usec);
    };
    return ProcessUsage{us(ru.ru_utime) + us(ru.ru_stime), static_cast<double>(ru.ru_nvcsw),
                        static_cast<double>(ru.ru_nivcsw), static_cast<double>(ru.ru_minflt)};
  }
};

// Runs `body` once per iteration of `state` (body returns the lost races of
// that iteration) and reports, besides Google Benchmark's own figures:
//   items = committed events (items_per_iteration per iteration);
//   retries_per_commit (report_retries above);
//   wall_items_per_s (thread 0 only, so the sum over threads is its value):
//     items of all threads divided by the wall-clock time from the start of
//     the timed loops until the LAST thread left its loop;
//   cpu_us_per_commit, vol_switches_per_commit, invol_switches_per_commit,
//   faults_per_commit (thread 0 only): what the whole process spent over the
//     same interval (ProcessUsage) per committed transaction. Unlike the
//     rates these hardly depend on the machine's load, so they tell where 8
//     writers spend more than one (sleeping on a lock: voluntary switches;
//     fresh memory: faults) even when the wall-clock figures cannot.
// Why the last: Google Benchmark stops each thread's timer when that thread
// leaves its loop and divides by the threads' mean time, so with threads that
// finish at different times (racing writers are not served fairly: the lucky
// ones finish early, the rest then race among fewer) its items_per_second
// overstates what the writers together committed per second. Queued writers
// finish together and the two figures agree. Google Benchmark holds every
// thread at a barrier before and after its loop, so thread 0's first
// iteration is the start of every thread's and its clock read after the loop
// is the end of the slowest thread.
template <class Body>
void writers_loop(benchmark::State& state, int64_t items_per_iteration, Body body) {
  using Clock = std::chrono::steady_clock;
  int64_t retries = 0;
  Clock::time_point t0;
  ProcessUsage u0;
  bool first = true;
  for (auto _ : state) {
    if (first) {
      if (state.thread_index() == 0) u0 = ProcessUsage::now();
      t0 = Clock::now();
      first = false;
    }
    retries += body();
  }
  const auto t1 = Clock::now();
  state.SetItemsProcessed(state.iterations() * items_per_iteration);
  report_retries(state, retries);
  const double s = std::chrono::duration<double>(t1 - t0).count();
  if (state.thread_index() == 0 && !first && s > 0) {
    const ProcessUsage u1 = ProcessUsage::now();
    const double commits = static_cast<double>(state.iterations() * state.threads());
    state.counters["wall_items_per_s"] = commits * static_cast<double>(items_per_iteration) / s;
    state.counters["cpu_us_per_commit"] = (u1.cpu_us - u0.cpu_us) / commits;
    state.counters["vol_switches_per_commit"] = (u1.vol_switches - u0.vol_switches) / commits;
    state.counters["invol_switches_per_commit"] = (u1.invol_switches - u0.invol_switches) / commits;
    state.counters["faults_per_commit"] = (u1.minor_faults - u0.minor_faults) / commits;
  }
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

// Before the timed loop of a (multi-)writer case: makes the handle open one
// pooled connection per thread, so that no thread connects inside the timed
// loop (the drivers connect lazily; with short runs, eight logins with SCRAM
// inside the loop would dominate the figure). Each thread holds a read-only
// transaction until every thread of the run has one. Needs a pool of at
// least state.threads() connections. Every thread of a run must call it.
inline void open_connections(benchmark::State& state, evdb_db* db) {
  // One reusable barrier per thread count: every thread of a run arrives
  // once, and runs never overlap, so each run is one phase of its barrier.
  static std::mutex mu;
  static std::map<int, std::unique_ptr<std::barrier<>>> barriers;
  std::barrier<>* all = nullptr;
  {
    std::lock_guard lock(mu);
    auto& b = barriers[state.threads()];
    if (!b) b = std::make_unique<std::barrier<>>(state.threads());
    all = b.get();
  }
  evdb_tx* tx = nullptr;
  check(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, nullptr), "begin (warm-up)");
  all->arrive_and_wait();
  check(evdb_commit(tx, nullptr, nullptr), "commit (warm-up)");
}

// Latencies of fan-out rounds: each round, `n` receivers each note when
// they got it (`at`), against the round's start `t0`. report() sets the
// counters p50_us / p99_us over every (receiver, round) delivery and
// last_p50_us / last_p99_us over the last receiver of each round.
class FanOutLatencies {
 public:
  using Clock = std::chrono::steady_clock;
  void add_round(const std::vector<Clock::time_point>& at, Clock::time_point t0) {
    double worst = 0;
    for (const auto& t : at) {
      double us = std::chrono::duration<double, std::micro>(t - t0).count();
      all_.push_back(us);
      worst = std::max(worst, us);
    }
    last_.push_back(worst);
  }
  void report(benchmark::State& state, int n) {
    state.counters["p50_us"] = pct(all_, 50);
    state.counters["p99_us"] = pct(all_, 99);
    state.counters["last_p50_us"] = pct(last_, 50);
    state.counters["last_p99_us"] = pct(last_, 99);
    state.counters["listeners"] = n;
  }

 private:
  static double pct(std::vector<double>& v, int p) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, v.size() * static_cast<size_t>(p) / 100)];
  }
  std::vector<double> all_, last_;
};

// One listening thread's deliveries, for the single-listener cases: the
// listener calls deliver(v) for each version it gets (the time is taken
// there); the committing thread waits for its version with wait_for(v),
// which returns when the listener had it. Thread-safe.
class Deliveries {
 public:
  using Clock = std::chrono::steady_clock;
  void deliver(int64_t v) {
    const auto now = Clock::now();
    std::lock_guard l(mu_);
    seen_ = v;
    at_ = now;
    cv_.notify_all();
  }
  Clock::time_point wait_for(int64_t v) {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return seen_ >= v; });
    return at_;
  }
  // The listener is in place: set once by it, waited for before the loop.
  void set_ready() {
    std::lock_guard l(mu_);
    ready_ = true;
    cv_.notify_all();
  }
  void wait_ready() {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return ready_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false;
  int64_t seen_ = 0;
  Clock::time_point at_;
};

// Latencies of the single-listener cases, per commit: from the start of the
// transaction (begin; both sides do the same work: begin, read the head,
// append, commit) and from the return of the commit, to the listener's
// callback. report(): p50_us / p99_us and ret_p50_us / ret_p99_us (these
// may be negative: the listener can have the version before the committer
// has the commit's reply).
class ListenLatencies {
 public:
  using Clock = std::chrono::steady_clock;
  void add(Clock::time_point begun, Clock::time_point returned, Clock::time_point delivered) {
    start_.push_back(std::chrono::duration<double, std::micro>(delivered - begun).count());
    ret_.push_back(std::chrono::duration<double, std::micro>(delivered - returned).count());
  }
  void report(benchmark::State& state) {
    put(state, start_, "");
    put(state, ret_, "ret_");
  }

 private:
  static void put(benchmark::State& state, std::vector<double>& us, const std::string& prefix) {
    if (us.empty()) return;
    std::sort(us.begin(), us.end());
    state.counters[prefix + "p50_us"] = us[us.size() / 2];
    state.counters[prefix + "p99_us"] = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  }
  std::vector<double> start_, ret_;
};

// Commit → callback latency of `n` listens on one handle, each on its own
// thread (they share one subscription, docs/contract.md LSN-1). Each
// iteration commits one event (the clock starts at evdb_commit) and waits
// until every listener has it. Counters: FanOutLatencies. `shared_ctx`: one
// context for all listens (one wake-up target) instead of one each.
inline void fan_out_latency(benchmark::State& state, evdb_db* db, int n, bool shared_ctx) {
  using Clock = FanOutLatencies::Clock;
  struct Shared {
    std::atomic<int64_t> arrivals{0};
    int ready = 0;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Clock::time_point> at;  // per listener: when it got the latest version
  } sh;
  struct One {
    Shared* sh;
    size_t i;
    int64_t n;
  };
  sh.at.resize(static_cast<size_t>(n));
  std::vector<One> ones;
  std::vector<evdb_ctx*> ctxs;
  for (int i = 0; i < n; ++i) {
    ones.push_back(One{&sh, static_cast<size_t>(i), n});
    if (i == 0 || !shared_ctx) ctxs.push_back(evdb_ctx_new());
  }
  auto on_ready = [](void* u, evdb_error*) -> evdb_status {
    Shared* s = static_cast<One*>(u)->sh;
    std::lock_guard l(s->mu);
    ++s->ready;
    s->cv.notify_all();
    return EVDB_OK;
  };
  auto on_inserted = [](void* u, int64_t, evdb_error*) -> evdb_status {
    One* o = static_cast<One*>(u);
    o->sh->at[o->i] = Clock::now();
    if ((o->sh->arrivals.fetch_add(1) + 1) % o->n == 0) {
      std::lock_guard l(o->sh->mu);
      o->sh->cv.notify_all();
    }
    return EVDB_OK;
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      evdb_listen(db, ctxs[shared_ctx ? 0 : static_cast<size_t>(i)], on_ready, on_inserted,
                  &ones[static_cast<size_t>(i)], nullptr);
    });
  {
    std::unique_lock l(sh.mu);
    sh.cv.wait(l, [&] { return sh.ready == n; });
  }
  FanOutLatencies lat;
  evdb_event e = make_event();
  int64_t commits = 0;
  for (auto _ : state) {
    evdb_tx* tx = nullptr;
    int64_t head = 0;
    check(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), "begin");
    check(evdb_read_system_version(tx, nullptr, &head, nullptr), "read_system_version");
    check(evdb_append_event(tx, nullptr, head, &e, &head, nullptr), "append");
    auto t0 = Clock::now();
    check(evdb_commit(tx, nullptr, nullptr), "commit");
    ++commits;
    {
      std::unique_lock l(sh.mu);
      sh.cv.wait(l, [&] { return sh.arrivals.load() >= commits * n; });
    }
    lat.add_round(sh.at, t0);
  }
  for (evdb_ctx* c : ctxs) evdb_ctx_cancel(c);
  for (auto& t : threads) t.join();
  for (evdb_ctx* c : ctxs) evdb_ctx_free(c);
  lat.report(state, n);
}

// The floor under fan_out_latency for any design that runs each listener on
// a thread of its own, as evdb_listen does (docs/contract.md OP-20): no evdb
// at all, `n` threads sleep in FUTEX_WAIT on one word (as libevdb's
// subscribers do, loader/listen_hub.cpp); per iteration the main thread
// takes the clock and wakes them all with one FUTEX_WAKE, and each notes
// when it ran, then they all go back to sleep. (std::atomic::wait would spin
// before sleeping: a floor of busy threads, not of sleeping ones.) Same
// counters as fan_out_latency.
inline void wake_floor_latency(benchmark::State& state, int n) {
  using Clock = FanOutLatencies::Clock;
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  auto word = [](std::atomic<uint32_t>& a) { return reinterpret_cast<uint32_t*>(&a); };
  std::atomic<uint32_t> round{0};
  std::atomic<int64_t> arrivals{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable all_in;
  std::vector<Clock::time_point> at(static_cast<size_t>(n));
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      uint32_t seen = 0;
      for (;;) {
        while (round.load() == seen)
          syscall(SYS_futex, word(round), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
        seen = round.load();
        if (stop.load()) return;
        at[static_cast<size_t>(i)] = Clock::now();
        if (arrivals.fetch_add(1) + 1 == n) {
          std::lock_guard l(mu);
          all_in.notify_one();
        }
      }
    });
  FanOutLatencies lat;
  auto wake_all = [&] {
    round.fetch_add(1);
    syscall(SYS_futex, word(round), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
  };
  for (auto _ : state) {
    arrivals.store(0);
    auto t0 = Clock::now();
    wake_all();
    std::unique_lock l(mu);
    all_in.wait(l, [&] { return arrivals.load() == n; });
    lat.add_round(at, t0);
  }
  stop.store(true);
  wake_all();
  for (auto& t : threads) t.join();
  lat.report(state, n);
}

}  // namespace evdb::bench
