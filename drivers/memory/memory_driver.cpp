// memory_driver.cpp — the in-memory evdb driver. See memory_driver.hpp and
// docs/memory-driver.md.
#include "memory_driver.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <functional>
#include <new>
#include <thread>

#include <sys/mman.h>

#include "common/clock.hpp"

namespace evdb::memory {

namespace {

constexpr size_t kMinChunk = size_t{64} * 1024;
constexpr size_t kHugePage = size_t{2} * 1024 * 1024;

// Blocks of 2 MiB and more that stores gave back, kept for the next store
// of the process up to kKeptBytes in all (larger ones are unmapped). Such a
// store then fills pages already in memory instead of pages the kernel must
// zero first, whichever thread grows it. Process-wide; thread-safe.
class KeptBlocks {
 public:
  static constexpr size_t kKeptBytes = size_t{64} * 1024 * 1024;
  static KeptBlocks& instance() {
    static KeptBlocks* kept = new KeptBlocks;  // never destroyed: used until exit
    return *kept;
  }
  // A kept block of exactly `bytes`, or nullptr.
  void* take(size_t bytes) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < blocks_.size(); ++i) {
      if (blocks_[i].second != bytes) continue;
      void* p = blocks_[i].first;
      blocks_[i] = blocks_.back();
      blocks_.pop_back();
      kept_ -= bytes;
      return p;
    }
    return nullptr;
  }
  // Keeps the block; false when that would exceed kKeptBytes.
  bool keep(void* p, size_t bytes) noexcept {
    std::lock_guard lock(mu_);
    if (kept_ + bytes > kKeptBytes || blocks_.size() == blocks_.capacity()) return false;
    blocks_.emplace_back(p, bytes);
    kept_ += bytes;
    return true;
  }

 private:
  // Room for every block that fits in kKeptBytes, reserved once, so that
  // keep() never allocates.
  KeptBlocks() { blocks_.reserve(kKeptBytes / kHugePage); }
  std::mutex mu_;
  std::vector<std::pair<void*, size_t>> blocks_;
  size_t kept_ = 0;
};

// Memory for large long-lived blocks (segments, arena chunks), not zeroed.
// Blocks of 2 MiB or more come from the kernel directly (or from
// KeptBlocks), 2 MiB-aligned and advised to use transparent huge pages:
// filling them then costs one page fault per 2 MiB instead of one per 4 KiB,
// which is most of the cost of appending on a virtual machine. Not through
// malloc: glibc serves each thread from its own arena and unmaps an arena's
// heap that empties, while the main thread's heap keeps freed memory, so a
// store grown by one thread reused pages that a store grown by many had the
// kernel zero anew, inside the commit mutex. Freed with big_free and the same
// size. Throws std::bad_alloc.
void* big_alloc(size_t bytes) {
  if (bytes < kHugePage) {
    void* p = std::malloc(bytes);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  bytes = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  if (void* p = KeptBlocks::instance().take(bytes)) return p;
  // Map one huge page more and cut the ends so that the block is aligned.
  const size_t mapped = bytes + kHugePage;
  void* m = ::mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  char* base = static_cast<char*>(m);
  const uintptr_t addr = reinterpret_cast<uintptr_t>(base);
  char* p = base + ((kHugePage - addr % kHugePage) % kHugePage);
  if (p > base) ::munmap(base, static_cast<size_t>(p - base));
  if (base + mapped > p + bytes)
    ::munmap(p + bytes, static_cast<size_t>(base + mapped - (p + bytes)));
  ::madvise(p, bytes, MADV_HUGEPAGE);  // advice only
  return p;
}

// Gives back a block of big_alloc(bytes).
void big_free(void* p, size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < kHugePage) {
    std::free(p);
    return;
  }
  bytes = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  if (!KeptBlocks::instance().keep(p, bytes)) ::munmap(p, bytes);
}

}  // namespace

std::optional<int64_t> find_projection(const ProjectionTable& table, int32_t id) {
  auto it =
      std::lower_bound(table.begin(), table.end(), id,
                       [](const std::pair<int32_t, int64_t>& e, int32_t k) { return e.first < k; });
  if (it == table.end() || it->first != id) return std::nullopt;
  return it->second;
}

// ---------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------

namespace {
std::atomic<uint64_t> g_next_store_uid{1};
}  // namespace

