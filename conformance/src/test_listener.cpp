// test_listener.cpp — Listener.* (docs/contract.md §2.5: ready before events,
// each commit once in order, rollbacks silent, other handles' writes seen,
// cancel within 100 ms, an error from on_ready or on_inserted ends listen;
// many listens on one handle, a cancelled one among them, a slow one).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "harness.hpp"

namespace evdb::conformance {
int link_listener() {
  return 0;
}

namespace {

using Clock = std::chrono::steady_clock;

// Liveness bound for waiting on deliveries: not a speed assertion, only how
// long a test waits before it declares an event lost.
constexpr auto kLiveness = std::chrono::seconds(10);

// The contract's bound for listen to return after cancel, plus scheduling
// slack for a loaded test machine (and sanitizers): 100 ms + 150 ms.
constexpr auto kCancelContract = std::chrono::milliseconds(100);
constexpr auto kCancelBound = std::chrono::milliseconds(250);

// Runs db.listen() on its own thread and records what it delivers.
class ListenThread {
 public:
  // `hook` (optional) is called for each delivered version; a non-OK Status
  // it returns ends listen.
  explicit ListenThread(evdb::DB& db, std::function<evdb::Status(int64_t)> hook = {})
      : db_(db), hook_(std::move(hook)) {
    thread_ = std::thread([this] { run(); });
  }
  ~ListenThread() {
    ctx_.cancel();
    if (thread_.joinable()) thread_.join();
  }

  // Waits until on_ready ran (or listen ended).
  bool wait_ready() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kLiveness, [&] { return ready_ || done_; }) && ready_;
  }
  // Waits until at least n versions were delivered (or listen ended).
  bool wait_count(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kLiveness, [&] { return got_.size() >= n || done_; }) &&
           got_.size() >= n;
  }
  // Waits until `v` was delivered (or listen ended).
  bool wait_version(int64_t v) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kLiveness, [&] {
      for (int64_t g : got_)
        if (g == v) return true;
      return done_;
    }) && std::find(got_.begin(), got_.end(), v) != got_.end();
  }
  // Waits until listen returned.
  bool wait_done() {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kLiveness, [&] { return done_; });
  }
  // Cancels, waits for listen to return; returns the time from cancel() to
  // listen's return.
  Clock::duration cancel_and_join() {
    Clock::time_point t0 = Clock::now();
    ctx_.cancel();
    thread_.join();
    return returned_at_ - t0;
  }
  std::vector<int64_t> versions() {
    std::lock_guard<std::mutex> l(mu_);
    return got_;
  }
  int ready_calls() {
    std::lock_guard<std::mutex> l(mu_);
    return ready_calls_;
  }
  // listen's result (valid once it returned).
  const evdb::Status& result() const { return result_; }
  bool ready_before_first_event() const { return ready_before_events_; }
  evdb::Context& ctx() { return ctx_; }

 private:
  void run() {
    try {
      result_ = db_.listen(
          ctx_,
          [&] {
            std::lock_guard<std::mutex> l(mu_);
            ready_ = true;
            ++ready_calls_;
            cv_.notify_all();
          },
          [&](int64_t v) -> evdb::Status {
            {
              std::lock_guard<std::mutex> l(mu_);
              if (!ready_) ready_before_events_ = false;
              got_.push_back(v);
              cv_.notify_all();
            }
            return hook_ ? hook_(v) : evdb::Status();
          });
    } catch (const evdb::Error& e) {
      result_ = evdb::Status::from(e);
    } catch (const std::exception& e) {
      result_ = evdb::Status(EVDB_INTERNAL, std::string("exception from listen: ") + e.what());
    }
    returned_at_ = Clock::now();
    std::lock_guard<std::mutex> l(mu_);
    done_ = true;
    cv_.notify_all();
  }

  evdb::DB& db_;
  std::function<evdb::Status(int64_t)> hook_;
  evdb::Context ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool ready_ = false, done_ = false, ready_before_events_ = true;
  int ready_calls_ = 0;
  std::vector<int64_t> got_;
  evdb::Status result_;
  Clock::time_point returned_at_{};
  std::thread thread_;
};

