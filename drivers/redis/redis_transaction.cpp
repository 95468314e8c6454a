// redis_transaction.cpp — transactions: a snapshot read in one MULTI/EXEC,
// writes kept in the transaction until commit, and the commit script that
// checks and applies them atomically. See docs/redis-driver.md.
#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.hpp"
#include "redis_internal.hpp"

namespace evdb::redis {
namespace {

// The commit script. KEYS[1] = log stream, KEYS[2] = projection hash.
// ARGV: expected head ("-1": not checked), number of projection checks, then
// per check: id, kind ("a" absent, "e" exists, "v" value), value; number of
// appends, then per append: entry id, type, payload, time, revision; number
// of projection writes, then per write: id, value.
// Returns {0, head} when the head moved, {1, id} when a projection read
// changed, {2, appended} once applied, {3, 0} when fenced (below). Every
// check (and every command that could fail on a wrong key type) runs before
// the first write, so the script applies all its writes or none.
// With KEYS[3] (the commit's done key "{NAME}:done:<token>"), an applied
// commit sets it to "1" (expiry kDoneTtlMs), so that a client that lost the
// connection before the reply can learn the outcome (kResolveLua), and the
// script applies nothing when the key already exists: the resolver then set
// it to "0" (a fence), so a commit still queued somewhere can never apply
// after its client was told it did not. With KEYS[4] (write lock) and
// KEYS[5] (wake list), the last ARGV is the lock's token: the lock is
// released whatever the outcome (kReleaseLua). docs/contract.md §6.6 (RDS-4).
//
// The write lock: a read-write transaction takes it at begin (kBeginLua:
// SET NX PX with its own token, and the snapshot in the same script, so the
// snapshot is taken under the lock). Racing writers thus queue: one that
// finds it taken waits on the wake list (BLPOP, at most until the lock
// would expire) and tries again. Release deletes the lock only under the
// holder's token and pushes one wake (the list holds at most one: it is a
// signal, and it expires). A holder that dies frees the lock by expiry. The
// lock only orders writers: the commit script still checks every read, so a
// writer whose lock expired (or that takes none: write_lock_ms=0, older
// versions) is still refused when it lost a race. A read-write transaction
// begun while a transaction last used by its own thread holds the lock does
// not wait (it would wait for itself): it takes the lock at its first write
// if it is free (lock_for_write). docs/redis-driver.md.
#define EVDB_REDIS_RELEASE_LUA                   \
  "local function release(lock, wake, token)\n"  \
  "  if redis.call('GET', lock) == token then\n" \
  "    redis.call('DEL', lock)\n"                \
  "    if redis.call('LLEN', wake) == 0 then\n"  \
  "      redis.call('RPUSH', wake, '1')\n"       \
  "      redis.call('PEXPIRE', wake, 10000)\n"   \
  "    end\n"                                    \
  "  end\n"                                      \
  "end\n"

#define EVDB_REDIS_DONE_TTL_MS "600000"
const char* const kCommitLua =
    EVDB_REDIS_RELEASE_LUA R"lua(local log, proj, done = KEYS[1], KEYS[2], KEYS[3]
local function apply()
  if done and redis.call('EXISTS', done) == 1 then return {3, 0} end
  local i = 1
  local exp = ARGV[i]; i = i + 1
  if exp ~= '-1' then
    local h = redis.call('XLEN', log)
    if h ~= tonumber(exp) then return {0, h} end
  end
  local nc = tonumber(ARGV[i]); i = i + 1
  for _ = 1, nc do
    local id, kind, val = ARGV[i], ARGV[i + 1], ARGV[i + 2]; i = i + 3
    local cur = redis.call('HGET', proj, id)
    if kind == 'a' then
      if cur then return {1, id} end
    elseif kind == 'e' then
      if not cur then return {1, id} end
    elseif cur ~= val then
      return {1, id}
    end
  end
  local na = tonumber(ARGV[i]); i = i + 1
  for _ = 1, na do
    redis.call('XADD', log, ARGV[i], 't', ARGV[i + 1], 'p', ARGV[i + 2], 'ts', ARGV[i + 3], 'r', ARGV[i + 4])
    i = i + 5
  end
  local nw = tonumber(ARGV[i]); i = i + 1
  for _ = 1, nw do
    redis.call('HSET', proj, ARGV[i], ARGV[i + 1]); i = i + 2
  end
  if done then redis.call('SET', done, '1', 'PX', )lua" EVDB_REDIS_DONE_TTL_MS R"lua() end
  return {2, na}
end
local result = apply()
if KEYS[5] then release(KEYS[4], KEYS[5], ARGV[#ARGV]) end
return result
)lua";

// KEYS[1] = a commit's done key. Returns "1" when that commit was applied,
// "0" when it was not, and then sets the fence ("0") so it never will be.
// Either way the key is written (its expiry renewed), so a WAIT after this
// script also covers the commit's replication.
const char* const kResolveLua = R"lua(local v = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', KEYS[1], v, 'PX', )lua" EVDB_REDIS_DONE_TTL_MS R"lua()
return v
)lua";

// How long a done key lives: a commit's outcome can be learnt (and is
// learnt only) within half of it after the commit was sent.
constexpr int64_t kDoneTtlMs = 600000;  // = EVDB_REDIS_DONE_TTL_MS
#undef EVDB_REDIS_DONE_TTL_MS

// KEYS[1] = log, KEYS[2] = projections, KEYS[3] = write lock; ARGV[1] =
// token, ARGV[2] = expiry (ms). Returns {1, head, projections} (the
// snapshot, taken under the lock) or {0, ms until the lock expires}. The
// lock already held under ARGV[1] counts as taken (its expiry renewed), so
// that the script may run twice (a batch sent again after a cluster
// redirect, Connection::exchange).
const char* const kBeginLua = R"lua(local held = redis.call('GET', KEYS[3])
if not held or held == ARGV[1] then
  redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
  return {1, redis.call('XLEN', KEYS[1]), redis.call('HGETALL', KEYS[2])}
end
return {0, redis.call('PTTL', KEYS[3])}
)lua";

// KEYS[1] = write lock, KEYS[2] = wake list; ARGV[1] = token.
const char* const kReleaseLua = EVDB_REDIS_RELEASE_LUA "release(KEYS[1], KEYS[2], ARGV[1])\n";
#undef EVDB_REDIS_RELEASE_LUA

// Longest single wait on the wake list: a wake lost with a waiter that was
// cancelled after taking it delays the others at most this long.
constexpr int64_t kWakeWaitMaxMs = 200;

const drv::Ctx kNoCtx(nullptr, nullptr);

// Queues script's EVALSHA (or, with `by` = Body, its EVAL) with args.
enum class By { Sha, Body };
void queue_script(Connection& conn, const Script& script, const std::vector<std::string_view>& args,
                  By by = By::Sha) {
  std::vector<std::string_view> cmd;
  cmd.reserve(args.size() + 2);
  cmd.push_back(by == By::Sha ? "EVALSHA" : "EVAL");
  cmd.push_back(by == By::Sha ? std::string_view(script.sha) : std::string_view(script.body));
  cmd.insert(cmd.end(), args.begin(), args.end());
  conn.add(cmd);
}

bool is_noscript(const redisReply* r) {
  return r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("NOSCRIPT");
}

class RedisTx : public drv::Tx {
 public:
  RedisTx(RedisDb& db, std::unique_ptr<Connection> conn, bool read_only)
      : db_(db), conn_(std::move(conn)), ro_(read_only) {}
  ~RedisTx() override { finish(); }

