// listen_hub.cpp — one listener per handle, fanned out to every evdb_listen
// (see listen_hub.hpp; docs/contract.md §2.5 LSN-1 … LSN-4).
#include "listen_hub.hpp"

#include <evdb/driver.h>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <ctime>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>

#include "context.hpp"
#include "errors.hpp"
#include "handles.hpp"

namespace evdb::loader {

namespace {

// How many versions a subscriber copies out of the ring, and reads from the
// log, per step: its callbacks then run with no lock held and no
// transaction open.
constexpr size_t kStep = 256;
// How long a subscriber catching up from the log waits before it tries again
// after losing the connection; the hub decides when the store is gone for
// good (its listener's reconnect limit, OP-23).
constexpr int64_t kCatchUpRetryUs = 50 * 1000;

// Sleeps while *word == seen, until woken (futex_wake_all), or until
// `deadline_ns` on the steady clock (0: none). May return early: callers
// loop.
void futex_wait(std::atomic<uint32_t>* word, uint32_t seen, int64_t deadline_ns) {
  timespec ts{};
  timespec* until = nullptr;
  if (deadline_ns != 0) {
    ts.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000);
    until = &ts;
  }
  // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, the clock of
  // std::chrono::steady_clock (steady_now_ns).
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
          seen, until, nullptr, FUTEX_BITSET_MATCH_ANY);
}

// Wakes every thread sleeping in futex_wait on `word`: one system call for
// all of them, and none of them has a mutex to take when it wakes.
void futex_wake_all(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT_MAX,
          nullptr, nullptr, 0);
}

// A word that subscribers sleep on and that changes at every event they may
// be waiting for (the hub's state, a new version, a context's cancel or
// deadline). Sleeping subscribers are counted, so that a change nobody waits
// for costs no system call.
class Signal {
 public:
  // Tells every sleeper something changed (after the change was stored).
  void raise() {
    word_.fetch_add(1);
    if (sleepers_.load() > 0) futex_wake_all(&word_);
  }
  // Returns when `ready()` holds (EVDB_OK) or ctx ends (its status).
  // ready() must read state stored before the raise() that announces it.
  template <class Ready>
  evdb_status wait(const evdb_ctx* ctx, Ready ready) {
    while (true) {
      uint32_t seen = word_.load();
      if (ctx != nullptr && ctx->canceled.load(std::memory_order_acquire)) return EVDB_CANCELED;
      if (ready()) return EVDB_OK;
      int64_t d = ctx != nullptr ? ctx->deadline_ns.load(std::memory_order_acquire) : 0;
      if (d != 0 && steady_now_ns() >= d) return EVDB_DEADLINE_EXCEEDED;
      sleepers_.fetch_add(1);
      futex_wait(&word_, seen, d);  // returns at once if a raise() came after `seen`
      sleepers_.fetch_sub(1);
    }
  }

 private:
  std::atomic<uint32_t> word_{0};
  std::atomic<int> sleepers_{0};
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
};

}  // namespace

