// json_numbers.hpp — finding and checking the number tokens of a JSON text.
//
// simdjson's DOM parser refuses numbers a 64-bit integer or a double cannot
// hold (1e400, a 30-digit integer), which RFC 8259 allows and which stores such
// as PostgreSQL JSONB produce (1.5E+300 comes back as a 301-digit integer).
// Callers use these helpers to check such numbers against the grammar and
// replace them before handing the text to simdjson. Header-only: used by the
// conformance suite's JSON comparison and by the json_check fuzz target's
// reference verdict (libevdb itself validates with json_check.hpp).
#pragma once

#include <cstddef>
#include <string_view>

namespace evdb::json {

// Calls fn(offset, length) for every run of number characters
// ([-+.0-9eE], starting with '-' or a digit) that lies outside strings.
template <class F>
void for_each_number_token(std::string_view text, F&& fn) {
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size();) {
    char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      ++i;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i;
      while (j < text.size() &&
             ((text[j] >= '0' && text[j] <= '9') || text[j] == '-' || text[j] == '+' ||
              text[j] == '.' || text[j] == 'e' || text[j] == 'E'))
        ++j;
      fn(i, j - i);
      i = j;
      continue;
    }
    ++i;
  }
}

// True when s is a number by RFC 8259's grammar:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
inline bool is_number(std::string_view s) {
  size_t i = 0, n = s.size();
  auto digits = [&] {
    size_t start = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  if (i < n && s[i] == '-') ++i;
  if (i < n && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

}  // namespace evdb::json