std::string listed(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}

TEST_F(Listener, ReadyThenEachCommitOnceInOrder) {
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready()) << "contract: on_ready is called once the subscription is active; "
                                 "listen returned "
                              << evdb_status_name(l.result().code()) << " " << l.result().message();
  std::vector<int64_t> want;
  for (int i = 0; i < 5; ++i) want.push_back(append());
  ASSERT_TRUE(l.wait_count(want.size()))
      << "contract: every event committed after on_ready is delivered; got " << listed(l.versions())
      << ", want " << listed(want);
  // A marker proves nothing more is on its way before we compare.
  want.push_back(append());
  ASSERT_TRUE(l.wait_version(want.back()));
  EXPECT_EQ(l.versions(), want) << "contract: on_inserted once per committed event, in order";
  EXPECT_TRUE(l.ready_before_first_event()) << "contract: on_ready comes before any event";
  EXPECT_EQ(l.ready_calls(), 1) << "contract: on_ready is called once";
  l.cancel_and_join();
  EXPECT_EQ(l.result().code(), EVDB_CANCELED) << l.result().message();
}

TEST_F(Listener, MultiAppendTransactionDeliversEach) {
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  std::vector<int64_t> want = db().tx_rw([](evdb::TxRW& tx) {
    std::vector<int64_t> v{tx.append_event(0, make_event())};
    for (int i = 0; i < 3; ++i) v.push_back(tx.append_event(v.back(), make_event()));
    return v;
  });
  want.push_back(append());
  ASSERT_TRUE(l.wait_version(want.back())) << "got " << listed(l.versions());
  EXPECT_EQ(l.versions(), want)
      << "contract: one on_inserted per event of a multi-append commit, in order";
}

TEST_F(Listener, EventsBeforeStartNotDelivered) {
  append_n(3);
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  int64_t v = append();
  ASSERT_TRUE(l.wait_version(v)) << "got " << listed(l.versions());
  EXPECT_EQ(l.versions(), std::vector<int64_t>{v})
      << "decision (docs/conformance.md): a listener delivers events committed after it "
         "started, not the history before it";
}

TEST_F(Listener, RollbacksAreSilent) {
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  // Rolled back by a returned error, by an exception and by evdb_rollback.
  evdb::Status s = db().tx_rw([](evdb::TxRW& tx) {
    tx.append_event(0, make_event("Gone"));
    return evdb::Status(EVDB_INTERNAL, "conformance: roll back");
  });
  EXPECT_EQ(s.code(), EVDB_INTERNAL);
  try {
    db().tx_rw([](evdb::TxRW& tx) {
      tx.append_event(0, make_event("Gone"));
      throw std::runtime_error("conformance: roll back");
    });
  } catch (const std::runtime_error&) {
  }
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &tx, err));
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = "Gone";
  e.type_name_len = 4;
  e.payload = "{}";
  e.payload_len = 2;
  EXPECT_C_CODE(EVDB_OK, evdb_append_event(tx, nullptr, 0, &e, nullptr, err));
  evdb_rollback(tx);
  int64_t v = append(make_event("Kept"));
  ASSERT_TRUE(l.wait_version(v)) << "got " << listed(l.versions());
  EXPECT_EQ(l.versions(), std::vector<int64_t>{v})
      << "contract: rolled-back appends are never delivered";
}

TEST_F(Listener, VersionMismatchNotNotified) {
  append();
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  EXPECT_CODE(EVDB_VERSION_MISMATCH,
              db().tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event("Stale")); }));
  EXPECT_CODE(EVDB_VERSION_MISMATCH,
              db().tx_rw([](evdb::TxRW& tx) { tx.append_event(5, make_event("Ahead")); }));
  int64_t v = append();
  ASSERT_TRUE(l.wait_version(v)) << "got " << listed(l.versions());
  EXPECT_EQ(l.versions(), std::vector<int64_t>{v})
      << "contract: a failed append (VERSION_MISMATCH) is not notified";
}

