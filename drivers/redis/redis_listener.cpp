// redis_listener.cpp — listen: XREAD BLOCK on a connection of its own,
// reconnecting with backoff when the server goes away. See
// docs/redis-driver.md.
#include "common/reconnect.hpp"
#include "redis_internal.hpp"

namespace evdb::redis {
namespace {

// Longest pause between two reconnect attempts of the listener.
constexpr int64_t kListenBackoffMaxMs = 1000;

}  // namespace

void RedisDb::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  std::unique_ptr<Connection> conn = Connection::open(cfg_.endpoint, ctx);
  conn->add({"XLEN", log_key_});
  Reply len = conn->call(ctx, "starting to listen");
  expect_ok_type(len.get(), REDIS_REPLY_INTEGER, "XLEN " + log_key_);
  int64_t last = len->integer;
  sink.ready();
  std::string block = std::to_string(cfg_.listen_block_ms);
  common::Reconnect reconnect(cfg_.listen_reconnect_timeout_ms, kListenBackoffMaxMs);
  for (;;) {
    ctx.check("listening");
    try {
      if (!conn) {
        conn = Connection::open(cfg_.endpoint, ctx);
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
