// faulty_driver.cpp — a deliberately broken driver for the suite's own tests:
// scheme "faulty", a thin wrapper over the memory driver that injects one
// contract breach chosen by the URI parameter `fault` (faulty:NAME?fault=X).
// The runner tests check that the conformance test aimed at each breach
// fails, proving the suite's assertions can fail; `fault=none` must pass.
//
// Faults:
//   after_head      read_event_after returns the head, not the smallest > v
//   set_uninit_ok   set_projection_version on a never-initialised id is OK
//   ignore_assumed  append_event appends at the head whatever `assumed` is
//   rollback_commits rollback commits instead
//   snapshot_leak   read-only transactions read the latest state per call
//   notify_twice    the listener delivers every version twice
//   slow_cancel     listen returns 400 ms after it was cancelled
#include <evdb/driver.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

extern "C" const evdb_driver* evdb_driver_entry_memory(uint32_t host_abi_version,
                                                       const evdb_host_api* host);

namespace {

const evdb_driver* mem = nullptr;

struct FaultyDb {
  evdb_driver_db* inner;
  std::string fault;
};
struct FaultyTx {
  evdb_driver_tx* inner;
  FaultyDb* db;
  bool read_only;
  evdb_driver_tx* fresh = nullptr;  // snapshot_leak: the per-call transaction
};

FaultyDb* D(evdb_driver_db* d) {
  return reinterpret_cast<FaultyDb*>(d);
}
FaultyTx* T(evdb_driver_tx* t) {
  return reinterpret_cast<FaultyTx*>(t);
}

void release(evdb_error* e) {
  std::free(e->message);
  e->message = nullptr;
  e->release = nullptr;
}
evdb_status fail(evdb_error* err, evdb_status code, const std::string& msg) {
  if (err == nullptr) return code;
  if (err->release) err->release(err);
  err->code = code;
  err->message = static_cast<char*>(std::malloc(msg.size() + 1));
  if (err->message) std::memcpy(err->message, msg.c_str(), msg.size() + 1);
  err->release = release;
  err->private_data = nullptr;
  return code;
}

// Prefixes the wrapped driver's error message with "faulty: " so messages
// name this driver (docs/contract.md §3, ERR-3).
evdb_status named(evdb_status s, evdb_error* err) {
  if (s == EVDB_OK || err == nullptr || err->message == nullptr) return s;
  return fail(err, s, std::string("faulty: ") + err->message);
}

// The transaction a read goes to: for snapshot_leak on a read-only
// transaction, a brand-new one (so it sees commits made after begin).
evdb_driver_tx* reader(FaultyTx* t, evdb_ctx* ctx) {
  if (!(t->read_only && t->db->fault == "snapshot_leak")) return t->inner;
  if (t->fresh) mem->rollback(t->fresh);
  t->fresh = nullptr;
  if (mem->begin(t->db->inner, ctx, 1, &t->fresh, nullptr) != EVDB_OK) return t->inner;
  return t->fresh;
}
void end_fresh(FaultyTx* t) {
  if (t->fresh) mem->rollback(t->fresh);
  t->fresh = nullptr;
}

evdb_status f_open(const evdb_uri* uri, evdb_ctx* ctx, evdb_driver_db** out, evdb_error* err) {
  std::string fault = "none";
  std::vector<evdb_uri_param> rest;
  for (size_t i = 0; i < uri->param_count; ++i) {
    if (std::strcmp(uri->params[i].key, "fault") == 0)
      fault = uri->params[i].value;
    else
      rest.push_back(uri->params[i]);
  }
  static const char* const known[] = {"none",           "after_head",       "set_uninit_ok",
                                      "ignore_assumed", "rollback_commits", "snapshot_leak",
                                      "notify_twice",   "slow_cancel"};
  bool ok = false;
  for (const char* k : known) ok = ok || fault == k;
  if (!ok) return fail(err, EVDB_INVALID_ARGUMENT, "faulty: open: unknown fault '" + fault + "'");
  std::string text = std::string("memory:") + uri->path;
  evdb_uri inner = *uri;
  inner.text = text.c_str();
  inner.redacted = text.c_str();
  inner.scheme = "memory";
  inner.params = rest.data();
  inner.param_count = rest.size();
  evdb_driver_db* db = nullptr;
  evdb_status s = named(mem->open(&inner, ctx, &db, err), err);
  if (s != EVDB_OK) return s;
  *out = reinterpret_cast<evdb_driver_db*>(new FaultyDb{db, fault});
  return EVDB_OK;
}
void f_close(evdb_driver_db* d) {
  mem->close(D(d)->inner);
  delete D(d);
}
uint64_t f_caps(evdb_driver_db* d) {
  return mem->db_capabilities(D(d)->inner);
}
evdb_status f_begin(evdb_driver_db* d, evdb_ctx* ctx, int ro, evdb_driver_tx** out,
                    evdb_error* err) {
  evdb_driver_tx* inner = nullptr;
  evdb_status s = named(mem->begin(D(d)->inner, ctx, ro, &inner, err), err);
  if (s != EVDB_OK) return s;
  *out = reinterpret_cast<evdb_driver_tx*>(new FaultyTx{inner, D(d), ro != 0});
  return EVDB_OK;
}
evdb_status f_commit(evdb_driver_tx* t, evdb_ctx* ctx, evdb_error* err) {
  end_fresh(T(t));
  evdb_status s = named(mem->commit(T(t)->inner, ctx, err), err);
  delete T(t);
  return s;
}
void f_rollback(evdb_driver_tx* t) {
  end_fresh(T(t));
  if (T(t)->db->fault == "rollback_commits")
    mem->commit(T(t)->inner, nullptr, nullptr);
  else
    mem->rollback(T(t)->inner);
  delete T(t);
}
evdb_status f_head(evdb_driver_tx* t, evdb_ctx* ctx, int64_t* out, evdb_error* err) {
  return named(mem->read_system_version(reader(T(t), ctx), ctx, out, err), err);
}
evdb_status f_at(evdb_driver_tx* t, evdb_ctx* ctx, int64_t v, evdb_event* out, evdb_error* err) {
  return named(mem->read_event_at(reader(T(t), ctx), ctx, v, out, err), err);
}
evdb_status f_after(evdb_driver_tx* t, evdb_ctx* ctx, int64_t v, evdb_event* out, evdb_error* err) {
  evdb_driver_tx* r = reader(T(t), ctx);
  if (T(t)->db->fault == "after_head") {
    int64_t head = 0;
    evdb_status s = mem->read_system_version(r, ctx, &head, err);
    if (s != EVDB_OK) return s;
    if (head > v) return named(mem->read_event_at(r, ctx, head, out, err), err);
  }
  return named(mem->read_event_after(r, ctx, v, out, err), err);
}
evdb_status f_events(evdb_driver_tx* t, evdb_ctx* ctx, int64_t at, int rev, evdb_event* buf,
                     size_t n, size_t* n_out, evdb_error* err) {
  return named(mem->read_events(reader(T(t), ctx), ctx, at, rev, buf, n, n_out, err), err);
}
evdb_status f_proj(evdb_driver_tx* t, evdb_ctx* ctx, int32_t id, int64_t* out, evdb_error* err) {
  return named(mem->read_projection_version(reader(T(t), ctx), ctx, id, out, err), err);
}
evdb_status f_append(evdb_driver_tx* t, evdb_ctx* ctx, int64_t assumed, const evdb_event* e,
                     int64_t* nv, evdb_error* err) {
  if (T(t)->db->fault == "ignore_assumed") {
    evdb_status s = mem->read_system_version(T(t)->inner, ctx, &assumed, err);
    if (s != EVDB_OK) return s;
  }
  return named(mem->append_event(T(t)->inner, ctx, assumed, e, nv, err), err);
}
evdb_status f_init(evdb_driver_tx* t, evdb_ctx* ctx, int32_t id, int64_t* out, evdb_error* err) {
  return named(mem->init_projection_version(T(t)->inner, ctx, id, out, err), err);
}
evdb_status f_set(evdb_driver_tx* t, evdb_ctx* ctx, int32_t id, int64_t v, evdb_error* err) {
  evdb_status s = named(mem->set_projection_version(T(t)->inner, ctx, id, v, err), err);
  if (s == EVDB_NOT_FOUND && T(t)->db->fault == "set_uninit_ok") {
    if (err && err->release) err->release(err);
    if (err) *err = EVDB_ERROR_INIT;
    return EVDB_OK;
  }
  return s;
}

struct ListenState {
  evdb_on_ready_fn ready;
  evdb_on_inserted_fn inserted;
  void* user;
};
void ready_tramp(void* u) {
  auto* st = static_cast<ListenState*>(u);
  if (st->ready) st->ready(st->user);
}
evdb_status twice(void* u, int64_t v, evdb_error* err) {
  auto* st = static_cast<ListenState*>(u);
  evdb_status s = st->inserted(st->user, v, err);
  return s != EVDB_OK ? s : st->inserted(st->user, v, err);
}
evdb_status f_listen(evdb_driver_db* d, evdb_ctx* ctx, evdb_on_ready_fn ready,
                     evdb_on_inserted_fn inserted, void* user, evdb_error* err) {
  const std::string& fault = D(d)->fault;
  if (fault == "notify_twice") {
    ListenState st{ready, inserted, user};
    return named(mem->listen(D(d)->inner, ctx, ready_tramp, twice, &st, err), err);
  }
  evdb_status s = named(mem->listen(D(d)->inner, ctx, ready, inserted, user, err), err);
  if (fault == "slow_cancel" && s == EVDB_CANCELED)
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  return s;
}

const char* const schemes[] = {"faulty", nullptr};
evdb_driver table;

}  // namespace

extern "C" __attribute__((visibility("default"))) const evdb_driver* evdb_driver_entry(
    uint32_t host_abi_version, const evdb_host_api* host) {
  mem = evdb_driver_entry_memory(host_abi_version, host);
  if (mem == nullptr) return nullptr;
  table = *mem;  // same size and ABI; replace what we wrap
  table.name = "faulty";
  table.version = "0";
  table.schemes = schemes;
  table.open = f_open;
  table.close = f_close;
  table.db_capabilities = f_caps;
  table.begin = f_begin;
  table.commit = f_commit;
  table.rollback = f_rollback;
  table.read_system_version = f_head;
  table.read_event_at = f_at;
  table.read_event_after = f_after;
  table.read_events = f_events;
  table.read_projection_version = f_proj;
  table.append_event = f_append;
  table.init_projection_version = f_init;
  table.set_projection_version = f_set;
  table.listen = f_listen;
  // Fields a later ABI appended (ping, …) would take the memory driver's
  // handles: drop them by shrinking the table to what we wrap.
  table.size = static_cast<uint32_t>(offsetof(evdb_driver, listen) + sizeof(table.listen));
  return &table;
}
