// harness.cpp — settings, unique ids, outcome and event checks, the fixture.
#include "harness.hpp"

#include <simdjson.h>

#include <cstdio>
#include <cstdlib>

#include <unistd.h>
#include "json_numbers.hpp"

#include "common/redact.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace evdb::conformance {

Settings& settings() {
  static Settings s;
  return s;
}

const std::vector<std::string>& categories() {
  static const std::vector<std::string> c = {
      "EmptyStore",   "Append",     "RoundTrip",    "Reads",         "Projections",
      "Transactions", "ReadOnly",   "Snapshot",     "RacingWriters", "TwoHandles",
      "Listener",     "Durability", "CrossProcess", "BadInput",      "Errors"};
  return c;
}

std::string expand_uri(std::string_view uri_template, std::string_view id) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t hit = uri_template.find(kUniqueToken, pos);
    if (hit == std::string_view::npos) break;
    out.append(uri_template.substr(pos, hit - pos));
    out.append(id);
    pos = hit + kUniqueToken.size();
  }
  out.append(uri_template.substr(pos));
  return out;
}

namespace {
std::string base36(uint64_t v) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % 36]);
    v /= 36;
  } while (v != 0);
  return s;
}
}  // namespace

std::string next_unique_id() {
  static const std::string prefix = [] {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    uint64_t ms =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
    // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict inside
    // std::string for `"literal" + std::string&&` (GCC bug 105329).
    std::string p = "t";
    p += std::to_string(static_cast<long>(::getpid()));
    p += '_';
    p += base36(ms);
    p += '_';
    return p;
  }();
  static std::atomic<uint64_t> counter{0};
  return prefix + std::to_string(++counter);
}

std::string redact_uri(std::string_view uri) {
  return common::redact_uri(uri);
}

::testing::AssertionResult code_is(evdb_status expected, const Outcome& got, const char* what) {
  // The C++ layer (evdb.hpp) uses the status name as the message when the
  // evdb_error came back without one: the driver did not fill it.
  if (got.code == expected && expected != EVDB_OK && got.c_error_problem.empty() &&
      (got.message.empty() || got.message == evdb_status_name(got.code)))
    return ::testing::AssertionFailure()
           << "contract (DRV-29): `" << what << "` gives " << evdb_status_name(expected)
           << " with err filled (code and a message); the driver returned it with no message";
  if (got.code == expected && got.c_error_problem.empty()) return ::testing::AssertionSuccess();
  auto r = ::testing::AssertionFailure();
  r << "contract: `" << what << "` gives " << evdb_status_name(expected) << "; the driver gave "
    << evdb_status_name(got.code);
  if (!got.message.empty()) r << " (message: " << got.message << ")";
  if (got.code == expected) r << "; but " << got.c_error_problem;
  return r;
}

evdb::Event make_event(std::string type_name, std::string payload, std::string revision_vcs,
                       int64_t time_us) {
  evdb::Event e;
  e.type_name = std::move(type_name);
  e.payload = std::move(payload);
  e.revision_vcs = std::move(revision_vcs);
  e.time_us = time_us;
  return e;
}

