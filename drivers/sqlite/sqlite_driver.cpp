// sqlite_driver.cpp — opening a store, and the driver's entry. See
// sqlite_driver.hpp and docs/sqlite-driver.md; the steps of opening are in
// sqlite_config.cpp and sqlite_schema.cpp, transactions in
// sqlite_transaction.cpp, the listener in sqlite_listener.cpp.
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "sqlite_internal.hpp"

namespace evdb::sqlite {

using drv::fail;

std::unique_ptr<drv::Db> Traits::open(drv::Uri& uri, drv::Ctx& ctx) {
  Config cfg = parse_uri(uri);
  ctx.check("opening " + cfg.path);
  check_path(cfg.path);
  std::unique_ptr<Connection> conn = Connection::open(cfg, nullptr);
  init_schema(*conn, ctx);
  char* real = ::realpath(cfg.path.c_str(), nullptr);
  if (real == nullptr)
    fail(EVDB_CONNECTION, "cannot resolve database file " + cfg.path + ": " + std::strerror(errno));
  std::string canonical(real);
  std::free(real);
  auto file = FileState::get(canonical);
  conn->set_file(file);
  conn->arm(nullptr, BusyMode::kReader);
  return std::make_unique<SqliteDb>(std::move(cfg), std::move(file), std::move(conn));
}

}  // namespace evdb::sqlite

EVDB_DRIVER_DEFINE_ENTRY(evdb_driver_entry_sqlite, evdb::sqlite::Traits)
