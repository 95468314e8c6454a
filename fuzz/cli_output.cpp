// cli_output.cpp — fuzz target: what `evdb read` and `evdb tail` print for an
// event that came out of a store (tools/evdb/format.cpp). Stores are written
// by other programs too, so every byte of an event is untrusted here; the
// user's script reads the output line by line (text) or as JSON lines.
//
// Input: type 0x1E revision 0x1E time_us 0x1E version 0x1E payload
// (fuzz_input.hpp; numbers in decimal, anything else means 0). Oracles
// besides the sanitizers:
//  * the text line and the JSON line never contain a line break;
//  * for an event libevdb would have accepted (UTF-8 type and revision
//    without NUL, a payload simdjson accepts), the JSON line is JSON that
//    simdjson accepts and gives back the version, time_us, type and revision.
#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "format.hpp"
#include "fuzz_input.hpp"

namespace {

using evdb::fuzz::oracle_failed;

int64_t number(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

bool valid_text(std::string_view s) {
  return s.find('\0') == std::string_view::npos && simdjson::validate_utf8(s.data(), s.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = evdb::fuzz::split_fields(data, size, 5);
  while (f.size() < 5) f.push_back({});
  evdb::Event e;
  e.type_name = std::string(f[0]);
  e.revision_vcs = std::string(f[1]);
  e.time_us = number(f[2]);
  e.version = number(f[3]);
  e.payload = std::string(f[4]);
  (void)evdb::cli::parse_int(f[2], INT64_MIN, INT64_MAX);
  (void)evdb::cli::parse_format(f[0]);

  std::string text = evdb::cli::event_text(e);
  std::string json = evdb::cli::event_json(e);
  if (text.find_first_of("\r\n") != std::string::npos)
    oracle_failed("a text line holds a line break", text);
  if (json.find_first_of("\r\n") != std::string::npos)
    oracle_failed("a JSON line holds a line break", json);

  simdjson::dom::parser parser;
  if (!valid_text(e.type_name) || e.type_name.empty() || !valid_text(e.revision_vcs) ||
      parser.parse(simdjson::padded_string(e.payload)).error() != simdjson::SUCCESS)
    return 0;
  simdjson::padded_string padded(json);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS)
    oracle_failed("the JSON line of a valid event is not JSON", json);
  int64_t version = 0, time_us = 0;
  std::string_view type, revision;
  if (doc["version"].get(version) != simdjson::SUCCESS || version != e.version ||
      doc["time_us"].get(time_us) != simdjson::SUCCESS || time_us != e.time_us ||
      doc["type"].get(type) != simdjson::SUCCESS || type != e.type_name ||
      doc["revision"].get(revision) != simdjson::SUCCESS || revision != e.revision_vcs)
    oracle_failed("the JSON line does not give back the event's fields", json);
  return 0;
}
