// redis_config.cpp — the URI: endpoint, credentials, database, prefix and
// the driver's parameters. See redis_driver.hpp and docs/redis-driver.md.
#include "redis_internal.hpp"

namespace evdb::redis {

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
  if (auto v = uri.take_int("write_lock_ms", 0, 600000)) c.write_lock_ms = static_cast<int>(*v);
  uri.reject_unknown(
      "prefix, connect_timeout_ms, io_timeout_ms, pool_size, listen_block_ms, "
      "listen_reconnect_timeout_ms, write_lock_ms");
  return c;
}

}  // namespace evdb::redis
