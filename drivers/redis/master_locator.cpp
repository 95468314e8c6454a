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

MasterLocator::MasterLocator(Mode mode, Endpoint server, std::string group,
                             std::vector<Endpoint> nodes)
    : mode_(mode),
      server_(std::move(server)),
      group_(std::move(group)),
      nodes_(std::move(nodes)),
      slot_(slot_of(group_)),
      news_(std::make_shared<MasterNews>()) {}

int MasterLocator::slot_of(std::string_view tag) {
  uint16_t crc = 0;  // CRC16/XMODEM: polynomial 0x1021, initial 0
  for (unsigned char c : tag) {
    crc ^= static_cast<uint16_t>(c << 8);
    for (int i = 0; i < 8; ++i)
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc % 16384;
}

std::string MasterLocator::where() const {
  if (mode_ == Mode::Single) return server_.where();
  std::string out = mode_ == Mode::Sentinel ? "sentinel group '" + group_ + "' via "
                                            : std::string("cluster via ");
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (i != 0) out += ',';
    out += nodes_[i].where();
  }
  return out;
}

Endpoint MasterLocator::ask_cluster(const drv::Ctx& ctx) {
  std::string why = "no seed node";
  for (const Endpoint& seed : nodes_) {
    try {
      auto c = Connection::open(seed, ctx);
      c->add({"CLUSTER", "SLOTS"});
      Reply r = c->call(ctx, "asking " + seed.where() + " for the cluster's slots");
      if (r->type != REDIS_REPLY_ARRAY) {
        why = seed.where() + " answered CLUSTER SLOTS with " + reply_text(r.get());
        continue;
      }
      for (size_t i = 0; i < r->elements; ++i) {
        const redisReply* range = r->element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER || range->element[0]->integer > slot_ ||
            range->element[1]->integer < slot_)
          continue;
        const redisReply* node = range->element[2];
        if (node->type != REDIS_REPLY_ARRAY || node->elements < 2 ||
            node->element[0]->type != REDIS_REPLY_STRING ||
            node->element[1]->type != REDIS_REPLY_INTEGER)
          break;
        Endpoint m = server_;
        m.host.assign(node->element[0]->str, node->element[0]->len);
        if (m.host.empty() || m.host == "?") m.host = seed.host;  // "the address you used"
        m.port = static_cast<int>(node->element[1]->integer);
        return m;
      }
      why = seed.where() + " knows no master for slot " + std::to_string(slot_);
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      why = e.what();
    }
  }
  drv::fail(EVDB_CONNECTION, "no node of " + where() + " named the master of slot " +
                                 std::to_string(slot_) + ": " + why);
}

Endpoint MasterLocator::ask_sentinels(const drv::Ctx& ctx) {
  std::string why;
  size_t unknown = 0;
  for (const Endpoint& s : nodes_) {
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
  if (unknown == nodes_.size())
    drv::fail(EVDB_INVALID_ARGUMENT,
              "no sentinel of " + where() + " knows the master group '" + group_ + "'");
  // A sentinel that wants a password (requirepass) or refused the one given:
  // say which parameter carries it (the URI's credentials are the master's).
  if (why.find("NOAUTH") != std::string::npos || why.find("WRONGPASS") != std::string::npos ||
      why.find("refused the credentials") != std::string::npos)
    why += nodes_.front().password.empty()
               ? " (the sentinels want a password: sentinel_password=…, and sentinel_user=… "
                 "for an ACL user; the URI's own credentials are the master's)"
               : " (check sentinel_password / sentinel_user: they are the sentinels' "
                 "credentials; the URI's own are the master's)";
  drv::fail(EVDB_CONNECTION, "no sentinel of " + where() + " named a master: " + why);
}

std::unique_ptr<Connection> MasterLocator::open(const drv::Ctx& ctx) {
  if (mode_ == Mode::Single) return Connection::open(server_, ctx);
  std::optional<Endpoint> cached;
  {
    std::lock_guard<std::mutex> lock(mu_);
    MasterNews::Learnt learnt = news_->take();
    if (learnt.kind == MasterNews::Kind::Moved) master_ = std::move(learnt.to);
    if (learnt.kind != MasterNews::Kind::Lost) cached = master_;
  }
  std::string why;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Endpoint m;
    if (attempt == 0 && cached) {
      m = *cached;
    } else {
      m = mode_ == Mode::Sentinel ? ask_sentinels(ctx) : ask_cluster(ctx);
      std::lock_guard<std::mutex> lock(mu_);
      master_ = m;
    }
    try {
      auto c = Connection::open(m, ctx);
      check_master(*c, ctx);
      c->report_to(news_, mode_ == Mode::Cluster);
      return c;
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION) throw;
      why = e.what();
    }
    if (attempt == 0 && !cached) break;  // the fresh answer failed
  }
  drv::fail(EVDB_CONNECTION, "no master reachable through " + where() + ": " + why);
}

}  // namespace evdb::redis