  // Takes the write lock (waiting for it) and the snapshot in one script.
  void lock_and_snapshot(const drv::Ctx& ctx) {
    const Config& cfg = db_.config();
    std::string token = db_.lock_token();
    std::string expiry = std::to_string(cfg.write_lock_ms);
    const std::vector<std::string_view> args = {
        "3", db_.log_key(), db_.proj_key(), db_.lock_key(), token, expiry};
    Reply r = run_script(*conn_, ctx, db_.begin_lua(), args, "taking the write lock");
    for (;;) {
      if (r->type == REDIS_REPLY_ERROR) server_error(r.get(), "taking the write lock");
      if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
          r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER)
        drv::fail(EVDB_INTERNAL, "unexpected reply to the begin script: " + reply_text(r.get()));
      if (r->element[0]->integer == 1) {
        token_ = std::move(token);
        hold_ = db_.write_lock().acquired(std::this_thread::get_id());
        if (r->elements != 3) drv::fail(EVDB_INTERNAL, "short snapshot reply");
        read_snapshot(r->element[1], r->element[2]);
        return;
      }
      // Taken: wait for a release (at most until the lock would expire),
      // with the next try queued behind the wait, so the server runs it as
      // soon as the wake arrives, without a round trip to us.
      int64_t wait_ms = std::clamp<int64_t>(r->element[1]->integer, 1, kWakeWaitMaxMs);
      std::string timeout =
          std::to_string(wait_ms / 1000) + "." + std::to_string(1000 + wait_ms % 1000).substr(1);
      conn_->add({"BLPOP", db_.wake_key(), timeout});
      queue_script(*conn_, db_.begin_lua(), args);
      auto replies = conn_->exchange(ctx, "waiting for the write lock", Connection::Watch::Context,
                                     static_cast<int>(wait_ms));
      if (replies[0]->type == REDIS_REPLY_ERROR)
        server_error(replies[0].get(), "BLPOP " + db_.wake_key());
      r = std::move(replies[1]);
      if (is_noscript(r.get()))
        r = run_script(*conn_, ctx, db_.begin_lua(), args, "taking the write lock");
    }
  }

