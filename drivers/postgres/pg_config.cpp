// pg_config.cpp — URI to Config, and the SQL of the two layouts.
#include <algorithm>
#include <array>
#include <charconv>
#include <string>
#include <string_view>

#include "pg_driver.hpp"

namespace evdb::postgres {
namespace {

// libpq connection parameters (PostgreSQL 15) that may be given as URI query
// parameters and pass through unchanged. host/port/user/password/dbname come
// from the URI's authority and path but may also be given here, as libpq
// allows. "replication" is left out on purpose: it makes no sense here.
constexpr std::array<std::string_view, 33> kLibpqParams = {
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "sslmode",
    "requiressl",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "target_session_attrs",
};

constexpr std::string_view kEvdbParams =
    "schema, layout, create_layout, pool_max, listen_reconnect_timeout_ms, "
    "listen_reconnect_backoff_max_ms, commit_resolve_timeout_ms, read_only_on";

// key='value' with libpq's escaping (backslash before ' and \).
void add_kv(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += "='";
  for (char c : value) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
}

bool is_libpq_param(std::string_view key) {
  return std::find(kLibpqParams.begin(), kLibpqParams.end(), key) != kLibpqParams.end();
}

// libpq's host and port lists from the host the loader passes: one host, or
// a multi-host list "h1:5432,[::1],h3:5434" (already checked by the loader:
// each entry a host with an optional port, IPv6 in brackets). libpq takes
// host='h1,::1,h3' port='5432,,5434' (an empty port is the default one).
void add_hosts(std::string& conninfo, std::string_view host, int port) {
  if (host.find(',') == std::string_view::npos) {
    if (!host.empty()) add_kv(conninfo, "host", host);
    if (port != 0) add_kv(conninfo, "port", std::to_string(port));
    return;
  }
  std::string hosts, ports;
  bool any_port = false;
  size_t from = 0;
  for (;;) {
    size_t comma = host.find(',', from);
    std::string_view entry =
        host.substr(from, comma == std::string_view::npos ? std::string_view::npos : comma - from);
    std::string_view name = entry, p;
    if (!entry.empty() && entry.front() == '[') {
      size_t close = entry.find(']');
      name = entry.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
      if (close != std::string_view::npos && close + 1 < entry.size() && entry[close + 1] == ':')
        p = entry.substr(close + 2);
    } else if (size_t colon = entry.rfind(':'); colon != std::string_view::npos) {
      name = entry.substr(0, colon);
      p = entry.substr(colon + 1);
    }
    if (name.empty())
      drv::fail(EVDB_INVALID_ARGUMENT,
                "the host list has an empty host name: " + std::string(host));
    if (!hosts.empty()) {
      hosts += ',';
      ports += ',';
    }
    hosts += name;
    ports += p;
    any_port = any_port || !p.empty();
    if (comma == std::string_view::npos) break;
    from = comma + 1;
  }
  add_kv(conninfo, "host", hosts);
  if (any_port) add_kv(conninfo, "port", ports);
}

}  // namespace

std::string scrub(std::string text, const std::string& password) {
  if (password.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(password, pos)) != std::string::npos) {
    text.replace(pos, password.size(), "***");
    pos += 3;
  }
  return text;
}

