// master_locator.hpp — finds the server a store's writes go to: the one the
// URI names, or, through Redis Sentinel, the current master of a group.
// See docs/redis-driver.md ("Sentinel") and docs/contract.md §6.6 (RDS-8).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"

namespace evdb::redis {

class MasterLocator {
 public:
  // `server`: the server, its credentials and database. With a non-empty
  // `group`, server's host and port are ignored: the master is the address
  // the `sentinels` (asked in turn, without AUTH) give for `group`, and the
  // connection uses server's credentials, database and timeouts.
  MasterLocator(Endpoint server, std::string group, std::vector<Endpoint> sentinels);

  // A new connection to the server, or to the current master of the group:
  // the master last found is tried first; when it is unreachable or no
  // longer answers ROLE "master", the sentinels are asked again and their
  // answer is checked the same way. Throws drv::Error: CONNECTION (no
  // sentinel answers, no master reachable, credentials refused),
  // INVALID_ARGUMENT (no sentinel knows the group; the database refused),
  // CANCELED / DEADLINE_EXCEEDED from ctx. Thread-safe.
  std::unique_ptr<Connection> open(const drv::Ctx& ctx);

  // For messages: "127.0.0.1:6379", or "sentinel group G via h:p,h:p".
  std::string where() const;

 private:
  // The master's address by the first sentinel that knows it.
  Endpoint ask_sentinels(const drv::Ctx& ctx);

  const Endpoint server_;
  const std::string group_;
  const std::vector<Endpoint> sentinels_;
  mutable std::mutex mu_;
  std::optional<Endpoint> master_;  // the last master found (guarded by mu_)
};

}  // namespace evdb::redis