namespace {
bool element_equal(simdjson::dom::element a, simdjson::dom::element b) {
  using T = simdjson::dom::element_type;
  auto is_num = [](T t) { return t == T::INT64 || t == T::UINT64 || t == T::DOUBLE; };
  if (is_num(a.type()) && is_num(b.type())) {
    if (a.type() == T::DOUBLE || b.type() == T::DOUBLE) {
      double x = 0, y = 0;
      if (a.get_double().get(x) || b.get_double().get(y)) return false;
      return x == y;
    }
    if (a.type() == T::INT64 && b.type() == T::INT64) return int64_t(a) == int64_t(b);
    if (a.type() == T::UINT64 && b.type() == T::UINT64) return uint64_t(a) == uint64_t(b);
    // One signed, one unsigned: equal only when both are non-negative and the same.
    int64_t s = a.type() == T::INT64 ? int64_t(a) : int64_t(b);
    uint64_t u = a.type() == T::UINT64 ? uint64_t(a) : uint64_t(b);
    return s >= 0 && static_cast<uint64_t>(s) == u;
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case T::NULL_VALUE:
      return true;
    case T::BOOL:
      return bool(a) == bool(b);
    case T::STRING:
      return std::string_view(a) == std::string_view(b);
    case T::ARRAY: {
      simdjson::dom::array x = a, y = b;
      if (x.size() != y.size()) return false;
      auto it = y.begin();
      for (simdjson::dom::element e : x) {
        if (!element_equal(e, *it)) return false;
        ++it;
      }
      return true;
    }
    case T::OBJECT: {
      simdjson::dom::object x = a, y = b;
      if (x.size() != y.size()) return false;
      for (auto field : x) {
        simdjson::dom::element other;
        if (y.at_key(field.key).get(other)) return false;
        if (!element_equal(field.value, other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// Replaces every number token by a string holding its value as a long double
// ("\u0000n:<value>"), so that numbers simdjson cannot hold (1e400, a 301-digit
// integer from JSONB) compare by value. Only used when simdjson refuses one.
std::string numbers_as_strings(const std::string& text) {
  std::string out;
  size_t last = 0;
  evdb::json::for_each_number_token(text, [&](size_t at, size_t len) {
    out.append(text, last, at - last);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.21Lg", std::strtold(text.substr(at, len).c_str(), nullptr));
    out += "\"\\u0000n:";
    out += buf;
    out += '"';
    last = at + len;
  });
  out.append(text, last, std::string::npos);
  return out;
}
}  // namespace

bool json_equal(const std::string& a, const std::string& b) {
  simdjson::dom::parser pa, pb;
  simdjson::dom::element ea, eb;
  if (pa.parse(a).get(ea) || pb.parse(b).get(eb)) {
    std::string sa = numbers_as_strings(a), sb = numbers_as_strings(b);
    if (pa.parse(sa).get(ea) || pb.parse(sb).get(eb)) return false;
  }
  return element_equal(ea, eb);
}

::testing::AssertionResult payload_matches(bool byte_exact, const std::string& expected,
                                           const std::string& actual) {
  if (byte_exact) {
    if (expected == actual) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "contract (EVDB_CAP_BYTE_EXACT_PAYLOAD): the payload comes back byte for byte; "
              "appended `"
           << expected << "` (" << expected.size() << " bytes), read back `" << actual << "` ("
           << actual.size() << " bytes)";
  }
  if (json_equal(expected, actual)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "contract: the payload comes back as the same JSON value; appended `" << expected
         << "`, read back `" << actual << "`";
}

::testing::AssertionResult event_matches(bool byte_exact, const evdb::Event& expected,
                                         const evdb::Event& actual) {
  if (expected.type_name != actual.type_name)
    return ::testing::AssertionFailure()
           << "contract: type_name round-trips exactly; appended `" << expected.type_name
           << "`, read back `" << actual.type_name << "` (event " << actual.version << ")";
  auto p = payload_matches(byte_exact, expected.payload, actual.payload);
  if (!p) return p << " (event " << actual.version << ")";
  if (expected.revision_vcs != actual.revision_vcs)
    return ::testing::AssertionFailure()
           << "contract: revision_vcs round-trips exactly; appended `" << expected.revision_vcs
           << "`, read back `" << actual.revision_vcs << "` (event " << actual.version << ")";
  if (expected.time_us != 0 && expected.time_us != actual.time_us)
    return ::testing::AssertionFailure()
           << "contract: time_us round-trips exactly; appended " << expected.time_us
           << ", read back " << actual.time_us << " (event " << actual.version << ")";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult versions_well_formed(bool gapless,
                                                const std::vector<int64_t>& versions) {
  for (size_t i = 0; i < versions.size(); ++i) {
    if (gapless && versions[i] != static_cast<int64_t>(i + 1))
      return ::testing::AssertionFailure()
             << "contract (EVDB_CAP_GAPLESS): the n-th event has version n; event #" << i + 1
             << " has version " << versions[i];
    if (!gapless && (versions[i] <= 0 || (i > 0 && versions[i] <= versions[i - 1])))
      return ::testing::AssertionFailure()
             << "contract: versions are positive and strictly increasing; event #" << i + 1
             << " has version " << versions[i]
             << (i > 0 ? " after " + std::to_string(versions[i - 1]) : std::string());
  }
  return ::testing::AssertionSuccess();
}

std::string capability_names(uint64_t caps) {
  struct {
    uint64_t bit;
    const char* name;
  } const names[] = {{EVDB_CAP_LISTENER, "LISTENER"},
                     {EVDB_CAP_DURABLE, "DURABLE"},
                     {EVDB_CAP_CROSS_PROCESS, "CROSS_PROCESS"},
                     {EVDB_CAP_GAPLESS, "GAPLESS"},
                     {EVDB_CAP_BYTE_EXACT_PAYLOAD, "BYTE_EXACT_PAYLOAD"},
                     {EVDB_CAP_LISTENER_RECONNECT, "LISTENER_RECONNECT"}};
  std::string out;
  for (const auto& n : names) {
    if ((caps & n.bit) == 0) continue;
    if (!out.empty()) out += ' ';
    out += n.name;
    caps &= ~n.bit;
  }
  if (caps != 0) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(caps));
    if (!out.empty()) out += ' ';
    out += buf;
  }
  return out.empty() ? "(none)" : out;
}

// ---------------------------------------------------------------------------
// StoreTest
// ---------------------------------------------------------------------------

void StoreTest::SetUp() {
  store_id_ = next_unique_id();
  uri_ = expand_uri(settings().uri_template, store_id_);
  RecordProperty("uri", redact_uri(uri_));
  try {
    db_.emplace(evdb::DB::open(uri_));
  } catch (const evdb::Error& e) {
    FAIL() << "cannot open the test's store " << redact_uri(uri_) << ": "
           << evdb_status_name(e.code()) << ": " << e.what();
  }
  caps_ = db_->capabilities();
}

void StoreTest::TearDown() {
  db_.reset();
}

evdb::DB StoreTest::open_again() const {
  return evdb::DB::open(uri_);
}

void StoreTest::reopen() {
  db_.reset();
  db_.emplace(evdb::DB::open(uri_));
}

int64_t StoreTest::head() {
  return head(*db_);
}
int64_t StoreTest::head(evdb::DB& on) {
  return on.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });
}

std::vector<evdb::Event> StoreTest::all_events() {
  return all_events(*db_);
}
std::vector<evdb::Event> StoreTest::all_events(evdb::DB& on) {
  return on.tx_read_only([](evdb::TxRO& tx) { return tx.read_events(0, SIZE_MAX); });
}

int64_t StoreTest::append(const evdb::Event& e) {
  return append(*db_, e);
}
int64_t StoreTest::append(evdb::DB& on, const evdb::Event& e) {
  return on.tx_rw([&](evdb::TxRW& tx) { return tx.append_event(tx.read_system_version(), e); });
}

std::vector<int64_t> StoreTest::append_n(int n, const std::string& type_name) {
  std::vector<int64_t> out;
  for (int k = 0; k < n; ++k)
    out.push_back(append(make_event(type_name, "{\"i\":" + std::to_string(k) + "}")));
  return out;
}

std::optional<int64_t> StoreTest::projection(int32_t id) {
  return db_->tx_read_only([&](evdb::TxRO& tx) -> std::optional<int64_t> {
    try {
      return tx.read_projection_version(id);
    } catch (const evdb::NotFound&) {
      return std::nullopt;
    }
  });
}

void StoreTest::saw(const std::string& behaviour) {
  RecordProperty("saw", behaviour);
  std::cout << "[      SAW ] " << behaviour << std::endl;
}

}  // namespace evdb::conformance
