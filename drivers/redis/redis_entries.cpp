// redis_entries.cpp — log entries and replies: entry ids, reading an entry
// into an evdb_event, checking replies. See redis_internal.hpp.
#include <charconv>

#include "redis_internal.hpp"

namespace evdb::redis {
namespace {

// Entry fields. Short names: they are stored once per event.
constexpr std::string_view kType = "t";
constexpr std::string_view kPayload = "p";
constexpr std::string_view kTime = "ts";
constexpr std::string_view kRevision = "r";

}  // namespace

std::string entry_id(int64_t v) {
  return std::to_string(v) + "-0";
}

std::optional<int64_t> to_int(std::string_view s) {
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return n;
}

// The version encoded in an entry id "<version>-0".
int64_t id_version(const redisReply* id) {
  if (id == nullptr || id->type != REDIS_REPLY_STRING)
    drv::fail(EVDB_INTERNAL, "log entry without an id");
  std::string_view s(id->str, id->len);
  auto dash = s.find('-');
  auto v = to_int(s.substr(0, dash));
  if (!v || dash == std::string_view::npos || s.substr(dash + 1) != "0")
    drv::fail(EVDB_INTERNAL, "log entry id '" + std::string(s) + "' is not <version>-0");
  return *v;
}

[[noreturn]] void server_error(const redisReply* r, const std::string& doing) {
  std::string text = reply_text(r);
  if (text.starts_with("MOVED ") || text.starts_with("ASK "))
    drv::fail(EVDB_CONNECTION, "redis answered " + doing + " with a cluster redirect (" + text +
                                   "): another node serves the store's slot; nothing was "
                                   "written (the URI names one node of a Redis Cluster as a "
                                   "single server: add cluster=1 and the connections follow "
                                   "redirects)");
  if (text.starts_with("READONLY"))
    drv::fail(EVDB_CONNECTION, "redis refused " + doing + ": " + text +
                                   " (the server was demoted by a failover; nothing was written)");
  // Conditions that pass (nothing ran): the cluster cannot serve the slot
  // yet (a failover), the store's slot is being migrated with its keys
  // split between two nodes, a server is loading its data.
  for (std::string_view busy : {"CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN"})
    if (text.starts_with(busy))
      drv::fail(EVDB_CONNECTION,
                "redis refused " + doing + ": " + text + " (nothing was written; try again later)");
  drv::fail(EVDB_INTERNAL, "redis refused " + doing + ": " + text);
}

void expect_ok_type(const redisReply* r, int type, const std::string& doing) {
  if (r->type == REDIS_REPLY_ERROR) server_error(r, doing);
  if (r->type != type)
    drv::fail(EVDB_INTERNAL, "unexpected reply to " + doing + ": " + reply_text(r));
}

void fill_event(const redisReply* entry, evdb_event& out) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
      entry->element[1]->type != REDIS_REPLY_ARRAY)
    drv::fail(EVDB_INTERNAL, "malformed log entry: " + reply_text(entry));
  out = evdb_event{};
  out.version = id_version(entry->element[0]);
  const redisReply* f = entry->element[1];
  bool has_type = false, has_payload = false, has_time = false;
  static const char kEmpty[] = "";
  out.revision_vcs = kEmpty;
  for (size_t i = 0; i + 1 < f->elements; i += 2) {
    const redisReply* k = f->element[i];
    const redisReply* v = f->element[i + 1];
    if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
    std::string_view key(k->str, k->len);
    if (key == kType) {
      out.type_name = v->str;
      out.type_name_len = v->len;
      has_type = true;
    } else if (key == kPayload) {
      out.payload = v->str;
      out.payload_len = v->len;
      has_payload = true;
    } else if (key == kTime) {
      auto t = to_int(std::string_view(v->str, v->len));
      if (!t) drv::fail(EVDB_INTERNAL, "log entry with a bad time field");
      out.time_us = *t;
      has_time = true;
    } else if (key == kRevision) {
      out.revision_vcs = v->str;
      out.revision_vcs_len = v->len;
    }
  }
  if (!has_type || !has_payload || !has_time)
    drv::fail(EVDB_INTERNAL,
              "log entry " + std::to_string(out.version) + " lacks evdb's fields (t, p, ts)");
}

}  // namespace evdb::redis
