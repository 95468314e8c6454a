// validate.cpp — event validation: text fields (UTF-8, NUL) and the payload
// (JSON, by the scanner of json_check.hpp).
#include "validate.hpp"

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "json_check.hpp"

namespace evdb::loader {

namespace {

// Checks one text field: UTF-8, no NUL byte. Returns "" or the problem.
// One pass over 8-byte words (overlapping at the end) finds any NUL byte
// and any byte above 0x7F;
// only text that has the latter goes to simdjson's UTF-8 validator (type
// names and revisions are nearly always short ASCII).
std::string check_text(const char* p, size_t n, const char* what) {
  if (n == 0) return {};
  if (p == nullptr) return std::string(what) + " is NULL with a non-zero length";
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  uint64_t high = 0, zero = 0;  // the high bit of some byte; some byte is 0
  auto word = [&](uint64_t w) {
    high |= w & kHigh;
    zero |= (w - kOnes) & ~w & kHigh;  // non-zero iff a byte of w is 0
  };
  auto load = [](const char* at, auto word_type) {
    decltype(word_type) w;
    std::memcpy(&w, at, sizeof w);
    return w;
  };
  if (n >= 8) {  // whole words, the last one overlapping the one before
    for (size_t i = 0; i + 8 < n; i += 8) word(load(p + i, uint64_t{}));
    word(load(p + n - 8, uint64_t{}));
  } else if (n >= 4) {  // two overlapping halves
    word(load(p, uint32_t{}) | uint64_t{load(p + n - 4, uint32_t{})} << 32);
  } else {
    for (size_t i = 0; i < n; ++i) {
      auto c = static_cast<unsigned char>(p[i]);
      high |= c & 0x80u;
      zero |= c == 0;
    }
  }
  if (zero != 0) return std::string(what) + " contains a NUL byte";
  if (high != 0 && !simdjson::validate_utf8(p, n)) return std::string(what) + " is not valid UTF-8";
  return {};
}

}  // namespace

std::string check_event(const evdb_event& e) {
  if (e.type_name == nullptr || e.type_name_len == 0) return "the event type name is empty";
  if (auto p = check_text(e.type_name, e.type_name_len, "the event type name"); !p.empty())
    return p;
  if (auto p = check_text(e.revision_vcs, e.revision_vcs_len, "the event revision_vcs"); !p.empty())
    return p;
  if (e.time_us < 0) return "the event time_us is negative (" + std::to_string(e.time_us) + ")";
  if (e.payload == nullptr || e.payload_len == 0)
    return "the event payload is empty; it must be a JSON value (e.g. {} or null)";
  // One pass of the validating scanner (json_check.hpp): the JSON grammar,
  // UTF-8, escapes and nesting as docs/contract.md DATA-6 says, with no
  // document built (docs/decisions.md, "Payload validation").
  if (evdb::json::JsonVerdict v = evdb::json::check_json(e.payload, e.payload_len); !v.ok())
    return "the event payload " +
           evdb::json::describe_json_problem(v, std::string_view(e.payload, e.payload_len));
  return {};
}

}  // namespace evdb::loader