  // Takes the snapshot: the head and every projection version, atomically.
  void snapshot(const drv::Ctx& ctx) {
    const std::string& log = db_.log_key();
    const std::string& proj = db_.proj_key();
    conn_->add({"MULTI"});
    conn_->add({"XLEN", log});
    conn_->add({"HGETALL", proj});
    conn_->add({"EXEC"});
    auto r = conn_->exchange(ctx, "reading the snapshot");
    const redisReply* exec = r[3].get();
    if (exec->type == REDIS_REPLY_ERROR) {
      // The queued command's own error explains it better (wrong key type).
      for (size_t i = 1; i < 3; ++i)
        if (r[i]->type == REDIS_REPLY_ERROR) server_error(r[i].get(), "reading the snapshot");
      server_error(exec, "reading the snapshot");
    }
    expect_ok_type(exec, REDIS_REPLY_ARRAY, "reading the snapshot");
    if (exec->elements != 2) drv::fail(EVDB_INTERNAL, "short snapshot reply");
    read_snapshot(exec->element[0], exec->element[1]);
  }

  // The head (XLEN's reply) and the projection versions (HGETALL's).
  void read_snapshot(const redisReply* len, const redisReply* all) {
    const std::string& proj = db_.proj_key();
    expect_ok_type(len, REDIS_REPLY_INTEGER, "XLEN " + db_.log_key());
    head_ = len->integer;
    expect_ok_type(all, REDIS_REPLY_ARRAY, "HGETALL " + proj);
    for (size_t i = 0; i + 1 < all->elements; i += 2) {
      auto id = to_int(std::string_view(all->element[i]->str, all->element[i]->len));
      auto v = to_int(std::string_view(all->element[i + 1]->str, all->element[i + 1]->len));
      if (!id || !v || *id < INT32_MIN || *id > INT32_MAX)
        drv::fail(EVDB_INTERNAL, "projection hash " + proj + " holds a field evdb did not write");
      proj_.emplace(static_cast<int32_t>(*id), *v);
    }
  }

  int64_t read_system_version(drv::Ctx&) override {
    touch();
    head_read_ = true;
    return view_head();
  }

  bool read_event_at(drv::Ctx& ctx, int64_t v, evdb_event& out) override {
    touch();
    kept_.clear();
    if (v < 1) return false;
    if (v <= head_) {
      std::string id = entry_id(v);
      Reply r = xrange(ctx, "XRANGE", id, id, 1);
      if (r->elements == 0) return false;
      fill_event(r->element[0], out);
      kept_.push_back(std::move(r));
      return true;
    }
    if (v <= view_head()) {
      fill_pending(static_cast<size_t>(v - head_ - 1), out);
      return true;
    }
    head_read_ = true;  // "not found" depends on where the head is
    return false;
  }