Store::Store() : uid_(g_next_store_uid.fetch_add(1, std::memory_order_relaxed)) {
  for (auto& s : segments_) s.store(nullptr, std::memory_order_relaxed);
  auto published = std::make_shared<const Projections>(Projections{0, {}});
  current_ = Snapshot{0, std::shared_ptr<const ProjectionTable>(published, &published->table)};
  projections_.store(std::move(published), std::memory_order_release);
}

Snapshot Store::snapshot() const {
  // The table this thread saw last, and where from. Keeps that table alive
  // until the thread begins on another store, or on this one after its
  // projections changed, or exits.
  struct Cache {
    uint64_t store = 0;
    uint64_t seq = 0;
    std::shared_ptr<const ProjectionTable> table;
  };
  thread_local Cache cache;
  for (unsigned tries = 1;; ++tries) {
    const uint64_t seq = seq_.load(std::memory_order_acquire);
    if ((seq & 1) == 0) {
      // Acquire: the events up to head are visible, and the load of seq_
      // below cannot move above it.
      const int64_t head = head_.load(std::memory_order_acquire);
      if (seq_.load(std::memory_order_relaxed) == seq) {
        // (head, the table of seq) was the committed state at some instant.
        if (cache.store == uid_ && cache.seq == seq) return Snapshot{head, cache.table};
        std::shared_ptr<const Projections> p = projections_.load(std::memory_order_acquire);
        if (p->seq == seq) {
          cache = Cache{uid_, seq, std::shared_ptr<const ProjectionTable>(p, &p->table)};
          return Snapshot{head, cache.table};
        }
        // Projections changed meanwhile: look again.
      }
    }
    // A commit is publishing new projections (a few stores): let it finish,
    // and give up the processor if it seems preempted.
    if (tries % 64 == 0) std::this_thread::yield();
  }
}

Store::~Store() {
  for (size_t k = 0; k < kMaxSegments; ++k)
    big_free(segments_[k].load(std::memory_order_relaxed), segment_bytes(k));
  for (const Chunk& c : chunks_) big_free(c.p, c.bytes);
}

void Store::locate(int64_t version, size_t& k, size_t& i) {
  // Segment k holds 2^(kBaseShift+k) events; version v (1-based) is element
  // j - 2^(kBaseShift+k) of segment k, where j = v - 1 + 2^kBaseShift.
  uint64_t j = static_cast<uint64_t>(version - 1) + (uint64_t{1} << kBaseShift);
  k = static_cast<size_t>(std::bit_width(j)) - 1 - kBaseShift;
  i = static_cast<size_t>(j - (uint64_t{1} << (kBaseShift + k)));
}

const evdb_event& Store::event(int64_t version) const {
  size_t k = 0, i = 0;
  locate(version, k, i);
  return segments_[k].load(std::memory_order_acquire)[i];
}

void Store::copy_events(int64_t from, Order order, evdb_event* buf, size_t n) const {
  while (n > 0) {
    size_t k = 0, i = 0;
    locate(from, k, i);
    const evdb_event* seg = segments_[k].load(std::memory_order_acquire);
    if (order == Order::Ascending) {
      size_t cnt = std::min(n, (size_t{1} << (kBaseShift + k)) - i);
      std::memcpy(static_cast<void*>(buf), seg + i, cnt * sizeof(evdb_event));
      buf += cnt;
      n -= cnt;
      from += static_cast<int64_t>(cnt);
    } else {
      size_t cnt = std::min(n, i + 1);
      for (size_t c = 0; c < cnt; ++c) *buf++ = seg[i - c];
      n -= cnt;
      from -= static_cast<int64_t>(cnt);
    }
  }
}

evdb_event* Store::slot_for_write(int64_t version) {
  size_t k = 0, i = 0;
  locate(version, k, i);
  if (k >= kMaxSegments) drv::fail(EVDB_INTERNAL, "the memory store is full");
  evdb_event* seg = segments_[k].load(std::memory_order_relaxed);
  if (seg == nullptr) {
    seg = static_cast<evdb_event*>(big_alloc(segment_bytes(k)));
    segments_[k].store(seg, std::memory_order_release);
  }
  return seg + i;
}

