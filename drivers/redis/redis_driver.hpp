// redis_driver.hpp — the Redis Streams driver (hiredis).
//
// URI: redis://[user:password@]host[:port][/db]?prefix=NAME[&…] (with
// sentinel=GROUP&hosts=…: through Redis Sentinel; with cluster=1&hosts=…: on
// Redis Cluster), see
// docs/redis-driver.md for the parameters, the key layout, how transactions
// work and which server settings make it durable. rediss:// is claimed only
// to be refused with EVDB_UNSUPPORTED (this hiredis has no TLS).
//
// The driver is the static library evdb_driver_redis_impl (entry
// evdb_driver_entry_redis) and the module libevdb_driver_redis.so.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapter.hpp"
#include "common/pool.hpp"
#include "common/version.hpp"
#include "common/write_lock.hpp"
#include "connection.hpp"
#include "master_locator.hpp"

namespace evdb::redis {

// Everything the URI says.
struct Config {
  // The server; with `sentinel`, the first sentinel (its credentials and
  // database are those of the master).
  Endpoint endpoint;
  // The Sentinel master group name; "" when `endpoint` is the server itself.
  std::string sentinel;
  // cluster=1: the store's slot is served by whichever master owns it.
  bool cluster = false;
  // The sentinels (with the sentinels' credentials, sentinel_user and
  // sentinel_password, if any) or the cluster's seed nodes (with the
  // credentials) to ask, in order: the authority's address first, then the
  // `hosts` parameter's.
  std::vector<Endpoint> sentinels;
  // WAIT after each commit for this many replicas (0: no WAIT), at most
  // wait_timeout_ms; fewer acknowledgements: COMMIT_IN_DOUBT.
  int wait_replicas = 0;
  int wait_timeout_ms = 1000;
  // How long a commit whose connection was lost keeps trying to learn its
  // outcome (reconnecting, to a new master if need be) before COMMIT_IN_DOUBT.
  int commit_resolve_timeout_ms = 30000;
  // The store's name; every key is "{prefix}:…" (one hash tag: one slot).
  std::string prefix = "evdb";
  // Idle connections kept per handle.
  int pool_size = 16;
  // XREAD BLOCK time of the listener (it also watches the context meanwhile).
  int listen_block_ms = 1000;
  // How long the listener keeps trying to reconnect before it gives up with
  // EVDB_CONNECTION.
  int listen_reconnect_timeout_ms = 30000;
  // Expiry of the write lock a read-write transaction takes at begin, so
  // racing writers queue instead of losing at commit (0: no lock, writers
  // race). A holder that dies frees it after this long; one that stays open
  // longer loses it and may then lose a race (the commit still checks).
  int write_lock_ms = 2000;
  std::string log_key() const { return "{" + prefix + "}:log"; }
  std::string proj_key() const { return "{" + prefix + "}:proj"; }
  std::string lock_key() const { return "{" + prefix + "}:wlock"; }
  std::string wake_key() const { return "{" + prefix + "}:wake"; }
  // The key that records a commit's outcome under its token (commit script
  // and resolve script, redis_transaction.cpp).
  std::string done_key(std::string_view token) const {
    return "{" + prefix + "}:done:" + std::string(token);
  }
};

// Parses the URI (takes every known parameter, refuses the rest). Throws
// drv::Error: UNSUPPORTED for rediss://, INVALID_ARGUMENT for anything bad.
Config parse_uri(drv::Uri& uri);

// The commit script (Lua), exposed for the raw-hiredis benchmark. With two
// keys (log, projections) it checks and applies; with four (log,
// projections, write lock, wake list) and the lock's token as last argument,
// it also releases the write lock held under that token.
const std::string& commit_script();

// A Lua script the driver runs by EVALSHA (loaded at open), by EVAL when the
// server lost it (NOSCRIPT, e.g. after SCRIPT FLUSH or a restart).
struct Script {
  const std::string& body;
  std::string sha;
};

// A store handle: the configuration, the commit script's SHA1 and a small
// pool of idle connections. Thread-safe.
class RedisDb : public drv::Db {
 public:
  // Connects once (server down → CONNECTION, wrong password → CONNECTION),
  // checks the keys hold what evdb writes, loads the commit script.
  RedisDb(Config cfg, const drv::Ctx& ctx);
  uint64_t capabilities() const override;
  std::unique_ptr<drv::Tx> begin(drv::Ctx& ctx, bool read_only) override;
  void ping(drv::Ctx& ctx) override;
  void listen(drv::Ctx& ctx, drv::ListenSink& sink) override;

  const Config& config() const { return cfg_; }
  const Script& commit_lua() const { return commit_; }
  // Takes the write lock and reads the snapshot (see redis_transaction.cpp).
  const Script& begin_lua() const { return begin_; }
  // Releases the write lock held under a token.
  const Script& release_lua() const { return release_; }
  // The store's keys ("{prefix}:log", "{prefix}:proj", "{prefix}:wlock",
  // "{prefix}:wake").
  const std::string& log_key() const { return log_key_; }
  const std::string& proj_key() const { return proj_key_; }
  const std::string& lock_key() const { return lock_key_; }
  const std::string& wake_key() const { return wake_key_; }
  // A token no other transaction (of any handle or process) uses.
  std::string lock_token();
  // Which transaction of this process holds the write lock; shared by the
  // handles on the same server, database and prefix.
  common::WriteLockTracker& write_lock() { return *write_lock_; }
  // A connection from the pool, or a new one (to the current master).
  std::unique_ptr<Connection> acquire(const drv::Ctx& ctx);
  // A new connection to the current master (not from the pool): the server
  // itself, or the master the sentinels name (checked with ROLE). Throws
  // what MasterLocator::open throws.
  std::unique_ptr<Connection> connect(const drv::Ctx& ctx) { return locator_.open(ctx); }
  // Drops every idle pooled connection (after one was found dead).
  void drop_idle() { pool_.drop_idle(); }
  // Where the store's server is, for messages (no credentials).
  std::string where() const { return locator_.where(); }
  // Back to the pool (closed when broken or pool_size wait already).
  void release(std::unique_ptr<Connection> c);

 private:
  Config cfg_;
  std::string log_key_;
  std::string proj_key_;
  std::string lock_key_;
  std::string wake_key_;
  Script commit_;
  Script begin_;
  Script release_;
  std::string token_base_;  // random, per handle
  std::atomic<uint64_t> token_next_{0};
  MasterLocator locator_;
  std::shared_ptr<common::WriteLockTracker> write_lock_;
  common::Pool<Connection> pool_;
};

struct Traits {
  static constexpr const char* name = "redis";
  static constexpr const char* version = common::kDriverVersion;
  static constexpr uint64_t capabilities =
      EVDB_CAP_LISTENER | EVDB_CAP_DURABLE | EVDB_CAP_CROSS_PROCESS | EVDB_CAP_GAPLESS |
      EVDB_CAP_BYTE_EXACT_PAYLOAD | EVDB_CAP_LISTENER_RECONNECT;
  static const char* const schemes[];
  static std::unique_ptr<drv::Db> open(drv::Uri& uri, drv::Ctx& ctx);
};

}  // namespace evdb::redis

// The driver's unique entry point (the module exports it as
// evdb_driver_entry).
extern "C" EVDB_API const evdb_driver* evdb_driver_entry_redis(uint32_t host_abi_version,
                                                               const evdb_host_api* host);
