// pg_listener.cpp — listen: LISTEN/NOTIFY on a connection of its own, poll()
// on its socket and the context's cancel fd, reconnect with backoff and catch
// up from the log. Decisions: docs/postgres-driver.md ("Listener").
#include <poll.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/reconnect.hpp"
#include "common/wait.hpp"
#include "pg_internal.hpp"

namespace evdb::postgres {
namespace {

// Collects the notifications of one channel: the highest version seen (evdb
// layout, where a notification N means every version <= N is committed) and
// whether any arrived (conductor layout, whose channel is shared by every
// schema of the database: a notification is only a wake-up).
class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel)
      : pqxx::notification_receiver(c, channel) {}
  void operator()(const std::string& payload, int) override {
    any = true;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), v);
    if (ec == std::errc() && p == payload.data() + payload.size() && v > max) max = v;
  }
  int64_t max = 0;
  bool any = false;
};

const std::string& sql_of(const Statements& st, const char* name) {
  for (const auto& [n, sql] : st.all)
    if (n == name) return sql;
  drv::fail(EVDB_INTERNAL, std::string("no statement ") + name);
}

// Thrown inside the wait loop when the connection is gone.
struct Lost {
  std::string why;
};

// Conductor layout: versions come from a sequence, so a version can be
// missing because its transaction rolled back (a gap for ever) or because it
// has not committed yet while a later one has (Go writers do not take our
// table lock). The listener delivers in order, so it holds everything after a
// missing version until that version's fate is known:
//  1. the gap has been seen for kGapGrace (a writer takes its version and
//     its transaction id in the same INSERT; the grace covers the instant
//     between the two);
//  2. then the transactions in progress at that moment are recorded;
//  3. once none of them is in progress any more, the log is read again: what
//     they committed is now visible; versions still missing never will be,
//     and are skipped.
constexpr std::chrono::milliseconds kGapGrace{100};
// How often a pending gap is looked at again while no notification arrives.
constexpr int kGapRecheckMs = 20;

struct Gap {
  int64_t first = 0;  // the missing version (last delivered + 1)
  std::chrono::steady_clock::time_point since;
  bool have_xids = false;
  std::string xids;  // transactions in progress after the grace, as "{1,2}"
};

// The transactions in progress now, as a PostgreSQL array literal.
std::string in_progress_xids(Connection& c) {
  pqxx::nontransaction t(c);
  return t
      .exec(
          "SELECT coalesce(array_agg(x)::text, '{}') FROM "
          "txid_snapshot_xip(txid_current_snapshot()) AS x")[0][0]
      .as<std::string>();
}

// Whether any of `xids` (an array literal) is still in progress.
bool any_in_progress(Connection& c, const std::string& xids) {
  pqxx::nontransaction t(c);
  return t.exec_params(
              "SELECT count(*) FROM unnest($1::bigint[]) AS x "
              "WHERE txid_status(x) = 'in progress'",
              xids)[0][0]
             .as<int64_t>() > 0;
}

}  // namespace

void PgDb::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  const bool gapless = cfg_.layout == Layout::Evdb;
  const std::string& head_sql = sql_of(stmts_, stmt::kHead);
  const std::string& after_sql = sql_of(stmts_, stmt::kVersionsAfter);
  int64_t last = 0;  // highest version delivered (or the head at start)
  bool started = false;
  std::string lost_why;

  std::optional<Gap> gap;  // conductor layout: a missing version being waited on
  common::Reconnect reconnect(cfg_.listen_reconnect_timeout_ms,
                              cfg_.listen_reconnect_backoff_max_ms);

  // Delivers every committed version in (last, up_to] (evdb layout), or, in
  // the conductor layout, the versions > last found in the log, in order,
  // stopping before a missing version until its fate is known (see Gap).
  auto catch_up = [&](Connection& c, int64_t up_to) {
    if (gapless) {
      while (last < up_to) sink.inserted(++last);
      return;
    }
    auto read_after = [&] {
      std::vector<int64_t> vs;
      pqxx::nontransaction t(c);
      for (const auto& row : t.exec_params(after_sql, last)) vs.push_back(row[0].as<int64_t>());
      return vs;
    };
    std::vector<int64_t> vs = read_after();
    for (;;) {
      size_t i = 0;
      while (i < vs.size() && vs[i] == last + 1) sink.inserted(last = vs[i++]);
      if (i == vs.size()) {
        gap.reset();
        return;
      }
      // vs[i] > last + 1: last + 1 … vs[i] - 1 are missing.
      auto now = std::chrono::steady_clock::now();
      if (!gap || gap->first != last + 1) gap = Gap{last + 1, now, false, {}};
      if (now - gap->since < kGapGrace) return;
      if (!gap->have_xids) {
        gap->xids = in_progress_xids(c);
        gap->have_xids = true;
      }
      if (any_in_progress(c, gap->xids)) return;
      // Every transaction that could hold a missing version has ended; a
      // read started now sees whatever they committed.
      vs = read_after();
      if (!vs.empty() && vs.front() > last + 1) last = vs.front() - 1;  // never committed
      gap.reset();
    }
  };

  for (;;) {
    std::unique_ptr<Connection> conn;
    if (!started) {
      ctx.check("connecting the listener");
      conn = connect_raw(cfg_, ctx);
    } else {
      // Reconnect with exponential backoff, up to the configured time.
      reconnect.lost();
      for (;;) {
        ctx.check("reconnecting the listener");
        try {
          conn = connect_raw(cfg_, ctx);
          reconnect.connected();
          break;
        } catch (const drv::Error& e) {
          lost_why = e.what();
        }
        reconnect.failed(ctx, lost_why);
      }
    }

    try {
      Receiver rx(*conn, channel_);  // LISTEN, before reading the head
      int64_t head = 0;
      {
        pqxx::nontransaction t(*conn);
        head = t.exec(head_sql)[0][0].as<int64_t>();
      }
      if (!started) {
        last = head;
        started = true;
        sink.ready();
      } else {
        catch_up(*conn, head);
      }
      for (;;) {
        // A query run by catch_up (conductor layout) can take notifications
        // off the socket into libpq's queue; drain that queue again before
        // waiting on the socket, or they would sit there until the next one.
        for (conn->get_notifs(); rx.any; conn->get_notifs()) {
          rx.any = false;
          catch_up(*conn, rx.max);
        }
        evdb_status s = ctx.status();
        if (s != EVDB_OK) ctx.check("listening");
        int sock = conn->sock();
        if (sock < 0) throw Lost{"the connection was closed"};
        short revents = common::wait_fd(&ctx, sock, POLLIN, gap ? kGapRecheckMs : -1, "listening");
        ctx.check("listening");
        if (revents == 0 && gap) rx.any = true;  // look at the pending gap again
        if ((revents & (POLLERR | POLLNVAL)) != 0) throw Lost{"the connection's socket failed"};
      }
    } catch (const Lost& l) {
      lost_why = l.why;
    } catch (const pqxx::broken_connection& e) {
      lost_why = scrub(e.what(), cfg_.password);
    } catch (const pqxx::sql_error& e) {
      // The server shutting down (57P01…) or an admin terminating us.
      const std::string& st = e.sqlstate();
      if (st.rfind("57P", 0) != 0 && st.rfind("08", 0) != 0)
        throw translate_current("listening", Appended::No, ctx, cfg_.password);
      lost_why = scrub(e.what(), cfg_.password);
    }
    if (!started) drv::fail(EVDB_CONNECTION, "the listener could not start: " + lost_why);
  }
}

}  // namespace evdb::postgres