char* Store::arena_alloc(size_t n) {
  if (n > chunk_left_) {
    // Chunks double with the arena, from 64 KiB up to one huge page.
    size_t size = std::max(n, std::clamp(arena_bytes_, kMinChunk, kHugePage));
    chunks_.reserve(chunks_.size() + 1);  // so that push_back cannot throw
    char* chunk = static_cast<char*>(big_alloc(size));
    chunks_.push_back(Chunk{chunk, size});
    arena_bytes_ += size;
    chunk_pos_ = chunk;
    chunk_left_ = size;
  }
  char* p = chunk_pos_;
  chunk_pos_ += n;
  chunk_left_ -= n;
  return p;
}

void Store::commit(const CommitRequest& req) {
  const bool appends = !req.events->empty();
  if (!appends && req.projection_writes->empty()) return;  // nothing to apply

  std::unique_lock lock(mu_);
  const Snapshot& cur = current_;
  const Snapshot& base = *req.base;
  const evdb_status lost_code = appends ? EVDB_VERSION_MISMATCH : EVDB_CONFLICT;
  if ((appends || req.read_head) && cur.head != base.head) {
    drv::fail(lost_code, "a concurrent transaction committed first: the head moved from " +
                             std::to_string(base.head) + " to " + std::to_string(cur.head));
  }
  if (!req.projection_reads->empty() && cur.projections != base.projections) {
    for (const auto& [id, seen] : *req.projection_reads) {
      if (find_projection(*cur.projections, id) != seen)
        drv::fail(lost_code, "a concurrent transaction committed first: projection " +
                                 std::to_string(id) + " changed");
    }
  }

  // Apply. Everything that can throw (allocation) happens before anything is
  // published, and a failure leaves the published state untouched.
  int64_t head = cur.head;
  if (appends) {
    char* strings = arena_alloc(req.strings.size());
    std::memcpy(strings, req.strings.data(), req.strings.size());
    for (const PendingEvent& p : *req.events) {
      evdb_event* slot = slot_for_write(head + 1);
      slot->version = head + 1;
      slot->time_us = p.time_us;
      slot->type_name = strings + p.type_off;
      slot->type_name_len = p.type_len;
      slot->payload = strings + p.payload_off;
      slot->payload_len = p.payload_len;
      slot->revision_vcs = strings + p.rev_off;
      slot->revision_vcs_len = p.rev_len;
      ++head;
    }
  }
  if (!req.projection_writes->empty()) {
    // The new table, published with the head under seq_ (see snapshot()).
    const uint64_t seq = seq_.load(std::memory_order_relaxed);
    auto next = std::make_shared<Projections>(Projections{seq + 2, *cur.projections});
    ProjectionTable& table = next->table;
    for (const auto& [id, v] : *req.projection_writes) {
      auto it = std::lower_bound(
          table.begin(), table.end(), id,
          [](const std::pair<int32_t, int64_t>& e, int32_t k) { return e.first < k; });
      if (it != table.end() && it->first == id)
        it->second = v;
      else
        table.insert(it, {id, v});
    }
    std::shared_ptr<const Projections> published = std::move(next);
    current_ = Snapshot{head, std::shared_ptr<const ProjectionTable>(published, &published->table)};
    projections_.store(std::move(published), std::memory_order_release);
    seq_.store(seq + 1, std::memory_order_relaxed);
    head_.store(head, std::memory_order_release);  // orders the odd seq_ before it
    seq_.store(seq + 2, std::memory_order_release);
  } else {
    current_.head = head;
    head_.store(head, std::memory_order_release);
  }
  lock.unlock();
  if (appends) committed_.notify_all();
}

void Store::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  // Wait in slices so cancellation is seen within kSlice even though nothing
  // wakes the condition variable on cancel.
  constexpr int64_t kSliceUs = 20'000;
  ctx.check("starting to listen");
  int64_t delivered = head();
  sink.ready();
  for (;;) {
    int64_t h = head();
    while (delivered < h) {
      sink.inserted(++delivered);  // throws CallbackStop to end
    }
    ctx.check("listening");
    int64_t wait_us = kSliceUs;
    int64_t rem = ctx.remaining_us();
    if (rem >= 0) wait_us = std::min(wait_us, rem);
    std::unique_lock lock(mu_);
    committed_.wait_for(lock, std::chrono::microseconds(wait_us),
                        [&] { return head_.load(std::memory_order_acquire) > delivered; });
  }
}

// ---------------------------------------------------------------------------
// Registry of named stores
// ---------------------------------------------------------------------------

