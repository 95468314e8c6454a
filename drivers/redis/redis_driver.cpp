// redis_driver.cpp — see redis_driver.hpp and docs/redis-driver.md.
#include "redis_driver.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <unordered_map>

namespace evdb::redis {
namespace {

// Entry fields. Short names: they are stored once per event.
constexpr std::string_view kType = "t";
constexpr std::string_view kPayload = "p";
constexpr std::string_view kTime = "ts";
constexpr std::string_view kRevision = "r";

// The commit script. KEYS[1] = log stream, KEYS[2] = projection hash.
// ARGV: expected head ("-1": not checked), number of projection checks, then
// per check: id, kind ("a" absent, "e" exists, "v" value), value; number of
// appends, then per append: entry id, type, payload, time, revision; number
// of projection writes, then per write: id, value.
// Returns {0, head} when the head moved, {1, id} when a projection read
// changed, {2, appended} once applied. Every check (and every command that
// could fail on a wrong key type) runs before the first write, so the script
// applies all its writes or none.
const char* const kCommitLua = R"lua(local log, proj = KEYS[1], KEYS[2]
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
return {2, na}
)lua";

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// "12-0" for version 12.
std::string entry_id(int64_t v) {
  return std::to_string(v) + "-0";
}

std::optional<int64_t> to_int(std::string_view s) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

// The version encoded in an entry id "<version>-0".
int64_t id_version(const redisReply* id) {
  if (id == nullptr || id->type != REDIS_REPLY_STRING)
    drv::fail(EVDB_INTERNAL, "log entry without an id");
  std::string_view s(id->str, id->len);
  auto dash = s.find('-');
  auto v = to_int(s.substr(0, dash));
  if (!v || dash == std::string_view::npos || s.substr(dash + 1) != "0")
    drv::fail(EVDB_INTERNAL, "log entry id '" + std::string(s) + "' is not <version>-0");
  return *v;
}

[[noreturn]] void server_error(const redisReply* r, const std::string& doing) {
  std::string text = reply_text(r);
  if (text.starts_with("MOVED") || text.starts_with("ASK"))
    drv::fail(EVDB_UNSUPPORTED, "redis answered " + doing + " with a cluster redirect (" + text +
                                    "): this driver does not follow redirects; connect to the "
                                    "node that owns the store's slot");
  drv::fail(EVDB_INTERNAL, "redis refused " + doing + ": " + text);
}

void expect_ok_type(const redisReply* r, int type, const std::string& doing) {
  if (r->type == REDIS_REPLY_ERROR) server_error(r, doing);
  if (r->type != type)
    drv::fail(EVDB_INTERNAL, "unexpected reply to " + doing + ": " + reply_text(r));
}

// Fills `out` from one XRANGE element [id, [field, value, …]]; the strings
// point into the reply (hiredis NUL-terminates them).
void fill_event(const redisReply* entry, evdb_event& out) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[1]->type != REDIS_REPLY_ARRAY)
    drv::fail(EVDB_INTERNAL, "malformed log entry: " + reply_text(entry));
  out = evdb_event{};
  out.version = id_version(entry->element[0]);
  const redisReply* f = entry->element[1];
  bool has_type = false, has_payload = false, has_time = false;
  static const char kEmpty[] = "";
  out.revision_vcs = kEmpty;
  for (size_t i = 0; i + 1 < f->elements; i += 2) {
    const redisReply* k = f->element[i];
    const redisReply* v = f->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
    std::string_view key(k->str, k->len);
    if (key == kType) {
      out.type_name = v->str;
      out.type_name_len = v->len;
      has_type = true;
    } else if (key == kPayload) {
      out.payload = v->str;
      out.payload_len = v->len;
      has_payload = true;
    } else if (key == kTime) {
      auto t = to_int(std::string_view(v->str, v->len));
      if (!t) drv::fail(EVDB_INTERNAL, "log entry with a bad time field");
      out.time_us = *t;
      has_time = true;
    } else if (key == kRevision) {
      out.revision_vcs = v->str;
      out.revision_vcs_len = v->len;
    }
  }
  if (!has_type || !has_payload || !has_time)
    drv::fail(EVDB_INTERNAL,
              "log entry " + std::to_string(out.version) + " lacks evdb's fields (t, p, ts)");
}

// ---------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------

