// test_bad_input.cpp — BadInput.* (docs/contract.md §4: the library validates arguments
// before any driver is called: INVALID_ARGUMENT, nothing written, a clear
// message, never a password).
#include <climits>

#include "harness.hpp"

namespace evdb::conformance {
int link_bad_input() {
  return 0;
}

namespace {

// Appending `e` fails with INVALID_ARGUMENT and writes nothing.
void expect_rejected(StoreTest* t, evdb::DB& db, const evdb::Event& e, const std::string& what) {
  (void)t;
  int64_t before = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });
  auto o = outcome_of(
      [&] { db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), e); }); });
  EXPECT_TRUE(code_is(EVDB_INVALID_ARGUMENT, o, what.c_str()));
  if (o.code == EVDB_INVALID_ARGUMENT) {
    EXPECT_FALSE(o.message.empty()) << "contract: bad input gets a message saying what was wrong";
  }
  int64_t after = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });
  EXPECT_EQ(after, before) << "contract: rejected input writes nothing (" << what << ")";
}

TEST_F(BadInput, EmptyTypeName) {
  expect_rejected(this, db(), make_event("", "{}"), "append with an empty type_name");
}

TEST_F(BadInput, TypeNameNotUtf8) {
  const char* bad[] = {"\xff",         "ok\xc3\x28",           "\xc0\xaf",
                       "\xed\xa0\x80", "\xf8\x88\x80\x80\x80", "trunc\xe2\x82"};
  for (const char* b : bad)
    expect_rejected(this, db(), make_event(b, "{}"),
                    std::string("append with a non-UTF-8 type_name"));
}

TEST_F(BadInput, PayloadNotJson) {
  const char* bad[] = {"",      "{",        "{a:1}",      "nul", "[1,]",           "'x'",
                       "{}x",   "NaN",      "{\"a\":1,}", "01",  "\"unterminated", "{} {}",
                       "[1 2]", "Infinity", "\"\xff\""};
  for (const char* b : bad)
    expect_rejected(this, db(), make_event("T", b),
                    std::string("append with payload `") + b + "` (not JSON)");
}

TEST_F(BadInput, NegativeTime) {
  expect_rejected(this, db(), make_event("T", "{}", "", -1), "append with time_us = -1");
}

TEST_F(BadInput, RevisionNotUtf8) {
  expect_rejected(this, db(), make_event("T", "{}", "rev\xff"),
                  "append with a non-UTF-8 revision_vcs");
}

TEST_F(BadInput, NegativeVersions) {
  append();
  EXPECT_CODE(EVDB_INVALID_ARGUMENT,
              db().tx_rw([](evdb::TxRW& tx) { tx.append_event(-1, make_event()); }));
  EXPECT_CODE(EVDB_INVALID_ARGUMENT,
              db().tx_rw([](evdb::TxRW& tx) { tx.append_event(INT64_MIN, make_event()); }));
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_CODE(EVDB_INVALID_ARGUMENT, tx.read_event_at(-1));
    EXPECT_CODE(EVDB_INVALID_ARGUMENT, tx.read_event_after(-1));
    EXPECT_CODE(EVDB_INVALID_ARGUMENT, tx.read_events(-1, 10));
    EXPECT_CODE(EVDB_INVALID_ARGUMENT, tx.read_events(-5, 10, evdb::Direction::Descending));
  });
  db().tx_rw([](evdb::TxRW& tx) { tx.init_projection_version(1); });
  EXPECT_CODE(EVDB_INVALID_ARGUMENT,
              db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(1, -1); }));
  EXPECT_EQ(all_events().size(), 1u) << "contract: rejected input writes nothing";
  EXPECT_EQ(projection(1), std::optional<int64_t>(0)) << "contract: rejected input writes nothing";
}

