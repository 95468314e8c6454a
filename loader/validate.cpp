// validate.cpp — event validation: text fields (UTF-8, NUL) and the payload
// (JSON, by the scanner of json_check.hpp).
#include "validate.hpp"

#include <simdjson.h>

#include <cstring>
#include <string>
#include <string_view>

#include "json_check.hpp"

namespace evdb::loader {

namespace {

// Checks one text field: UTF-8, no NUL byte. Returns "" or the problem.
std::string check_text(const char* p, size_t n, const char* what) {
  if (n == 0) return {};
  if (p == nullptr) return std::string(what) + " is NULL with a non-zero length";
  // Short ASCII text (type names, commit ids) is checked here in one pass;
  // simdjson's vectorised validator has a fixed cost that dominates on a few
  // bytes, so it only sees longer or non-ASCII text.
  constexpr size_t kShort = 64;
  if (n <= kShort) {
    unsigned char any_high = 0;
    bool nul = false;
    for (size_t i = 0; i < n; ++i) {
      auto c = static_cast<unsigned char>(p[i]);
      any_high |= c;
      nul |= c == 0;
    }
    if (nul) return std::string(what) + " contains a NUL byte";
    if ((any_high & 0x80) == 0) return {};
  } else if (std::memchr(p, '\0', n) != nullptr) {
    return std::string(what) + " contains a NUL byte";
  }
  if (!simdjson::validate_utf8(p, n)) return std::string(what) + " is not valid UTF-8";
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