std::shared_ptr<Store> acquire_store(std::string_view name) {
  if (name.empty()) return std::make_shared<Store>();
  // Named stores live for the life of the process (see docs/memory-driver.md).
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<Store>, std::less<>> stores;
  std::lock_guard lock(mu);
  auto it = stores.find(name);
  if (it == stores.end()) it = stores.emplace(std::string(name), std::make_shared<Store>()).first;
  return it->second;
}

// ---------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------

MemoryTx::MemoryTx(Store* store, Snapshot snap, bool read_only)
    : store_(store), snap_(std::move(snap)), read_only_(read_only) {}

evdb_event MemoryTx::view_event(int64_t v) const {
  if (v <= snap_.head) return store_->event(v);
  const Store::PendingEvent& p = pending_[static_cast<size_t>(v - snap_.head - 1)];
  const char* s = strings_.data();
  evdb_event e{};
  e.version = v;
  e.time_us = p.time_us;
  e.type_name = s + p.type_off;
  e.type_name_len = p.type_len;
  e.payload = s + p.payload_off;
  e.payload_len = p.payload_len;
  e.revision_vcs = s + p.rev_off;
  e.revision_vcs_len = p.rev_len;
  return e;
}

int64_t MemoryTx::read_system_version(drv::Ctx&) {
  read_head_ = true;
  return view_head();
}

bool MemoryTx::read_event_at(drv::Ctx&, int64_t version, evdb_event& out) {
  if (version < 1) return false;
  if (version > view_head()) {
    read_head_ = true;  // "not found" depends on the head
    return false;
  }
  out = view_event(version);
  return true;
}

bool MemoryTx::read_event_after(drv::Ctx&, int64_t version, evdb_event& out) {
  if (version >= view_head()) {  // also keeps version + 1 from overflowing
    read_head_ = true;
    return false;
  }
  out = view_event(version < 0 ? 1 : version + 1);
  return true;
}

size_t MemoryTx::read_events(drv::Ctx&, int64_t at, bool reverse, evdb_event* buf, size_t n) {
  if (n == 0) return 0;
  const int64_t view = view_head();
  const int64_t committed = snap_.head;
  if (!reverse) {
    int64_t start = std::max<int64_t>(at, 1);
    if (start > view) {
      read_head_ = true;
      return 0;
    }
    size_t count = static_cast<size_t>(
        std::min<int64_t>(static_cast<int64_t>(std::min<size_t>(n, INT64_MAX)), view - start + 1));
    if (count < n) read_head_ = true;  // cut short by the head
    size_t from_store = 0;
    if (start <= committed)
      from_store = std::min(count, static_cast<size_t>(committed - start + 1));
    if (from_store > 0) store_->copy_events(start, Store::Order::Ascending, buf, from_store);
    for (size_t i = from_store; i < count; ++i)
      buf[i] = view_event(start + static_cast<int64_t>(i));
    return count;
  }
  if (at < 1) return 0;
  int64_t start = at;
  if (start > view) {
    read_head_ = true;  // starts at the head
    start = view;
  }
  size_t count = static_cast<size_t>(
      std::min<int64_t>(static_cast<int64_t>(std::min<size_t>(n, INT64_MAX)), start));
  size_t i = 0;
  for (; i < count && start - static_cast<int64_t>(i) > committed; ++i)
    buf[i] = view_event(start - static_cast<int64_t>(i));
  if (i < count)
    store_->copy_events(start - static_cast<int64_t>(i), Store::Order::Descending, buf + i,
                        count - i);
  return count;
}

std::optional<int64_t> MemoryTx::view_projection(int32_t id) {
  if (auto w = projection_writes_.find(id); w != projection_writes_.end()) return w->second;
  if (auto r = projection_reads_.find(id); r != projection_reads_.end()) return r->second;
  std::optional<int64_t> v = find_projection(*snap_.projections, id);
  if (!read_only_) projection_reads_.emplace(id, v);
  return v;
}

std::optional<int64_t> MemoryTx::read_projection_version(drv::Ctx&, int32_t id) {
  return view_projection(id);
}

void MemoryTx::require_writable(const char* what) const {
  if (read_only_)
    drv::fail(EVDB_READ_ONLY, std::string(what) + " is not allowed in a read-only transaction");
}

