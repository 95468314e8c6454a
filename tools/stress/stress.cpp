// evdb-stress — races and crashes against a real store, checked afterwards.
//
//   evdb-stress --uri URI --processes N --threads M --seconds T --kill-every MS
//               [--tx-size K] [--listeners L] [--work-dir DIR] [--driver FILE]
//
// N writer processes (this executable re-run in a hidden child mode) with M
// threads each append transactions of K events for T seconds, retrying
// retryable losses. Every MS milliseconds a random writer process is
// SIGKILLed — usually inside a transaction — and started again. L listeners
// (threads of this process) record every version they are told of. Each
// event's payload names its transaction and its place in it; a writer
// records each acknowledged commit (and each definite loss) in its own
// O_APPEND file before counting it. Afterwards the log is read back and
// checked; one line per check, exit status 1 on any violation (docs/testing.md).
#include <CLI/CLI.hpp>
#include <evdb/evdb.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string uri;
  std::vector<std::string> drivers;
  int processes = 2;
  int threads = 2;
  int seconds = 10;
  int kill_every_ms = 1000;
  int tx_size = 3;
  int listeners = 2;
  int max_pause_us = 500;  // pause between a transaction's appends
  std::string work_dir;
  // Self-tests of the checks: one deliberate fault by writer 0 (duplicate,
  // phantom-ack, lost-present); see the stress.selftest.* tests.
  std::string inject;
  // hidden child mode
  int child_slot = -1;
  int child_generation = 0;
  std::string child_log;
};

void load_drivers(const std::vector<std::string>& files) {
  for (const std::string& f : files) {
    evdb_error err = EVDB_ERROR_INIT;
    if (evdb_driver_load_file(f.c_str(), &err) != EVDB_OK) {
      std::string msg = err.message ? err.message : "?";
      evdb_error_release(&err);
      throw std::runtime_error("cannot load driver " + f + ": " + msg);
    }
  }
}

// ---------------------------------------------------------------------------
// Payloads: {"tx": "<slot>.<generation>.<thread>.<seq>", "i": I, "k": K}
// (written in jsonb's canonical form, so it also reads back unchanged where
// the store normalises JSON).
// ---------------------------------------------------------------------------
std::string payload(const std::string& tx, int i, int k) {
  return "{\"i\": " + std::to_string(i) + ", \"k\": " + std::to_string(k) + ", \"tx\": \"" + tx +
         "\"}";
}

struct Tagged {
  std::string tx;
  int i = -1;
  int k = -1;
};

// Reads back what payload() wrote, whatever the spacing or key order.
std::optional<Tagged> parse_payload(const std::string& p) {
  Tagged t;
  auto after_key = [&](const char* key) -> size_t {
    size_t at = p.find(std::string("\"") + key + "\"");
    if (at == std::string::npos) return at;
    at = p.find(':', at);
    if (at == std::string::npos) return at;
    ++at;
    while (at < p.size() && p[at] == ' ') ++at;
    return at;
  };
  size_t a = after_key("tx");
  if (a == std::string::npos || a >= p.size() || p[a] != '"') return std::nullopt;
  size_t end = p.find('"', a + 1);
  if (end == std::string::npos) return std::nullopt;
  t.tx = p.substr(a + 1, end - a - 1);
  size_t b = after_key("i"), c = after_key("k");
  if (b == std::string::npos || c == std::string::npos) return std::nullopt;
  t.i = std::atoi(p.c_str() + b);
  t.k = std::atoi(p.c_str() + c);
  if (t.tx.empty() || t.k < 1 || t.i < 0 || t.i >= t.k) return std::nullopt;
  return t;
}

// ---------------------------------------------------------------------------
// Writer child: threads append transactions until SIGTERM.
// ---------------------------------------------------------------------------
std::atomic<bool> g_stop{false};
void on_term(int) {
  g_stop.store(true);
}

