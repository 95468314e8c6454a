// master_locator.hpp — finds the server a store's commands go to: the one the
// URI names; through Redis Sentinel, the current master of a group; on Redis
// Cluster, the master that owns the store's hash slot (a store is the keys
// "{prefix}:…", all in one slot).
// See docs/redis-driver.md ("Sentinel") and docs/contract.md §6.6 (RDS-8).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connection.hpp"

namespace evdb::redis {

class MasterLocator {
 public:
  enum class Mode {
    Single,    // `server` is the server
    Sentinel,  // ask the sentinels `nodes` (with their own credentials, if
               // any) for the master of `group`
    Cluster,   // ask the seed nodes `nodes` (server's credentials) which master
               // owns the slot of the hash tag `group` (CLUSTER SLOTS)
  };
  // `server`: the server, or the credentials, database and timeouts every
  // connection uses (Sentinel, Cluster: its host and port are ignored).
  MasterLocator(Mode mode, Endpoint server, std::string group, std::vector<Endpoint> nodes);

  // A new connection to the server, or to the current master: the master
  // last found is tried first (on Cluster, the node a connection was last
  // sent to by MOVED), unless a connection to it was lost or met READONLY
  // (MasterNews); when it is unreachable or no longer answers ROLE "master",
  // the sentinels / seed nodes are asked again and their answer is checked
  // the same way. On Cluster the connection follows redirects itself
  // (Connection::exchange). Throws drv::Error: CONNECTION
  // (nobody answers, no master reachable, credentials refused),
  // INVALID_ARGUMENT (no sentinel knows the group; the database refused),
  // CANCELED / DEADLINE_EXCEEDED from ctx. Thread-safe.
  std::unique_ptr<Connection> open(const drv::Ctx& ctx);

  // For messages: "127.0.0.1:6379", "sentinel group G via h:p,h:p" or
  // "cluster via h:p,h:p".
  std::string where() const;

  // The cluster hash slot of a key or hash tag (CRC16/XMODEM mod 16384).
  static int slot_of(std::string_view tag);

 private:
  // The master's address by the first sentinel that knows it.
  Endpoint ask_sentinels(const drv::Ctx& ctx);
  // The address of the master owning slot_ by the first seed that answers.
  Endpoint ask_cluster(const drv::Ctx& ctx);

  const Mode mode_;
  const Endpoint server_;
  const std::string group_;
  const std::vector<Endpoint> nodes_;
  const int slot_;  // Cluster: the store's slot
  // What this locator's connections learnt about the master.
  const std::shared_ptr<MasterNews> news_;
  mutable std::mutex mu_;
  std::optional<Endpoint> master_;  // the last master found (guarded by mu_)
};

}  // namespace evdb::redis