class RedisTx : public drv::Tx {
 public:
  RedisTx(RedisDb& db, std::unique_ptr<Connection> conn, bool read_only)
      : db_(db), conn_(std::move(conn)), ro_(read_only) {}
  ~RedisTx() override {
    if (conn_) db_.release(std::move(conn_));
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
    const redisReply* len = exec->element[0];
    expect_ok_type(len, REDIS_REPLY_INTEGER, "XLEN " + log);
    head_ = len->integer;
    const redisReply* all = exec->element[1];
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
    head_read_ = true;
    return view_head();
  }

  bool read_event_at(drv::Ctx& ctx, int64_t v, evdb_event& out) override {
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
    if (auto w = writes_.find(id); w != writes_.end()) return w->second;
    auto cur = snapshot_proj(id);
    if (!ro_) note_check(id, cur ? Check::Value : Check::Absent, cur.value_or(0));
    return cur;
  }

  int64_t append_event(drv::Ctx&, int64_t assumed, const evdb_event& ev) override {
    head_read_ = true;
    int64_t head = view_head();
    if (assumed != head)
      drv::fail(EVDB_VERSION_MISMATCH, "the head is " + std::to_string(head) + ", not " +
                                           std::to_string(assumed) + " as assumed");
    Pending p;
    p.type.assign(ev.type_name, ev.type_name_len);
    p.payload.assign(ev.payload, ev.payload_len);
    if (ev.revision_vcs != nullptr) p.revision.assign(ev.revision_vcs, ev.revision_vcs_len);
    p.time_us = ev.time_us != 0 ? ev.time_us : now_us();
    appends_.push_back(std::move(p));
    return head + 1;
  }

  int64_t init_projection_version(drv::Ctx&, int32_t id) override {
    if (auto w = writes_.find(id); w != writes_.end()) return w->second;
    auto cur = snapshot_proj(id);
    if (cur) {
      note_check(id, Check::Value, *cur);
      return *cur;
    }
    note_check(id, Check::Absent, 0);
    writes_[id] = 0;
    return 0;
  }

