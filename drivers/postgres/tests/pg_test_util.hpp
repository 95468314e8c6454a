// pg_test_util.hpp — shared helpers of the PostgreSQL driver tests. They need
// the private server of scripts/postgres-local (ctest's postgres_server
// fixture starts it); EVDB_PG_TEST_URI is its URI, reading the password from
// the script's passfile.
#pragma once

#include <evdb/driver.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pg_driver.hpp"
#include "test_support/listening.hpp"

namespace evdb::postgres::test {

// The password of the test role (EVDB_PG_TEST_URI reads it from the passfile).
inline std::string test_password() {
  return EVDB_PG_TEST_PASSWORD;
}

// Registers the driver linked into the test in-process (once).
inline void register_driver() {
  static const bool done = [] {
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = evdb_register_driver(evdb_driver_entry_postgres, &err);
    if (s != EVDB_OK) {
      std::string m = err.message ? err.message : "";
      evdb_error_release(&err);
      throw std::runtime_error("cannot register the postgres driver: " + m);
    }
    return true;
  }();
  (void)done;
}

// A schema name no other test (or earlier run) uses.
inline std::string fresh_schema(const std::string& prefix = "pgt") {
  static std::atomic<int> counter{0};
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return prefix + "_" + std::to_string(::getpid()) + "_" +
         std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count() %
                        1000000000) +
         "_" + std::to_string(counter++);
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

// An event for append.
inline Event ev(const std::string& type, const std::string& payload = "{}", int64_t time_us = 0,
                const std::string& rev = "") {
  Event e;
  e.type_name = type;
  e.payload = payload;
  e.time_us = time_us;
  e.revision_vcs = rev;
  return e;
}

using evdb::test_support::Listening;

}  // namespace evdb::postgres::test