  bool read_event_after(drv::Ctx& ctx, int64_t v, evdb_event& out) override {
    touch();
    kept_.clear();
    if (v < 0) v = 0;
    if (v >= view_head()) {
      head_read_ = true;
      return false;
    }
    if (v < head_) {
      Reply r = xrange(ctx, "XRANGE", entry_id(v + 1), entry_id(head_), 1);
      if (r->elements > 0) {
        fill_event(r->element[0], out);
        kept_.push_back(std::move(r));
        return true;
      }
      // XLEN said the log holds head_ entries, yet none lies after v: the
      // stream was changed by something other than evdb (found by fuzzing:
      // this fell through to the pending appends, past their end when there
      // were none).
      drv::fail(EVDB_INTERNAL, "the log " + db_.log_key() + " has no entry after version " +
                                   std::to_string(v) + " although its length is " +
                                   std::to_string(head_) +
                                   ": it was changed by something other than evdb");
    }
    fill_pending(static_cast<size_t>(v - head_), out);
    return true;
  }

  size_t read_events(drv::Ctx& ctx, int64_t at, bool reverse, evdb_event* buf, size_t n) override {
    touch();
    kept_.clear();
    if (n == 0) return 0;
    int64_t top = view_head();
    size_t got = 0;
    if (!reverse) {
      if (at < 1) at = 1;
      if (at <= head_) {
        size_t want = static_cast<size_t>(std::min<int64_t>(
            static_cast<int64_t>(std::min<size_t>(n, INT64_MAX)), head_ - at + 1));
        Reply r = xrange(ctx, "XRANGE", entry_id(at), entry_id(head_), want);
        for (size_t i = 0; i < r->elements && got < n; ++i) fill_event(r->element[i], buf[got++]);
        kept_.push_back(std::move(r));
        at = head_ + 1;
      }
      for (int64_t v = at; v <= top && got < n; ++v)
        fill_pending(static_cast<size_t>(v - head_ - 1), buf[got++]);
      if (got < n) head_read_ = true;  // cut short by the head
      return got;
    }
    if (at < 1) return 0;
    if (at > top) {
      head_read_ = true;  // starts at the head, wherever it is
      at = top;
    }
    for (int64_t v = at; v > head_ && got < n; --v)
      fill_pending(static_cast<size_t>(v - head_ - 1), buf[got++]);
    int64_t start = std::min(at, head_);
    if (got < n && start >= 1) {
      size_t want = static_cast<size_t>(
          std::min<int64_t>(static_cast<int64_t>(std::min<size_t>(n - got, INT64_MAX)), start));
      Reply r = xrange(ctx, "XREVRANGE", entry_id(start), "-", want);
      for (size_t i = 0; i < r->elements && got < n; ++i) fill_event(r->element[i], buf[got++]);
      kept_.push_back(std::move(r));
    }
    return got;
  }

  std::optional<int64_t> read_projection_version(drv::Ctx&, int32_t id) override {
    touch();
    if (auto w = writes_.find(id); w != writes_.end()) return w->second;
    auto cur = snapshot_proj(id);
    if (!ro_) note_check(id, cur ? Check::Value : Check::Absent, cur.value_or(0));
    return cur;
  }

  int64_t append_event(drv::Ctx& ctx, int64_t assumed, const evdb_event& ev) override {
    touch();
    head_read_ = true;
    int64_t head = view_head();
    if (assumed != head)
      drv::fail(EVDB_VERSION_MISMATCH, "the head is " + std::to_string(head) + ", not " +
                                           std::to_string(assumed) + " as assumed");
    lock_for_write(ctx, EVDB_VERSION_MISMATCH);
    Pending p;
    p.type.assign(ev.type_name, ev.type_name_len);
    p.payload.assign(ev.payload, ev.payload_len);
    if (ev.revision_vcs != nullptr) p.revision.assign(ev.revision_vcs, ev.revision_vcs_len);
    p.time_us = ev.time_us != 0 ? ev.time_us : common::wall_now_us();
    appends_.push_back(std::move(p));
    return head + 1;
  }