// One running listener of a handle and the ring of versions it has seen.
class Hub {
 public:
  explicit Hub(evdb_db* db) : db_(db), ctx_(evdb_ctx_new()) {}
  ~Hub() { evdb_ctx_free(ctx_); }
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Starts the listener's thread; false (err filled) when it cannot.
  bool start(evdb_error* err) {
    if (ctx_ == nullptr) {
      fail(err, EVDB_INTERNAL, "listen: out of memory");
      return false;
    }
    try {
      thread_ = std::thread([this] { run(); });
    } catch (const std::system_error& e) {
      fail(err, EVDB_INTERNAL,
           std::string("listen: cannot start the listening thread: ") + e.what());
      return false;
    }
    return true;
  }
  // Tells the listener to end (no subscriber left); it ends within the
  // driver's cancel bound (DRV-38).
  void stop() { evdb_ctx_cancel(ctx_); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool ended() const { return state_.load(std::memory_order_acquire) == kEnded; }
  bool ready() const { return state_.load(std::memory_order_acquire) != kStarting; }
  // Why the listener ended (valid once ended()).
  evdb_status end_status() const { return end_status_; }
  const std::string& end_message() const { return end_message_; }
  uint64_t pushed() const { return pushed_.load(std::memory_order_acquire); }
  const char* driver_name() const { return db_->driver->table.name; }

  // What every subscriber of this hub sleeps on.
  Signal& signal() { return signal_; }

  // Where a new subscriber starts: the next position.
  uint64_t position() const { return pushed(); }

  // What a subscriber at position `next` gets: the versions from there, up
  // to kStep, appended to `out`; or, when the ring has moved on past `next`
  // (overflow), nothing, with `behind` set: the position to rejoin at and the
  // newest version.
  struct Behind {
    bool overflow = false;
    uint64_t rejoin = 0;
    int64_t newest = 0;
  };
  void take(uint64_t next, std::vector<int64_t>& out, Behind& behind) {
    std::lock_guard lock(ring_mu_);
    uint64_t p = pushed_.load(std::memory_order_relaxed);
    if (p - next > kListenBuffer) {
      behind = {true, p, ring_[(p - 1) % kListenBuffer]};
      return;
    }
    uint64_t end = std::min<uint64_t>(p, next + kStep);
    for (uint64_t i = next; i < end; ++i) out.push_back(ring_[i % kListenBuffer]);
  }

 private:
  enum State : int { kStarting, kReady, kEnded };

  static evdb_status on_ready(void* self, evdb_error*) {
    auto* h = static_cast<Hub*>(self);
    h->state_.store(kReady, std::memory_order_release);
    h->wake();
    return EVDB_OK;
  }
  // Never blocks on a subscriber: a slow one falls behind and catches up
  // from the log (LSN-3).
  static evdb_status on_inserted(void* self, int64_t version, evdb_error*) {
    auto* h = static_cast<Hub*>(self);
    {
      std::lock_guard lock(h->ring_mu_);
      uint64_t p = h->pushed_.load(std::memory_order_relaxed);
      h->ring_[p % kListenBuffer] = version;
      h->pushed_.store(p + 1, std::memory_order_release);
    }
    h->wake();
    return EVDB_OK;
  }

  void run() {
    evdb_error e = EVDB_ERROR_INIT;
    evdb_status s = db_->listen(db_, ctx_, on_ready, on_inserted, this, &e);
    if (s == EVDB_OK) {
      s = EVDB_INTERNAL;
      end_message_ = std::string("listen (") + driver_name() + "): the listener returned OK";
    } else {
      end_message_ = e.message != nullptr ? e.message : "listen: ended without a message";
    }
    evdb_error_release(&e);
    end_status_ = s;
    state_.store(kEnded, std::memory_order_release);
    wake();
  }

  // Wakes every subscriber (state or ring changed).
  void wake() { signal_.raise(); }

  evdb_db* db_;
  evdb_ctx* ctx_;  // owned; cancelled by stop()
  std::thread thread_;
  std::atomic<int> state_{kStarting};
  evdb_status end_status_ = EVDB_OK;  // written before state_ = kEnded
  std::string end_message_;

  std::mutex ring_mu_;
  std::vector<int64_t> ring_ = std::vector<int64_t>(kListenBuffer);
  std::atomic<uint64_t> pushed_{0};  // versions ever pushed (written under ring_mu_)

  Signal signal_;

 public:
  size_t members = 0;  // evdb_listen calls on this hub; guarded by ListenHubs::mu_
};

namespace {

// One evdb_listen call: its callbacks, its context, and where it is in the
// hub's stream.
class Subscriber {
 public:
  Subscriber(evdb_db* db, Hub& hub, evdb_ctx* ctx, evdb_on_inserted_fn on_inserted, void* user,
             evdb_error* err)
      : db_(db), hub_(hub), ctx_(ctx), on_inserted_(on_inserted), user_(user), err_(err) {
    ctx_add_waiter(ctx_, &waiter_);
  }
  ~Subscriber() { ctx_remove_waiter(ctx_, &waiter_); }
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Waits until the hub's subscription is active; then takes its place in
  // the stream (every version the hub sees from now on is ours).
  evdb_status wait_ready() {
    evdb_status s = hub_.signal().wait(ctx_, [&] { return hub_.ready(); });
    if (s != EVDB_OK) return ended(s);
    if (hub_.ended()) return hub_failed();
    // Our place in the stream, then the head: every version the hub pushes
    // from here on is either at most the head (committed before this listen
    // started: skipped, OP-20) or after it (delivered); none after the head
    // was pushed before our place.
    next_ = hub_.position();
    int64_t head = 0;
    evdb_tx* tx = nullptr;
    s = evdb_begin(db_, ctx_, EVDB_TX_READ_ONLY, &tx, err_);
    if (s == EVDB_OK) {
      s = evdb_read_system_version(tx, ctx_, &head, err_);
      evdb_rollback(tx);
    }
    if (s == EVDB_CANCELED || s == EVDB_DEADLINE_EXCEEDED) return ended(s);
    if (s != EVDB_OK) return s;
    head_ = head;
    need_ = head + 1;
    return EVDB_OK;
  }

