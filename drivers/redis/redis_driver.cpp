// redis_driver.cpp — the store handle: opening (key checks, the commit
// script), the connection pool, begin and ping; the driver's entry. See
// redis_driver.hpp and docs/redis-driver.md. Transactions are in
// redis_transaction.cpp, the listener in redis_listener.cpp, the URI in
// redis_config.cpp.
#include <random>

#include "redis_internal.hpp"

namespace evdb::redis {

RedisDb::RedisDb(Config cfg, const drv::Ctx& ctx)
    : cfg_(std::move(cfg)),
      log_key_(cfg_.log_key()),
      proj_key_(cfg_.proj_key()),
      lock_key_(cfg_.lock_key()),
      wake_key_(cfg_.wake_key()),
      commit_{commit_script(), ""},
      begin_{begin_script(), ""},
      release_{release_script(), ""},
      locator_(cfg_.cluster            ? MasterLocator::Mode::Cluster
               : cfg_.sentinel.empty() ? MasterLocator::Mode::Single
                                       : MasterLocator::Mode::Sentinel,
               cfg_.endpoint, cfg_.cluster ? cfg_.prefix : cfg_.sentinel, cfg_.sentinels),
      write_lock_(
          common::shared_per_key<common::WriteLockTracker>(locator_.where() + ' ' + cfg_.prefix)),
      pool_({static_cast<size_t>(cfg_.pool_size), 0, "pool_size"},
            [this](const drv::Ctx& c) { return locator_.open(c); }) {
  auto conn = locator_.open(ctx);
  conn->add({"TYPE", log_key_});
  conn->add({"TYPE", proj_key_});
  conn->add({"SCRIPT", "LOAD", commit_.body});
  conn->add({"SCRIPT", "LOAD", begin_.body});
  conn->add({"SCRIPT", "LOAD", release_.body});
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
  Script* scripts[] = {&commit_, &begin_, &release_};
  for (size_t i = 0; i < 3; ++i) {
    expect_ok_type(r[2 + i].get(), REDIS_REPLY_STRING, "SCRIPT LOAD");
    scripts[i]->sha.assign(r[2 + i]->str, r[2 + i]->len);
  }
  std::random_device rd;
  token_base_ = std::to_string((static_cast<uint64_t>(rd()) << 32) ^ rd()) + ":";
  pool_.adopt(std::move(conn));
}

std::string RedisDb::lock_token() {
  return token_base_ + std::to_string(token_next_.fetch_add(1, std::memory_order_relaxed));
}

uint64_t RedisDb::capabilities() const {
  return Traits::capabilities;
}

std::unique_ptr<Connection> RedisDb::acquire(const drv::Ctx& ctx) {
  return pool_.acquire(ctx);
}

void RedisDb::release(std::unique_ptr<Connection> c) {
  common::Health health = c && !c->broken() ? common::Health::Reusable : common::Health::Broken;
  pool_.release(std::move(c), health);
}

std::unique_ptr<drv::Tx> RedisDb::begin(drv::Ctx& ctx, bool read_only) {
  ctx.check("beginning a transaction");
  // A pooled connection may have died with a server restart: one retry on a
  // fresh connection (nothing was written yet, so a retry is harmless).
  for (int attempt = 0;; ++attempt) {
    try {
      return start_transaction(*this, ctx, acquire(ctx), read_only);
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION || attempt > 0) throw;
      pool_.drop_idle();  // the others died with it
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
      pool_.release(std::move(c), common::Health::Broken);  // its state is unknown
      if (e.code() != EVDB_CONNECTION || attempt > 0) throw;
      pool_.drop_idle();
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
