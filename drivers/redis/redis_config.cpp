// redis_config.cpp — the URI: endpoint, credentials, database, prefix and
// the driver's parameters. See redis_driver.hpp and docs/redis-driver.md.
#include "redis_internal.hpp"

namespace evdb::redis {
namespace {

// "host:port" or "[v6]:port" (port required) from the hosts parameter or a
// host list in the authority.
Endpoint parse_host(std::string_view item, const Endpoint& base) {
  Endpoint e = base;
  size_t colon = item.rfind(':');
  std::string_view host = colon == std::string_view::npos ? item : item.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port = colon == std::string_view::npos ? std::nullopt : to_int(item.substr(colon + 1));
  if (host.empty() || !port || *port <= 0 || *port > 65535)
    drv::fail(EVDB_INVALID_ARGUMENT,
              "host '" + std::string(item) + "' is not host:port (e.g. 127.0.0.1:26380)");
  e.host = std::string(host);
  e.port = static_cast<int>(*port);
  return e;
}

}  // namespace

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
  // A host list in the authority (redis://s1:26379,s2:26379/?sentinel=G), as
  // libevdb passes it: the first host is the authority's, the others are
  // listed before those of the hosts parameter (one mechanism for both forms).
  std::string listed;
  std::string_view authority_host = uri.host();
  if (size_t comma = authority_host.find(','); comma != std::string_view::npos) {
    Endpoint first = parse_host(authority_host.substr(0, comma), ep);
    ep.host = first.host;
    ep.port = first.port;
    listed = std::string(authority_host.substr(comma + 1));
  } else {
    if (!authority_host.empty()) ep.host = std::string(authority_host);
    if (uri.port() != 0) ep.port = uri.port();
  }
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
  if (auto v = uri.take_int("wait_replicas", 0, 1000)) c.wait_replicas = static_cast<int>(*v);
  if (auto v = uri.take_int("wait_timeout_ms", 1, 600000)) c.wait_timeout_ms = static_cast<int>(*v);
  if (auto v = uri.take_int("commit_resolve_timeout_ms", 0, 3600000))
    c.commit_resolve_timeout_ms = static_cast<int>(*v);
  auto group = uri.take("sentinel");
  auto cluster = uri.take_int("cluster", 0, 1);
  auto hosts = uri.take("hosts");
  // The sentinels' own credentials (requirepass / an ACL user on the
  // sentinels); never printed.
  auto sentinel_user = uri.take("sentinel_user");
  auto sentinel_password = uri.take("sentinel_password");
  if ((sentinel_user || sentinel_password) && !group)
    drv::fail(EVDB_INVALID_ARGUMENT,
              "parameters sentinel_user and sentinel_password need sentinel=GROUP (they are "
              "the sentinels' credentials)");
  if (sentinel_password && sentinel_password->empty())
    drv::fail(EVDB_INVALID_ARGUMENT, "parameter sentinel_password is empty");
  if (sentinel_user && (sentinel_user->empty() || !sentinel_password))
    drv::fail(EVDB_INVALID_ARGUMENT,
              "parameter sentinel_user needs a name and sentinel_password (a user without a "
              "password is refused)");
  if (!listed.empty()) hosts = hosts ? listed + "," + *hosts : listed;
  if (group && cluster.value_or(0) == 1)
    drv::fail(EVDB_INVALID_ARGUMENT, "parameters sentinel and cluster=1 exclude each other");
  if (group && group->empty())
    drv::fail(EVDB_INVALID_ARGUMENT, "parameter sentinel (the master group name) is empty");
  if (group || cluster.value_or(0) == 1) {
    // The authority is the first sentinel / seed node, `hosts` the others.
    // Sentinels take their own credentials (sentinel_user, sentinel_password)
    // and have no database; seed nodes take the cluster's credentials.
    c.sentinel = group.value_or("");
    Endpoint first = ep;
    if (group) {
      first.user = sentinel_user.value_or("");
      first.password = sentinel_password.value_or("");
      first.db = 0;
    } else if (ep.db != 0) {
      drv::fail(EVDB_INVALID_ARGUMENT, "URI " + std::string(uri.redacted()) + " names database " +
                                           std::to_string(ep.db) +
                                           " with cluster=1: Redis Cluster has database 0 only");
    }
    c.cluster = !group;
    c.sentinels.push_back(first);
    if (hosts) {
      std::string_view rest = *hosts;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        c.sentinels.push_back(parse_host(rest.substr(0, comma), first));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    }
  } else if (hosts) {
    drv::fail(EVDB_INVALID_ARGUMENT,
              "several hosts (a host list or the parameter hosts) need sentinel=GROUP (the "
              "sentinels) or cluster=1 (the seed nodes); a single server is named alone in "
              "the authority");
  }
  uri.reject_unknown(
      "prefix, connect_timeout_ms, io_timeout_ms, pool_size, listen_block_ms, "
      "listen_reconnect_timeout_ms, write_lock_ms, wait_replicas, wait_timeout_ms, "
      "commit_resolve_timeout_ms, sentinel, sentinel_user, sentinel_password, cluster, hosts");
  return c;
}

}  // namespace evdb::redis
