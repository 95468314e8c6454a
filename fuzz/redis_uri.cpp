// redis_uri.cpp — fuzz target: a redis:// URI through libevdb's parser and the
// Redis driver's parameter parsing (evdb::redis::parse_uri). See
// driver_uri.hpp for the oracles; also: the endpoint text used in messages
// shows no password, and the prefix holds no hash-tag brace.
#include "driver_uri.hpp"
#include "redis_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  evdb::fuzz::run_driver_uri(
      data, size, {"redis", "rediss"},
      [](evdb::drv::Uri& uri) { return evdb::redis::parse_uri(uri); },
      [](const evdb::redis::Config& c) {
        if (c.prefix.empty() || c.prefix.find_first_of("{}") != std::string::npos)
          evdb::fuzz::oracle_failed("a bad prefix was accepted", c.prefix);
        return c.endpoint.where();
      });
  return 0;
}