  void set_projection_version(drv::Ctx&, int32_t id, int64_t v) override {
    if (auto w = writes_.find(id); w != writes_.end()) {
      w->second = v;
      return;
    }
    auto cur = snapshot_proj(id);
    if (!cur) {
      note_check(id, Check::Absent, 0);
      drv::fail(EVDB_NOT_FOUND, "projection " + std::to_string(id) + " was never initialised");
    }
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
    ctx.check("committing");
    const std::string& log = db_.log_key();
    const std::string& proj = db_.proj_key();
    // Owned argument texts; string_views into them go to the connection.
    std::deque<std::string> texts;  // push_back keeps references valid
    std::vector<std::string_view> args;
    args.reserve(8 + checks_.size() * 3 + appends_.size() * 5 + writes_.size() * 2);
    auto own = [&](std::string s) -> std::string_view {
      texts.push_back(std::move(s));
      return texts.back();
    };
    args.push_back("EVALSHA");
    args.push_back(db_.script_sha());
    args.push_back("2");
    args.push_back(log);
    args.push_back(proj);
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
    // Once sent, wait for the outcome even if ctx ends meanwhile: the script
    // runs or not, and the caller must learn which.
    Reply r;
    try {
      conn_->add(args);
      r = conn_->call(ctx, "committing", true);
      if (r->type == REDIS_REPLY_ERROR &&
          std::string_view(r->str, r->len).starts_with("NOSCRIPT")) {
        args[0] = "EVAL";
        args[1] = commit_script();
        conn_->add(args);
        r = conn_->call(ctx, "committing", true);
      }
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      drv::fail(EVDB_CONNECTION,
                std::string(e.what()) + "; the commit may or may not have been applied");
    }
    if (r->type == REDIS_REPLY_ERROR) server_error(r.get(), "the commit script");
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER)
      drv::fail(EVDB_INTERNAL, "unexpected reply to the commit script: " + reply_text(r.get()));
    long long outcome = r->element[0]->integer;
    const redisReply* info = r->element[1];
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
    finish();
  }

  void rollback() noexcept override {
    // Nothing was sent: the writes only ever lived here.
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

  void finish() {
    if (conn_) db_.release(std::move(conn_));
  }

  RedisDb& db_;
  std::unique_ptr<Connection> conn_;
  bool ro_;
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

const std::string& commit_script() {
  static const std::string s = kCommitLua;
  return s;
}

// ---------------------------------------------------------------------------
// URI
// ---------------------------------------------------------------------------

Config parse_uri(drv::Uri& uri) {
  if (uri.scheme() == "rediss")
    drv::fail(EVDB_UNSUPPORTED,
              "rediss:// (TLS) is not supported: this build uses hiredis " +
                  std::to_string(HIREDIS_MAJOR) + "." + std::to_string(HIREDIS_MINOR) + "." +
                  std::to_string(HIREDIS_PATCH) +
                  ", which has no TLS; use redis:// over a trusted network or a TLS tunnel");
  if (uri.scheme() != "redis")
    drv::fail(EVDB_INVALID_ARGUMENT, "scheme '" + std::string(uri.scheme()) + "' is not redis");
  if (!uri.has_authority())
    drv::fail(EVDB_INVALID_ARGUMENT, "URI " + std::string(uri.redacted()) +
                                         " needs the form redis://[user:password@]host[:port]"
                                         "[/db]?prefix=NAME");
  Config c;
  Endpoint& ep = c.endpoint;
  if (!uri.host().empty()) ep.host = std::string(uri.host());
  if (uri.port() != 0) ep.port = uri.port();
  ep.user = std::string(uri.user());
  ep.password = std::string(uri.password());
  if (!ep.user.empty() && ep.password.empty())
    drv::fail(EVDB_INVALID_ARGUMENT, "URI " + std::string(uri.redacted()) + " names user '" +
                                         ep.user + "' without a password");
  std::string_view path = uri.path();
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty()) {
    auto db = to_int(path);
    if (!db || *db < 0 || *db > 1000000)
      drv::fail(EVDB_INVALID_ARGUMENT, "path '/" + std::string(path) + "' of " +
                                           std::string(uri.redacted()) +
                                           " is not a database number (e.g. /0)");
    ep.db = static_cast<int>(*db);
  }
  if (auto p = uri.take("prefix")) {
    if (p->empty()) drv::fail(EVDB_INVALID_ARGUMENT, "parameter prefix is empty");
    if (p->find_first_of("{}") != std::string::npos)
      drv::fail(EVDB_INVALID_ARGUMENT, "parameter prefix='" + *p +
                                           "' contains '{' or '}' (the driver adds the hash "
                                           "tag itself)");
    if (p->size() > 200)
      drv::fail(EVDB_INVALID_ARGUMENT, "parameter prefix is longer than 200 bytes");
    c.prefix = *p;
  }
  if (auto v = uri.take_int("connect_timeout_ms", 1, 600000))
    ep.connect_timeout_ms = static_cast<int>(*v);
  if (auto v = uri.take_int("io_timeout_ms", 0, 3600000)) ep.io_timeout_ms = static_cast<int>(*v);
  if (auto v = uri.take_int("pool_size", 0, 1024)) c.pool_size = static_cast<int>(*v);
  if (auto v = uri.take_int("listen_block_ms", 10, 60000)) c.listen_block_ms = static_cast<int>(*v);
  if (auto v = uri.take_int("listen_reconnect_timeout_ms", 0, 86400000))
    c.listen_reconnect_timeout_ms = static_cast<int>(*v);
  uri.reject_unknown(
      "prefix, connect_timeout_ms, io_timeout_ms, pool_size, listen_block_ms, "
      "listen_reconnect_timeout_ms");
  return c;
}

// ---------------------------------------------------------------------------
// The handle
// ---------------------------------------------------------------------------

RedisDb::RedisDb(Config cfg, const drv::Ctx& ctx)
    : cfg_(std::move(cfg)), log_key_(cfg_.log_key()), proj_key_(cfg_.proj_key()) {
  auto conn = Connection::open(cfg_.endpoint, ctx);
  conn->add({"TYPE", log_key_});
  conn->add({"TYPE", proj_key_});
  conn->add({"SCRIPT", "LOAD", commit_script()});
  auto r = conn->exchange(ctx, "opening the store");
  auto check_type = [&](const redisReply* t, const std::string& key, std::string_view want) {
    expect_ok_type(t, REDIS_REPLY_STATUS, "TYPE " + key);
    std::string_view got(t->str, t->len);
    if (got != "none" && got != want)
      drv::fail(EVDB_INVALID_ARGUMENT, "key " + key + " holds a " + std::string(got) +
                                           ", not the " + std::string(want) +
                                           " evdb keeps there: choose another prefix");
  };
  check_type(r[0].get(), log_key_, "stream");
  check_type(r[1].get(), proj_key_, "hash");
  expect_ok_type(r[2].get(), REDIS_REPLY_STRING, "SCRIPT LOAD");
  sha_.assign(r[2]->str, r[2]->len);
  release(std::move(conn));
}

