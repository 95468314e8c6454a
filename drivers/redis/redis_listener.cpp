// redis_listener.cpp — listen: XREAD BLOCK on a connection of its own (to the
// current master), reconnecting with backoff when the server goes away. See
// docs/redis-driver.md.
#include <functional>

#include "common/reconnect.hpp"
#include "redis_internal.hpp"

namespace evdb::redis {
namespace {

// Longest pause between two reconnect attempts of the listener.
constexpr int64_t kListenBackoffMaxMs = 1000;

// A fingerprint of a log entry's fields (type, payload, time, revision): the
// listener compares the last version it delivered with the log it finds
// after reconnecting, to notice commits a failover lost.
size_t fingerprint(const redisReply* entry) {
  size_t h = 0;
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) return h;
  const redisReply* f = entry->element[1];
  for (size_t i = 0; i < f->elements; ++i)
    if (f->element[i]->type == REDIS_REPLY_STRING)
      h = h * 1000003 ^
          std::hash<std::string_view>()(std::string_view(f->element[i]->str, f->element[i]->len));
  return h;
}

}  // namespace

void RedisDb::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  std::unique_ptr<Connection> conn = connect(ctx);
  // The head and its entry, in one atomic round trip.
  conn->add({"MULTI"});
  conn->add({"XLEN", log_key_});
  conn->add({"XREVRANGE", log_key_, "+", "-", "COUNT", "1"});
  conn->add({"EXEC"});
  auto start = conn->exchange(ctx, "starting to listen");
  expect_ok_type(start[3].get(), REDIS_REPLY_ARRAY, "starting to listen");
  const redisReply* exec = start[3].get();
  if (exec->elements != 2) drv::fail(EVDB_INTERNAL, "short reply when starting to listen");
  expect_ok_type(exec->element[0], REDIS_REPLY_INTEGER, "XLEN " + log_key_);
  int64_t last = exec->element[0]->integer;
  size_t last_fp = exec->element[1]->elements > 0 ? fingerprint(exec->element[1]->element[0]) : 0;
  sink.ready();
  std::string block = std::to_string(cfg_.listen_block_ms);
  common::Reconnect reconnect(cfg_.listen_reconnect_timeout_ms, kListenBackoffMaxMs);
  for (;;) {
    ctx.check("listening");
    try {
      if (!conn) {
        conn = connect(ctx);
        // After a failover the new master may lack commits the old one had
        // (replication is asynchronous), some of them delivered already:
        // the delivered history must still be there, unchanged.
        if (last > 0) {
          std::string id = entry_id(last);
          conn->add({"XRANGE", log_key_, id, id});
          Reply r = conn->call(ctx, "checking the log after reconnecting");
          expect_ok_type(r.get(), REDIS_REPLY_ARRAY, "XRANGE " + log_key_);
          if (r->elements == 0 || fingerprint(r->element[0]) != last_fp)
            drv::fail(
                EVDB_INTERNAL,
                "after reconnecting to " + where() + ", the log " +
                    (r->elements == 0 ? "ends before version " + std::to_string(last)
                                      : "holds another event at version " + std::to_string(last)) +
                    ", which was delivered: commits were lost in a failover "
                    "(replication is asynchronous; commit with wait_replicas to keep "
                    "acknowledged ones)");
        }
        reconnect.connected();
      }
      std::string from = entry_id(last);
      conn->add({"XREAD", "COUNT", "1000", "BLOCK", block, "STREAMS", log_key_, from});
      Reply r = conn->call(ctx, "listening", Connection::Watch::Context, cfg_.listen_block_ms);
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
          last_fp = fingerprint(e);
          sink.inserted(v);
        }
      }
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      conn.reset();
      reconnect.failed(ctx, e.what());
    }
  }
}

}  // namespace evdb::redis