  int64_t init_projection_version(drv::Ctx& ctx, int32_t id) override {
    touch();
    if (auto w = writes_.find(id); w != writes_.end()) return w->second;
    auto cur = snapshot_proj(id);
    if (cur) {
      note_check(id, Check::Value, *cur);
      return *cur;
    }
    lock_for_write(ctx, EVDB_CONFLICT);
    note_check(id, Check::Absent, 0);
    writes_[id] = 0;
    return 0;
  }

  void set_projection_version(drv::Ctx& ctx, int32_t id, int64_t v) override {
    touch();
    if (auto w = writes_.find(id); w != writes_.end()) {
      w->second = v;
      return;
    }
    auto cur = snapshot_proj(id);
    if (!cur) {
      note_check(id, Check::Absent, 0);
      drv::fail(EVDB_NOT_FOUND, "projection " + std::to_string(id) + " was never initialised");
    }
    lock_for_write(ctx, EVDB_CONFLICT);
    note_check(id, Check::Exists, 0);
    writes_[id] = v;
  }

  void commit(drv::Ctx& ctx) override {
    kept_.clear();
    if (ro_ || (appends_.empty() && writes_.empty())) {
      // Nothing to write; the reads came from one consistent snapshot.
      finish();
      return;
    }
    const bool locked = !token_.empty();
    ctx.check("committing");
    const std::string& log = db_.log_key();
    const std::string& proj = db_.proj_key();
    // Owned argument texts; string_views into them go to the connection.
    std::deque<std::string> texts;  // push_back keeps references valid
    std::vector<std::string_view> args;
    args.reserve(9 + checks_.size() * 3 + appends_.size() * 5 + writes_.size() * 2);
    auto own = [&](std::string s) -> std::string_view {
      texts.push_back(std::move(s));
      return texts.back();
    };
    const std::string token = db_.lock_token();
    const std::string done = db_.config().done_key(token);
    args.push_back(locked ? "5" : "3");
    args.push_back(log);
    args.push_back(proj);
    args.push_back(done);
    if (locked) {
      args.push_back(db_.lock_key());
      args.push_back(db_.wake_key());
    }
    args.push_back(head_read_ ? own(std::to_string(head_)) : std::string_view("-1"));
    args.push_back(own(std::to_string(checks_.size())));
    for (auto& [id, chk] : checks_) {
      args.push_back(own(std::to_string(id)));
      args.push_back(chk.kind == Check::Absent ? "a" : chk.kind == Check::Exists ? "e" : "v");
      args.push_back(chk.kind == Check::Value ? own(std::to_string(chk.value))
                                              : std::string_view(""));
    }
    args.push_back(own(std::to_string(appends_.size())));
    for (size_t i = 0; i < appends_.size(); ++i) {
      const Pending& p = appends_[i];
      args.push_back(own(entry_id(head_ + 1 + static_cast<int64_t>(i))));
      args.push_back(p.type);
      args.push_back(p.payload);
      args.push_back(own(std::to_string(p.time_us)));
      args.push_back(p.revision);
    }
    args.push_back(own(std::to_string(writes_.size())));
    for (auto& [id, v] : writes_) {
      args.push_back(own(std::to_string(id)));
      args.push_back(own(std::to_string(v)));
    }
    if (locked) args.push_back(token_);
    // Once sent, wait for the outcome even if ctx ends meanwhile: the script
    // runs or not, and the caller must learn which (RDS-4). With
    // wait_replicas, WAIT rides in the same round trip.
    const int64_t sent_ms = common::steady_now_ms();
    std::vector<Reply> r;
    try {
      r = commit_exchange(ctx, args);
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      // The connection was lost with the commit in flight (OP-15): find out.
      resolve(ctx, done, sent_ms, e.what());
      return;
    }
    const redisReply* res = r[0].get();
    if (res->type == REDIS_REPLY_ERROR) {
      finish();  // the script stopped before its release
      server_error(res, "the commit script");
    }
    token_.clear();  // released by the script
    if (res->type != REDIS_REPLY_ARRAY || res->elements != 2 ||
        res->element[0]->type != REDIS_REPLY_INTEGER)
      drv::fail(EVDB_INTERNAL, "unexpected reply to the commit script: " + reply_text(res));
    long long outcome = res->element[0]->integer;
    const redisReply* info = res->element[1];
    evdb_status lost = appends_.empty() ? EVDB_CONFLICT : EVDB_VERSION_MISMATCH;
    if (outcome == 0) {
      finish();
      drv::fail(lost, "another writer moved the head from " + std::to_string(head_) + " to " +
                          std::to_string(info->integer) + " since this transaction began");
    }
    if (outcome == 1) {
      finish();
      drv::fail(lost, "another writer changed projection " + reply_text(info) +
                          " since this transaction read it");
    }
    if (outcome != 2) {
      finish();
      drv::fail(EVDB_INTERNAL,
                "the commit script found its own outcome already recorded: "
                "nothing was applied");
    }
    if (r.size() > 1) check_replicated(r[1].get(), "applied on the master");
    finish();
  }

