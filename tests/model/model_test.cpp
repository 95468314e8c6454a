// model_test.cpp — model-based random testing of a driver through libevdb.
//
// RapidCheck generates sequences of operations (begin read-only/read-write on
// one of several threads and handles, every kind of read, appends with right
// and wrong assumed versions and invalid input, projection init/set/read,
// commit, rollback, moving a transaction to another thread, listeners); the
// runner performs them through the public C API on a fresh store and checks
// every result against the reference model (model.hpp). On a mismatch
// RapidCheck shrinks the sequence and the failure shows the smallest one as a
// numbered program with what the driver answered, plus a command line that
// reproduces it.
//
//   evdb_model_test --uri 'memory:{unique}' [--driver FILE] [--seed N]
//                   [--cases N] [--max-size N] [--seconds N] [--wait-ms N]
//
// Operations run one at a time (the runner waits for each), so the committed
// state during an operation is known exactly; transactions live on worker
// threads so same-thread and cross-thread behaviours both occur. An operation
// that may wait for another open transaction's lock gets a deadline of
// --wait-ms (a liveness bound: giving up is one of the allowed outcomes).
#include <evdb/evdb.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <evdb/conformance.hpp>
#include <evdb/evdb.hpp>

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "model.hpp"
#include "test_support/listening.hpp"

