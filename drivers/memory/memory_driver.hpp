// memory_driver.hpp — the in-memory evdb driver ("memory:" URIs).
//
// Public to evdb's own tests and benchmarks (which link evdb_driver_memory_impl
// and use these classes directly); applications go through evdb.h instead.
//
// Store model (see docs/memory-driver.md for the decisions):
//  * `memory:` opens a store private to the handle; `memory:NAME` opens the
//    store NAME shared by every handle of the process that names it. A named
//    store lives until the process exits (it keeps its data after its last
//    handle closes).
//  * Committed events live in a segmented array whose segments never move;
//    their strings live in arena chunks that never move either. Both are
//    immutable once published, so reads hand out pointers into them.
//  * The committed state is the head (an atomic) and the projection table
//    (immutable, replaced by commits that change it), read together under a
//    sequence counter that only commits changing projections move: beginning
//    a transaction is a few atomic loads and, unless projections changed
//    since this thread last began one on the store, no shared lock (each
//    thread keeps the table it last saw). Read-only transactions never wait
//    for a writer.
//  * Read-write transactions hold no lock while open. They buffer their
//    writes and are validated at commit under a short mutex (optimistic
//    concurrency): VERSION_MISMATCH when they appended and lost, CONFLICT
//    when they only wrote projections and what they read changed.
#pragma once

#include <evdb/driver.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapter.hpp"
#include "common/version.hpp"

namespace evdb::memory {

// Capabilities of every memory store.
inline constexpr uint64_t kCapabilities =
    EVDB_CAP_LISTENER | EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD;

// Projection table: sorted by id, immutable once published.
using ProjectionTable = std::vector<std::pair<int32_t, int64_t>>;

// The committed state a transaction begins from. Immutable.
struct Snapshot {
  // Version of the last committed event.
  int64_t head = 0;
  // Projection versions as of this snapshot (never null).
  std::shared_ptr<const ProjectionTable> projections;
};

// Looks `id` up in a projection table; nullopt when absent.
std::optional<int64_t> find_projection(const ProjectionTable& table, int32_t id);

// One event log plus its projection table. Thread-safe. Shared by every
// handle that opened it (private stores have one handle).
class Store {
 public:
  Store();
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The current committed state. Lock-free: loads the sequence counter, the
  // head and the counter again; the projection table comes from this
  // thread's cache unless a commit changed projections since (then one load
  // of the published table). Retries only while a commit that changes
  // projections publishes (a few stores).
  Snapshot snapshot() const;
  // Version of the last committed event.
  int64_t head() const { return head_.load(std::memory_order_acquire); }
  // The committed event `version` (1 <= version <= a head already observed).
  // The pointed-to record and its strings never move or change.
  const evdb_event& event(int64_t version) const;
  // The order copy_events writes records in.
  enum class Order { Ascending, Descending };
  // Copies up to n records [from, from+n) (1-based, all <= an observed head)
  // Ascending into buf, or Descending [from-n+1 .. from].
  void copy_events(int64_t from, Order order, evdb_event* buf, size_t n) const;

  // What a read-write transaction hands to commit().
  struct PendingEvent {
    int64_t time_us;
    size_t type_off, type_len;
    size_t payload_off, payload_len;
    size_t rev_off, rev_len;
  };
  struct CommitRequest {
    // The snapshot the transaction began from.
    const Snapshot* base;
    // True when the transaction's result depends on the head (it read the
    // head, or a read was cut short by it).
    bool read_head;
    // Projection reads taken from the base snapshot: id -> value seen
    // (nullopt: seen absent).
    const std::map<int32_t, std::optional<int64_t>>* projection_reads;
    // Projection writes: id -> new value.
    const std::map<int32_t, int64_t>* projection_writes;
    // Appended events; their strings are NUL-terminated inside `strings`.
    const std::vector<PendingEvent>* events;
    std::string_view strings;
  };
  // Validates and applies a read-write transaction atomically, then wakes
  // listeners. Throws Error(VERSION_MISMATCH) when it appended and the store
  // moved on, Error(CONFLICT) when it only wrote projections and something it
  // read changed. Nothing is applied on error.
  void commit(const CommitRequest& req);

  // Blocks delivering committed versions (see evdb_listen).
  void listen(drv::Ctx& ctx, drv::ListenSink& sink);

 private:
  // Where version v's record lives: segment k, slot i.
  static void locate(int64_t version, size_t& k, size_t& i);
  // Bytes of segment k.
  static size_t segment_bytes(size_t k) { return sizeof(evdb_event) << (kBaseShift + k); }
  evdb_event* slot_for_write(int64_t version);  // under mu_
  char* arena_alloc(size_t n);                  // under mu_

  static constexpr size_t kBaseShift = 10;  // first segment: 1024 events
  static constexpr size_t kMaxSegments = 48;