// One line per outcome, written with a single write() on an O_APPEND file:
// it is in the file (the page cache) before the writer counts it, and a
// SIGKILL cannot tear it.
void record(int fd, const std::string& line) {
  std::string l = line + "\n";
  if (::write(fd, l.data(), l.size()) != static_cast<ssize_t>(l.size())) {
    std::perror("evdb-stress: writing the writer log");
    std::_Exit(3);
  }
}

// A counter in a one-page shared file mapping (created by the writer, read
// by the parent); nullptr when the parent finds no file yet.
std::atomic<int32_t>* map_busy_counter(const std::string& path, bool create) {
  int fd = ::open(path.c_str(), (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (!create) return nullptr;
    throw std::runtime_error("cannot create " + path);
  }
  if (create && ::ftruncate(fd, 4096) != 0) throw std::runtime_error("cannot size " + path);
  void* p = ::mmap(nullptr, 4096, create ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED) {
    if (!create) return nullptr;
    throw std::runtime_error("cannot map " + path);
  }
  return static_cast<std::atomic<int32_t>*>(p);
}

// Whether the writer with this record file is inside a transaction now.
bool writer_busy(const std::string& log) {
  std::atomic<int32_t>* b = map_busy_counter(log + ".busy", false);
  if (b == nullptr) return false;
  bool busy = b->load() > 0;
  ::munmap(b, 4096);
  return busy;
}

// Breaks one rule on purpose so that a check must fail (self-tests).
void inject_fault(const Options& o, evdb::DB& db, int fd, const std::string& tx, int64_t first) {
  if (o.inject == "duplicate") {  // one event of tx appended again
    record(fd, "OK " + tx + " " + std::to_string(first));
    db.tx_rw([&](evdb::TxRW& w) {
      w.append_event(w.read_system_version(),
                     evdb::Event{0, 0, "StressAppended", payload(tx, 0, o.tx_size), "stress"});
    });
  } else if (o.inject == "phantom-ack") {  // an acknowledgement for nothing
    record(fd, "OK " + tx + " " + std::to_string(first));
    record(fd, "OK " + tx + "-phantom " + std::to_string(first));
  } else if (o.inject == "lost-present") {  // a committed transaction recorded as lost
    record(fd, "LOST " + tx + " EVDB_CONFLICT");
  }
}

int writer_main(const Options& o) {
  struct sigaction sa {};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, nullptr);
  load_drivers(o.drivers);
  int fd = ::open(o.child_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(o.child_log.c_str());
    return 3;
  }
  // How many of this writer's threads are inside a transaction, in a shared
  // file mapping the parent reads just before a kill (to report how many
  // kills landed mid-transaction).
  std::atomic<int32_t>* busy = map_busy_counter(o.child_log + ".busy", true);
  evdb::DB db = evdb::DB::open(o.uri);
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(getpid() * 31 + t));
      std::uniform_int_distribution<int> pause(0, o.max_pause_us);
      long seq = 0;
      while (!g_stop.load()) {
        // A fresh id per attempt: a definite loss must leave no event, an
        // acknowledged commit exactly its K events.
        std::string tx = std::to_string(o.child_slot) + "." + std::to_string(o.child_generation) +
                         "." + std::to_string(t) + "." + std::to_string(seq++);
        busy->fetch_add(1);
        struct Leave {
          std::atomic<int32_t>* b;
          ~Leave() { b->fetch_sub(1); }
        } leave{busy};
        try {
          int64_t first = db.tx_rw([&](evdb::TxRW& w) {
            int64_t head = w.read_system_version();
            int64_t first_v = 0;
            for (int i = 0; i < o.tx_size; ++i) {
              if (o.max_pause_us > 0)
                std::this_thread::sleep_for(std::chrono::microseconds(pause(rng)));
              head = w.append_event(
                  head, evdb::Event{0, 0, "StressAppended", payload(tx, i, o.tx_size), "stress"});
              if (i == 0) first_v = head;
            }
            return first_v;
          });
          if (t == 0 && o.child_slot == 0 && o.child_generation == 0 && seq == 1 &&
              !o.inject.empty()) {
            inject_fault(o, db, fd, tx, first);
            continue;
          }
          record(fd, "OK " + tx + " " + std::to_string(first));
        } catch (const evdb::Error& e) {
          // Retryable losses and refused input applied nothing; anything
          // else (a lost connection during commit) may or may not have.
          if (e.retryable() || e.code() == EVDB_INVALID_ARGUMENT)
            record(fd, "LOST " + tx + " " + evdb_status_name(e.code()));
          else {
            record(fd, "UNKNOWN " + tx + " " + evdb_status_name(e.code()));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  ::close(fd);
  return 0;
}

// ---------------------------------------------------------------------------
// Parent: listeners, writers, kills, then the checks.
// ---------------------------------------------------------------------------
struct ListenerRec {
  evdb::Context ctx;
  std::thread thread;
  std::mutex mu;
  std::vector<int64_t> got;
  bool ready = false;
  bool ended = false;
  evdb::Status status;
  std::ofstream file;
};

pid_t spawn_writer(const Options& o, int slot, int generation, const std::string& log) {
  std::vector<std::string> args{"/proc/self/exe",
                                "--uri",
                                o.uri,
                                "--threads",
                                std::to_string(o.threads),
                                "--tx-size",
                                std::to_string(o.tx_size),
                                "--max-pause-us",
                                std::to_string(o.max_pause_us),
                                "--child-writer",
                                std::to_string(slot),
                                "--child-generation",
                                std::to_string(generation),
                                "--child-log",
                                log};
  if (!o.inject.empty()) {
    args.push_back("--inject");
    args.push_back(o.inject);
  }
  for (const std::string& d : o.drivers) {
    args.push_back("--driver");
    args.push_back(d);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) throw std::runtime_error(std::string("cannot start a writer: ") + std::strerror(rc));
  return pid;
}

struct Report {
  bool ok = true;
  void line(bool pass, const std::string& check, const std::string& detail) {
    std::cout << (pass ? "PASS " : "FAIL ") << check << ": " << detail << std::endl;
    ok = ok && pass;
  }
};

int parent_main(Options o) {
  load_drivers(o.drivers);
  if (o.work_dir.empty()) {
    char tmpl[] = "/tmp/evdb-stress-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("cannot create a work folder in /tmp");
    o.work_dir = tmpl;
  } else {
    // A reused folder: the records of an earlier run would count as this
    // run's acknowledgements.
    std::filesystem::create_directories(o.work_dir);
    for (const auto& entry : std::filesystem::directory_iterator(o.work_dir)) {
      std::string name = entry.path().filename().string();
      if (name.rfind("writer-", 0) == 0 || name.rfind("listener-", 0) == 0)
        std::filesystem::remove(entry.path());
    }
  }
  evdb::DB db = evdb::DB::open(o.uri);
  const bool gapless = db.has(EVDB_CAP_GAPLESS);
  std::cout << "evdb-stress: driver " << db.driver_name() << ", " << o.processes << " processes x "
            << o.threads << " threads, " << o.seconds << " s, kill every " << o.kill_every_ms
            << " ms, " << o.tx_size << " events per transaction, " << o.listeners
            << " listeners, records in " << o.work_dir << std::endl;

  // Listeners first: every version after `base` must reach each of them.
  std::vector<std::unique_ptr<ListenerRec>> listeners;
  std::vector<std::unique_ptr<evdb::DB>> listener_dbs;
  for (int i = 0; i < o.listeners; ++i) {
    auto l = std::make_unique<ListenerRec>();
    l->file.open(o.work_dir + "/listener-" + std::to_string(i) + ".log");
    listener_dbs.push_back(std::make_unique<evdb::DB>(evdb::DB::open(o.uri)));
    ListenerRec* lp = l.get();
    evdb::DB* ldb = listener_dbs.back().get();
    l->thread = std::thread([lp, ldb] {
      evdb::Status st = ldb->listen(
          lp->ctx,
          [lp] {
            std::lock_guard g(lp->mu);
            lp->ready = true;
          },
          [lp](int64_t v) {
            std::lock_guard g(lp->mu);
            lp->got.push_back(v);
            lp->file << v << '\n';
          });
      std::lock_guard g(lp->mu);
      lp->status = st;
      lp->ended = true;
    });
    listeners.push_back(std::move(l));
  }
  auto wait_until = [](auto done, std::chrono::seconds limit) {
    auto end = Clock::now() + limit;
    while (!done() && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return done();
  };
  for (auto& l : listeners) {
    if (!wait_until(
            [&] {
              std::lock_guard g(l->mu);
              return l->ready || l->ended;
            },
            std::chrono::seconds(30)) ||
        l->ended)
      throw std::runtime_error("a listener did not become ready");
  }
  const int64_t base = db.tx_read_only([](evdb::TxRO& r) { return r.read_system_version(); });

  // Writers, and the killer.
  std::vector<pid_t> pids(static_cast<size_t>(o.processes));
  std::vector<int> generation(static_cast<size_t>(o.processes), 0);
  std::vector<std::string> logs;
  auto log_of = [&](int slot, int gen) {
    return o.work_dir + "/writer-" + std::to_string(slot) + "." + std::to_string(gen) + ".log";
  };
  for (int s = 0; s < o.processes; ++s) {
    logs.push_back(log_of(s, 0));
    pids[static_cast<size_t>(s)] = spawn_writer(o, s, 0, logs.back());
  }
  std::mt19937 rng(static_cast<unsigned>(getpid()));
  long kills = 0, mid_tx_kills = 0, crashed = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(o.seconds);
  auto next_kill = start + std::chrono::milliseconds(o.kill_every_ms);
  auto restart = [&](int s) {
    auto& gen = generation[static_cast<size_t>(s)];
    ++gen;
    logs.push_back(log_of(s, gen));
    pids[static_cast<size_t>(s)] = spawn_writer(o, s, gen, logs.back());
  };
  while (Clock::now() < end) {
    // A writer that died on its own is a finding too; restart it.
    for (int s = 0; s < o.processes; ++s) {
      int status = 0;
      if (waitpid(pids[static_cast<size_t>(s)], &status, WNOHANG) == pids[static_cast<size_t>(s)]) {
        ++crashed;
        std::cout << "writer " << s << " ended by itself (status " << status << "); restarted"
                  << std::endl;
        restart(s);
      }
    }
    if (o.kill_every_ms > 0 && Clock::now() >= next_kill) {
      int s = std::uniform_int_distribution<int>(0, o.processes - 1)(rng);
      if (writer_busy(log_of(s, generation[static_cast<size_t>(s)]))) ++mid_tx_kills;
      ::kill(pids[static_cast<size_t>(s)], SIGKILL);
      int status = 0;
      waitpid(pids[static_cast<size_t>(s)], &status, 0);
      ++kills;
      restart(s);
      next_kill += std::chrono::milliseconds(o.kill_every_ms);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (pid_t p : pids) ::kill(p, SIGTERM);
  for (pid_t p : pids) {
    int status = 0;
    waitpid(p, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ++crashed;
      std::cout << "a writer ended with status " << status << " at the end of the run" << std::endl;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  // What the writers recorded.
  std::map<std::string, int64_t> acked;  // tx -> first version
  std::set<std::string> lost, unknown;
  for (const std::string& path : logs) {
    std::ifstream in(path);
    std::string kind, tx, rest;
    while (in >> kind >> tx >> rest) {
      if (kind == "OK")
        acked[tx] = std::stoll(rest);
      else if (kind == "LOST")
        lost.insert(tx);
      else
        unknown.insert(tx);
    }
  }

  // The log after base, read back in one read-only transaction.
  std::vector<evdb::Event> events = db.tx_read_only([&](evdb::TxRO& r) {
    std::vector<evdb::Event> all;
    int64_t at = base + 1;
    for (;;) {
      auto chunk = r.read_events(at, 4096);
      if (chunk.empty()) break;
      at = chunk.back().version + 1;
      for (auto& e : chunk) all.push_back(std::move(e));
    }
    return all;
  });
  const int64_t head = events.empty() ? base : events.back().version;

  Report rep;
  std::cout << "writers: " << acked.size() << " transactions acknowledged ("
            << acked.size() * static_cast<size_t>(o.tx_size) << " events), " << lost.size()
            << " lost and retried, " << unknown.size() << " with unknown outcome, " << kills
            << " writers killed and restarted (" << mid_tx_kills << " inside a transaction), "
            << crashed << " ended by themselves; " << events.size() << " events in " << elapsed
            << " s (" << static_cast<long>(static_cast<double>(events.size()) / elapsed)
            << " events/s)" << std::endl;
  rep.line(crashed == 0, "writers ran",
           std::to_string(crashed) + " writer processes ended without being killed");

  // 1. Versions gapless (or strictly increasing without EVDB_CAP_GAPLESS).
  {
    std::string bad;
    int64_t prev = base;
    for (const auto& e : events) {
      if (gapless ? e.version != prev + 1 : e.version <= prev) {
        bad = "version " + std::to_string(e.version) + " follows " + std::to_string(prev);
        break;
      }
      prev = e.version;
    }
    rep.line(bad.empty(), gapless ? "versions gapless" : "versions increasing",
             bad.empty() ? std::to_string(events.size()) + " events, versions " +
                               std::to_string(base + 1) + ".." + std::to_string(head)
                         : bad);
  }

  // 2. Every transaction in the log whole: K events, indexes 0..K-1 in
  //    consecutive positions, once.
  std::map<std::string, std::vector<std::pair<int64_t, int>>> in_log;  // tx -> (version, i)
  long foreign = 0;
  for (const auto& e : events) {
    auto t = parse_payload(e.payload);
    if (!t) {
      ++foreign;
      continue;
    }
    in_log[t->tx].emplace_back(e.version, t->i);
  }
  {
    std::string bad;
    for (const auto& [tx, evs] : in_log) {
      bool whole = evs.size() == static_cast<size_t>(o.tx_size);
      for (size_t i = 0; whole && i < evs.size(); ++i) whole = evs[i].second == static_cast<int>(i);
      // consecutive positions in the log (no other event in between)
      if (whole && gapless) whole = evs.back().first - evs.front().first == o.tx_size - 1;
      if (!whole) {
        bad = "transaction " + tx + " has " + std::to_string(evs.size()) + " of its " +
              std::to_string(o.tx_size) + " events (first at version " +
              std::to_string(evs.front().first) + ")";
        break;
      }
    }
    if (foreign > 0 && bad.empty())
      bad = std::to_string(foreign) + " events not written by this run";
    rep.line(bad.empty(), "transactions all-or-nothing",
             bad.empty()
                 ? std::to_string(in_log.size()) + " transactions in the log, each whole and once"
                 : bad);
  }

  // 3. Every acknowledged transaction present, once, where the writer was told.
  {
    std::string bad;
    for (const auto& [tx, first] : acked) {
      auto it = in_log.find(tx);
      if (it == in_log.end()) {
        bad = "acknowledged transaction " + tx + " (version " + std::to_string(first) +
              ") is missing";
        break;
      }
      if (it->second.front().first != first) {
        bad = "acknowledged transaction " + tx + " was told version " + std::to_string(first) +
              " but is at " + std::to_string(it->second.front().first);
        break;
      }
    }
    size_t unacked = in_log.size() >= acked.size() ? in_log.size() - acked.size() : 0;
    rep.line(bad.empty(), "acknowledged appends present exactly once",
             bad.empty() ? std::to_string(acked.size()) + " acknowledged, all present; " +
                               std::to_string(unacked) +
                               " more committed without acknowledgement (writer killed first)"
                         : bad);
  }

  // 4. A transaction told it lost left nothing.
  {
    std::string bad;
    for (const std::string& tx : lost)
      if (in_log.count(tx) != 0) {
        bad = "transaction " + tx + " was told it lost, but its events are in the log";
        break;
      }
    rep.line(bad.empty(), "lost transactions absent",
             bad.empty() ? std::to_string(lost.size()) + " lost attempts, none in the log" : bad);
  }

  // 5. Each listener: exactly the versions after base, in order, once.
  for (size_t i = 0; i < listeners.size(); ++i) {
    auto& l = *listeners[i];
    wait_until(
        [&] {
          std::lock_guard g(l.mu);
          return l.ended || (!l.got.empty() && l.got.back() >= head) || head == base;
        },
        std::chrono::seconds(60));
    l.ctx.cancel();
    l.thread.join();
    l.file.close();
    std::string bad;
    size_t n = 0;
    for (size_t j = 0; j < l.got.size() && bad.empty(); ++j) {
      int64_t want = j < events.size() ? events[j].version : -1;
      if (l.got[j] != want)
        bad = "received " + std::to_string(l.got[j]) + " as its " + std::to_string(j + 1) +
              "th version, expected " +
              (want < 0 ? std::string("nothing more") : std::to_string(want));
      ++n;
    }
    if (bad.empty() && l.got.size() < events.size())
      bad = "received " + std::to_string(l.got.size()) + " of " + std::to_string(events.size()) +
            " versions (missing from " + std::to_string(events[l.got.size()].version) + ")";
    if (bad.empty() && !l.status.is<evdb::Canceled>())
      bad = std::string("listen ended with ") + evdb_status_name(l.status.code()) + ": " +
            l.status.message();
    rep.line(bad.empty(), "listener " + std::to_string(i) + " in order without duplicates or holes",
             bad.empty() ? std::to_string(n) + " versions" : bad);
  }
  std::cout << (rep.ok ? "evdb-stress: all checks passed" : "evdb-stress: VIOLATIONS FOUND")
            << std::endl;
  return rep.ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{
      "evdb-stress — writers killed mid-transaction, listeners, and a check of the log afterwards"};
  app.add_option("--uri", o.uri, "Store to write (events already there are ignored)")->required();
  app.add_option("--driver", o.drivers, "Load this driver file first (repeatable)")
      ->type_name("FILE");
  app.add_option("--processes", o.processes, "Writer processes")->check(CLI::Range(1, 256));
  app.add_option("--threads", o.threads, "Writer threads per process")->check(CLI::Range(1, 256));
  app.add_option("--seconds", o.seconds, "How long the writers run")->check(CLI::Range(1, 86400));
  app.add_option("--kill-every", o.kill_every_ms,
                 "SIGKILL a random writer process every MS milliseconds and restart it (0: never)")
      ->type_name("MS")
      ->check(CLI::Range(0, 86400000));
  app.add_option("--tx-size", o.tx_size, "Events per transaction")->check(CLI::Range(1, 1000));
  app.add_option("--listeners", o.listeners, "Listeners recording what they receive")
      ->check(CLI::Range(0, 64));
  app.add_option("--max-pause-us", o.max_pause_us,
                 "Longest random pause before each append (widens the window for a kill)")
      ->check(CLI::Range(0, 1000000));
  app.add_option("--work-dir", o.work_dir,
                 "Folder for the writers' and listeners' records (default: a new folder in /tmp)");
  app.add_option("--inject", o.inject)
      ->group("")
      ->check(CLI::IsMember({"duplicate", "phantom-ack", "lost-present"}));
  app.add_option("--child-writer", o.child_slot)->group("");
  app.add_option("--child-generation", o.child_generation)->group("");
  app.add_option("--child-log", o.child_log)->group("");
  CLI11_PARSE(app, argc, argv);
  try {
    if (o.child_slot >= 0) return writer_main(o);
    return parent_main(o);
  } catch (const std::exception& e) {
    std::cerr << "evdb-stress: " << e.what() << std::endl;
    return 2;
  }
}
