// validate.cpp — event validation with simdjson (JSON and UTF-8).
#include "validate.hpp"

#include <simdjson.h>

#include <cstring>
#include <string>
#include <string_view>

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

// The first \u escape in `text` that is a lone UTF-16 surrogate (a high
// one not followed by a low one, or a low one alone), e.g. "\ud800"; empty
// when there is none. Only for the message: simdjson refuses such payloads.
std::string lone_surrogate(std::string_view text) {
  auto hex4 = [&](size_t at, unsigned& out) {
    if (at + 4 > text.size()) return false;
    out = 0;
    for (size_t k = at; k < at + 4; ++k) {
      char c = text[k];
      unsigned d = (c >= '0' && c <= '9')   ? unsigned(c - '0')
                   : (c >= 'a' && c <= 'f') ? unsigned(c - 'a' + 10)
                   : (c >= 'A' && c <= 'F') ? unsigned(c - 'A' + 10)
                                            : 16u;
      if (d == 16u) return false;
      out = out * 16 + d;
    }
    return true;
  };
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    if (text[i] != '\\') continue;
    unsigned u = 0;
    if (text[i + 1] != 'u' || !hex4(i + 2, u)) {
      ++i;  // a two-character escape such as \\ or \"
      continue;
    }
    unsigned low = 0;
    bool high = u >= 0xD800 && u <= 0xDBFF;
    if (high && i + 7 < text.size() && text[i + 6] == '\\' && text[i + 7] == 'u' &&
        hex4(i + 8, low) && low >= 0xDC00 && low <= 0xDFFF) {
      i += 11;  // a valid pair
      continue;
    }
    if (high || (u >= 0xDC00 && u <= 0xDFFF)) return std::string(text.substr(i, 6));
    i += 5;
  }
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
  if (error != simdjson::SUCCESS) {
    // The JSON grammar allows a lone surrogate escape; evdb refuses it
    // (docs/decisions.md): it has no UTF-8 form, so no driver could store or
    // give back the text it stands for.
    if (std::string s = lone_surrogate(std::string_view(e.payload, e.payload_len)); !s.empty())
      return "the event payload holds the escape " + s +
             ", a lone UTF-16 surrogate: evdb payloads must decode to Unicode text (write a "
             "surrogate pair, or the character as UTF-8)";
    return std::string("the event payload is not valid JSON: ") + simdjson::error_message(error);
  }
  return {};
}

}  // namespace evdb::loader