uint64_t RedisDb::capabilities() const {
  return Traits::capabilities;
}

std::unique_ptr<Connection> RedisDb::acquire(const drv::Ctx& ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return Connection::open(cfg_.endpoint, ctx);
}

void RedisDb::release(std::unique_ptr<Connection> c) {
  if (!c || c->broken()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < static_cast<size_t>(cfg_.pool_size)) idle_.push_back(std::move(c));
}

std::unique_ptr<drv::Tx> RedisDb::begin(drv::Ctx& ctx, bool read_only) {
  ctx.check("beginning a transaction");
  // A pooled connection may have died with a server restart: one retry on a
  // fresh connection (nothing was written yet, so a retry is harmless).
  for (int attempt = 0;; ++attempt) {
    auto tx = std::make_unique<RedisTx>(*this, acquire(ctx), read_only);
    try {
      tx->snapshot(ctx);
      return tx;
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION || attempt > 0) throw;
      std::lock_guard<std::mutex> lock(mu_);
      idle_.clear();  // the others died with it
    }
  }
}

void RedisDb::ping(drv::Ctx& ctx) {
  // Like begin: one retry on a fresh connection when a pooled one is dead.
  for (int attempt = 0;; ++attempt) {
    auto c = acquire(ctx);
    try {
      c->add({"PING"});
      Reply r = c->call(ctx, "pinging");
      expect_ok_type(r.get(), REDIS_REPLY_STATUS, "PING");
      release(std::move(c));
      return;
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION || attempt > 0) throw;
      std::lock_guard<std::mutex> lock(mu_);
      idle_.clear();
    }
  }
}

void RedisDb::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  const int64_t limit_ms = cfg_.listen_reconnect_timeout_ms;
  std::unique_ptr<Connection> conn = Connection::open(cfg_.endpoint, ctx);
  conn->add({"XLEN", log_key_});
  Reply len = conn->call(ctx, "starting to listen");
  expect_ok_type(len.get(), REDIS_REPLY_INTEGER, "XLEN " + log_key_);
  int64_t last = len->integer;
  sink.ready();
  std::string block = std::to_string(cfg_.listen_block_ms);
  int64_t lost_since = -1;
  int64_t backoff_ms = 20;
  std::string last_error;
  for (;;) {
    ctx.check("listening");
    try {
      if (!conn) {
        conn = Connection::open(cfg_.endpoint, ctx);
        lost_since = -1;
        backoff_ms = 20;
      }
      std::string from = entry_id(last);
      conn->add({"XREAD", "COUNT", "1000", "BLOCK", block, "STREAMS", log_key_, from});
      Reply r = conn->call(ctx, "listening", false, cfg_.listen_block_ms);
      if (r->type == REDIS_REPLY_NIL) continue;
      expect_ok_type(r.get(), REDIS_REPLY_ARRAY, "XREAD " + log_key_);
      for (size_t s = 0; s < r->elements; ++s) {
        const redisReply* stream = r->element[s];
        if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2) continue;
        const redisReply* entries = stream->element[1];
        for (size_t i = 0; i < entries->elements; ++i) {
          const redisReply* e = entries->element[i];
          if (e->type != REDIS_REPLY_ARRAY || e->elements < 1) continue;
          int64_t v = id_version(e->element[0]);
          if (v <= last) continue;
          last = v;
          sink.inserted(v);
        }
      }
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      conn.reset();
      last_error = e.what();
      int64_t now = steady_ms();
      if (lost_since < 0) lost_since = now;
      if (now - lost_since >= limit_ms)
        drv::fail(EVDB_CONNECTION, "could not reconnect within " + std::to_string(limit_ms) +
                                       " ms (listen_reconnect_timeout_ms): " + last_error);
      int64_t wait = std::min<int64_t>(backoff_ms, limit_ms - (now - lost_since));
      ctx.sleep_us(wait * 1000);
      backoff_ms = std::min<int64_t>(backoff_ms * 2, 1000);
    }
  }
}

const char* const Traits::schemes[] = {"redis", "rediss", nullptr};

std::unique_ptr<drv::Db> Traits::open(drv::Uri& uri, drv::Ctx& ctx) {
  Config cfg = parse_uri(uri);
  return std::make_unique<RedisDb>(std::move(cfg), ctx);
}

}  // namespace evdb::redis

EVDB_DRIVER_DEFINE_ENTRY(evdb_driver_entry_redis, evdb::redis::Traits)