TEST_F(Listener, ProjectionOnlyCommitsNotNotified) {
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(1);
    tx.set_projection_version(1, 3);
  });
  int64_t v = append();
  ASSERT_TRUE(l.wait_version(v));
  EXPECT_EQ(l.versions(), std::vector<int64_t>{v})
      << "contract: on_inserted is called per event; a commit without events delivers nothing";
}

TEST_F(Listener, OtherHandlesWritesSeen) {
  evdb::DB other = open_again();
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  std::vector<int64_t> want;
  for (int i = 0; i < 3; ++i) want.push_back(append(other, make_event("FromOther")));
  ASSERT_TRUE(l.wait_count(3)) << "contract: a listener sees commits made through other handles; "
                                  "got "
                               << listed(l.versions());
  EXPECT_EQ(l.versions(), want);
}

TEST_F(Listener, ConcurrentWritersDeliveredInOrder) {
  evdb::DB other = open_again();
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  auto writer = [&](evdb::DB& on) {
    for (int i = 0; i < 15; ++i) {
      while (true) {
        try {
          append(on, make_event());
          break;
        } catch (const evdb::Error& e) {
          if (!e.retryable()) throw;
        }
      }
    }
  };
  std::thread a([&] { writer(db()); });
  std::thread b([&] { writer(other); });
  a.join();
  b.join();
  int64_t marker = append();
  ASSERT_TRUE(l.wait_version(marker)) << "got " << listed(l.versions());
  std::vector<int64_t> want;
  for (const auto& e : all_events()) want.push_back(e.version);
  EXPECT_EQ(l.versions(), want)
      << "contract: every committed event delivered once, in version order";
}

TEST_F(Listener, TwoListenersBothSeeEverything) {
  ListenThread l1(db());
  evdb::DB other = open_again();
  ListenThread l2(other);
  ASSERT_TRUE(l1.wait_ready());
  ASSERT_TRUE(l2.wait_ready());
  std::vector<int64_t> want;
  for (int i = 0; i < 4; ++i) want.push_back(append());
  ASSERT_TRUE(l1.wait_count(4));
  ASSERT_TRUE(l2.wait_count(4));
  EXPECT_EQ(l1.versions(), want);
  EXPECT_EQ(l2.versions(), want);
}

TEST_F(Listener, CancelReturnsCanceledWithin100ms) {
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  append();
  ASSERT_TRUE(l.wait_count(1));
  auto elapsed = l.cancel_and_join();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  RecordProperty("cancel_ms", static_cast<int>(ms));
  EXPECT_EQ(l.result().code(), EVDB_CANCELED)
      << "contract: listen returns CANCELED when its context is cancelled; it returned "
      << evdb_status_name(l.result().code()) << " " << l.result().message();
  EXPECT_LT(elapsed, kCancelBound)
      << "contract: listen returns within " << kCancelContract.count()
      << " ms of cancel (asserted with " << (kCancelBound - kCancelContract).count()
      << " ms scheduling slack); it took " << ms << " ms";
}

TEST_F(Listener, CancelWhileIdle) {
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let it settle into a wait
  auto elapsed = l.cancel_and_join();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  RecordProperty("cancel_ms", static_cast<int>(ms));
  EXPECT_EQ(l.result().code(), EVDB_CANCELED) << l.result().message();
  EXPECT_LT(elapsed, kCancelBound) << "contract: listen returns within " << kCancelContract.count()
                                   << " ms of cancel, also while idle (asserted with "
                                   << (kCancelBound - kCancelContract).count()
                                   << " ms scheduling slack); it took " << ms << " ms";
}

