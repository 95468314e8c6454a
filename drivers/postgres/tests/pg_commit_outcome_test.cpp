// Commits whose connection is cut while COMMIT is in flight
// (docs/contract.md OP-15, PG-5; drivers/postgres/pg_commit_outcome.cpp):
// a relay (test_support/tcp_proxy.hpp, arm()) cuts the connection after the
// server executed COMMIT or before it saw it; the driver must report OK / a definite "not
// applied" accordingly, and COMMIT_IN_DOUBT only when it cannot reach a
// server in time. Also the evdb layout's version marker (VER-6).
#include <chrono>
#include <string>

#include "pg_test_util.hpp"
#include "test_support/tcp_proxy.hpp"

using namespace evdb;
using namespace evdb::postgres::test;
using test_support::TcpProxy;
using Cut = TcpProxy::Cut;

namespace {

// The test database through the proxy (with the password: the passfile
// names the server's port, not the proxy's).
std::string proxied_uri(const TcpProxy& proxy, const std::string& query) {
  return "postgres://evdb:" + test_password() + "@127.0.0.1:" + std::to_string(proxy.port()) +
         "/evdb?" + query;
}

int64_t count(const std::string& sql) {
  pqxx::connection c(raw_conninfo());
  pqxx::nontransaction t(c);
  return t.exec(sql)[0][0].as<int64_t>();
}

// Appends two events at the head and sets a projection version in one transaction.
Status write_two(DB& db) {
  return db.tx_rw([](TxRW& tx) {
    int64_t v = tx.append_event(tx.read_system_version(), test_support::event("a", "{\"n\":1}"));
    tx.append_event(v, test_support::event("b", "{\"n\":2}"));
    tx.init_projection_version(7);
    tx.set_projection_version(7, 2);
    return Status();
  });
}

class PgCommitOutcome : public ::testing::Test {
 protected:
  void SetUp() override {
    register_driver();
    schema_ = fresh_schema("pgco");
  }
  void TearDown() override { drop_schema(schema_); }

  // The test store through the proxy; `params` follow the schema's.
  DB open(const std::string& params = "") {
    return DB::open(proxied_uri(proxy_, "schema=" + schema_ + params));
  }
  // write_two(db) with its COMMIT cut as `how`; expects the proxy to have
  // made that cut.
  Status write_two_cut(DB& db, Cut how) {
    const uint64_t before = proxy_.cuts();
    proxy_.arm(how, "COMMIT");
    Status s = write_two(db);
    EXPECT_EQ(proxy_.cuts(), before + 1) << "COMMIT was not cut";
    return s;
  }
  // The rows of one of the store's tables.
  int64_t rows(const std::string& table) {
    return count("SELECT count(*) FROM " + schema_ + "." + table);
  }

  std::string schema_;
  TcpProxy proxy_{"127.0.0.1", EVDB_PG_TEST_PORT};
};

}  // namespace

TEST_F(PgCommitOutcome, CutAfterTheServerCommittedIsReportedApplied) {
  DB db = open();
  Status s = write_two_cut(db, Cut::AfterReply);
  EXPECT_EQ(s.code(), EVDB_OK) << s.message();
  EXPECT_EQ(rows("events"), 2);
  EXPECT_EQ(rows("commit_tokens"), 1);
  // The store goes on: the next append is at version 3.
  EXPECT_EQ(db.tx_rw([](TxRW& tx) { return tx.append_event(2, test_support::event("c")); }), 3);
}