Config parse_uri(drv::Uri& uri) {
  Config cfg;
  // The password, from the authority or a password= parameter, is scrubbed
  // from the redacted URI too (the host only redacts the authority's).
  cfg.password = std::string(uri.password());
  for (const auto& [k, v] : uri.remaining())
    if (k == "password" && !v.empty()) cfg.password = v;
  cfg.redacted = scrub(std::string(uri.redacted()), cfg.password);
  if (!uri.has_authority())
    drv::fail(EVDB_INVALID_ARGUMENT,
              "URI " + cfg.redacted +
                  " has no authority: expected "
                  "postgres://[user[:password]@]host[:port]/dbname[?params]");

  auto layout = uri.take("layout");
  if (!layout || *layout == "evdb") {
    cfg.layout = Layout::Evdb;
  } else if (*layout == "conductor") {
    cfg.layout = Layout::Conductor;
  } else {
    drv::fail(EVDB_INVALID_ARGUMENT,
              "parameter layout=" + *layout + " is not one of: evdb, conductor");
  }
  auto schema = uri.take("schema");
  if (schema) {
    if (schema->empty()) drv::fail(EVDB_INVALID_ARGUMENT, "parameter schema is empty");
    if (schema->size() > 63)
      drv::fail(EVDB_INVALID_ARGUMENT,
                "parameter schema=" + *schema + " is longer than PostgreSQL's 63-byte identifiers");
    if (schema->find('\0') != std::string::npos)
      drv::fail(EVDB_INVALID_ARGUMENT, "parameter schema contains a NUL byte");
    cfg.schema = *schema;
  } else {
    cfg.schema = cfg.layout == Layout::Conductor ? "system" : "evdb";
  }
  auto create = uri.take("create_layout");
  if (create) {
    if (*create == "1" || *create == "true") {
      cfg.create_layout = true;
    } else if (*create == "0" || *create == "false") {
      cfg.create_layout = false;
    } else {
      drv::fail(EVDB_INVALID_ARGUMENT, "parameter create_layout=" + *create + " is not 0 or 1");
    }
    if (cfg.layout != Layout::Conductor && cfg.create_layout)
      drv::fail(EVDB_INVALID_ARGUMENT,
                "parameter create_layout=1 needs layout=conductor (the evdb layout is always "
                "created on first open)");
  }
  if (auto n = uri.take_int("pool_max", 1, 1000)) cfg.pool_max = static_cast<int>(*n);
  if (auto n = uri.take_int("listen_reconnect_timeout_ms", 0, 86400000))
    cfg.listen_reconnect_timeout_ms = *n;
  if (auto n = uri.take_int("listen_reconnect_backoff_max_ms", 1, 60000))
    cfg.listen_reconnect_backoff_max_ms = *n;
  if (auto where = uri.take("read_only_on")) {
    if (*where == "standby" || *where == "prefer-standby") {
      cfg.read_only_target = *where;
    } else if (*where != "primary") {
      drv::fail(EVDB_INVALID_ARGUMENT, "parameter read_only_on=" + *where +
                                           " is not one of: primary, standby, prefer-standby");
    }
  }
  if (auto n = uri.take_int("commit_resolve_timeout_ms", 0, 3600000))
    cfg.commit_resolve_timeout_ms = *n;

  // Everything left must be a libpq parameter.
  std::string conninfo;
  add_hosts(conninfo, uri.host(), uri.port());
  if (!uri.user().empty()) add_kv(conninfo, "user", uri.user());
  if (!uri.password().empty()) add_kv(conninfo, "password", uri.password());
  std::string_view path = uri.path();
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (path.find('/') != std::string_view::npos)
    drv::fail(EVDB_INVALID_ARGUMENT,
              "URI " + cfg.redacted + " has a path with several parts; " + "expected /dbname");
  if (!path.empty()) add_kv(conninfo, "dbname", path);
  std::string unknown;
  for (const auto& [k, v] : uri.remaining()) {
    // libpq checks connect_timeout only when it connects blocking; the driver
    // connects without blocking (CtxConnect) and applies it itself, so it is
    // checked here: a whole number of seconds, as libpq requires.
    if (k == "connect_timeout") {
      int64_t sec = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), sec);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size())
        drv::fail(EVDB_INVALID_ARGUMENT, "parameter connect_timeout=" + std::string(v) +
                                             " is not a whole number of seconds");
    }
    if (!is_libpq_param(k)) {
      unknown += (unknown.empty() ? "" : ", ") + k;
      continue;
    }
    add_kv(conninfo, k, v);
  }
  if (!unknown.empty())
    drv::fail(EVDB_INVALID_ARGUMENT, "unknown URI parameter(s) " + unknown + " in " + cfg.redacted +
                                         " (evdb's: " + std::string(kEvdbParams) +
                                         "; or a libpq connection parameter such as sslmode, "
                                         "connect_timeout, application_name)");
  cfg.conninfo = std::move(conninfo);
  return cfg;
}

std::string evdb_layout_sql(const std::string& s) {
  return "CREATE TABLE IF NOT EXISTS " + s +
         ".events ("
         "version BIGINT PRIMARY KEY CHECK (version > 0), "
         "type TEXT NOT NULL, "
         "payload JSON NOT NULL, "
         "time_us BIGINT NOT NULL, "
         "vcs_revision TEXT NOT NULL);\n"
         "CREATE TABLE IF NOT EXISTS " +
         s +
         ".projection_versions (id INT PRIMARY KEY, version BIGINT NOT NULL);\n"
         "CREATE OR REPLACE FUNCTION " +
         s +
         ".evdb_notify() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
         "PERFORM pg_notify('evdb_' || md5(TG_TABLE_SCHEMA), NEW.version::text); "
         "RETURN NULL; END $f$;\n"
         "CREATE TRIGGER evdb_notify AFTER INSERT ON " +
         s + ".events FOR EACH ROW EXECUTE FUNCTION " + s + ".evdb_notify();\n" +
         evdb_layout_upgrade_sql(s);
}

std::string evdb_layout_upgrade_sql(const std::string& s) {
  // One row per committed read-write transaction that wrote, inserted by its
  // COMMIT's round trip (pg_driver.cpp), looked for after a lost COMMIT
  // (pg_commit_outcome.cpp); rows older than a day are deleted now and then
  // by writers. A table of its own rather than a column of events: a
  // transaction that only sets projection versions has a token too, and
  // events keeps the shape 1.0 drivers and readers know.
  return "CREATE TABLE IF NOT EXISTS " + s +
         ".commit_tokens (token UUID PRIMARY KEY, "
         "committed_at TIMESTAMPTZ NOT NULL DEFAULT now());\n"
         "COMMENT ON TABLE " +
         s + ".events IS 'evdb event log, layout " + std::to_string(kEvdbLayoutVersion) + "';\n";
}

std::string conductor_layout_sql(const std::string& s) {
  return "CREATE TABLE " + s +
         ".events ("
         "version BIGSERIAL PRIMARY KEY, "
         "type TEXT NOT NULL, "
         "payload JSONB NOT NULL, "
         "time TIMESTAMPTZ NOT NULL DEFAULT now(), "
         "vcs_revision TEXT);\n"
         "CREATE TABLE " +
         s +
         ".projection_versions (id INT PRIMARY KEY, version BIGINT NOT NULL);\n"
         "CREATE FUNCTION " +
         s +
         ".notify_event_inserted() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
         "PERFORM pg_notify('event_inserted', NEW.version::text); RETURN NULL; END $f$;\n"
         "CREATE TRIGGER event_inserted AFTER INSERT ON " +
         s + ".events FOR EACH ROW EXECUTE FUNCTION " + s + ".notify_event_inserted();\n";
}

}  // namespace evdb::postgres
