// pg_driver.hpp — the PostgreSQL evdb driver ("postgres://", "postgresql://").
//
// Public to evdb's own tests and benchmarks (which link
// evdb_driver_postgres_impl and register evdb_driver_entry_postgres
// in-process); applications go through evdb.h. Decisions and the SQL layout:
// docs/postgres-driver.md.
//
// URIs are libpq's: postgres://user:password@host:port/dbname?params, also
// with several hosts (host1:port1,host2:port2, tried in order; add
// target_session_attrs=read-write to reach the primary of a replicated
// server: docs/deployment.md). evdb's own parameters are taken out first:
//   schema=NAME        the store (default "evdb"; "system" with
//                      layout=conductor)
//   layout=evdb|conductor
//                      evdb (default): gapless versions, payload kept byte
//                      for byte (json), time as BIGINT microseconds.
//                      conductor: the tables of Conductor's Go driver (dbpgx):
//                      BIGSERIAL versions, JSONB payload, TIMESTAMPTZ time.
//   create_layout=0|1  conductor layout only: create it when absent (default
//                      0: a missing layout is an error). The evdb layout is
//                      always created on first open.
//   pool_max=N         connections serving transactions (default 10, 1..1000)
//   listen_reconnect_timeout_ms=N
//                      how long a listener tries to reconnect after losing
//                      its connection before listen fails with CONNECTION
//                      (default 30000, 0..86400000)
//   listen_reconnect_backoff_max_ms=N
//                      longest pause between two reconnect attempts (default
//                      1000, 1..60000; the first pause is 20 ms, doubling)
//   read_only_on=primary|standby|prefer-standby
//                      where read-only transactions run: primary (default)
//                      on the connections of read-write transactions (the
//                      URI's target_session_attrs decides); standby / prefer-
//                      standby on a pool of their own connected with that
//                      target_session_attrs (libpq 14+), so they are served by
//                      a hot standby: one snapshot still, possibly behind the
//                      primary (not with synchronous_commit=remote_apply)
//   commit_resolve_timeout_ms=N
//                      how long a commit whose connection was lost while
//                      COMMIT was in flight tries to learn its outcome
//                      (reconnecting, to a new primary if need be) before it
//                      fails with EVDB_COMMIT_IN_DOUBT (default 30000,
//                      0..3600000; the context's deadline also ends it)
// Every other parameter listed in kLibpqParams passes through to libpq
// (sslmode, connect_timeout, application_name, …); anything else is refused
// with EVDB_INVALID_ARGUMENT.
#pragma once

#include <evdb/driver.h>

#include <cstdint>
#include <memory>
#include <string>

#include "adapter.hpp"
#include "common/version.hpp"

namespace evdb::postgres {

// Capabilities of the evdb layout; the conductor layout lacks GAPLESS and
// BYTE_EXACT_PAYLOAD.
inline constexpr uint64_t kCapabilities = EVDB_CAP_LISTENER | EVDB_CAP_LISTENER_RECONNECT |
                                          EVDB_CAP_DURABLE | EVDB_CAP_CROSS_PROCESS |
                                          EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD;
inline constexpr uint64_t kConductorCapabilities =
    kCapabilities & ~(EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD);

// Which tables a store uses.
enum class Layout { Evdb, Conductor };

// What open() makes of a URI.
struct Config {
  // libpq connection string (key='value' pairs) holding the password, if
  // any: never print it.
  std::string conninfo;
  // The password from the URI ("" when none), to scrub it from messages.
  std::string password;
  // The URI with the password replaced by "***", for messages.
  std::string redacted;
  std::string schema;
  Layout layout = Layout::Evdb;
  bool create_layout = false;
  int pool_max = 10;
  int64_t listen_reconnect_timeout_ms = 30000;
  int64_t listen_reconnect_backoff_max_ms = 1000;
  int64_t commit_resolve_timeout_ms = 30000;
  // read_only_on: "" (primary: read-only transactions share the pool of the
  // read-write ones), else libpq's target_session_attrs for their own pool
  // ("standby", "prefer-standby").
  std::string read_only_target;
};

// The version of the evdb layout this driver writes, recorded in the comment
// of the events table ("evdb event log, layout N"; docs/contract.md VER-6):
// 1 = events and projection_versions; 2 = 1 plus commit_tokens (the commit
// tokens of in-doubt commits, PG-5). A store of a later layout is refused
// with EVDB_UNSUPPORTED; a layout-1 store is upgraded on open (the new table
// is only added: a 1.0 driver keeps working on it, writing no tokens).
inline constexpr int kEvdbLayoutVersion = 2;

// Parses uri (taking evdb's parameters out, refusing unknown ones) into a
// Config. Throws drv::Error(INVALID_ARGUMENT) naming what was wrong.
Config parse_uri(drv::Uri& uri);

// Returns `text` with every occurrence of `password` replaced by "***"
// (unchanged when password is empty).
std::string scrub(std::string text, const std::string& password);

// SQL of the tables of the evdb layout in schema `quoted_schema` (an already
// quoted identifier); idempotent (IF NOT EXISTS). Also used by the benchmark.
std::string evdb_layout_sql(const std::string& quoted_schema);

// SQL that upgrades an evdb layout 1 (as created by evdb 1.0) to layout 2.
std::string evdb_layout_upgrade_sql(const std::string& quoted_schema);

// SQL of the Conductor layout (dbpgx's tables, sequence and trigger) in
// `quoted_schema`; run only when the layout is absent.
std::string conductor_layout_sql(const std::string& quoted_schema);

// The driver's traits for the adapter (drivers/adapter.hpp).
struct Traits {
  static constexpr const char* name = "postgres";
  static constexpr const char* version = common::kDriverVersion;
  static constexpr uint64_t capabilities = kCapabilities;
  static constexpr const char* const schemes[] = {"postgres", "postgresql", nullptr};
  // Connects, then creates the schema and layout when needed (serialised
  // among concurrent openers by an advisory lock). Errors: INVALID_ARGUMENT
  // (bad URI or parameter; a schema holding tables of another layout),
  // NOT_FOUND (layout=conductor without create_layout=1 on a schema without
  // that layout), CONNECTION (server unreachable, authentication failed),
  // CANCELED / DEADLINE_EXCEEDED.
  static std::unique_ptr<drv::Db> open(drv::Uri& uri, drv::Ctx& ctx);
};

}  // namespace evdb::postgres

// The PostgreSQL driver's entry point (see evdb_driver_entry_fn in driver.h):
// returns its static table. Register it with evdb_register_driver() to use the
// driver without loading libevdb_driver_postgres.so.
extern "C" EVDB_API const evdb_driver* evdb_driver_entry_postgres(uint32_t host_abi_version,
                                                                  const evdb_host_api* host);
