// memory_uri.cpp — fuzz target: a memory: URI through libevdb's parser and the
// memory driver's open (which only checks the URI, then creates or finds the
// store). See driver_uri.hpp for the oracles.
//
// A named store lives until the process exits, so only names of up to two
// bytes are opened (at most 65 536 stores); longer ones are still parsed by
// libevdb but not handed to the driver.
#include "driver_uri.hpp"
#include "memory_driver.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  evdb::loader::ParsedUri parsed;
  std::string error;
  if (evdb::loader::ParsedUri::parse(text, parsed, error) && parsed.as_c().path[0] != '\0' &&
      std::string_view(parsed.as_c().path).size() > 2)
    return 0;
  evdb::fuzz::run_driver_uri(
      data, size, {"memory"},
      [](evdb::drv::Uri& uri) {
        evdb::drv::Ctx ctx(nullptr, nullptr);
        return evdb::memory::open(uri, ctx);
      },
      [](const std::unique_ptr<evdb::drv::Db>& db) {
        if (!db) evdb::fuzz::oracle_failed("open returned no store", "");
        return std::string();
      });
  return 0;
}
