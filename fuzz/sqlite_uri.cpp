// sqlite_uri.cpp — fuzz target: a sqlite: URI through libevdb's parser and the
// SQLite driver's parameter parsing (evdb::sqlite::parse_uri). See
// driver_uri.hpp for the oracles; also: a parsed path is never empty and the
// parameters lie in their documented ranges.
#include "sqlite_internal.hpp"
#include "driver_uri.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evdb::fuzz::run_driver_uri(
      data, size, {"sqlite"}, [](evdb::drv::Uri& uri) { return evdb::sqlite::parse_uri(uri); },
      [](const evdb::sqlite::Config& o) {
        if (o.path.empty()) evdb::fuzz::oracle_failed("an empty path was accepted", o.path);
        if (o.busy_timeout_ms < 0 || o.poll_ms < 1 || o.poll_ms > 60000)
          evdb::fuzz::oracle_failed("a parameter out of range was accepted", o.path);
        return o.path;  // opened, and shown in messages, as given
      });
  return 0;
}
