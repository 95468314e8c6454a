// listen.cpp — evdb_listen, and the polling listener built on read
// transactions for stores without their own (every store can be listened to,
// as Conductor falls back to polling). Every evdb_listen on a handle shares
// one run of the store's listener (listen_hub.hpp).
#include <evdb/driver.h>

#include <string>
#include <vector>

#include "context.hpp"
#include "errors.hpp"
#include "handles.hpp"

using evdb::loader::fail;

namespace {

constexpr int64_t kPollIntervalUs = 50 * 1000;
constexpr size_t kBatch = 256;

// Reads the versions after `last` (up to the head of a fresh snapshot) and
// hands each to on_inserted. Returns EVDB_OK or the first error.
evdb_status deliver_after(evdb_db* db, evdb_ctx* ctx, int64_t& last,
                          evdb_on_inserted_fn on_inserted, void* user, evdb_error* err) {
  evdb_tx* tx = nullptr;
  evdb_status s = evdb_begin(db, ctx, EVDB_TX_READ_ONLY, &tx, err);
  if (s != EVDB_OK) return s;
  std::vector<evdb_event> buf(kBatch, evdb_event EVDB_EVENT_INIT);
  std::vector<int64_t> versions;
  while (true) {
    size_t got = 0;
    s = evdb_read_events(tx, ctx, last + 1, 0, buf.data(), buf.size(), &got, err);
    if (s != EVDB_OK) break;
    versions.clear();
    for (size_t i = 0; i < got; ++i) versions.push_back(buf[i].version);
    // Callbacks run outside any driver call on the transaction's strings.
    for (int64_t v : versions) {
      s = on_inserted(user, v, err);
      if (s != EVDB_OK) {
        evdb_rollback(tx);
        return s;
      }
      last = v;
    }
    if (got < buf.size()) break;
  }
  evdb_rollback(tx);
  return s;
}

}  // namespace

namespace evdb::loader {

evdb_status poll_listen(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                        evdb_on_inserted_fn on_inserted, void* user, evdb_error* err) {
  const evdb_host_api* host = evdb::loader::host_api();
  int64_t last = 0;
  {
    evdb_tx* tx = nullptr;
    evdb_status s = evdb_begin(db, ctx, EVDB_TX_READ_ONLY, &tx, err);
    if (s != EVDB_OK) return s;
    s = evdb_read_system_version(tx, ctx, &last, err);
    evdb_rollback(tx);
    if (s != EVDB_OK) return s;
  }
  if (on_ready != nullptr) {
    evdb_status s = on_ready(user, err);
    if (s != EVDB_OK) return s;
  }
  while (true) {
    evdb_status s = host->ctx_sleep(ctx, kPollIntervalUs);
    if (s != EVDB_OK)
      return fail(err, s,
                  std::string("listen (polling ") + db->driver->table.name +
                      "): " + (s == EVDB_CANCELED ? "cancelled" : "deadline exceeded"));
    s = deliver_after(db, ctx, last, on_inserted, user, err);
    if (s != EVDB_OK) return s;
  }
}

}  // namespace evdb::loader

extern "C" evdb_status evdb_listen(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                                   evdb_on_inserted_fn on_inserted, void* user, evdb_error* err) {
  if (db == nullptr) return fail(err, EVDB_INVALID_ARGUMENT, "listen: db is NULL");
  if (on_inserted == nullptr)
    return fail(err, EVDB_INVALID_ARGUMENT, "listen: on_inserted is NULL");
  // Every listen on the handle shares one run of db->listen (docs/contract.md
  // LSN-1).
  return db->hubs.listen(db, ctx, on_ready, on_inserted, user, err);
}