  // A published projection table and the value of seq_ it goes with.
  struct Projections {
    uint64_t seq;
    ProjectionTable table;
  };

  std::atomic<evdb_event*> segments_[kMaxSegments];
  std::atomic<int64_t> head_{0};
  // Even; a commit that changes projections makes it odd, publishes the
  // head, and makes it even again (2 more than before).
  std::atomic<uint64_t> seq_{0};
  std::atomic<std::shared_ptr<const Projections>> projections_;
  const uint64_t uid_;  // unique per Store of the process: the caches' key

  // Guards commits, the arena and the listener wait.
  mutable std::mutex mu_;
  std::condition_variable committed_;
  Snapshot current_;  // the committed state, under mu_
  // Arena chunks (big_alloc'd, freed by the destructor).
  struct Chunk {
    char* p;
    size_t bytes;
  };
  std::vector<Chunk> chunks_;
  size_t arena_bytes_ = 0;
  char* chunk_pos_ = nullptr;
  size_t chunk_left_ = 0;
};

// Returns the store for URI path `name`: a fresh private store when name is
// empty, else the process-wide store of that name (created on first use, kept
// until the process exits). Thread-safe.
std::shared_ptr<Store> acquire_store(std::string_view name);

// A transaction on a Store. Read-only ones read their snapshot; read-write
// ones also buffer writes until commit.
class MemoryTx final : public drv::Tx {
 public:
  MemoryTx(Store* store, Snapshot snap, bool read_only);

  int64_t read_system_version(drv::Ctx& ctx) override;
  bool read_event_at(drv::Ctx& ctx, int64_t version, evdb_event& out) override;
  bool read_event_after(drv::Ctx& ctx, int64_t version, evdb_event& out) override;
  size_t read_events(drv::Ctx& ctx, int64_t at, bool reverse, evdb_event* buf, size_t n) override;
  std::optional<int64_t> read_projection_version(drv::Ctx& ctx, int32_t id) override;
  int64_t append_event(drv::Ctx& ctx, int64_t assumed, const evdb_event& event) override;
  int64_t init_projection_version(drv::Ctx& ctx, int32_t id) override;
  void set_projection_version(drv::Ctx& ctx, int32_t id, int64_t version) override;
  void commit(drv::Ctx& ctx) override;
  void rollback() noexcept override;

 private:
  // Head as this transaction sees it: snapshot head + own appends.
  int64_t view_head() const { return snap_.head + static_cast<int64_t>(pending_.size()); }
  // The event at version v of this transaction's view (1 <= v <= view_head()).
  evdb_event view_event(int64_t v) const;
  // Projection as this transaction sees it; records the read when it comes
  // from the snapshot.
  std::optional<int64_t> view_projection(int32_t id);
  void require_writable(const char* what) const;

  Store* store_;
  Snapshot snap_;
  bool read_only_;
  bool read_head_ = false;
  std::vector<Store::PendingEvent> pending_;
  std::string strings_;
  std::map<int32_t, std::optional<int64_t>> projection_reads_;
  std::map<int32_t, int64_t> projection_writes_;
};

// A handle on a Store.
class MemoryDb final : public drv::Db {
 public:
  explicit MemoryDb(std::shared_ptr<Store> store) : store_(std::move(store)) {}
  uint64_t capabilities() const override { return kCapabilities; }
  std::unique_ptr<drv::Tx> begin(drv::Ctx& ctx, bool read_only) override;
  void listen(drv::Ctx& ctx, drv::ListenSink& sink) override;
  // The store behind this handle (tests compare identities).
  const std::shared_ptr<Store>& store() const { return store_; }

 private:
  std::shared_ptr<Store> store_;
};

// Opens a handle from a parsed URI: scheme "memory", no authority, no
// parameters; the path names the store ("" = private). INVALID_ARGUMENT
// otherwise.
std::unique_ptr<drv::Db> open(drv::Uri& uri, drv::Ctx& ctx);

// Opens a handle on store `name` directly ("" = private), for C++ callers.
std::unique_ptr<MemoryDb> open_name(std::string_view name);

// The driver traits for the adapter.
struct Traits {
  static constexpr const char* name = "memory";
  static constexpr const char* version = common::kDriverVersion;
  static constexpr uint64_t capabilities = kCapabilities;
  static const char* const schemes[];
  static std::unique_ptr<drv::Db> open(drv::Uri& uri, drv::Ctx& ctx) {
    return memory::open(uri, ctx);
  }
};

}  // namespace evdb::memory

// The driver's unique entry point (exported as evdb_driver_entry by the .so).
extern "C" EVDB_API const evdb_driver* evdb_driver_entry_memory(uint32_t host_abi_version,
                                                                const evdb_host_api* host_api);
