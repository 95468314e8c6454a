// sqlite_internal.hpp — what the SQLite driver's sources share: the store
// handle, and the steps of opening a store (sqlite_config.cpp: URI and path
// checks; sqlite_schema.cpp: schema; sqlite_transaction.cpp: transactions;
// sqlite_listener.cpp: listen).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "common/pool.hpp"
#include "connection.hpp"
#include "file_state.hpp"
#include "sqlite_driver.hpp"

namespace evdb::sqlite {

// Idle connections kept per handle; more are closed when given back.
constexpr size_t kMaxIdle = 16;
// Read buffers larger than this are freed when their connection goes idle.
constexpr size_t kMaxKeptBuffer = size_t{16} << 20;

// Parses the URI (taking every known parameter, refusing the rest).
// INVALID_ARGUMENT naming what is wrong.
Config parse_uri(drv::Uri& uri);

// Clear errors for the file-system problems SQLite reports vaguely: a
// missing folder, no permission (CONNECTION), a folder given as the file
// (INVALID_ARGUMENT).
void check_path(const std::string& path);

// Makes the file an evdb store of this format (WAL mode; the tables, created
// in one transaction when the file is empty), or refuses it untouched when it
// belongs to someone else (INVALID_ARGUMENT) or is of a newer format
// (UNSUPPORTED).
void init_schema(Connection& c, drv::Ctx& ctx);

class SqliteDb;

// A transaction on `conn` (given back to db's pool when it ends), begun:
// BEGIN (read-only) or BEGIN IMMEDIATE (read-write), and the head read.
std::unique_ptr<drv::Tx> start_transaction(SqliteDb& db, drv::Ctx& ctx,
                                           std::unique_ptr<Connection> conn, bool read_only);

// A store handle: the configuration, the per-file state and the pool of
// connections. Thread-safe.
class SqliteDb final : public drv::Db {
 public:
  SqliteDb(Config cfg, std::shared_ptr<FileState> file, std::unique_ptr<Connection> first)
      : cfg_(std::move(cfg)),
        file_(std::move(file)),
        pool_({kMaxIdle, 0, ""},
              [this](const drv::Ctx&) { return Connection::open(cfg_, file_); }) {
    pool_.adopt(std::move(first));
  }
  uint64_t capabilities() const override { return kCapabilities; }

  std::unique_ptr<drv::Tx> begin(drv::Ctx& ctx, bool read_only) override {
    ctx.check(read_only ? "beginning a read-only transaction"
                        : "beginning a read-write transaction");
    return start_transaction(*this, ctx, pool_.acquire(ctx), read_only);
  }

  void listen(drv::Ctx& ctx, drv::ListenSink& sink) override;

  // Gives back a connection: Reusable when it is outside any transaction.
  // Never throws.
  void release(std::unique_ptr<Connection> c, common::Health health) noexcept {
    // Do not keep the memory of one huge read forever.
    if (c->text_buffer().capacity() > kMaxKeptBuffer) std::string().swap(c->text_buffer());
    pool_.release(std::move(c), health);
  }
  FileState& file() { return *file_; }

 private:
  Config cfg_;
  std::shared_ptr<FileState> file_;
  common::Pool<Connection> pool_;
};

}  // namespace evdb::sqlite