TEST_F(BadInput, NullPointersOnDbAndOpen) {
  evdb_db* out = nullptr;
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_open(nullptr, nullptr, &out, err));
  EXPECT_EQ(out, nullptr);
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_open(uri_.c_str(), nullptr, nullptr, err));
  evdb_tx* tx = nullptr;
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_begin(nullptr, nullptr, EVDB_TX_READ_WRITE, &tx, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT,
                evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT,
                evdb_begin(db().raw(), nullptr, static_cast<evdb_tx_kind>(7), &tx, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_tx_rw(db().raw(), nullptr, nullptr, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT,
                evdb_tx_read_only(db().raw(), nullptr, nullptr, nullptr, err));
  EXPECT_C_CODE(
      EVDB_INVALID_ARGUMENT,
      evdb_tx_rw(
          nullptr, nullptr, [](evdb_tx*, void*, evdb_error*) { return EVDB_OK; }, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT,
                evdb_listen(db().raw(), nullptr, nullptr, nullptr, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT,
                evdb_listen(
                    nullptr, nullptr, nullptr, [](void*, int64_t, evdb_error*) { return EVDB_OK; },
                    nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_commit(nullptr, nullptr, err));
}

TEST_F(BadInput, NullPointersOnTransaction) {
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &tx, err));
  evdb_event good{};
  good.type_name = "T";
  good.type_name_len = 1;
  good.payload = "{}";
  good.payload_len = 2;
  evdb_event null_type = good;
  null_type.type_name = nullptr;
  evdb_event null_payload = good;
  null_payload.payload = nullptr;
  evdb_event null_rev = good;
  null_rev.revision_vcs = nullptr;
  null_rev.revision_vcs_len = 3;
  evdb_event out{};
  int64_t v = 0;
  size_t n = 0;
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_append_event(tx, nullptr, 0, nullptr, &v, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_append_event(tx, nullptr, 0, &null_type, &v, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_append_event(tx, nullptr, 0, &null_payload, &v, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_append_event(tx, nullptr, 0, &null_rev, &v, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_append_event(nullptr, nullptr, 0, &good, &v, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_system_version(tx, nullptr, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_system_version(nullptr, nullptr, &v, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_event_at(tx, nullptr, 1, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_event_at(nullptr, nullptr, 1, &out, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_event_after(tx, nullptr, 0, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_events(tx, nullptr, 0, 0, nullptr, 5, &n, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_events(tx, nullptr, 0, 0, &out, 1, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_read_projection_version(tx, nullptr, 1, nullptr, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_init_projection_version(nullptr, nullptr, 1, &v, err));
  EXPECT_C_CODE(EVDB_INVALID_ARGUMENT, evdb_set_projection_version(nullptr, nullptr, 1, 1, err));
  // The transaction is still usable and commits nothing.
  EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(tx, nullptr, &v, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(tx, nullptr, err));
  EXPECT_EQ(head(), 0) << "contract: rejected input writes nothing";
}

TEST_F(BadInput, NullErrorPointerIsAllowed) {
  evdb_tx* tx = nullptr;
  ASSERT_EQ(evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &tx, nullptr), EVDB_OK)
      << "contract: err may be NULL";
  evdb_event out{};
  EXPECT_EQ(evdb_read_event_at(tx, nullptr, 1, &out, nullptr), EVDB_NOT_FOUND)
      << "contract: a failure with err = NULL still returns its status";
  EXPECT_EQ(evdb_read_event_at(tx, nullptr, -1, &out, nullptr), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_commit(tx, nullptr, nullptr), EVDB_OK);
}

// The scheme part of the URI template ("memory", "postgres", …).
std::string scheme_of(const std::string& uri) {
  size_t colon = uri.find(':');
  return colon == std::string::npos ? uri : uri.substr(0, colon);
}

// The template's URI with one more query parameter.
std::string with_param(const std::string& uri, const std::string& kv) {
  size_t hash = uri.find('#');
  std::string base = hash == std::string::npos ? uri : uri.substr(0, hash);
  std::string frag = hash == std::string::npos ? "" : uri.substr(hash);
  return base + (base.find('?') == std::string::npos ? "?" : "&") + kv + frag;
}

TEST_F(BadInput, UnknownUriParameter) {
  std::string bad = with_param(uri_, "evdb_conformance_no_such_param=1");
  auto o = c_outcome_of([&](evdb_error* err) {
    evdb_db* out = nullptr;
    evdb_status s = evdb_open(bad.c_str(), nullptr, &out, err);
    evdb_close(out);
    return s;
  });
  EXPECT_TRUE(code_is(EVDB_INVALID_ARGUMENT, o, ("evdb_open(\"" + redact_uri(bad) + "\")").c_str()))
      << "contract (docs/contract.md §6): unknown URI parameters are an error, never ignored";
  if (o.code == EVDB_INVALID_ARGUMENT) {
    EXPECT_NE(o.message.find("evdb_conformance_no_such_param"), std::string::npos)
        << "a clear error names the unknown parameter; got: " << o.message;
  }
}

TEST_F(BadInput, MalformedUris) {
  std::string scheme = scheme_of(uri_);
  const std::string bad[] = {"",
                             "no scheme here",
                             scheme + ":%zz",
                             scheme + "://[::1",
                             scheme + "://host:notaport/x",
                             "://missing-scheme"};
  for (const auto& u : bad) {
    auto o = c_outcome_of([&](evdb_error* err) {
      evdb_db* out = nullptr;
      evdb_status s = evdb_open(u.c_str(), nullptr, &out, err);
      evdb_close(out);
      return s;
    });
    EXPECT_TRUE(code_is(EVDB_INVALID_ARGUMENT, o, ("evdb_open(\"" + u + "\")").c_str()))
        << "contract: a malformed URI is INVALID_ARGUMENT";
  }
}

TEST_F(BadInput, ErrorMessagesHideThePassword) {
  // Only meaningful for URIs with a password (postgres://user:secret@…).
  std::string redacted = redact_uri(uri_);
  if (redacted == uri_) GTEST_SKIP() << "the --uri has no password to hide";
  std::string password;
  size_t scheme_end = uri_.find("://");
  if (scheme_end != std::string::npos) {
    size_t at = uri_.find('@', scheme_end);
    size_t colon = uri_.find(':', scheme_end + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at)
      password = uri_.substr(colon + 1, at - colon - 1);
  }
  if (password.size() < 3) GTEST_SKIP() << "the password is too short to search for";
  std::string bad = with_param(uri_, "evdb_conformance_no_such_param=1");
  auto o = c_outcome_of([&](evdb_error* err) {
    evdb_db* out = nullptr;
    evdb_status s = evdb_open(bad.c_str(), nullptr, &out, err);
    evdb_close(out);
    return s;
  });
  EXPECT_NE(o.code, EVDB_OK);
  EXPECT_EQ(o.message.find(password), std::string::npos)
      << "contract: a password never appears in an error message";
}

}  // namespace
}  // namespace evdb::conformance