TEST_F(PgCommitOutcome, CutBeforeTheServerSawCommitIsReportedNotApplied) {
  DB db = open();
  Status s = write_two_cut(db, Cut::BeforeSending);
  EXPECT_EQ(s.code(), EVDB_CONNECTION) << s.message();
  EXPECT_NE(s.message().find("NOT applied"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(test_password()), std::string::npos) << s.message();
  EXPECT_EQ(rows("events"), 0);
  EXPECT_EQ(rows("projection_versions"), 0);
  // Retrying is right: the events land at versions 1 and 2.
  EXPECT_EQ(write_two(db).code(), EVDB_OK);
  EXPECT_EQ(count("SELECT max(version) FROM " + schema_ + ".events"), 2);
}

TEST_F(PgCommitOutcome, NoServerToAskIsCommitInDoubt) {
  DB db = open("&commit_resolve_timeout_ms=300");
  proxy_.refuse_new(true);  // the server is gone after the cut
  Status s = write_two_cut(db, Cut::AfterReply);
  EXPECT_EQ(s.code(), EVDB_COMMIT_IN_DOUBT) << s.message();
  EXPECT_NE(s.message().find("commit_resolve_timeout_ms=300"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find(test_password()), std::string::npos) << s.message();
  // In doubt, and indeed applied: the caller must read the log.
  EXPECT_EQ(rows("events"), 2);
}

TEST_F(PgCommitOutcome, TheContextsDeadlineEndsTheResolution) {
  DB db = open();
  proxy_.arm(Cut::BeforeSending, "COMMIT");
  proxy_.refuse_new(true);
  Context ctx(std::chrono::milliseconds(500));
  Status s = db.tx_rw(
      [](TxRW& tx) {
        tx.append_event(0, test_support::event("a"));
        return Status();
      },
      &ctx);
  EXPECT_EQ(s.code(), EVDB_COMMIT_IN_DOUBT) << s.message();
  EXPECT_NE(s.message().find("deadline"), std::string::npos) << s.message();
  EXPECT_EQ(rows("events"), 0);
}

// The conductor layout has no token (its tables are never altered): a cut
// before the server saw COMMIT is still a definite "not applied" (none of
// its versions is in the log); after, its rows cannot be told from another
// writer's: in doubt.
TEST_F(PgCommitOutcome, ConductorLayoutResolvesWhatItsSchemaAllows) {
  DB db = open("&layout=conductor&create_layout=1&commit_resolve_timeout_ms=5000");
  Status s = write_two_cut(db, Cut::BeforeSending);
  EXPECT_EQ(s.code(), EVDB_CONNECTION) << s.message();
  EXPECT_NE(s.message().find("NOT applied"), std::string::npos) << s.message();
  EXPECT_EQ(rows("events"), 0);
  s = write_two_cut(db, Cut::AfterReply);
  EXPECT_EQ(s.code(), EVDB_COMMIT_IN_DOUBT) << s.message();
  EXPECT_NE(s.message().find("conductor"), std::string::npos) << s.message();
  EXPECT_EQ(rows("events"), 2);
}

// VER-6: a layout-1 store (evdb 1.0) is upgraded on open; a newer layout is
// refused untouched.
TEST(PgLayoutVersion, Layout1IsUpgradedAndANewerOneRefused) {
  register_driver();
  const std::string schema = fresh_schema("pglv");
  {
    pqxx::connection c(raw_conninfo());
    pqxx::work t(c);
    const std::string q = t.quote_name(schema);
    t.exec0("CREATE SCHEMA " + q);
    std::string sql = evdb::postgres::evdb_layout_sql(q);
    sql = sql.substr(0, sql.find("CREATE TABLE IF NOT EXISTS " + q + ".commit_tokens"));
    t.exec0(sql + "COMMENT ON TABLE " + q + ".events IS 'evdb event log, layout 1'");
    t.commit();
  }
  {
    DB db = DB::open(uri("schema=" + schema));
    db.tx_rw([](TxRW& tx) { tx.append_event(0, test_support::event("a")); });
  }
  EXPECT_EQ(count("SELECT count(*) FROM " + schema + ".commit_tokens"), 1);
  {
    pqxx::connection c(raw_conninfo());
    pqxx::work t(c);
    t.exec0("COMMENT ON TABLE " + t.quote_name(schema) + ".events IS 'evdb event log, layout 3'");
    t.commit();
  }
  test_support::OpenResult r = test_support::try_open(uri("schema=" + schema));
  EXPECT_EQ(r.status, EVDB_UNSUPPORTED) << r.message;
  EXPECT_NE(r.message.find("layout 3"), std::string::npos) << r.message;
  drop_schema(schema);
}
