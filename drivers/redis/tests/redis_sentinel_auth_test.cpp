// Sentinels with a password (docs/contract.md RDS-1, RDS-8): the
// redis_sentinel_auth fixture starts a Sentinel deployment
// (scripts/redis-sentinel with EVDB_SENTINEL_PASSWORD: requirepass on every
// sentinel) on EVDB_REDIS_SENTINEL_AUTH_TEST_PORT … +4. A handle opens through
// those sentinels with sentinel_password; a wrong or missing sentinel password
// is a clear CONNECTION error that never shows the password (the URI in the
// message is redacted: sentinel_password=***).
#include <evdb/evdb.hpp>

#include <string>
#include <vector>

#include "redis_test_util.hpp"
#include "test_support/listening.hpp"

namespace {

using namespace evdb::redis::test;
using evdb::test_support::event;
using evdb::test_support::Listening;
using evdb::test_support::try_open;

std::string sentinel_password() {
  return EVDB_REDIS_SENTINEL_PASSWORD;
}

// The deployment's URI with `auth` (sentinel_… parameters) and `extra`.
std::string auth_uri(const std::string& prefix, const std::string& auth,
                     const std::string& extra = "") {
  const int base = EVDB_REDIS_SENTINEL_AUTH_TEST_PORT;
  return "redis://evdb:" + password() + "@127.0.0.1:" + std::to_string(base) +
         "?sentinel=evdb&hosts=127.0.0.1:" + std::to_string(base + 1) +
         ",127.0.0.1:" + std::to_string(base + 2) + "&prefix=" + prefix + auth + extra;
}

TEST(RedisSentinelAuth, OpensThroughSentinelsThatWantAPassword) {
  const std::string p = unique_name("sauth");
  evdb::DB db = evdb::DB::open(auth_uri(p, "&sentinel_password=" + sentinel_password()));
  Listening listening(db);
  ASSERT_TRUE(listening.ready());
  for (int i = 0; i < 3; ++i)
    db.tx_rw([&](evdb::TxRW& tx) {
      tx.append_event(tx.read_system_version(), event("A", std::to_string(i)));
    });
  db.tx_read_only([&](evdb::TxRO& tx) {
    auto log = tx.read_events(1, 10);
    ASSERT_EQ(log.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(log[i].payload, std::to_string(i));
  });
  EXPECT_EQ(listening.wait_for(3), (std::vector<int64_t>{1, 2, 3}));
  // On the deployment's master (BASE+3 or BASE+4, whichever says so).
  int found = 0;
  for (int port :
       {EVDB_REDIS_SENTINEL_AUTH_TEST_PORT + 3, EVDB_REDIS_SENTINEL_AUTH_TEST_PORT + 4}) {
    Raw raw(port);
    auto role = raw.cmd({"ROLE"});
    ASSERT_EQ(role->type, REDIS_REPLY_ARRAY);
    if (std::string(role->element[0]->str, role->element[0]->len) != "master") continue;
    EXPECT_EQ(raw.integer({"XLEN", "{" + p + "}:log"}), 3);
    ++found;
  }
  EXPECT_EQ(found, 1);
}

TEST(RedisSentinelAuth, AnExplicitDefaultUserWorksToo) {
  evdb::DB db = evdb::DB::open(auth_uri(
      unique_name("suser"), "&sentinel_user=default&sentinel_password=" + sentinel_password()));
  db.ping();
}

TEST(RedisSentinelAuth, AWrongSentinelPasswordIsAClearConnectionErrorWithoutThePassword) {
  const std::string wrong = "not-the-sentinel-pw-7131";
  auto [s, msg] = try_open(
      auth_uri(unique_name("swrong"), "&sentinel_password=" + wrong, "&connect_timeout_ms=2000"));
  EXPECT_EQ(s, EVDB_CONNECTION) << msg;
  EXPECT_EQ(msg.find(wrong), std::string::npos) << msg;
  EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
  EXPECT_EQ(msg.find(sentinel_password()), std::string::npos) << msg;
  EXPECT_NE(msg.find("sentinel_password"), std::string::npos) << msg;  // names the parameter
  EXPECT_NE(msg.find("sentinel"), std::string::npos) << msg;
}

TEST(RedisSentinelAuth, NoSentinelPasswordSaysTheSentinelsWantOne) {
  auto [s, msg] = try_open(auth_uri(unique_name("snone"), ""));
  EXPECT_EQ(s, EVDB_CONNECTION) << msg;
  EXPECT_NE(msg.find("sentinel_password="), std::string::npos) << msg;
  EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
}

// The parameters' mistakes, named, with nothing secret in the message.
TEST(RedisSentinelAuth, ParametersAreChecked) {
  struct Case {
    std::string uri, says;
  };
  const std::string secret = "s3cret-sentinel-pw";
  for (const Case& c : std::vector<Case>{
           {uri("x", "&sentinel_password=" + secret), "need sentinel=GROUP"},
           {auth_uri("x", "&sentinel_password="), "sentinel_password is empty"},
           {auth_uri("x", "&sentinel_user=u"), "sentinel_user needs"},
           {auth_uri("x", "&sentinel_user=&sentinel_password=" + secret), "sentinel_user needs"},
       }) {
    auto [s, msg] = try_open(c.uri);
    EXPECT_EQ(s, EVDB_INVALID_ARGUMENT) << c.uri << ": " << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
    EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
    EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
  }
  // A message that shows the URI shows it redacted (libevdb's redaction of
  // every parameter named *password*).
  auto [s, msg] = try_open("redis://evdb:" + password() +
                           "@127.0.0.1:" + std::to_string(EVDB_REDIS_SENTINEL_AUTH_TEST_PORT) +
                           "/notanumber?sentinel=evdb&sentinel_password=" + secret);
  EXPECT_EQ(s, EVDB_INVALID_ARGUMENT) << msg;
  EXPECT_NE(msg.find("sentinel_password=***"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
  EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
}

}  // namespace
