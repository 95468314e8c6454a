// listen_hub.hpp — one server subscription per handle, fanned out in process
// to every evdb_listen on it (docs/contract.md §2.5, OP-20 … OP-24, LSN-1 …
// LSN-4; docs/decisions.md "One subscription per handle").
//
// A handle's ListenHubs runs at most one live Hub: the store's listener (the
// driver's, or the host's polling one) on a thread of libevdb's own, with a
// context of its own. The first evdb_listen on the handle starts it, the last
// one to leave stops it (cancels its context) and joins its thread. Each
// evdb_listen is a subscriber: it waits on its own thread, with its own
// context, for the versions the hub pushes into one bounded ring shared by
// every subscriber, and runs its own callbacks.
// A subscriber that falls more than kListenBuffer versions behind the hub
// reads what it missed from the log (read-only transactions) and rejoins.
#pragma once

#include <evdb/evdb.h>

#include <cstddef>
#include <memory>
#include <mutex>

namespace evdb::loader {

// How many versions the shared ring keeps: how far a subscriber may fall
// behind the live stream before it catches up from the log
// (docs/contract.md LSN-3).
inline constexpr size_t kListenBuffer = 4096;

class Hub;

// The hubs of one handle (member of evdb_db). Thread-safe.
class ListenHubs {
 public:
  ListenHubs() = default;
  ListenHubs(const ListenHubs&) = delete;
  ListenHubs& operator=(const ListenHubs&) = delete;
  // evdb_close destroys it once every listen ended (OP-2); by then the last
  // listen of each hub has stopped it and joined its thread.
  ~ListenHubs();

  // evdb_listen on `db`: joins (or starts) the live hub and delivers its
  // versions to the callbacks on the calling thread until ctx ends, a
  // callback fails, or the hub's listener ends with an error.
  evdb_status listen(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                     evdb_on_inserted_fn on_inserted, void* user, evdb_error* err);

 private:
  // The live hub with one more member, started if there is none (or the last
  // one ended); nullptr with err and status filled when its thread cannot
  // start.
  std::shared_ptr<Hub> join(evdb_db* db, evdb_error* err, evdb_status& status);
  // One member fewer; the last one stops the hub and joins its thread.
  void leave(const std::shared_ptr<Hub>& hub);

  std::mutex mu_;
  std::shared_ptr<Hub> live_;  // the hub new listens join
};

}  // namespace evdb::loader
