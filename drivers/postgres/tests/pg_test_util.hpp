// pg_test_util.hpp — shared helpers of the PostgreSQL driver tests. They need
// the private server of scripts/postgres-local (ctest's postgres_server
// fixture starts it); EVDB_PG_TEST_URI is its URI, reading the password from
// the script's passfile.
#pragma once

#include <evdb/driver.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_driver.hpp"
#include "test_support/events.hpp"
#include "test_support/listening.hpp"
#include "test_support/names.hpp"
#include "test_support/opening.hpp"

namespace evdb::postgres::test {

// The password of the test role (EVDB_PG_TEST_URI reads it from the passfile).
inline std::string test_password() {
  return EVDB_PG_TEST_PASSWORD;
}

// Registers the driver linked into the test in-process.
inline void register_driver() {
  test_support::register_driver(evdb_driver_entry_postgres);
}

// A schema name no other test (or earlier run) uses.
inline std::string fresh_schema(const std::string& prefix = "pgt") {
  return test_support::unique_name(prefix);
}

// The test server's URI (which already has ?passfile=…) with `query`
// appended ("schema=…&…").
inline std::string uri(const std::string& query = "") {
  return std::string(EVDB_PG_TEST_URI) + (query.empty() ? "" : "&" + query);
}

// The libpq connection string of the test database (for raw SQL in tests).
inline std::string raw_conninfo() {
  return EVDB_PG_TEST_URI;
}

// Drops a schema and everything in it (best effort).
inline void drop_schema(const std::string& schema) {
  try {
    pqxx::connection c(raw_conninfo());
    pqxx::work t(c);
    t.exec0("DROP SCHEMA IF EXISTS " + t.quote_name(schema) + " CASCADE");
    t.commit();
  } catch (const std::exception&) {
  }
}

// Opens a store on a fresh schema, dropped again at the end.
class Store {
 public:
  explicit Store(const std::string& extra = "", const std::string& prefix = "pgt")
      : schema_(fresh_schema(prefix)) {
    register_driver();
    uri_ = uri("schema=" + schema_ + (extra.empty() ? "" : "&" + extra));
    db_.emplace(DB::open(uri_));
  }
  ~Store() {
    db_.reset();
    drop_schema(schema_);
  }
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  DB& db() { return *db_; }
  const std::string& schema() const { return schema_; }
  const std::string& uri_text() const { return uri_; }
  // Another handle on the same store.
  DB open_again() const { return DB::open(uri_); }

 private:
  std::string schema_;
  std::string uri_;
  std::optional<DB> db_;
};

// A raw evdb transaction handle (C API), for interleavings. Begun with
// `ctx` when given.
struct RawTx {
  RawTx(DB& db, evdb_tx_kind kind, Context* ctx = nullptr) {
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = evdb_begin(db.raw(), ctx ? ctx->raw() : nullptr, kind, &tx, &err);
    detail::check(s, err);
  }
  ~RawTx() { evdb_rollback(tx); }
  void rollback() {
    evdb_rollback(tx);
    tx = nullptr;
  }
  evdb_status append(int64_t assumed, const char* type = "T", std::string* msg = nullptr) {
    evdb_event e = EVDB_EVENT_INIT;
    e.type_name = type;
    e.type_name_len = std::strlen(type);
    e.payload = "{}";
    e.payload_len = 2;
    e.revision_vcs = "";
    int64_t nv = 0;
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = evdb_append_event(tx, nullptr, assumed, &e, &nv, &err);
    if (msg) *msg = err.message ? err.message : "";
    evdb_error_release(&err);
    return s;
  }
  int64_t head() {
    int64_t v = -1;
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_read_system_version(tx, nullptr, &v, &err), err);
    return v;
  }
  // The status of a C call on the transaction (its error released).
  template <class F>
  static evdb_status status_of(F&& call) {
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = call(&err);
    evdb_error_release(&err);
    return s;
  }
  evdb_status read_proj(int32_t id) {
    int64_t v = 0;
    return status_of(
        [&](evdb_error* e) { return evdb_read_projection_version(tx, nullptr, id, &v, e); });
  }
  evdb_status init_proj(int32_t id) {
    int64_t v = 0;
    return status_of(
        [&](evdb_error* e) { return evdb_init_projection_version(tx, nullptr, id, &v, e); });
  }
  evdb_status set_proj(int32_t id, int64_t v) {
    return status_of(
        [&](evdb_error* e) { return evdb_set_projection_version(tx, nullptr, id, v, e); });
  }
  evdb_status commit(std::string* msg = nullptr, Context* ctx = nullptr) {
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = evdb_commit(tx, ctx ? ctx->raw() : nullptr, &err);
    tx = nullptr;
    if (msg) *msg = err.message ? err.message : "";
    evdb_error_release(&err);
    return s;
  }
  evdb_tx* tx = nullptr;
};

using evdb::test_support::event;
using evdb::test_support::Listening;

}  // namespace evdb::postgres::test