namespace evdb::model {
namespace {

// ---------------------------------------------------------------------------
// Settings (command line)
// ---------------------------------------------------------------------------
struct Settings {
  std::string uri_template;
  std::string driver_file;
  uint64_t seed = 1;
  int cases = 50;
  int max_size = 100;
  int seconds = 0;  // > 0: keep running new seeds until this much time passed
  int wait_ms = 200;
};
Settings& settings() {
  static Settings s;
  return s;
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------
constexpr int kSlots = 4;    // transactions open at once, at most
constexpr int kThreads = 3;  // worker threads, at most
constexpr int kHandles = 2;  // handles on the same store, at most
constexpr int kListeners = 2;
// Projection ids used (including the extremes of int32).
constexpr std::array<int32_t, 4> kProjIds{1, 2, 0, INT32_MIN};

enum class K {
  Begin,
  Commit,
  Rollback,
  Move,
  ReadHead,
  ReadAt,
  ReadAfter,
  ReadEvents,
  ReadProj,
  Append,
  AppendBad,
  Init,
  Set,
  Listen
};

struct Op {
  K kind = K::ReadHead;
  int slot = 0;          // which transaction
  bool rw = false;       // Begin: read-write
  int thread = 0;        // Begin, Move
  int handle = 0;        // Begin, Listen
  bool rel = true;       // version argument relative to the transaction's head
  int64_t v = 0;         // version / assumed version / projection value
  bool reverse = false;  // ReadEvents
  int n = 0;             // ReadEvents: how many
  int proj = 0;          // index into kProjIds
  int ev = 0;            // Append: event shape; AppendBad: which mistake
};

// Event shapes: every field from a small set whose values round-trip on
// every driver (payloads in the canonical form PostgreSQL's jsonb prints).
const std::array<const char*, 3> kTypes{"Created", "t", "Δ-renamed"};
const std::array<const char*, 6> kPayloads{
    R"({"n": 1})", "42", R"("text")", R"([1, "x", null])", "null", R"({"a": [1, 2], "bb": {}})"};
const std::array<const char*, 3> kRevisions{"", "0123abcd", "rev ü"};
const std::array<int64_t, 4> kTimes{1700000000123456, 0, 1, 4102444800000000};

EventData event_shape(int ev) {
  EventData e;
  e.type_name = kTypes[ev % 3];
  e.payload = kPayloads[(ev / 3) % 6];
  e.revision = kRevisions[(ev / 18) % 3];
  e.time_us = kTimes[(ev / 54) % 4];
  return e;
}
constexpr int kEventShapes = 3 * 6 * 3 * 4;
const std::array<const char*, 3> kBadEvents{"empty type name", "payload that is not JSON",
                                            "negative time_us"};

std::string show_version(const Op& o) {
  if (!o.rel) return std::to_string(o.v);
  if (o.v == 0) return "head";
  return o.v > 0 ? "head+" + std::to_string(o.v) : "head" + std::to_string(o.v);
}

// `tx` names the transaction the operation acts on.
std::string describe(const Op& o, const std::string& tx) {
  std::ostringstream s;
  switch (o.kind) {
    case K::Begin:
      s << tx << " = begin(" << (o.rw ? "READ_WRITE" : "READ_ONLY") << ", thread " << o.thread
        << ", handle " << o.handle << ")";
      break;
    case K::Commit:
      s << tx << (o.reverse ? ".commit(with a cancelled context)" : ".commit()");
      break;
    case K::Rollback:
      s << tx << ".rollback()";
      break;
    case K::Move:
      s << tx << " moves to thread " << o.thread;
      break;
    case K::ReadHead:
      s << tx << ".read_system_version()";
      break;
    case K::ReadAt:
      s << tx << ".read_event_at(" << show_version(o) << ")";
      break;
    case K::ReadAfter:
      s << tx << ".read_event_after(" << show_version(o) << ")";
      break;
    case K::ReadEvents:
      s << tx << ".read_events(at " << show_version(o) << ", "
        << (o.reverse ? "descending" : "ascending") << ", n " << o.n << ")";
      break;
    case K::ReadProj:
      s << tx << ".read_projection_version(" << kProjIds[o.proj] << ")";
      break;
    case K::Append: {
      EventData e = event_shape(o.ev);
      s << tx << ".append_event(assumed " << show_version(o) << ", {type \"" << e.type_name
        << "\", payload " << e.payload << ", revision \"" << e.revision << "\", time_us "
        << e.time_us << "})";
      break;
    }
    case K::AppendBad:
      s << tx << ".append_event(assumed head, " << kBadEvents[o.ev % 3] << ")";
      break;
    case K::Init:
      s << tx << ".init_projection_version(" << kProjIds[o.proj] << ")";
      break;
    case K::Set:
      s << tx << ".set_projection_version(" << kProjIds[o.proj] << ", " << o.v << ")";
      break;
    case K::Listen:
      s << "listener on handle " << o.handle;
      break;
  }
  return s.str();
}

// RapidCheck prints counterexamples with this (found by ADL).
void showValue(const Op& o, std::ostream& os) {
  // Generated: Begin takes the first free slot; the others act on open
  // transaction number `slot` (modulo how many are open).
  os << describe(o, o.kind == K::Begin ? std::string("tx") : "open tx #" + std::to_string(o.slot));
}

rc::Gen<int64_t> gen_version_arg(bool rel) {
  if (rel)
    return rc::gen::weightedElement<int64_t>({{8, 0}, {2, -1}, {2, 1}, {1, -2}, {1, 2}, {1, -3}});
  return rc::gen::inRange<int64_t>(-1, 8);
}

rc::Gen<Op> gen_op() {
  return rc::gen::exec([] {
    Op o;
    o.kind = *rc::gen::weightedElement<K>({{12, K::Append},
                                           {8, K::Begin},
                                           {6, K::Commit},
                                           {3, K::ReadHead},
                                           {3, K::ReadAt},
                                           {3, K::ReadAfter},
                                           {3, K::ReadEvents},
                                           {3, K::ReadProj},
                                           {3, K::Init},
                                           {3, K::Set},
                                           {1, K::Rollback},
                                           {1, K::Move},
                                           {1, K::AppendBad},
                                           {1, K::Listen}});
    // Lower slots more often: operations mostly meet an open transaction.
    o.slot = *rc::gen::weightedElement<int>({{5, 0}, {3, 1}, {1, 2}, {1, 3}});
    switch (o.kind) {
      case K::Begin:
        o.rw = *rc::gen::weightedElement<bool>({{3, true}, {1, false}});
        o.thread = *rc::gen::inRange(0, kThreads);
        o.handle = *rc::gen::inRange(0, kHandles);
        break;
      case K::Move:
        o.thread = *rc::gen::inRange(0, kThreads);
        break;
      case K::ReadAt:
      case K::ReadAfter:
      case K::ReadEvents:
      case K::Append:
        o.rel = *rc::gen::weightedElement<bool>({{4, true}, {1, false}});
        o.v = *gen_version_arg(o.rel);
        if (o.kind == K::ReadEvents) {
          o.reverse = *rc::gen::arbitrary<bool>();
          o.n = *rc::gen::inRange(0, 6);
        }
        if (o.kind == K::Append) o.ev = *rc::gen::inRange(0, kEventShapes);
        break;
      case K::AppendBad:
        o.ev = *rc::gen::inRange(0, 3);
        break;
      case K::Commit:  // `reverse` here: commit with a cancelled context
        o.reverse = *rc::gen::weightedElement<bool>({{12, false}, {1, true}});
        break;
      case K::ReadProj:
      case K::Init:
        o.proj = *rc::gen::weightedElement<int>({{4, 0}, {3, 1}, {1, 2}, {1, 3}});
        break;
      case K::Set:
        o.proj = *rc::gen::weightedElement<int>({{4, 0}, {3, 1}, {1, 2}, {1, 3}});
        o.v = *rc::gen::weightedElement<int64_t>(
            {{6, 3}, {2, 0}, {2, 7}, {1, INT64_C(1) << 40}, {1, -1}});
        break;
      case K::Listen:
        o.handle = *rc::gen::inRange(0, kHandles);
        break;
      default:
        break;
    }
    return o;
  });
}

// What the histories exercised, summed over a run (printed per seed).
struct Stats {
  long cases = 0, ops = 0, skipped = 0, commits = 0, lost_commits = 0, lost_writes = 0,
       lost_reads = 0, waits = 0, events = 0;
  int64_t max_head = 0;
};
Stats& stats() {
  static Stats s;
  return s;
}

// ---------------------------------------------------------------------------
// Worker threads: worker 0 is the caller's thread.
// ---------------------------------------------------------------------------
class Workers {
 public:
  explicit Workers(int n) {
    for (int i = 1; i < n; ++i) threads_.emplace_back(std::make_unique<Worker>());
  }
  void run(int w, const std::function<void()>& f) {
    if (w == 0) return f();
    threads_.at(static_cast<size_t>(w - 1))->run(f);
  }

 private:
  struct Worker {
    Worker() : t([this] { loop(); }) {}
    ~Worker() {
      {
        std::lock_guard l(mu);
        stop = true;
      }
      cv.notify_all();
      t.join();
    }
    void run(const std::function<void()>& f) {
      std::packaged_task<void()> task(f);
      auto done = task.get_future();
      {
        std::lock_guard l(mu);
        jobs.push_back(std::move(task));
      }
      cv.notify_all();
      done.get();  // rethrows what f threw
    }
    void loop() {
      for (;;) {
        std::packaged_task<void()> job;
        {
          std::unique_lock l(mu);
          cv.wait(l, [&] { return stop || !jobs.empty(); });
          if (jobs.empty()) return;
          job = std::move(jobs.front());
          jobs.pop_front();
        }
        job();
      }
    }
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::packaged_task<void()>> jobs;
    bool stop = false;
    std::thread t;
  };
  std::vector<std::unique_ptr<Worker>> threads_;
};

// ---------------------------------------------------------------------------
// One C call's result.
// ---------------------------------------------------------------------------
struct Result {
  evdb_status code = EVDB_OK;
  std::string message;
};

// A mismatch between the driver and the model: ends the case.
struct Mismatch {
  std::string what;
};

// The C structs are built here only, so a change of their layout (a size
// field set by an _INIT macro) is one edit.
evdb_event blank_event() {
  evdb_event e = EVDB_EVENT_INIT;
  return e;
}
evdb_event c_event(const EventData& e) {
  evdb_event c = blank_event();
  c.time_us = e.time_us;
  c.type_name = e.type_name.data();
  c.type_name_len = e.type_name.size();
  c.payload = e.payload.data();
  c.payload_len = e.payload.size();
  c.revision_vcs = e.revision.data();
  c.revision_vcs_len = e.revision.size();
  return c;
}

std::string status_text(const Result& r) {
  std::string s = evdb_status_name(r.code);
  if (r.code != EVDB_OK && !r.message.empty()) s += " (" + r.message + ")";
  return s;
}

bool is_loss(evdb_status s) {
  return s == EVDB_VERSION_MISMATCH || s == EVDB_CONFLICT || s == EVDB_DEADLINE_EXCEEDED;
}

// ---------------------------------------------------------------------------
// One test case: a fresh store, the operations, then the final checks.
// ---------------------------------------------------------------------------
class CaseRun {
 public:
  CaseRun(int threads, int handles) : workers_(threads), threads_(threads) {
    uri_ = conformance::expand_uri(settings().uri_template, conformance::next_unique_id());
    for (int i = 0; i < handles; ++i) dbs_.push_back(DB::open(uri_));
    profile_ = profile_for(dbs_[0].driver_name());
    model_ = std::make_unique<Model>(dbs_[0].has(EVDB_CAP_GAPLESS));
    trace("store " + conformance::redact_uri(uri_) + ", driver " + dbs_[0].driver_name() +
          ", profile " + profile_name(profile_) + ", " + std::to_string(threads) + " thread(s), " +
          std::to_string(handles) + " handle(s)");
  }
  ~CaseRun() {
    for (Slot& s : slots_) {
      if (s.tx != nullptr) evdb_rollback(s.tx);
      s.tx = nullptr;
    }
    listeners_.clear();  // stop them before the handles close
  }

  const std::vector<std::string>& log() const { return log_; }

  void run(const Op& op) {
    if (op.kind == K::Listen) return listen(op);
    std::vector<size_t> open;
    for (size_t i = 0; i < slots_.size(); ++i)
      if ((slots_[i].tx == nullptr) == (op.kind == K::Begin)) open.push_back(i);
    if (open.empty()) {  // no free slot / no open transaction: skipped
      ++stats().skipped;
      return;
    }
    const size_t idx =
        op.kind == K::Begin ? open.front() : open[static_cast<size_t>(op.slot) % open.size()];
    Slot& s = slots_[idx];
    tx_name_ = "tx" + std::to_string(idx);
    if (op.kind == K::Begin) return begin(op, s);
    TxModel& tx = *model_->find(s.tx_id);
    switch (op.kind) {
      case K::Commit:
        return commit(op, s, tx);
      case K::Rollback:
        on_worker(s, [&] { evdb_rollback(s.tx); });
        trace(op, "done");
        s.tx = nullptr;
        model_->end(tx.id);
        return;
      case K::Move:
        s.thread = op.thread % threads_;
        trace(op, "done");
        return;
      case K::ReadHead:
        return read_head(op, s, tx);
      case K::ReadAt:
      case K::ReadAfter:
        return read_one(op, s, tx);
      case K::ReadEvents:
        return read_events(op, s, tx);
      case K::ReadProj:
        return read_projection(op, s, tx);
      case K::Append:
        return append(op, s, tx);
      case K::AppendBad:
        return append_bad(op, s, tx);
      case K::Init:
      case K::Set:
        return projection_write(op, s, tx);
      default:
        return;
    }
  }

  // After the operations: roll back what is open, check the whole store,
  // then every listener (after a marker event that must reach them).
  void finish() {
    for (Slot& s : slots_) {
      if (s.tx == nullptr) continue;
      on_worker(s, [&] { evdb_rollback(s.tx); });
      model_->end(s.tx_id);
      s.tx = nullptr;
    }
    trace("end: every open transaction rolled back");
    check_whole_store();
    if (listeners_.empty()) return;
    append_marker();
    for (size_t i = 0; i < listeners_.size(); ++i) {
      Listener& l = *listeners_[i];
      std::vector<int64_t> want;
      for (const LoggedEvent& e : model_->log())
        if (e.version > l.from) want.push_back(e.version);
      std::vector<int64_t> got = l.rec->wait_for(want.size(), std::chrono::seconds(20));
      Status st = l.rec->stop();
      got = l.rec->versions();
      if (got != want)
        fail("listener " + std::to_string(i) + " (started at head " + std::to_string(l.from) +
             ") received " + join(got) + "; the committed versions after it are " + join(want));
      if (!st.is<Canceled>())
        fail("listener " + std::to_string(i) + " ended with " + evdb_status_name(st.code()) + " (" +
             st.message() + ") instead of EVDB_CANCELED");
    }
    trace("listeners received exactly the committed versions after their start, in order");
  }

 private:
  struct Slot {
    evdb_tx* tx = nullptr;
    int tx_id = 0;
    int thread = 0;
    int handle = 0;
  };
  struct Listener {
    std::unique_ptr<test_support::Listening> rec;
    int64_t from = 0;
  };

  [[noreturn]] void fail(const std::string& what) { throw Mismatch{what}; }

  void trace(const std::string& line) { log_.push_back(line); }
  void trace(const Op& op, const std::string& outcome) {
    ++stats().ops;
    log_.push_back(std::to_string(++step_) + ". " + describe(op, tx_name_) + " -> " + outcome);
  }

  static std::string join(const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + "]";
  }

  void on_worker(const Slot& s, const std::function<void()>& f) { workers_.run(s.thread, f); }

  // Runs a C call on the slot's thread; checks the evdb_error contract.
  Result call(const Slot& s, const std::function<evdb_status(evdb_error*)>& f) {
    Result r;
    evdb_error err = EVDB_ERROR_INIT;
    on_worker(s, [&] { r.code = f(&err); });
    if (r.code != EVDB_OK) {
      if (err.code != r.code)
        fail(std::string("a call returned ") + evdb_status_name(r.code) + " but err->code is " +
             evdb_status_name(err.code));
      if (err.message == nullptr || err.message[0] == '\0')
        fail(std::string("a call failed with ") + evdb_status_name(r.code) + " without a message");
      r.message = err.message;
    } else if (err.message != nullptr || err.code != EVDB_OK) {
      fail("a call succeeded but filled err");
    }
    evdb_error_release(&err);
    return r;
  }

  // The context for an operation that may wait for another open
  // transaction: a deadline of --wait-ms. Others get none (they never wait).
  evdb_ctx* wait_ctx(bool may_wait) {
    if (!may_wait) return nullptr;
    ctx_ = std::make_unique<Context>(std::chrono::milliseconds(settings().wait_ms));
    return ctx_->raw();
  }

  // Serializable profile: PostgreSQL's SSI may also cancel a read of a
  // read-write transaction that overlaps another (docs/postgres-driver.md:
  // conflicts surface at any statement); the transaction is then aborted.
  bool read_lost(TxModel& tx, const Result& r, const char* what) {
    if (!tx.rw || profile_ != Profile::Serializable || !tx.company) return false;
    if (r.code != EVDB_VERSION_MISMATCH && r.code != EVDB_CONFLICT) return false;
    check_loss_code(tx, r, false, what);
    tx.doom = r.code;
    ++stats().lost_reads;
    trace("   (a read lost to a concurrent writer: allowed, serializable profile)");
    return true;
  }

  bool writes_may_lose(const TxModel& tx) const {
    return profile_ != Profile::Optimistic && tx.company;
  }

  // A doomed transaction (an earlier failure may have aborted it) may fail
  // any call with that failure or another loss.
  bool doomed_failure(const TxModel& tx, const Result& r) const {
    return tx.doom && r.code != EVDB_OK && (r.code == *tx.doom || is_loss(r.code));
  }

  // The code a write that lost must carry: VERSION_MISMATCH once the
  // transaction appended, CONFLICT when it never tried to; either between.
  void check_loss_code(const TxModel& tx, const Result& r, bool appending, const char* what) {
    if (r.code == EVDB_DEADLINE_EXCEEDED) return;
    bool appended = appending || !tx.pending.empty();
    bool tried = appending || tx.attempted_append;
    if (appended && r.code != EVDB_VERSION_MISMATCH)
      fail(std::string(what) + " lost with " + status_text(r) +
           "; a transaction that appended loses with EVDB_VERSION_MISMATCH");
    if (!tried && r.code != EVDB_CONFLICT)
      fail(std::string(what) + " lost with " + status_text(r) +
           "; a transaction that never appended loses with EVDB_CONFLICT");
  }

  void begin(const Op& op, Slot& s) {
    s.thread = op.thread % threads_;
    s.handle = op.handle % static_cast<int>(dbs_.size());
    bool may_wait = op.rw && profile_ != Profile::Optimistic && model_->other_open_rw(0) > 0;
    evdb_ctx* ctx = wait_ctx(may_wait);
    evdb_tx* raw = nullptr;
    evdb_db* db = dbs_[static_cast<size_t>(s.handle)].raw();
    Result r = call(s, [&](evdb_error* e) {
      return evdb_begin(db, ctx, op.rw ? EVDB_TX_READ_WRITE : EVDB_TX_READ_ONLY, &raw, e);
    });
    if (r.code == EVDB_OK) {
      s.tx = raw;
      s.tx_id = model_->begin(op.rw).id;
      trace(op, "OK (model tx " + std::to_string(s.tx_id) + ")");
      return;
    }
    if (may_wait && (r.code == EVDB_DEADLINE_EXCEEDED || r.code == EVDB_CONFLICT)) {
      trace(op, status_text(r) + ": waited for another writer (allowed)");
      ++stats().waits;
      return;
    }
    trace(op, status_text(r));
    fail("begin failed with " + status_text(r) + "; the model expected EVDB_OK");
  }

  void commit(const Op& op, Slot& s, TxModel& tx) {
    evdb_tx* raw = s.tx;
    s.tx = nullptr;  // freed by commit whatever the result
    evdb_ctx* ctx = nullptr;
    if (op.reverse) {
      ctx_ = std::make_unique<Context>();
      ctx_->cancel();
      ctx = ctx_->raw();
    }
    Result r = call(s, [&](evdb_error* e) { return evdb_commit(raw, ctx, e); });
    trace(op, status_text(r));
    int id = tx.id;
    if (op.reverse) {
      // docs/decisions.md: a cancelled context rolls back; nothing applied.
      if (r.code != EVDB_CANCELED)
        fail("commit with a cancelled context gave " + status_text(r) +
             "; it must roll back and return EVDB_CANCELED");
      model_->end(id);
      return;
    }
    std::string why;
    bool must_lose = tx.rw && model_->commit_breaks_serializability(tx, &why);
    if (r.code == EVDB_OK) {
      if (must_lose)
        fail("commit succeeded, but the committed read-write history is then not serializable: " +
             why);
      std::string problem = model_->apply_commit(tx);
      if (!problem.empty()) fail("commit: " + problem);
      ++stats().commits;
    } else if (doomed_failure(tx, r)) {
      // nothing applied
    } else if (tx.rw && (r.code == EVDB_VERSION_MISMATCH || r.code == EVDB_CONFLICT)) {
      if (!must_lose && !model_->commit_may_lose(tx, profile_))
        fail("commit lost with " + status_text(r) + ", but no transaction it overlaps (" +
             profile_name(profile_) + " profile) makes that allowed");
      check_loss_code(tx, r, false, "commit");
      ++stats().lost_commits;
    } else {
      fail("commit failed with " + status_text(r) + "; the model expected " +
           (must_lose ? "a loss (VERSION_MISMATCH or CONFLICT)" : "EVDB_OK"));
    }
    model_->end(id);
  }

  void read_head(const Op& op, Slot& s, TxModel& tx) {
    int64_t got = -1;
    Result r =
        call(s, [&](evdb_error* e) { return evdb_read_system_version(s.tx, nullptr, &got, e); });
    trace(op, status_text(r) + (r.code == EVDB_OK ? " " + std::to_string(got) : ""));
    if (doomed_failure(tx, r) || read_lost(tx, r, "read_system_version")) return;
    if (r.code != EVDB_OK) fail("read_system_version failed: " + status_text(r));
    int64_t want = model_->view_head(tx);
    if (got != want)
      fail("read_system_version gave " + std::to_string(got) +
           "; the transaction's view has head " + std::to_string(want));
    model_->read_head(tx);
  }

  int64_t version_arg(const Op& op, const TxModel& tx) const {
    return op.rel ? model_->view_head(tx) + op.v : op.v;
  }

  // Compares an event the driver returned with the model's.
  void check_event(const evdb_event& got, LoggedEvent& want, const std::string& what) {
    auto str = [](const char* p, size_t n) {
      return p == nullptr ? std::string("(NULL)") : std::string(p, n);
    };
    std::string problem;
    if (got.version != want.version)
      problem =
          "version " + std::to_string(got.version) + ", expected " + std::to_string(want.version);
    else if (str(got.type_name, got.type_name_len) != want.data.type_name)
      problem = "type_name \"" + str(got.type_name, got.type_name_len) + "\", expected \"" +
                want.data.type_name + "\"";
    else if (str(got.payload, got.payload_len) != want.data.payload)
      problem = "payload " + str(got.payload, got.payload_len) + ", expected " + want.data.payload;
    else if (got.revision_vcs == nullptr ||
             str(got.revision_vcs, got.revision_vcs_len) != want.data.revision)
      problem = "revision_vcs \"" + str(got.revision_vcs, got.revision_vcs_len) +
                "\", expected \"" + want.data.revision + "\"";
    else if (want.data.time_us != 0 && got.time_us != want.data.time_us)
      problem = "time_us " + std::to_string(got.time_us) + ", expected " +
                std::to_string(want.data.time_us);
    else if (want.data.time_us == 0) {
      if (want.seen_time && got.time_us != *want.seen_time)
        problem = "time_us " + std::to_string(got.time_us) + ", but an earlier read gave " +
                  std::to_string(*want.seen_time) + " (appended with 0 = now)";
      else if (got.time_us <= 0)
        problem = "time_us " + std::to_string(got.time_us) + " for an event appended with 0 (now)";
      else
        want.seen_time = got.time_us;
    }
    if (!problem.empty())
      fail(what + ": event " + std::to_string(want.version) + " has " + problem);
  }

  void read_one(const Op& op, Slot& s, TxModel& tx) {
    const bool after = op.kind == K::ReadAfter;
    const int64_t v = version_arg(op, tx);
    evdb_event got = blank_event();
    Result r = call(s, [&](evdb_error* e) {
      return after ? evdb_read_event_after(s.tx, nullptr, v, &got, e)
                   : evdb_read_event_at(s.tx, nullptr, v, &got, e);
    });
    trace(op, "(version " + std::to_string(v) + ") " + status_text(r) +
                  (r.code == EVDB_OK ? " event " + std::to_string(got.version) : ""));
    if (doomed_failure(tx, r) || read_lost(tx, r, "the read")) return;
    const char* name = after ? "read_event_after" : "read_event_at";
    if (v < 0) {
      if (r.code != EVDB_INVALID_ARGUMENT)
        fail(std::string(name) + "(" + std::to_string(v) + ") gave " + status_text(r) +
             "; a negative version is EVDB_INVALID_ARGUMENT");
      return;
    }
    LoggedEvent* want = nullptr;
    for (LoggedEvent* e : model_->view_events(tx)) {
      if (after ? e->version > v : e->version == v) {
        want = e;
        break;
      }
    }
    if (want == nullptr) {
      if (r.code != EVDB_NOT_FOUND)
        fail(std::string(name) + "(" + std::to_string(v) + ") gave " + status_text(r) +
             "; the transaction's view (head " + std::to_string(model_->view_head(tx)) +
             ") has no such event: EVDB_NOT_FOUND");
      if (v > 0 || after) model_->read_head(tx);
      return;
    }
    if (r.code != EVDB_OK)
      fail(std::string(name) + "(" + std::to_string(v) + ") gave " + status_text(r) +
           "; the model expected event " + std::to_string(want->version));
    check_event(got, *want, name);
  }

  void read_events(const Op& op, Slot& s, TxModel& tx) {
    const int64_t at = version_arg(op, tx);
    std::vector<evdb_event> buf(static_cast<size_t>(op.n) + 1, blank_event());
    buf.back().version = -77;  // must stay untouched
    size_t n_out = 999;
    Result r = call(s, [&](evdb_error* e) {
      return evdb_read_events(s.tx, nullptr, at, op.reverse ? 1 : 0, op.n ? buf.data() : nullptr,
                              static_cast<size_t>(op.n), &n_out, e);
    });
    trace(op, "(at " + std::to_string(at) + ") " + status_text(r) +
                  (r.code == EVDB_OK ? " " + std::to_string(n_out) + " event(s)" : ""));
    if (doomed_failure(tx, r) || read_lost(tx, r, "read_events")) return;
    if (at < 0) {
      if (r.code != EVDB_INVALID_ARGUMENT)
        fail("read_events(at " + std::to_string(at) + ") gave " + status_text(r) +
             "; a negative version is EVDB_INVALID_ARGUMENT");
      return;
    }
    if (r.code != EVDB_OK) fail("read_events failed: " + status_text(r));
    std::vector<LoggedEvent*> view = model_->view_events(tx);
    std::vector<LoggedEvent*> want;
    if (!op.reverse) {
      for (LoggedEvent* e : view)
        if (e->version >= at && want.size() < static_cast<size_t>(op.n)) want.push_back(e);
    } else {
      for (auto it = view.rbegin(); it != view.rend(); ++it)
        if ((*it)->version <= at && want.size() < static_cast<size_t>(op.n)) want.push_back(*it);
    }
    if (n_out != want.size())
      fail("read_events(at " + std::to_string(at) + ", " +
           (op.reverse ? "descending" : "ascending") + ", n " + std::to_string(op.n) + ") gave " +
           std::to_string(n_out) + " events; the transaction's view (head " +
           std::to_string(model_->view_head(tx)) + ") has " + std::to_string(want.size()));
    if (buf.back().version != -77) fail("read_events wrote past buf[n-1]");
    for (size_t i = 0; i < want.size(); ++i) check_event(buf[i], *want[i], "read_events");
    if (op.n > 0 &&
        (op.reverse ? at > model_->view_head(tx) : want.size() < static_cast<size_t>(op.n)))
      model_->read_head(tx);
  }

  void read_projection(const Op& op, Slot& s, TxModel& tx) {
    const int32_t id = kProjIds[static_cast<size_t>(op.proj)];
    int64_t got = -1;
    Result r = call(
        s, [&](evdb_error* e) { return evdb_read_projection_version(s.tx, nullptr, id, &got, e); });
    trace(op, status_text(r) + (r.code == EVDB_OK ? " " + std::to_string(got) : ""));
    if (doomed_failure(tx, r) || read_lost(tx, r, "read_projection_version")) return;
    std::optional<int64_t> want = model_->read_projection(tx, id);
    if (!want && r.code != EVDB_NOT_FOUND)
      fail("read_projection_version(" + std::to_string(id) + ") gave " + status_text(r) +
           "; never initialised in the transaction's view: EVDB_NOT_FOUND");
    if (want && (r.code != EVDB_OK || got != *want))
      fail("read_projection_version(" + std::to_string(id) + ") gave " + status_text(r) + " " +
           std::to_string(got) + "; the transaction's view has " + std::to_string(*want));
  }

  // A write on a read-only transaction: EVDB_READ_ONLY (the library may
  // also refuse invalid input first).
  void check_read_only_write(const Result& r, const char* what, bool invalid_input) {
    if (r.code == EVDB_READ_ONLY || (invalid_input && r.code == EVDB_INVALID_ARGUMENT)) return;
    fail(std::string(what) + " in a read-only transaction gave " + status_text(r) +
         "; the contract says EVDB_READ_ONLY");
  }

  void append(const Op& op, Slot& s, TxModel& tx) {
    const int64_t assumed = version_arg(op, tx);
    EventData data = event_shape(op.ev);
    evdb_event ev = c_event(data);
    const bool may_wait = tx.rw && writes_may_lose(tx) && model_->other_open_rw(tx.id) > 0;
    evdb_ctx* ctx = wait_ctx(may_wait);
    int64_t nv = -1;
    Result r =
        call(s, [&](evdb_error* e) { return evdb_append_event(s.tx, ctx, assumed, &ev, &nv, e); });
    trace(op, "(assumed " + std::to_string(assumed) + ") " + status_text(r) +
                  (r.code == EVDB_OK ? " new version " + std::to_string(nv) : ""));
    if (!tx.rw) return check_read_only_write(r, "append_event", assumed < 0);
    if (assumed < 0) {
      if (r.code != EVDB_INVALID_ARGUMENT)
        fail("append_event(assumed " + std::to_string(assumed) + ") gave " + status_text(r) +
             "; a negative version is EVDB_INVALID_ARGUMENT");
      return;
    }
    const int64_t head = model_->view_head(tx);
    model_->read_head(tx);
    tx.attempted_append = tx.attempted_write = true;
    if (doomed_failure(tx, r)) return;
    if (assumed != head) {
      if (r.code != EVDB_VERSION_MISMATCH)
        fail("append_event(assumed " + std::to_string(assumed) + ") gave " + status_text(r) +
             "; the transaction's head is " + std::to_string(head) + ": EVDB_VERSION_MISMATCH");
      return;
    }
    if (r.code == EVDB_OK) {
      if (model_->gapless() ? nv != head + 1 : nv <= head)
        fail("append_event(assumed " + std::to_string(assumed) + ") returned version " +
             std::to_string(nv) +
             (model_->gapless() ? "; gapless: assumed + 1" : "; must exceed the head"));
      model_->append(tx, LoggedEvent{nv, data, std::nullopt});
      return;
    }
    if (is_loss(r.code) && writes_may_lose(tx)) {
      check_loss_code(tx, r, true, "append_event");
      tx.doom = r.code;
      ++stats().lost_writes;
      trace("   (lost to a concurrent writer: allowed, " + std::string(profile_name(profile_)) +
            " profile)");
      return;
    }
    fail("append_event(assumed " + std::to_string(assumed) + ", the head) gave " + status_text(r) +
         "; the model expected EVDB_OK" +
         (writes_may_lose(tx) ? "" : " (no concurrent writer could make it lose)"));
  }

  void append_bad(const Op& op, Slot& s, TxModel& tx) {
    EventData data = event_shape(0);
    if (op.ev == 0) data.type_name.clear();
    if (op.ev == 1) data.payload = "{\"n\": ";
    if (op.ev == 2) data.time_us = -5;
    evdb_event ev = c_event(data);
    const int64_t head = model_->view_head(tx);
    Result r = call(
        s, [&](evdb_error* e) { return evdb_append_event(s.tx, nullptr, head, &ev, nullptr, e); });
    trace(op, status_text(r));
    if (!tx.rw) return check_read_only_write(r, "append_event", true);
    if (doomed_failure(tx, r)) return;
    if (r.code != EVDB_INVALID_ARGUMENT)
      fail(std::string("append_event with a ") + kBadEvents[op.ev % 3] + " gave " + status_text(r) +
           "; the contract says EVDB_INVALID_ARGUMENT and nothing written");
  }

  void projection_write(const Op& op, Slot& s, TxModel& tx) {
    const bool init = op.kind == K::Init;
    const int32_t id = kProjIds[static_cast<size_t>(op.proj)];
    const bool may_wait = tx.rw && writes_may_lose(tx) && model_->other_open_rw(tx.id) > 0;
    evdb_ctx* ctx = wait_ctx(may_wait);
    int64_t got = -1;
    Result r = call(s, [&](evdb_error* e) {
      return init ? evdb_init_projection_version(s.tx, ctx, id, &got, e)
                  : evdb_set_projection_version(s.tx, ctx, id, op.v, e);
    });
    trace(op, status_text(r) + (init && r.code == EVDB_OK ? " " + std::to_string(got) : ""));
    const char* name = init ? "init_projection_version" : "set_projection_version";
    if (!tx.rw) return check_read_only_write(r, name, !init && op.v < 0);
    if (!init && op.v < 0) {
      if (r.code != EVDB_INVALID_ARGUMENT)
        fail("set_projection_version(" + std::to_string(id) + ", " + std::to_string(op.v) +
             ") gave " + status_text(r) + "; a negative version is EVDB_INVALID_ARGUMENT");
      return;
    }
    tx.attempted_write = true;
    if (doomed_failure(tx, r)) return;
    if (is_loss(r.code) && writes_may_lose(tx)) {
      check_loss_code(tx, r, false, name);
      tx.doom = r.code;
      ++stats().lost_writes;
      trace("   (lost to a concurrent writer: allowed, " + std::string(profile_name(profile_)) +
            " profile)");
      return;
    }
    std::optional<int64_t> cur = model_->view_projection(tx, id);
    if (init) {
      int64_t want = model_->init_projection(tx, id);
      if (r.code != EVDB_OK || got != want)
        fail("init_projection_version(" + std::to_string(id) + ") gave " + status_text(r) + " " +
             std::to_string(got) + "; the model expected EVDB_OK " + std::to_string(want) +
             (cur ? " (it exists: init never resets)" : " (created at 0)"));
      return;
    }
    if (!model_->set_projection(tx, id, op.v)) {
      if (r.code != EVDB_NOT_FOUND)
        fail("set_projection_version(" + std::to_string(id) + ") gave " + status_text(r) +
             "; never initialised in the transaction's view: EVDB_NOT_FOUND");
      return;
    }
    if (r.code != EVDB_OK)
      fail("set_projection_version(" + std::to_string(id) + ", " + std::to_string(op.v) +
           ") gave " + status_text(r) + "; the model expected EVDB_OK");
  }

  void listen(const Op& op) {
    if (listeners_.size() >= static_cast<size_t>(kListeners)) return;
    DB& db = dbs_[static_cast<size_t>(op.handle % static_cast<int>(dbs_.size()))];
    auto rec = std::make_unique<test_support::Listening>(db);
    if (!rec->ready()) {
      Status st = rec->stop();
      fail("listen did not call on_ready within 30 s (ended with " +
           std::string(evdb_status_name(st.code())) + " " + st.message() + ")");
    }
    int64_t from = model_->committed_head();
    tx_name_.clear();
    trace(op, "ready at head " + std::to_string(from));
    listeners_.push_back(std::make_unique<Listener>(Listener{std::move(rec), from}));
  }

  // A read-only transaction on each handle sees exactly the committed state.
  void check_whole_store() {
    for (size_t h = 0; h < dbs_.size(); ++h) {
      Slot s;
      s.handle = static_cast<int>(h);
      evdb_tx* raw = nullptr;
      Result r = call(s, [&](evdb_error* e) {
        return evdb_begin(dbs_[h].raw(), nullptr, EVDB_TX_READ_ONLY, &raw, e);
      });
      if (r.code != EVDB_OK) fail("final check: begin failed: " + status_text(r));
      s.tx = raw;
      TxModel& tx = model_->begin(false);
      struct Guard {
        CaseRun* self;
        Slot& s;
        int id;
        ~Guard() {
          evdb_rollback(s.tx);
          s.tx = nullptr;
          self->model_->end(id);
        }
      } guard{this, s, tx.id};
      int64_t head = -1;
      r = call(s, [&](evdb_error* e) { return evdb_read_system_version(s.tx, nullptr, &head, e); });
      if (r.code != EVDB_OK || head != model_->committed_head())
        fail("final check (handle " + std::to_string(h) + "): head " + std::to_string(head) + " " +
             status_text(r) + ", committed head is " + std::to_string(model_->committed_head()));
      std::vector<LoggedEvent*> want = model_->view_events(tx);
      std::vector<evdb_event> buf(want.size() + 1, blank_event());
      size_t n_out = 0;
      r = call(s, [&](evdb_error* e) {
        return evdb_read_events(s.tx, nullptr, 0, 0, buf.data(), buf.size(), &n_out, e);
      });
      if (r.code != EVDB_OK || n_out != want.size())
        fail("final check (handle " + std::to_string(h) + "): the log holds " +
             std::to_string(n_out) + " events (" + status_text(r) + "), the model " +
             std::to_string(want.size()));
      for (size_t i = 0; i < want.size(); ++i) check_event(buf[i], *want[i], "final check");
      for (int32_t id : kProjIds) {
        int64_t got = -1;
        r = call(s, [&](evdb_error* e) {
          return evdb_read_projection_version(s.tx, nullptr, id, &got, e);
        });
        std::optional<int64_t> w = model_->view_projection(tx, id);
        if (w ? (r.code != EVDB_OK || got != *w) : r.code != EVDB_NOT_FOUND)
          fail("final check (handle " + std::to_string(h) + "): projection " + std::to_string(id) +
               " is " + status_text(r) + " " + std::to_string(got) + ", the model has " +
               (w ? std::to_string(*w) : std::string("none")));
      }
    }
    trace("end: the store holds exactly the model's committed log and projections");
    ++stats().cases;
    stats().events += static_cast<long>(model_->log().size());
    stats().max_head = std::max(stats().max_head, model_->committed_head());
  }

  // A last event, committed alone: every listener must receive it.
  void append_marker() {
    Slot s;
    evdb_tx* raw = nullptr;
    Result r = call(s, [&](evdb_error* e) {
      return evdb_begin(dbs_[0].raw(), nullptr, EVDB_TX_READ_WRITE, &raw, e);
    });
    if (r.code != EVDB_OK) fail("marker: begin failed: " + status_text(r));
    TxModel& tx = model_->begin(true);
    EventData data{"Marker", "{}", "", 1};
    evdb_event ev = c_event(data);
    int64_t head = model_->committed_head(), nv = -1;
    r = call(s, [&](evdb_error* e) { return evdb_append_event(raw, nullptr, head, &ev, &nv, e); });
    if (r.code != EVDB_OK) {
      evdb_rollback(raw);
      fail("marker: append failed: " + status_text(r));
    }
    model_->append(tx, LoggedEvent{nv, data, std::nullopt});
    r = call(s, [&](evdb_error* e) { return evdb_commit(raw, nullptr, e); });
    if (r.code != EVDB_OK) fail("marker: commit failed: " + status_text(r));
    std::string problem = model_->apply_commit(tx);
    model_->end(tx.id);
    if (!problem.empty()) fail("marker: " + problem);
    trace("end: marker event " + std::to_string(nv) + " committed");
  }

  Workers workers_;
  int threads_;
  std::string uri_;
  std::vector<DB> dbs_;
  Profile profile_ = Profile::Serializable;
  std::unique_ptr<Model> model_;
  std::array<Slot, kSlots> slots_{};
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<Context> ctx_;
  std::vector<std::string> log_;
  int step_ = 0;
  std::string tx_name_;
};

// How many worker threads and handles a case uses.
struct Setup {
  int threads = 1;
  int handles = 1;
};
void showValue(const Setup& s, std::ostream& os) {
  os << s.threads << " worker thread(s), " << s.handles << " handle(s) on the store";
}

// The property: any generated history matches the model.
void property() {
  const Setup setup = *rc::gen::exec([] {
    return Setup{*rc::gen::inRange(1, kThreads + 1), *rc::gen::inRange(1, kHandles + 1)};
  });
  const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
  std::unique_ptr<CaseRun> run;
  try {
    run = std::make_unique<CaseRun>(setup.threads, setup.handles);
  } catch (const evdb::Error& e) {
    RC_FAIL(std::string("cannot open the store: ") + e.what());
  }
  try {
    for (const Op& op : ops) run->run(op);
    run->finish();
  } catch (const Mismatch& m) {
    std::string msg = "MODEL MISMATCH: " + m.what + "\nwhat ran (" + std::to_string(ops.size()) +
                      " operations generated):\n";
    for (const std::string& line : run->log()) msg += "  " + line + "\n";
    RC_FAIL(msg);
  }
}

std::string reproduce_line(uint64_t seed) {
  const Settings& s = settings();
  std::string line =
      "reproduce: evdb_model_test --uri '" + conformance::redact_uri(s.uri_template) + "'";
  if (!s.driver_file.empty()) line += " --driver '" + s.driver_file + "'";
  line += " --seed " + std::to_string(seed) + " --cases " + std::to_string(s.cases) +
          " --max-size " + std::to_string(s.max_size);
  return line;
}

// Receives RapidCheck's progress events; the test prints its own summary.
struct QuietListener : rc::detail::TestListener {
  void onTestCaseFinished(const rc::detail::CaseDescription&) override {}
  void onShrinkTried(const rc::detail::CaseDescription&, bool) override {}
  void onTestFinished(const rc::detail::TestMetadata&, const rc::detail::TestResult&) override {}
};

TEST(Model, RandomHistoriesMatchTheContract) {
  const Settings& s = settings();
  ASSERT_FALSE(s.uri_template.empty()) << "--uri is required";
  const auto start = std::chrono::steady_clock::now();
  uint64_t seed = s.seed;
  int rounds = 0;
  QuietListener quiet;
  for (;;) {
    rc::detail::TestParams params;
    params.seed = seed;
    params.maxSuccess = s.cases;
    params.maxSize = s.max_size;
    rc::detail::TestMetadata meta;
    meta.id = meta.description = "random histories on " + conformance::redact_uri(s.uri_template);
    // RC_PARAMS="reproduce=…" (printed on failure) replays a shrunk case.
    auto result = rc::detail::checkProperty(rc::detail::toProperty(&property), meta, params, quiet,
                                            rc::detail::configuration().reproduce);
    ++rounds;
    if (result.template is<rc::detail::FailureResult>()) {
      const auto& failure = result.template get<rc::detail::FailureResult>();
      std::ostringstream msg;
      rc::detail::printResultMessage(result, msg);
      rc::detail::Configuration replay;
      replay.reproduce[meta.id] = failure.reproduce;
      FAIL() << msg.str() << "\n"
             << reproduce_line(seed) << "\n"
             << "replay only the shrunk case: RC_PARAMS=\""
             << rc::detail::configToMinimalString(replay) << "\" "
             << reproduce_line(seed).substr(11) << "\n";
    }
    if (!result.template is<rc::detail::SuccessResult>()) {
      std::ostringstream msg;
      rc::detail::printResultMessage(result, msg);
      FAIL() << msg.str();
    }
    Stats& st = stats();
    std::cout << "seed " << seed << ": " << s.cases << " random histories passed (" << st.ops
              << " operations run, " << st.skipped << " skipped for want of a transaction, "
              << st.commits << " commits, " << st.lost_commits << " lost commits, "
              << st.lost_writes << " lost writes, " << st.lost_reads << " lost reads, " << st.waits
              << " begins that waited, " << st.events << " events committed, longest log "
              << st.max_head << ")" << std::endl;
    st = Stats{};
    if (s.seconds <= 0 ||
        std::chrono::steady_clock::now() - start >= std::chrono::seconds(s.seconds))
      break;
    ++seed;
  }
  if (s.seconds > 0)
    std::cout << rounds << " seed(s), " << rounds * s.cases << " histories in "
              << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                  start)
                     .count()
              << " s" << std::endl;
}

}  // namespace
}  // namespace evdb::model

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  auto& s = evdb::model::settings();
  auto usage = [&](const std::string& why) {
    std::cerr << "evdb_model_test: " << why
              << "\nusage: evdb_model_test --uri URI [--driver FILE] [--seed N] [--cases N]"
                 " [--max-size N] [--seconds N] [--wait-ms N] [gtest flags]\n";
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage("missing value after " + a);
    std::string v = argv[++i];
    try {
      if (a == "--uri") {
        s.uri_template = v;
      } else if (a == "--driver") {
        s.driver_file = v;
      } else if (a == "--seed") {
        s.seed = std::stoull(v);
      } else if (a == "--cases") {
        s.cases = std::stoi(v);
      } else if (a == "--max-size") {
        s.max_size = std::stoi(v);
      } else if (a == "--seconds") {
        s.seconds = std::stoi(v);
      } else if (a == "--wait-ms") {
        s.wait_ms = std::stoi(v);
      } else {
        return usage("unknown argument " + a);
      }
    } catch (const std::exception&) {
      return usage("bad number for " + a + ": " + v);
    }
  }
  if (s.uri_template.empty()) return usage("--uri is required");
  // RapidCheck reads RC_PARAMS once; without it, it announces a random seed
  // of its own that this test does not use.
  if (std::getenv("RC_PARAMS") == nullptr)
    setenv("RC_PARAMS", ("seed=" + std::to_string(s.seed)).c_str(), 1);
  if (!s.driver_file.empty()) {
    evdb_error err = EVDB_ERROR_INIT;
    if (evdb_driver_load_file(s.driver_file.c_str(), &err) != EVDB_OK) {
      std::cerr << "evdb_model_test: cannot load " << s.driver_file << ": " << err.message << "\n";
      evdb_error_release(&err);
      return 2;
    }
  }
  return RUN_ALL_TESTS();
}
