// model.hpp — the reference model of the evdb contract that the model-based
// random test (model_test.cpp) compares every driver result with.
//
// Pure logic, no evdb calls: the committed history (log and projection
// versions after each commit), the open transactions with the snapshot they
// read from and their own writes, and the rules that decide which outcomes
// the contract allows for an operation. Where drivers may legitimately differ
// (a writer that waits for a lock or loses at once, a serializable database
// that aborts more than strictly needed), the rules accept each allowed
// behaviour explicitly and the model then follows what the driver did.
#pragma once

#include <evdb/evdb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace evdb::model {

// How a driver's read-write transactions behave when several are open at
// once. Chosen from the driver name (profile_for); each is one family the
// contract allows.
enum class Profile {
  // memory: no locks; each transaction reads its snapshot and is validated
  // at commit. Operations never wait and never lose; a commit may only lose
  // when a transaction that wrote committed after it began.
  Optimistic,
  // redis: validated at commit as Optimistic, behind a write lock taken at
  // begin. A writer on another thread waits for the lock (here: until the
  // operation's deadline); one on the holder's thread does not wait and may
  // lose at a write instead. Commits lose as in Optimistic (a writer that
  // took the lock after its snapshot, or whose lock expired, is validated).
  Queued,
  // sqlite: one writer at a time. A writer on another thread waits for the
  // lock (here: until the operation's deadline); one on the lock holder's
  // thread writes nothing and loses at its first write instead.
  Locking,
  // postgres: serializable snapshot isolation. Writes may wait on another
  // open transaction's rows, any write or commit may lose while another
  // read-write transaction overlaps it (SSI aborts more than strictly
  // needed), and after a failed statement every later call may fail too.
  Serializable,
};

Profile profile_for(const std::string& driver_name);
const char* profile_name(Profile p);

// One event as the model knows it. time_us == 0 means "the driver's clock":
// any positive value is accepted on first read, then it must stay the same.
struct EventData {
  std::string type_name;
  std::string payload;
  std::string revision;
  int64_t time_us = 0;
};
struct LoggedEvent {
  int64_t version = 0;
  EventData data;
  std::optional<int64_t> seen_time;  // for time_us == 0, the first value read
};

// The committed state after one commit that wrote something.
struct State {
  size_t log_len = 0;                      // events [0, log_len) of the log
  std::map<int32_t, int64_t> projections;  // id -> version
};

// An item of the serializability check: the head of the log, a projection's
// existence, or a projection's value.
struct Item {
  enum Kind { Head, ProjExists, ProjValue } kind = Head;
  int32_t id = 0;
  auto operator<=>(const Item&) const = default;
};

struct TxModel {
  int id = 0;  // unique per case
  bool rw = false;
  size_t snap = 0;                             // index into Model::states() it reads from
  std::vector<LoggedEvent> pending;            // own appends
  std::map<int32_t, int64_t> proj_writes;      // own projection writes
  bool attempted_append = false;               // an append reached the driver
  bool attempted_write = false;                // any write reached the driver
  bool company = false;                        // overlapped another read-write tx
  std::optional<evdb_status> doom;             // a failure that may poison later calls
  std::vector<std::pair<Item, size_t>> reads;  // item, number of its writers seen
  std::set<Item> writes;

  bool has_writes() const { return !pending.empty() || !proj_writes.empty(); }
};

// A committed read-write transaction, for the serializability check.
struct CommittedTx {
  int id = 0;
  std::vector<std::pair<Item, size_t>> reads;
  std::set<Item> writes;
};

class Model {
 public:
  explicit Model(bool gapless);

  bool gapless() const { return gapless_; }
  const std::vector<State>& states() const { return states_; }
  const std::vector<LoggedEvent>& log() const { return log_; }
  const State& committed() const { return states_.back(); }
  size_t committed_index() const { return states_.size() - 1; }
  int64_t committed_head() const { return head_of(committed()); }
  int64_t head_of(const State& s) const { return s.log_len == 0 ? 0 : log_[s.log_len - 1].version; }

  // A new transaction reading the current committed state. Marks company on
  // it and on every open read-write transaction when it is read-write.
  TxModel& begin(bool rw);
  TxModel* find(int id);
  void end(int id);  // forgets an ended transaction
  // Read-write transactions open now, other than `id`.
  int other_open_rw(int id) const;

  // ---- the transaction's view: its snapshot plus its own writes ---------
  int64_t view_head(const TxModel& tx) const;
  // Every event the transaction sees, in version order (pointers into the
  // log and the tx's pending list).
  std::vector<LoggedEvent*> view_events(TxModel& tx);
  std::optional<int64_t> view_projection(const TxModel& tx, int32_t id) const;
  std::optional<int64_t> snapshot_projection(const TxModel& tx, int32_t id) const;

  // Records that tx read `item` (ignored when tx wrote it itself).
  void note_read(TxModel& tx, Item item);
  void note_write(TxModel& tx, Item item) { tx.writes.insert(item); }

  // What each operation reads and writes in tx's view, for the
  // serializability check (one place for the test runner and the model's
  // own tests).
  void read_head(TxModel& tx) { note_read(tx, Item{Item::Head, 0}); }
  // Reads the projection's existence and, when it exists, its value.
  std::optional<int64_t> read_projection(TxModel& tx, int32_t id);
  // Reads what it returns; creates the projection at 0 when absent.
  int64_t init_projection(TxModel& tx, int32_t id);
  // Reads only whether the projection exists (a blind write may be ordered
  // after another writer's); false (nothing written) when it does not.
  bool set_projection(TxModel& tx, int32_t id, int64_t version);
  // A successful append: reads and writes the head.
  void append(TxModel& tx, LoggedEvent event);

  // Whether committing tx now would make the committed read-write history
  // not serializable (a cycle in its dependency graph); when so, `why` says
  // which transactions form the cycle.
  bool commit_breaks_serializability(const TxModel& tx, std::string* why) const;
  // Whether the profile allows tx's commit to lose (VERSION_MISMATCH or
  // CONFLICT) although committing would keep the history serializable.
  bool commit_may_lose(const TxModel& tx, Profile p) const;
  // Applies tx's writes as its successful commit. Returns "" or the problem
  // (e.g. versions that do not follow the committed ones).
  std::string apply_commit(TxModel& tx);

 private:
  size_t writers_visible(const Item& item, size_t snap) const;
  // The value tx's commit gives `item` (the head, 1 for "exists", the
  // projection's version).
  static int64_t written_value(const TxModel& tx, const Item& item);

  bool gapless_;
  std::vector<LoggedEvent> log_;
  std::vector<State> states_;
  // Per item, the committed transactions that wrote it, in commit order.
  struct Writer {
    size_t state;   // the state index their commit created
    int tx;         // tx id
    int64_t value;  // what the item held after their commit
  };
  std::map<Item, std::vector<Writer>> writers_;
  std::vector<CommittedTx> committed_rw_;
  std::map<int, TxModel> open_;
  int next_id_ = 1;
};

}  // namespace evdb::model