  void rollback() noexcept override {
    // Nothing was written: the writes only ever lived here.
    appends_.clear();
    writes_.clear();
    kept_.clear();
    finish();
  }

 private:
  struct Pending {
    std::string type, payload, revision;
    int64_t time_us = 0;
  };
  struct Check {
    enum Kind { Absent, Exists, Value } kind;
    int64_t value;
  };

  // Sends the commit script (EVALSHA, then EVAL after NOSCRIPT) and, with
  // wait_replicas, WAIT behind it; returns the script's reply and WAIT's.
  // Throws what Connection::exchange throws (the socket only is watched).
  std::vector<Reply> commit_exchange(const drv::Ctx& ctx,
                                     const std::vector<std::string_view>& args) {
    const Config& cfg = db_.config();
    const std::string n = std::to_string(cfg.wait_replicas);
    const std::string t = std::to_string(cfg.wait_timeout_ms);
    for (By by : {By::Sha, By::Body}) {
      queue_script(*conn_, db_.commit_lua(), args, by);
      if (cfg.wait_replicas > 0) conn_->add({"WAIT", n, t});
      auto r = conn_->exchange(ctx, "committing", Connection::Watch::SocketOnly,
                               cfg.wait_replicas > 0 ? cfg.wait_timeout_ms : 0);
      if (by == By::Sha && is_noscript(r[0].get())) continue;
      return r;
    }
    drv::fail(EVDB_INTERNAL, "unreachable");
  }

  // A WAIT reply after an applied commit: fewer replicas than wait_replicas
  // is COMMIT_IN_DOUBT (applied on the master, may be lost in a failover).
  void check_replicated(const redisReply* w, std::string_view what) {
    const Config& cfg = db_.config();
    if (w->type != REDIS_REPLY_INTEGER) {
      finish();
      drv::fail(EVDB_COMMIT_IN_DOUBT,
                "the commit was " + std::string(what) + " but WAIT failed: " + reply_text(w));
    }
    if (w->integer < cfg.wait_replicas) {
      finish();
      drv::fail(EVDB_COMMIT_IN_DOUBT,
                "the commit was " + std::string(what) +
                    " but under-replicated: " + std::to_string(w->integer) + " of wait_replicas=" +
                    std::to_string(cfg.wait_replicas) + " replica(s) acknowledged it within " +
                    "wait_timeout_ms=" + std::to_string(cfg.wait_timeout_ms) +
                    "; a failover before it reaches a replica loses it (read the log before "
                    "appending it again)");
    }
  }

