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

using evdb::test_support::event;
using evdb::test_support::Listening;

}  // namespace evdb::postgres::test
