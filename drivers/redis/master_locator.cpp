// master_locator.cpp — see master_locator.hpp.
#include "master_locator.hpp"

#include <charconv>

namespace evdb::redis {
namespace {

// Throws CONNECTION unless the server on c answers ROLE with "master" (a
// replica, or a master being demoted, must not take writes).
void check_master(Connection& c, const drv::Ctx& ctx) {
  c.add({"ROLE"});
  Reply r = c.call(ctx, "checking the role of redis at " + c.endpoint().where());
  if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
      r->element[0]->type == REDIS_REPLY_STRING &&
      std::string_view(r->element[0]->str, r->element[0]->len) == "master")
    return;
  std::string role = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 ? reply_text(r->element[0])
                                                                      : reply_text(r.get());
  drv::fail(EVDB_CONNECTION, "redis at " + c.endpoint().where() + " is not a master (ROLE: " +
                                 role + "); a failover may be in progress");
}

}  // namespace

MasterLocator::MasterLocator(Endpoint server, std::string group, std::vector<Endpoint> sentinels)
    : server_(std::move(server)), group_(std::move(group)), sentinels_(std::move(sentinels)) {}

std::string MasterLocator::where() const {
  if (group_.empty()) return server_.where();
  std::string out = "sentinel group '" + group_ + "' via ";
  for (size_t i = 0; i < sentinels_.size(); ++i) out += (i ? "," : "") + sentinels_[i].where();
  return out;
}

Endpoint MasterLocator::ask_sentinels(const drv::Ctx& ctx) {
  std::string why;
  size_t unknown = 0;
  for (const Endpoint& s : sentinels_) {
    try {
      auto c = Connection::open(s, ctx);
      c->add({"SENTINEL", "get-master-addr-by-name", group_});
      Reply r = c->call(ctx, "asking sentinel " + s.where() + " for the master");
      if (r->type == REDIS_REPLY_NIL) {
        ++unknown;
        why = "sentinel " + s.where() + " knows no master group '" + group_ + "'";
        continue;
      }
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
          r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        why = "sentinel " + s.where() + " answered " + reply_text(r.get());
        continue;
      }
      Endpoint m = server_;
      m.host.assign(r->element[0]->str, r->element[0]->len);
      std::string_view port(r->element[1]->str, r->element[1]->len);
      auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), m.port);
      if (ec != std::errc() || p != port.data() + port.size() || m.port <= 0 || m.port > 65535) {
        why = "sentinel " + s.where() + " gave the port '" + std::string(port) + "'";
        continue;
      }
      return m;
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      why = e.what();
    }
  }
  if (unknown == sentinels_.size())
    drv::fail(EVDB_INVALID_ARGUMENT,
              "no sentinel of " + where() + " knows the master group '" + group_ + "'");
  drv::fail(EVDB_CONNECTION, "no sentinel of " + where() + " named a master: " + why);
}

std::unique_ptr<Connection> MasterLocator::open(const drv::Ctx& ctx) {
  if (group_.empty()) return Connection::open(server_, ctx);
  std::optional<Endpoint> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cached = master_;
  }
  std::string why;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Endpoint m;
    if (attempt == 0 && cached) {
      m = *cached;
    } else {
      m = ask_sentinels(ctx);
      std::lock_guard<std::mutex> lock(mu_);
      master_ = m;
    }
    try {
      auto c = Connection::open(m, ctx);
      check_master(*c, ctx);
      return c;
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      why = e.what();
    }
    if (attempt == 0 && !cached) break;  // the sentinels' fresh answer failed
  }
  drv::fail(EVDB_CONNECTION, "no master reachable through " + where() + ": " + why);
}

}  // namespace evdb::redis