  // The connection was lost while the commit (done key `done`, sent at
  // sent_ms) was in flight: reconnects (to the current master) and runs the
  // resolve script until it answers, within ctx, commit_resolve_timeout_ms
  // and half the done key's life. Returns when the commit was applied (and,
  // with wait_replicas, replicated); throws CONNECTION when it was not (it
  // never will be: the resolve script fenced it), COMMIT_IN_DOUBT when the
  // outcome could not be learnt in time.
  void resolve(const drv::Ctx& ctx, const std::string& done, int64_t sent_ms,
               const std::string& lost) {
    finish();         // the connection is broken: dropped; the lock is released or expires
    db_.drop_idle();  // the others are likely dead too (a failover, a restart)
    const Config& cfg = db_.config();
    const int64_t limit = std::min<int64_t>(common::steady_now_ms() + cfg.commit_resolve_timeout_ms,
                                            sent_ms + kDoneTtlMs / 2);
    std::string why = lost;
    int64_t pause_ms = 20;
    while (ctx.status() == EVDB_OK) {
      std::optional<bool> applied;
      Reply waited;
      try {
        auto c = db_.connect(ctx);
        c->add({"EVAL", kResolveLua, "1", done});
        if (cfg.wait_replicas > 0)
          c->add({"WAIT", std::to_string(cfg.wait_replicas), std::to_string(cfg.wait_timeout_ms)});
        auto r = c->exchange(ctx, "learning the outcome of a commit", Connection::Watch::Context,
                             cfg.wait_replicas > 0 ? cfg.wait_timeout_ms : 0);
        if (r[0]->type == REDIS_REPLY_STRING) {
          applied = std::string_view(r[0]->str, r[0]->len) == "1";
          if (r.size() > 1) waited = std::move(r[1]);
        } else {
          why = "the resolve script answered " + reply_text(r[0].get());
        }
      } catch (const drv::Error& e) {
        if (e.code() != EVDB_CONNECTION && e.code() != EVDB_CANCELED &&
            e.code() != EVDB_DEADLINE_EXCEEDED)
          throw;
        why = e.what();
      }
      if (applied && !*applied)
        drv::fail(EVDB_CONNECTION, lost + "; the commit was not applied (learnt from " +
                                       db_.where() +
                                       " after reconnecting; it never will be: "
                                       "retry the transaction)");
      if (applied) {
        if (waited) check_replicated(waited.get(), "applied (learnt after reconnecting)");
        return;
      }
      int64_t now = common::steady_now_ms();
      if (now >= limit) break;
      ctx.sleep_us(std::min<int64_t>(pause_ms, limit - now) * 1000);
      pause_ms = std::min<int64_t>(pause_ms * 2, 500);
    }
    if (ctx.status() != EVDB_OK)
      why = std::string(ctx.status() == EVDB_CANCELED ? "canceled" : "deadline exceeded") +
            " after: " + why;
    drv::fail(EVDB_COMMIT_IN_DOUBT,
              "the connection was lost while committing and the outcome could not be learnt "
              "within commit_resolve_timeout_ms=" +
                  std::to_string(cfg.commit_resolve_timeout_ms) +
                  " or the context: the events may or may not be in the log (read it before "
                  "appending them again); last error: " +
                  why);
  }

  // The holder of the write lock is being used by this thread.
  void touch() { hold_.touch(std::this_thread::get_id()); }

  // Before a write is kept: a read-write transaction begun without the
  // write lock (a transaction last used by this thread held it,
  // start_transaction) tries to take it, once, without waiting, as the
  // holder may be of this very thread. Refused, the write fails with
  // `loser` and is not kept; the transaction can still read, and the next
  // write tries again. Taken, the lock is held as if taken at begin (the
  // commit script checks the snapshot, which is older than the lock).
  void lock_for_write(const drv::Ctx& ctx, evdb_status loser) {
    const Config& cfg = db_.config();
    if (ro_ || !token_.empty() || cfg.write_lock_ms == 0) return;
    std::string token = db_.lock_token();
    const std::string expiry = std::to_string(cfg.write_lock_ms);
    conn_->add({"SET", db_.lock_key(), token, "NX", "PX", expiry});
    Reply r = conn_->call(ctx, "taking the write lock");
    if (r->type == REDIS_REPLY_NIL)
      drv::fail(loser, "another writer holds the write lock " + db_.lock_key() +
                           "; this transaction began without waiting for it because a "
                           "read-write transaction used by this thread held it (waiting would "
                           "deadlock); nothing was written (retry the transaction)");
    expect_ok_type(r.get(), REDIS_REPLY_STATUS, "SET " + db_.lock_key());
    token_ = std::move(token);
    hold_ = db_.write_lock().acquired(std::this_thread::get_id());
  }

  int64_t view_head() const { return head_ + static_cast<int64_t>(appends_.size()); }

  std::optional<int64_t> snapshot_proj(int32_t id) const {
    auto it = proj_.find(id);
    if (it == proj_.end()) return std::nullopt;
    return it->second;
  }

