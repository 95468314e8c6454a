// pg_commit_outcome.cpp — the outcome of a commit whose connection was lost
// while COMMIT was in flight (docs/contract.md OP-15, PG-5): commit tokens,
// and the resolution after the loss. Decisions: docs/postgres-driver.md
// ("Commits in doubt").
#include <algorithm>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "pg_internal.hpp"

namespace evdb::postgres {

std::string new_commit_token() {
  // 122 random bits: two transactions never share a token, whichever
  // process or server made them.
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  uint64_t hi = gen(), lo = gen();
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  return buf;
}

std::vector<std::string> commit_token_statements(const Statements& st, const std::string& token,
                                                 bool prune) {
  // The token is our own hex text: nothing to escape.
  std::vector<std::string> sql{"INSERT INTO " + st.tokens_table + " (token) VALUES ('" + token +
                               "')"};
  if (prune)
    sql.push_back("DELETE FROM " + st.tokens_table +
                  " WHERE committed_at < now() - interval '1 day'");
  return sql;
}

namespace {

[[noreturn]] void in_doubt(const drv::Error& lost, const std::string& why) {
  drv::fail(EVDB_COMMIT_IN_DOUBT,
            std::string("the connection was lost while COMMIT was in flight (") + lost.what() +
                ") and the outcome could not be learned: " + why +
                "; the events may or may not be in the log: read it before appending them again");
}

}  // namespace

void resolve_lost_commit(PgDb& db, const drv::Ctx& ctx, const CommitProof& proof,
                         const drv::Error& lost) {
  const Config& cfg = db.config();
  const Statements& st = db.statements();
  if (proof.token.empty() && proof.versions.empty())
    in_doubt(lost,
             "the conductor layout has no commit token (its tables are never altered) "
             "and this transaction appended no event to look for");
  // Under the table lock every writer holds until it ends, the lost
  // transaction has ended on the server answering (or never ran there: a
  // promoted standby has replayed all it received), so the answer is final.
  std::string lookup;
  if (!proof.token.empty()) {
    lookup = "SELECT count(*) FROM " + st.tokens_table + " WHERE token = '" + proof.token + "'";
  } else {
    std::string list;
    for (int64_t v : proof.versions) list += (list.empty() ? "" : ",") + std::to_string(v);
    lookup = "SELECT count(*) FROM " + st.events_table + " WHERE version IN (" + list + ")";
  }
  const int64_t t0 = common::steady_now_ms();
  int64_t pause_ms = 20;
  std::string last = "no attempt yet";
  for (;;) {
    if (evdb_status s = ctx.status(); s != EVDB_OK)
      in_doubt(lost, std::string("the context ") +
                         (s == EVDB_CANCELED ? "was canceled" : "deadline passed") +
                         " first (last attempt: " + last + ")");
    int64_t left_ms = cfg.commit_resolve_timeout_ms - (common::steady_now_ms() - t0);
    if (int64_t rem = ctx.remaining_us(); rem >= 0) left_ms = std::min(left_ms, (rem + 999) / 1000);
    if (left_ms <= 0)
      in_doubt(lost, "commit_resolve_timeout_ms=" + std::to_string(cfg.commit_resolve_timeout_ms) +
                         " passed first (last attempt: " + last + ")");
    std::optional<int64_t> found;
    try {
      // Each attempt bounded by the time left: connect_timeout (whole
      // seconds, at least 2 as libpq counts) and statement_timeout.
      Config attempt = cfg;
      attempt.conninfo +=
          " connect_timeout='" + std::to_string(std::max<int64_t>(2, (left_ms + 999) / 1000)) + "'";
      std::unique_ptr<Connection> conn = connect_raw(attempt, ctx);
      pqxx::nontransaction q(*conn);
      Canceller::Watch watch = db.canceller().watch(*conn, ctx);
      // The last statement's rows come back (one round trip); the
      // transaction ends with the connection.
      pqxx::result r = q.exec("BEGIN; SET LOCAL statement_timeout = " + std::to_string(left_ms) +
                              "; LOCK TABLE " + st.events_table + " IN EXCLUSIVE MODE; " + lookup);
      found = r[0][0].as<int64_t>();
    } catch (const drv::Error& e) {
      // CONNECTION (no host answered, none is a primary yet), or the context
      // ended (reported at the top of the loop).
      last = e.what();
    } catch (const std::exception& e) {
      // Lost again, a standby (LOCK refused during recovery), a timeout:
      // try again until the time is up.
      last = scrub(e.what(), cfg.password);
      while (!last.empty() && (last.back() == '\n' || last.back() == ' ')) last.pop_back();
    }
    if (found) {
      if (!proof.token.empty() && *found == 1) return;  // applied
      // All or nothing: one of its versions missing means it did not commit.
      if (proof.token.empty() ? *found < static_cast<int64_t>(proof.versions.size()) : *found == 0)
        drv::fail(EVDB_CONNECTION,
                  std::string("the connection was lost while COMMIT was in flight (") +
                      lost.what() +
                      "); the transaction was NOT applied (checked on the primary after "
                      "reconnecting): nothing of it is in the store, it may be retried");
      in_doubt(lost, std::to_string(*found) + " of its " + std::to_string(proof.versions.size()) +
                         " versions are in the log, but the conductor layout cannot tell whether "
                         "they are its events or another writer's (no commit token)");
    }
    ctx.sleep_us(pause_ms * 1000);
    pause_ms = std::min<int64_t>(pause_ms * 2, 500);
  }
}

}  // namespace evdb::postgres