  // Delivers until the context ends, a callback fails or the hub ends.
  evdb_status run() {
    std::vector<int64_t> batch;
    batch.reserve(kStep);
    while (true) {
      evdb_status s =
          hub_.signal().wait(ctx_, [&] { return hub_.pushed() > next_ || hub_.ended(); });
      if (s != EVDB_OK) return ended(s);
      while (true) {
        if (s = evdb_ctx_status(ctx_); s != EVDB_OK) return ended(s);
        batch.clear();
        Hub::Behind behind;
        hub_.take(next_, batch, behind);
        if (behind.overflow) {
          if (s = catch_up(need_, behind.newest); s != EVDB_OK) return s;
          next_ = behind.rejoin;
          need_ = std::max(need_, behind.newest + 1);
          continue;
        }
        if (batch.empty()) break;
        for (int64_t v : batch) {
          ++next_;
          if (v <= head_) continue;  // committed before this listen started (OP-20)
          if (s = on_inserted_(user_, v, err_); s != EVDB_OK) return s;
          need_ = v + 1;
        }
      }
      if (hub_.ended()) return hub_failed();
    }
  }

 private:
  // Reads the versions in [from, upto] from the log and delivers them: the
  // ones this subscriber lost when the ring moved past it. A read-only
  // transaction per kStep versions; callbacks run after it ended.
  evdb_status catch_up(int64_t from, int64_t upto) {
    std::vector<evdb_event> buf(kStep, evdb_event EVDB_EVENT_INIT);
    std::vector<int64_t> versions;
    bool done = from > upto;
    while (!done) {
      if (evdb_status s = evdb_ctx_status(ctx_); s != EVDB_OK) return ended(s);
      versions.clear();
      size_t got = 0;
      evdb_tx* tx = nullptr;
      evdb_status s = evdb_begin(db_, ctx_, EVDB_TX_READ_ONLY, &tx, err_);
      if (s == EVDB_OK) {
        s = evdb_read_events(tx, ctx_, from, 0, buf.data(), buf.size(), &got, err_);
        for (size_t i = 0; s == EVDB_OK && i < got && buf[i].version <= upto; ++i)
          versions.push_back(buf[i].version);
        evdb_rollback(tx);
      }
      if (s == EVDB_CONNECTION && !hub_.ended()) {
        // The hub's listener is reconnecting too, or will give up (OP-23).
        if (s = host_api()->ctx_sleep(ctx_, kCatchUpRetryUs); s != EVDB_OK) return ended(s);
        continue;
      }
      if (s != EVDB_OK) return s;
      done = got < buf.size() || versions.size() < got;
      if (!done) from = versions.back() + 1;
      for (int64_t v : versions)
        if (s = on_inserted_(user_, v, err_); s != EVDB_OK) return s;
    }
    return EVDB_OK;
  }