  // Remembers what a read saw, for the commit script to check. A value check
  // is stronger than an existence check and replaces it.
  void note_check(int32_t id, Check::Kind kind, int64_t value) {
    if (ro_) return;
    auto [it, inserted] = checks_.try_emplace(id, Check{kind, value});
    if (!inserted && kind == Check::Value) it->second = Check{kind, value};
  }

  void fill_pending(size_t i, evdb_event& out) const {
    const Pending& p = appends_.at(i);
    out = evdb_event{};
    out.version = head_ + 1 + static_cast<int64_t>(i);
    out.time_us = p.time_us;
    out.type_name = p.type.c_str();
    out.type_name_len = p.type.size();
    out.payload = p.payload.c_str();
    out.payload_len = p.payload.size();
    out.revision_vcs = p.revision.c_str();
    out.revision_vcs_len = p.revision.size();
  }

  Reply xrange(const drv::Ctx& ctx, std::string_view cmd, const std::string& from,
               const std::string& to, size_t count) {
    if (!conn_) drv::fail(EVDB_INTERNAL, "transaction already ended");
    const std::string& log = db_.log_key();
    std::string n = std::to_string(count);
    conn_->add({cmd, log, from, to, "COUNT", n});
    Reply r = conn_->call(ctx, "reading the log");
    expect_ok_type(r.get(), REDIS_REPLY_ARRAY, std::string(cmd) + " " + log);
    return r;
  }

  // Releases the write lock if held (best effort: if that fails, the lock
  // expires) and gives the connection back. While the store's slot
  // migrates (TRYAGAIN) it tries for at most write_lock_ms: the lock has
  // expired by then.
  void finish() noexcept {
    if (!conn_) return;
    if (!token_.empty() && !conn_->broken()) {
      try {
        Reply r =
            run_script(*conn_, kNoCtx, db_.release_lua(),
                       {"2", db_.lock_key(), db_.wake_key(), token_}, "releasing the write lock",
                       Connection::Watch::SocketOnly, 0, db_.config().write_lock_ms);
      } catch (...) {
        // The connection is broken (and dropped below); the lock expires.
      }
    }
    token_.clear();
    hold_.release();
    db_.release(std::move(conn_));
  }

  RedisDb& db_;
  std::unique_ptr<Connection> conn_;
  bool ro_;
  std::string token_;                    // the write lock's, while held
  common::WriteLockTracker::Hold hold_;  // this process's record of it
  int64_t head_ = 0;
  std::unordered_map<int32_t, int64_t> proj_;
  bool head_read_ = false;
  std::vector<Pending> appends_;
  std::map<int32_t, int64_t> writes_;
  std::map<int32_t, Check> checks_;
  // Replies whose strings the last read handed out.
  std::vector<Reply> kept_;
};

}  // namespace

std::unique_ptr<drv::Tx> start_transaction(RedisDb& db, const drv::Ctx& ctx,
                                           std::unique_ptr<Connection> conn, bool read_only) {
  auto tx = std::make_unique<RedisTx>(db, std::move(conn), read_only);
  // A writer waits for the write lock unless a transaction last used by this
  // thread holds it: it would wait for itself (OP-18). It then takes the
  // lock at its first write (lock_for_write).
  if (read_only || db.config().write_lock_ms == 0 ||
      db.write_lock().held_by(std::this_thread::get_id()))
    tx->snapshot(ctx);
  else
    tx->lock_and_snapshot(ctx);
  return tx;
}

Reply run_script(Connection& conn, const drv::Ctx& ctx, const Script& script,
                 const std::vector<std::string_view>& args, std::string_view doing,
                 Connection::Watch watch, int extra_wait_ms, int busy_wait_ms) {
  queue_script(conn, script, args);
  Reply r = conn.call(ctx, doing, watch, extra_wait_ms, busy_wait_ms);
  if (is_noscript(r.get())) {
    queue_script(conn, script, args, By::Body);
    r = conn.call(ctx, doing, watch, extra_wait_ms, busy_wait_ms);
  }
  return r;
}

const std::string& commit_script() {
  static const std::string s = kCommitLua;
  return s;
}

const std::string& begin_script() {
  static const std::string s = kBeginLua;
  return s;
}

const std::string& release_script() {
  static const std::string s = kReleaseLua;
  return s;
}

}  // namespace evdb::redis