TEST_F(Listener, AlreadyCanceledContext) {
  evdb::Context ctx;
  ctx.cancel();
  evdb::Status s = db().listen(
      ctx, [] {}, [](int64_t) {});
  EXPECT_EQ(s.code(), EVDB_CANCELED)
      << "contract: listen on a cancelled context returns CANCELED; got "
      << evdb_status_name(s.code());
}

TEST_F(Listener, DeadlineEndsListen) {
  evdb::Context ctx(std::chrono::milliseconds(150));
  evdb::Status s = db().listen(
      ctx, [] {}, [](int64_t) {});
  EXPECT_EQ(s.code(), EVDB_DEADLINE_EXCEEDED)
      << "contract: listen returns DEADLINE_EXCEEDED when its context's deadline passes; got "
      << evdb_status_name(s.code()) << " " << s.message();
}

TEST_F(Listener, CallbackErrorEndsListen) {
  ListenThread l(db(), [](int64_t v) {
    if (v >= 0) return evdb::Status(EVDB_UNSUPPORTED, "conformance: stop at first event");
    return evdb::Status();
  });
  ASSERT_TRUE(l.wait_ready());
  append();
  ASSERT_TRUE(l.wait_done()) << "contract: an error from on_inserted ends listen";
  EXPECT_EQ(l.result().code(), EVDB_UNSUPPORTED)
      << "contract: listen returns on_inserted's error; got "
      << evdb_status_name(l.result().code());
  EXPECT_NE(l.result().message().find("conformance: stop at first event"), std::string::npos)
      << "contract: … with its message; got: " << l.result().message();
  EXPECT_EQ(l.versions().size(), 1u) << "contract: nothing is delivered after the error";
}