int64_t MemoryTx::append_event(drv::Ctx&, int64_t assumed, const evdb_event& event) {
  require_writable("append_event");
  const int64_t head = view_head();
  read_head_ = true;
  if (assumed != head)
    drv::fail(EVDB_VERSION_MISMATCH, "assumed version " + std::to_string(assumed) +
                                         " but the head is " + std::to_string(head));
  if (event.time_us < 0)
    drv::fail(EVDB_INVALID_ARGUMENT, "time_us " + std::to_string(event.time_us) + " is negative");

  std::string_view type(event.type_name, event.type_name_len);
  std::string_view payload(event.payload, event.payload_len);
  std::string_view rev = event.revision_vcs != nullptr
                             ? std::string_view(event.revision_vcs, event.revision_vcs_len)
                             : std::string_view();
  // The caller may hand back strings read from this very transaction, which
  // point into strings_: copy them aside before strings_ may reallocate.
  std::string aside;
  auto inside = [&](std::string_view s) {
    return !s.empty() && s.data() >= strings_.data() &&
           s.data() < strings_.data() + strings_.size();
  };
  if (inside(type) || inside(payload) || inside(rev)) {
    aside.append(type).append(payload).append(rev);
    type = std::string_view(aside).substr(0, type.size());
    payload = std::string_view(aside).substr(type.size(), payload.size());
    rev = std::string_view(aside).substr(type.size() + payload.size(), rev.size());
  }

  Store::PendingEvent p{};
  p.time_us = event.time_us == 0 ? common::wall_now_us() : event.time_us;
  auto put = [&](std::string_view s, size_t& off, size_t& len) {
    off = strings_.size();
    len = s.size();
    strings_.append(s);
    strings_.push_back('\0');
  };
  put(type, p.type_off, p.type_len);
  put(payload, p.payload_off, p.payload_len);
  put(rev, p.rev_off, p.rev_len);
  pending_.push_back(p);
  return head + 1;
}

int64_t MemoryTx::init_projection_version(drv::Ctx&, int32_t id) {
  require_writable("init_projection_version");
  if (auto v = view_projection(id)) return *v;
  projection_writes_[id] = 0;
  return 0;
}

void MemoryTx::set_projection_version(drv::Ctx&, int32_t id, int64_t version) {
  require_writable("set_projection_version");
  if (version < 0)
    drv::fail(EVDB_INVALID_ARGUMENT,
              "projection version " + std::to_string(version) + " is negative");
  if (!view_projection(id))
    drv::fail(EVDB_NOT_FOUND, "projection " + std::to_string(id) + " was never initialised");
  projection_writes_[id] = version;
}

void MemoryTx::commit(drv::Ctx& ctx) {
  if (read_only_) return;
  ctx.check("committing");
  Store::CommitRequest req{&snap_,    read_head_, &projection_reads_, &projection_writes_,
                           &pending_, strings_};
  store_->commit(req);
}

void MemoryTx::rollback() noexcept {
  // Nothing was published; the buffers go with the object.
}

// ---------------------------------------------------------------------------
// Handles and the driver
// ---------------------------------------------------------------------------

std::unique_ptr<drv::Tx> MemoryDb::begin(drv::Ctx& ctx, bool read_only) {
  ctx.check(read_only ? "beginning a read-only transaction" : "beginning a read-write transaction");
  return std::make_unique<MemoryTx>(store_.get(), store_->snapshot(), read_only);
}

void MemoryDb::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  store_->listen(ctx, sink);
}

std::unique_ptr<drv::Db> open(drv::Uri& uri, drv::Ctx& ctx) {
  if (uri.scheme() != "memory")
    drv::fail(EVDB_INVALID_ARGUMENT,
              "scheme '" + std::string(uri.scheme()) + "' is not served by this driver");
  if (uri.has_authority())
    drv::fail(EVDB_INVALID_ARGUMENT,
              "a memory URI has no host part: use memory: (private) or "
              "memory:NAME (shared), not " +
                  std::string(uri.redacted()));
  uri.reject_unknown("none");
  ctx.check("opening");
  return open_name(uri.path());
}

std::unique_ptr<MemoryDb> open_name(std::string_view name) {
  return std::make_unique<MemoryDb>(acquire_store(name));
}

const char* const Traits::schemes[] = {"memory", nullptr};

}  // namespace evdb::memory

EVDB_DRIVER_DEFINE_ENTRY(evdb_driver_entry_memory, evdb::memory::Traits)