  // The context ended: its status, with the message listeners give.
  evdb_status ended(evdb_status s) {
    return fail(err_, s,
                std::string("listen (") + hub_.driver_name() +
                    "): " + (s == EVDB_CANCELED ? "cancelled" : "deadline exceeded"));
  }
  // The hub's listener ended: every subscriber ends with its error.
  evdb_status hub_failed() { return fail(err_, hub_.end_status(), hub_.end_message()); }

  evdb_db* db_;
  Hub& hub_;
  evdb_ctx* ctx_;  // the caller's (may be NULL)
  // Woken by ctx_ on cancel and on a deadline change: raises the hub's
  // signal (every subscriber of the hub then looks; cancels are rare).
  struct Waiter : CtxWaiter {
    Hub* hub;
  } waiter_{{[](CtxWaiter* w) { static_cast<Waiter*>(w)->hub->signal().raise(); }}, &hub_};
  evdb_on_inserted_fn on_inserted_;
  void* user_;
  evdb_error* err_;
  uint64_t next_ = 0;  // the hub position of the next version to deliver
  int64_t head_ = 0;   // the head when this listen started
  int64_t need_ = 0;   // the first version not delivered yet
};

}  // namespace

ListenHubs::~ListenHubs() {
  // Every listen has ended (OP-2), and the last one joined its hub; a hub
  // still here belongs to a listen that outlived evdb_close.
  std::shared_ptr<Hub> hub;
  {
    std::lock_guard lock(mu_);
    hub = std::move(live_);
  }
  if (hub != nullptr) {
    hub->stop();
    hub->join();
  }
}

std::shared_ptr<Hub> ListenHubs::join(evdb_db* db, evdb_error* err, evdb_status& status) {
  std::lock_guard lock(mu_);
  // A hub whose listener failed keeps its members until they have returned
  // its error (the last one joins it); later listens start afresh (LSN-4).
  if (live_ != nullptr && live_->ended()) live_.reset();
  if (live_ == nullptr) {
    auto hub = std::make_shared<Hub>(db);
    if (!hub->start(err)) {
      status = EVDB_INTERNAL;
      return nullptr;
    }
    live_ = std::move(hub);
  }
  ++live_->members;
  return live_;
}

void ListenHubs::leave(const std::shared_ptr<Hub>& hub) {
  {
    std::lock_guard lock(mu_);
    if (--hub->members > 0) return;
    if (hub == live_) live_.reset();
  }
  // The last listen stops the listener and waits for its thread, so no
  // thread of the handle outlives its last listen (evdb_close finds none),
  // and the driver's cancel bound (DRV-38) stays the bound of this listen.
  hub->stop();
  hub->join();
}

evdb_status ListenHubs::listen(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                               evdb_on_inserted_fn on_inserted, void* user, evdb_error* err) {
  if (evdb_status s = evdb_ctx_status(ctx); s != EVDB_OK)
    return fail(err, s,
                std::string("listen (") + db->driver->table.name +
                    "): " + (s == EVDB_CANCELED ? "cancelled" : "deadline exceeded"));
  evdb_status s = EVDB_OK;
  std::shared_ptr<Hub> hub = join(db, err, s);
  if (hub == nullptr) return s;
  {
    Subscriber sub(db, *hub, ctx, on_inserted, user, err);
    s = sub.wait_ready();
    if (s == EVDB_OK && on_ready != nullptr) s = on_ready(user, err);
    if (s == EVDB_OK) s = sub.run();
  }
  leave(hub);
  return s;
}

}  // namespace evdb::loader
