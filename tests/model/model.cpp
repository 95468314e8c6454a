// model.cpp — the reference model (see model.hpp).
#include "model.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>

namespace evdb::model {

Profile profile_for(const std::string& driver_name) {
  // "faulty" is the conformance suite's broken wrapper over the memory driver.
  if (driver_name == "memory" || driver_name == "faulty") return Profile::Optimistic;
  if (driver_name == "redis") return Profile::Queued;
  if (driver_name == "sqlite") return Profile::Locking;
  // postgres, and any driver the model does not know: the most permissive.
  return Profile::Serializable;
}

const char* profile_name(Profile p) {
  switch (p) {
    case Profile::Optimistic:
      return "optimistic";
    case Profile::Queued:
      return "queued";
    case Profile::Locking:
      return "locking";
    case Profile::Serializable:
      return "serializable";
  }
  return "?";
}

Model::Model(bool gapless) : gapless_(gapless) {
  states_.push_back(State{});
}

TxModel& Model::begin(bool rw) {
  TxModel tx;
  tx.id = next_id_++;
  tx.rw = rw;
  tx.snap = committed_index();
  if (rw) {
    for (auto& [id, other] : open_) {
      if (other.rw) {
        other.company = true;
        tx.company = true;
      }
    }
  }
  return open_.emplace(tx.id, std::move(tx)).first->second;
}

TxModel* Model::find(int id) {
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : &it->second;
}

void Model::end(int id) {
  open_.erase(id);
}

int Model::other_open_rw(int id) const {
  int n = 0;
  for (const auto& [oid, tx] : open_) n += (oid != id && tx.rw) ? 1 : 0;
  return n;
}

int64_t Model::view_head(const TxModel& tx) const {
  if (!tx.pending.empty()) return tx.pending.back().version;
  return head_of(states_[tx.snap]);
}

std::vector<LoggedEvent*> Model::view_events(TxModel& tx) {
  std::vector<LoggedEvent*> out;
  for (size_t i = 0; i < states_[tx.snap].log_len; ++i) out.push_back(&log_[i]);
  for (LoggedEvent& e : tx.pending) out.push_back(&e);
  return out;
}

std::optional<int64_t> Model::snapshot_projection(const TxModel& tx, int32_t id) const {
  const auto& p = states_[tx.snap].projections;
  auto it = p.find(id);
  if (it == p.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> Model::view_projection(const TxModel& tx, int32_t id) const {
  if (auto w = tx.proj_writes.find(id); w != tx.proj_writes.end()) return w->second;
  return snapshot_projection(tx, id);
}

size_t Model::writers_visible(const Item& item, size_t snap) const {
  auto it = writers_.find(item);
  if (it == writers_.end()) return 0;
  size_t n = 0;
  for (const Writer& w : it->second) n += w.state <= snap ? 1 : 0;
  return n;
}

void Model::note_read(TxModel& tx, Item item) {
  if (!tx.rw || tx.writes.count(item) != 0) return;  // own writes are not external reads
  tx.reads.emplace_back(item, writers_visible(item, tx.snap));
}

std::optional<int64_t> Model::read_projection(TxModel& tx, int32_t id) {
  if (tx.proj_writes.count(id) == 0) {
    note_read(tx, Item{Item::ProjExists, id});
    if (snapshot_projection(tx, id)) note_read(tx, Item{Item::ProjValue, id});
  }
  return view_projection(tx, id);
}

int64_t Model::init_projection(TxModel& tx, int32_t id) {
  if (std::optional<int64_t> cur = read_projection(tx, id)) return *cur;
  tx.proj_writes[id] = 0;
  note_write(tx, Item{Item::ProjExists, id});
  note_write(tx, Item{Item::ProjValue, id});
  return 0;
}

bool Model::set_projection(TxModel& tx, int32_t id, int64_t version) {
  if (tx.proj_writes.count(id) == 0) note_read(tx, Item{Item::ProjExists, id});
  if (!view_projection(tx, id)) return false;
  tx.proj_writes[id] = version;
  note_write(tx, Item{Item::ProjValue, id});
  return true;
}

void Model::append(TxModel& tx, LoggedEvent event) {
  read_head(tx);
  note_write(tx, Item{Item::Head, 0});
  tx.pending.push_back(std::move(event));
}

int64_t Model::written_value(const TxModel& tx, const Item& item) {
  switch (item.kind) {
    case Item::Head:
      return tx.pending.empty() ? 0 : tx.pending.back().version;
    case Item::ProjExists:
      return 1;
    case Item::ProjValue:
      return tx.proj_writes.at(item.id);
  }
  return 0;
}

bool Model::commit_breaks_serializability(const TxModel& tx, std::string* why) const {
  // Dependency graph over the committed read-write transactions plus tx
  // (as the last writer of what it writes). Reads are judged by value, as
  // the drivers validate them: a transaction that read value v of an item
  // comes after the writer that first gave it v (wr) and before the next
  // writer that changed it (rw); consecutive writers are ordered (ww). The
  // committed history is acyclic (checked at every commit), so a new cycle
  // must pass through tx.
  constexpr int64_t kInitial = INT64_MIN;  // no writer yet: absent / head 0
  std::map<Item, std::vector<Writer>> writers = writers_;
  for (const Item& item : tx.writes)
    writers[item].push_back(Writer{SIZE_MAX, tx.id, written_value(tx, item)});
  std::map<int, std::set<int>> edges;
  auto add_reads = [&](int node, const std::vector<std::pair<Item, size_t>>& reads) {
    for (const auto& [item, seen] : reads) {
      auto it = writers.find(item);
      if (it == writers.end()) continue;
      const std::vector<Writer>& w = it->second;
      auto value = [&](size_t i) { return i == 0 ? kInitial : w[i - 1].value; };
      const int64_t v = value(seen);
      size_t lo = seen, hi = seen;
      while (lo > 0 && value(lo - 1) == v) --lo;
      while (hi < w.size() && value(hi + 1) == v) ++hi;
      if (lo > 0 && w[lo - 1].tx != node) edges[w[lo - 1].tx].insert(node);
      if (hi < w.size() && w[hi].tx != node) edges[node].insert(w[hi].tx);
    }
  };
  for (const CommittedTx& c : committed_rw_) add_reads(c.id, c.reads);
  add_reads(tx.id, tx.reads);
  for (const auto& [item, w] : writers)
    for (size_t i = 1; i < w.size(); ++i) edges[w[i - 1].tx].insert(w[i].tx);
  // A path from tx back to tx?
  std::set<int> seen;
  std::vector<int> path;
  std::function<bool(int)> dfs = [&](int n) -> bool {
    for (int next : edges[n]) {
      if (next == tx.id) {
        path.push_back(n);
        return true;
      }
      if (!seen.insert(next).second) continue;
      if (dfs(next)) {
        path.push_back(n);
        return true;
      }
    }
    return false;
  };
  if (!dfs(tx.id)) return false;
  if (why != nullptr) {
    std::reverse(path.begin(), path.end());
    *why = "dependency cycle through committed transactions";
    for (int n : path) *why += " tx" + std::to_string(n) + " ->";
    *why += " tx" + std::to_string(tx.id);
  }
  return true;
}

bool Model::commit_may_lose(const TxModel& tx, Profile p) const {
  if (tx.doom) return true;
  switch (p) {
    case Profile::Optimistic:
    case Profile::Queued:
      // Validation at commit only fails when someone committed writes since
      // tx's snapshot; a transaction that wrote nothing is not validated.
      return tx.has_writes() && committed_index() > tx.snap;
    case Profile::Locking:
      // The lock holder always commits; a transaction without the lock
      // already lost at its first write.
      return false;
    case Profile::Serializable:
      return tx.company;
  }
  return true;
}

std::string Model::apply_commit(TxModel& tx) {
  if (!tx.rw) return "";
  if (!tx.pending.empty()) {
    int64_t head = committed_head();
    int64_t first = tx.pending.front().version;
    if (gapless_ ? first != head + 1 : first <= head)
      return "the commit's first version " + std::to_string(first) + " does not follow the head " +
             std::to_string(head);
  }
  CommittedTx c{tx.id, tx.reads, tx.writes};
  committed_rw_.push_back(std::move(c));
  if (!tx.has_writes()) return "";
  State next = committed();
  for (LoggedEvent& e : tx.pending) log_.push_back(e);
  next.log_len = log_.size();
  for (const auto& [id, v] : tx.proj_writes) next.projections[id] = v;
  states_.push_back(std::move(next));
  for (const Item& item : tx.writes)
    writers_[item].push_back(Writer{committed_index(), tx.id, written_value(tx, item)});
  return "";
}

}  // namespace evdb::model
