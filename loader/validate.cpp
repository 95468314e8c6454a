// validate.cpp — event validation with simdjson (JSON and UTF-8).
#include "validate.hpp"

#include <simdjson.h>

#include <cstring>
#include <string>

#include "json_numbers.hpp"

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
  // One parser and one padded input buffer per thread: simdjson reads up to
  // SIMDJSON_PADDING bytes past the end of its input, which the caller's
  // buffer may not have; copying into a reused buffer costs no allocation
  // (parse(..., true) would allocate and free a padded copy on every call).
  // Payloads above kPaddedMax take the allocating path instead, so that one
  // big event does not pin a big buffer to the thread.
  constexpr size_t kPaddedMax = 64 * 1024;
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded(kPaddedMax + simdjson::SIMDJSON_PADDING, '\0');
  simdjson::error_code error;
  if (e.payload_len <= kPaddedMax) {
    std::memcpy(padded.data(), e.payload, e.payload_len);
    error = parser.parse(padded.data(), e.payload_len, false).error();
  } else {
    error = parser.parse(e.payload, e.payload_len, true).error();
  }
  if (error == simdjson::NUMBER_ERROR) {
    // Numbers beyond int64/double are valid JSON: check them by the grammar,
    // then let simdjson check the rest with each number replaced by 0.
    std::string copy(e.payload, e.payload_len);
    bool numbers_ok = true;
    evdb::json::for_each_number_token(copy, [&](size_t at, size_t len) {
      if (!evdb::json::is_number(std::string_view(copy).substr(at, len))) numbers_ok = false;
      copy[at] = '0';
      for (size_t k = 1; k < len; ++k) copy[at + k] = ' ';
    });
    if (!numbers_ok) return "the event payload is not valid JSON: a number is malformed";
    error = parser.parse(copy.data(), copy.size(), true).error();
  }
  if (error != simdjson::SUCCESS)
    return std::string("the event payload is not valid JSON: ") + simdjson::error_message(error);
  return {};
}

}  // namespace evdb::loader
