// postgres_uri.cpp — fuzz target: a postgres:// URI through libevdb's parser
// and the PostgreSQL driver's parameter parsing (evdb::postgres::parse_uri),
// which builds the libpq conninfo. See driver_uri.hpp for the oracles; also:
// the redacted URI kept for messages shows no password, and every value in
// the conninfo is quoted so a parameter cannot inject another.
#include "driver_uri.hpp"
#include "pg_driver.hpp"

namespace {

// Splits libpq's key='value' list (the format add_kv writes); false when it
// is not exactly that format.
bool conninfo_well_formed(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t eq = s.find('=', i);
    if (eq == std::string_view::npos || eq == i) return false;
    for (size_t k = i; k < eq; ++k)
      if (!(std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '_')) return false;
    i = eq + 1;
    if (i >= s.size() || s[i] != '\'') return false;
    ++i;
    for (;;) {
      if (i >= s.size()) return false;
      if (s[i] == '\\') {
        if (i + 1 >= s.size()) return false;
        i += 2;
        continue;
      }
      if (s[i] == '\'') break;
      ++i;
    }
    ++i;
    if (i < s.size()) {
      if (s[i] != ' ') return false;
      ++i;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evdb::fuzz::run_driver_uri(
      data, size, {"postgres", "postgresql"},
      [](evdb::drv::Uri& uri) { return evdb::postgres::parse_uri(uri); },
      [](const evdb::postgres::Config& c) {
        if (!conninfo_well_formed(c.conninfo))
          evdb::fuzz::oracle_failed("the conninfo is not a list of key='value'", c.redacted);
        return c.redacted;
      });
  return 0;
}