TEST_F(Listener, CallbackErrorThroughCApi) {
  struct State {
    int ready = 0;
    int calls = 0;
  } st;
  // Append one event from another thread once ready.
  std::thread writer;
  auto on_ready = [](void* u, evdb_error*) -> evdb_status {
    ++static_cast<State*>(u)->ready;
    return EVDB_OK;
  };
  auto on_inserted = [](void* u, int64_t, evdb_error* err) -> evdb_status {
    ++static_cast<State*>(u)->calls;
    evdb_error_set(err, EVDB_CONFLICT, "conformance: C callback stops");
    return EVDB_CONFLICT;
  };
  std::atomic<bool> stop{false};
  writer = std::thread([&] {
    // Append until the listener has stopped (the first one may predate ready).
    while (!stop.load()) {
      try {
        append();
      } catch (const evdb::Error&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  evdb::Context ctx(std::chrono::seconds(10));
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_listen(db().raw(), ctx.raw(), on_ready, on_inserted, &st, &err);
  stop = true;
  writer.join();
  EXPECT_EQ(s, EVDB_CONFLICT) << "contract: evdb_listen returns on_inserted's status; got "
                              << evdb_status_name(s);
  EXPECT_EQ(err.code, EVDB_CONFLICT);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("conformance: C callback stops"), std::string::npos)
      << err.message;
  evdb_error_release(&err);
  EXPECT_EQ(st.ready, 1) << "contract: on_ready is called once";
  EXPECT_EQ(st.calls, 1) << "contract: listen ends at the first error";
}

// on_ready's error ends listen at once, on a quiet log, with that error: not
// at the next event, not at the deadline, and never taken for a lost
// connection (no reconnect, no second on_ready).
TEST_F(Listener, ReadyErrorEndsListenAtOnce) {
  struct State {
    int ready = 0;
    int calls = 0;
  } st;
  auto on_ready = [](void* u, evdb_error* err) -> evdb_status {
    ++static_cast<State*>(u)->ready;
    evdb_error_set(err, EVDB_CONFLICT, "conformance: on_ready refuses");
    return EVDB_CONFLICT;
  };
  auto on_inserted = [](void* u, int64_t, evdb_error*) -> evdb_status {
    ++static_cast<State*>(u)->calls;
    return EVDB_OK;
  };
  // The deadline only bounds a driver that ignores the error: it would then
  // end with DEADLINE_EXCEEDED (no event is ever appended).
  evdb::Context ctx(kLiveness);
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_listen(db().raw(), ctx.raw(), on_ready, on_inserted, &st, &err);
  EXPECT_EQ(s, EVDB_CONFLICT) << "contract: evdb_listen returns on_ready's status at once; got "
                              << evdb_status_name(s) << " " << (err.message ? err.message : "");
  EXPECT_EQ(err.code, EVDB_CONFLICT);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("conformance: on_ready refuses"), std::string::npos)
      << "contract: … with on_ready's message; got: " << err.message;
  evdb_error_release(&err);
  EXPECT_EQ(st.ready, 1) << "contract: on_ready's error is not a lost connection (no retry)";
  EXPECT_EQ(st.calls, 0) << "contract: nothing is delivered after on_ready's error";
}

TEST_F(Listener, ReadyExceptionEndsListenAtOnce) {
  struct ReadyFailed : std::runtime_error {
    ReadyFailed() : std::runtime_error("conformance: on_ready threw") {}
  };
  int calls = 0;
  evdb::Context ctx(kLiveness);
  try {
    evdb::Status s = db().listen(
        ctx, [] { throw ReadyFailed(); }, [&](int64_t) { ++calls; });
    ADD_FAILURE() << "contract: an exception from on_ready ends listen and is rethrown; listen "
                     "returned "
                  << evdb_status_name(s.code()) << " " << s.message();
  } catch (const ReadyFailed&) {
  }
  EXPECT_EQ(ctx.status(), EVDB_OK) << "contract: … at once, not at the deadline";
  EXPECT_EQ(calls, 0);
  // A Status from on_ready ends it the same way.
  evdb::Status s = db().listen(
      ctx, [] { return evdb::Status(EVDB_UNSUPPORTED, "conformance: not now"); },
      [&](int64_t) { ++calls; });
  EXPECT_EQ(s.code(), EVDB_UNSUPPORTED) << "contract: listen returns on_ready's Status; got "
                                        << evdb_status_name(s.code()) << " " << s.message();
  EXPECT_NE(s.message().find("conformance: not now"), std::string::npos) << s.message();
  EXPECT_EQ(calls, 0);
}

// evdb::Subscription: listens on its own thread from construction (returns
// once active), delivers every later commit, and cancels and joins when
// destroyed or stopped.
TEST_F(Listener, SubscriptionListensOnItsOwnThreadUntilDestroyed) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int64_t> got;
  std::thread::id caller = std::this_thread::get_id(), callback_thread;
  {
    evdb::Subscription sub(db(), [&](int64_t v) {
      std::lock_guard<std::mutex> l(mu);
      callback_thread = std::this_thread::get_id();
      got.push_back(v);
      cv.notify_all();
    });
    int64_t v1 = append();
    int64_t v2 = append();
    std::unique_lock<std::mutex> l(mu);
    ASSERT_TRUE(cv.wait_for(l, kLiveness, [&] { return got.size() >= 2; }))
        << "contract: every commit after the Subscription is made is delivered; got "
        << listed(got);
    EXPECT_EQ(got, (std::vector<int64_t>{v1, v2}));
    EXPECT_NE(callback_thread, caller) << "the callback runs on the subscription's thread";
    EXPECT_FALSE(sub.ended());
  }  // destroyed: cancelled and joined (a hang here is the failure)
  size_t seen = got.size();
  append();
  EXPECT_EQ(got.size(), seen) << "nothing is delivered after the Subscription is gone";
}

TEST_F(Listener, SubscriptionStopReportsTheErrorThatEndedIt) {
  evdb::Subscription sub(
      db(), [](int64_t) { return evdb::Status(EVDB_CONFLICT, "conformance: subscriber stops"); });
  append();  // after the constructor returned: delivered, and refused
  for (auto t0 = Clock::now(); !sub.ended() && Clock::now() - t0 < kLiveness;)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(sub.ended()) << "contract: an error from on_inserted ends the subscription";
  evdb::Status s = sub.stop();
  EXPECT_EQ(s.code(), EVDB_CONFLICT) << s.message();
  EXPECT_NE(s.message().find("conformance: subscriber stops"), std::string::npos) << s.message();
  evdb::Subscription sub2(db(), [](int64_t) -> evdb::Status {
    throw std::runtime_error("conformance: subscriber threw");
  });
  append();
  for (auto t0 = Clock::now(); !sub2.ended() && Clock::now() - t0 < kLiveness;)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(sub2.ended()) << "an exception from on_inserted ends the subscription";
  try {
    sub2.stop();
    ADD_FAILURE() << "stop() rethrows the callback's exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "conformance: subscriber threw");
  }
}

TEST_F(Listener, ListenAgainAfterCancel) {
  {
    ListenThread l(db());
    ASSERT_TRUE(l.wait_ready());
    l.cancel_and_join();
  }
  ListenThread l(db());
  ASSERT_TRUE(l.wait_ready());
  int64_t v = append();
  ASSERT_TRUE(l.wait_version(v)) << "contract: a new listen on the same handle works";
}

// ---- Many listens on one handle share one subscription (docs/contract.md
// LSN-1 … LSN-4); each keeps every guarantee of its own.

// How many versions a listener may fall behind before it reads the missed
// ones from the log (the contract's bound, LSN-3), and a few more.
constexpr int kPastTheBuffer = 4096 + 300;

// Appends n events, in transactions of up to 500; returns their versions.
std::vector<int64_t> append_in_batches(evdb::DB& db, int n) {
  std::vector<int64_t> out;
  while (n > 0) {
    int k = std::min(n, 500);
    std::vector<int64_t> vs = db.tx_rw([k](evdb::TxRW& tx) {
      std::vector<int64_t> v;
      int64_t head = tx.read_system_version();
      for (int i = 0; i < k; ++i) v.push_back(head = tx.append_event(head, make_event("Batch")));
      return v;
    });
    out.insert(out.end(), vs.begin(), vs.end());
    n -= k;
  }
  return out;
}

TEST_F(Listener, ManyListenersEachGetEveryVersionOnceInOrder) {
  constexpr int kListeners = 40;
  std::vector<std::unique_ptr<ListenThread>> ls;
  for (int i = 0; i < kListeners; ++i) ls.push_back(std::make_unique<ListenThread>(db()));
  for (auto& l : ls) ASSERT_TRUE(l->wait_ready()) << evdb_status_name(l->result().code());
  std::vector<int64_t> want;
  for (int i = 0; i < 3; ++i) want.push_back(append());
  std::vector<int64_t> more = append_in_batches(db(), 20);
  want.insert(want.end(), more.begin(), more.end());
  for (int i = 0; i < kListeners; ++i) {
    ASSERT_TRUE(ls[i]->wait_version(want.back()))
        << "listener " << i << " of " << kListeners << " got " << listed(ls[i]->versions());
    EXPECT_EQ(ls[i]->versions(), want)
        << "contract: each of many listeners on one handle gets every version once, in order "
           "(listener "
        << i << ")";
    EXPECT_EQ(ls[i]->ready_calls(), 1) << "contract: each listener's own on_ready, once";
    EXPECT_TRUE(ls[i]->ready_before_first_event());
  }
}

TEST_F(Listener, LaterListenerStartsAtItsOwnOnReady) {
  ListenThread first(db());
  ASSERT_TRUE(first.wait_ready());
  std::vector<int64_t> before = append_n(3);
  ASSERT_TRUE(first.wait_version(before.back()));
  ListenThread later(db());
  ASSERT_TRUE(later.wait_ready());
  int64_t v = append();
  ASSERT_TRUE(later.wait_version(v)) << "got " << listed(later.versions());
  EXPECT_EQ(later.versions(), std::vector<int64_t>{v})
      << "contract: a listen joining one already running on the handle starts at its own "
         "on_ready, not at the other's";
  ASSERT_TRUE(first.wait_version(v));
  before.push_back(v);
  EXPECT_EQ(first.versions(), before);
}

TEST_F(Listener, CancelOneAmongManyOthersKeepReceiving) {
  constexpr int kListeners = 12;
  std::vector<std::unique_ptr<ListenThread>> ls;
  for (int i = 0; i < kListeners; ++i) ls.push_back(std::make_unique<ListenThread>(db()));
  for (auto& l : ls) ASSERT_TRUE(l->wait_ready());
  int64_t v1 = append();
  for (auto& l : ls) ASSERT_TRUE(l->wait_version(v1));
  auto elapsed = ls[5]->cancel_and_join();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  EXPECT_EQ(ls[5]->result().code(), EVDB_CANCELED) << ls[5]->result().message();
  EXPECT_LT(elapsed, kCancelBound)
      << "contract: a listen among many returns within " << kCancelContract.count()
      << " ms of its own cancel (with " << (kCancelBound - kCancelContract).count()
      << " ms slack); it took " << ms << " ms";
  // The deadline of another ends that one only.
  ListenThread timed(db());
  ASSERT_TRUE(timed.wait_ready());
  timed.ctx().set_timeout(std::chrono::milliseconds(50));
  ASSERT_TRUE(timed.wait_done());
  EXPECT_EQ(timed.result().code(), EVDB_DEADLINE_EXCEEDED) << timed.result().message();
  std::vector<int64_t> later = append_n(3);
  for (int i = 0; i < kListeners; ++i) {
    if (i == 5) continue;
    ASSERT_TRUE(ls[i]->wait_version(later.back()))
        << "contract: the others keep receiving after one listener was cancelled; listener " << i
        << " got " << listed(ls[i]->versions());
    EXPECT_EQ(ls[i]->versions(), (std::vector<int64_t>{v1, later[0], later[1], later[2]}));
  }
  EXPECT_EQ(ls[5]->versions(), std::vector<int64_t>{v1})
      << "contract: nothing is delivered after listen returned";
}

TEST_F(Listener, SlowListenerHoldsUpNobodyAndStillGetsEverything) {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  // Blocks in its first callback until the gate opens.
  ListenThread slow(db(), [&](int64_t) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return open; });
    return evdb::Status();
  });
  ListenThread fast(db());
  ASSERT_TRUE(slow.wait_ready());
  ASSERT_TRUE(fast.wait_ready());
  std::vector<int64_t> want{append()};
  ASSERT_TRUE(slow.wait_count(1));  // now blocked in its callback
  std::vector<int64_t> more = append_in_batches(db(), kPastTheBuffer);
  want.insert(want.end(), more.begin(), more.end());
  bool fast_got_all = fast.wait_version(want.back());
  {
    std::lock_guard<std::mutex> l(mu);
    open = true;
  }
  cv.notify_all();
  ASSERT_TRUE(fast_got_all) << "contract: a listener blocked in its callback does not hold up the "
                               "others; the fast one got "
                            << fast.versions().size() << " of " << want.size();
  EXPECT_EQ(fast.versions(), want);
  // The slow one fell more than the buffer behind: it reads what it missed
  // from the log and then follows the live stream again.
  int64_t after = append();
  want.push_back(after);
  ASSERT_TRUE(slow.wait_version(after))
      << "the slow listener got " << slow.versions().size() << " of " << want.size() << " versions";
  EXPECT_EQ(slow.versions(), want) << "contract: a listener that fell behind still gets every "
                                      "version once, in order (LSN-3)";
}

}  // namespace
}  // namespace evdb::conformance
