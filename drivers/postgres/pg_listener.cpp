// pg_listener.cpp — listen: LISTEN/NOTIFY on a connection of its own, poll()
// on its socket and the context's cancel fd, reconnect with backoff and catch
// up from the log. Decisions: docs/postgres-driver.md ("Listener").
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <string>

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

}  // namespace

void PgDb::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  const bool gapless = cfg_.layout == Layout::Evdb;
  const std::string& head_sql = sql_of(stmts_, stmt::kHead);
  const std::string& after_sql = sql_of(stmts_, stmt::kVersionsAfter);
  int64_t last = 0;  // highest version delivered (or the head at start)
  bool started = false;
  std::string lost_why;

  // Delivers every committed version in (last, up_to] (evdb layout), or every
  // version > last found in the log (conductor layout).
  auto catch_up = [&](pqxx::connection& c, int64_t up_to) {
    if (gapless) {
      while (last < up_to) sink.inserted(++last);
      return;
    }
    pqxx::result r;
    {
      pqxx::nontransaction t(c);
      r = t.exec_params(after_sql, last);
    }
    for (const auto& row : r) {
      int64_t v = row[0].as<int64_t>();
      if (v <= last) continue;
      last = v;
      sink.inserted(v);
    }
  };

  for (;;) {
    std::unique_ptr<pqxx::connection> conn;
    if (!started) {
      ctx.check("connecting the listener");
      conn = connect_raw(cfg_);
    } else {
      // Reconnect with exponential backoff, up to the configured time.
      auto t0 = std::chrono::steady_clock::now();
      int64_t delay_ms = 20;
      for (;;) {
        ctx.check("reconnecting the listener");
        try {
          conn = connect_raw(cfg_);
          break;
        } catch (const drv::Error& e) {
          lost_why = e.what();
        }
        int64_t elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0)
                              .count();
        int64_t left = cfg_.listen_reconnect_timeout_ms - elapsed;
        if (left <= 0)
          drv::fail(EVDB_CONNECTION,
                    "the listener lost its connection and could not reconnect "
                    "within listen_reconnect_timeout_ms=" +
                        std::to_string(cfg_.listen_reconnect_timeout_ms) + ": " + lost_why);
        ctx.sleep_us(std::min(delay_ms, left) * 1000);
        delay_ms = std::min(delay_ms * 2, cfg_.listen_reconnect_backoff_max_ms);
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
        pollfd fds[2] = {{sock, POLLIN, 0}, {ctx.cancel_fd(), POLLIN, 0}};
        int n = ::poll(fds, fds[1].fd >= 0 ? 2 : 1, ctx.poll_timeout_ms(-1));
        if (n < 0 && errno != EINTR)
          drv::fail(EVDB_INTERNAL, std::string("poll failed: ") + std::strerror(errno));
        if (n > 0 && fds[1].fd >= 0 && (fds[1].revents & POLLIN) != 0) ctx.check("listening");
        if (n > 0 && (fds[0].revents & (POLLERR | POLLNVAL)) != 0)
          throw Lost{"the connection's socket failed"};
      }
    } catch (const Lost& l) {
      lost_why = l.why;
    } catch (const pqxx::broken_connection& e) {
      lost_why = scrub(e.what(), cfg_.password);
    } catch (const pqxx::sql_error& e) {
      // The server shutting down (57P01…) or an admin terminating us.
      const std::string& st = e.sqlstate();
      if (st.rfind("57P", 0) != 0 && st.rfind("08", 0) != 0)
        throw translate_current("listening", false, ctx, cfg_.password);
      lost_why = scrub(e.what(), cfg_.password);
    }
    if (!started) drv::fail(EVDB_CONNECTION, "the listener could not start: " + lost_why);
  }
}

}  // namespace evdb::postgres
