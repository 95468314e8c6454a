// json_check.cpp — the validating JSON scanner (json_check.hpp).
//
// One pass, left to right, as a small state machine: "a value is due",
// "an object member is due", "a value just ended". Nesting is a bit stack
// (1 = object, 0 = array) of kMaxJsonDepth bits, so deep input cannot
// overflow the call stack. Runs of ordinary string bytes are skipped eight at
// a time (SWAR: one 64-bit load, a few integer operations find the first
// quote, backslash, control or non-ASCII byte); everything else is looked at
// byte by byte.
#include "json_check.hpp"

#include <array>
#include <bit>
#include <cstdio>
#include <cstring>

namespace evdb::json {

namespace {

using Byte = unsigned char;

// Hex digit values, 16 for "not a hex digit".
constexpr std::array<uint8_t, 256> kHex = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 16;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}();

constexpr bool is_digit(Byte c) {
  return c >= '0' && c <= '9';
}

// JSON's four whitespace bytes (RFC 8259 §2): space, tab, line feed, CR.
constexpr bool is_ws(Byte c) {
  return c <= ' ' && ((uint64_t{1} << c) & ((uint64_t{1} << ' ') | (uint64_t{1} << '\t') |
                                            (uint64_t{1} << '\n') | (uint64_t{1} << '\r')));
}

// A byte that may continue a number token: a malformed number is reported as
// such ("01", "1.", "1e+") rather than as whatever follows its valid prefix.
constexpr bool is_number_byte(Byte c) {
  return is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

constexpr bool is_word_byte(Byte c) {
  return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_';
}

// The length of the UTF-8 sequence starting at p (1 to 4 bytes, n >= 1 of
// them available), 0 when it is not valid UTF-8: Unicode's table 3-7 (no
// overlong forms, no surrogates D800–DFFF, nothing above U+10FFFF).
size_t utf8_sequence(const Byte* p, size_t n) {
  Byte c = p[0];
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return k < n && (p[k] & 0xC0) == 0x80; };
  if (c < 0xC2) return 0;  // a continuation byte, or an overlong 2-byte lead
  if (c <= 0xDF) return cont(1) ? 2 : 0;
  if (c <= 0xEF) {
    Byte lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return n > 2 && p[1] >= lo && p[1] <= hi && cont(2) ? 3 : 0;
  }
  if (c <= 0xF4) {
    Byte lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return n > 3 && p[1] >= lo && p[1] <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// For 8 bytes loaded little-endian: a word whose lowest set bit is the high
// bit of the first byte that is '"', '\\', below 0x20 or above 0x7F (0 when
// there is none). Each term below has no false positive before its first
// true one, so the lowest set bit of their union is exact.
inline uint64_t special_bytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto zero_byte = [&](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  uint64_t quote = zero_byte(w ^ (kOnes * '"'));
  uint64_t backslash = zero_byte(w ^ (kOnes * '\\'));
  uint64_t control = (w - kOnes * 0x20) & ~w & kHigh;  // bytes below 0x20
  return quote | backslash | control | (w & kHigh);
}

class Scanner {
 public:
  Scanner(const char* data, size_t size) : p_(reinterpret_cast<const Byte*>(data)), n_(size) {}

  JsonVerdict run() {
    size_t i = skip_ws(0);
    if (i == n_) return {JsonProblem::kEmpty, n_};
    size_t depth = 0;  // open arrays and objects
    JsonVerdict v;

  value:  // a value is due at i (i < n_, p_[i] not whitespace)
    if (depth >= kMaxJsonDepth) return {JsonProblem::kTooDeep, i};
    switch (p_[i]) {
      case '{':
        i = skip_ws(i + 1);
        if (i < n_ && p_[i] == '}') {
          ++i;
          goto after_value;
        }
        push(depth++, true);
        goto member;
      case '[':
        i = skip_ws(i + 1);
        if (i < n_ && p_[i] == ']') {
          ++i;
          goto after_value;
        }
        push(depth++, false);
        if (i == n_) return {JsonProblem::kEndsEarly, n_};
        goto value;
      case '"':
        if (v = string(i); !v.ok()) return v;
        goto after_value;
      case 't':
        if (v = literal(i, "true", 4); !v.ok()) return v;
        goto after_value;
      case 'f':
        if (v = literal(i, "false", 5); !v.ok()) return v;
        goto after_value;
      case 'n':
        if (v = literal(i, "null", 4); !v.ok()) return v;
        goto after_value;
      case '-':
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
      case '8':
      case '9':
        if (v = number(i); !v.ok()) return v;
        goto after_value;
      default:
        return {JsonProblem::kExpectedValue, i};
    }

  member:  // an object member is due at i (after '{' or ',' and whitespace)
    if (i == n_) return {JsonProblem::kEndsEarly, n_};
    if (p_[i] != '"') return {JsonProblem::kExpectedKey, i};
    if (v = string(i); !v.ok()) return v;
    i = skip_ws(i);
    if (i == n_) return {JsonProblem::kEndsEarly, n_};
    if (p_[i] != ':') return {JsonProblem::kExpectedColon, i};
    i = skip_ws(i + 1);
    if (i == n_) return {JsonProblem::kEndsEarly, n_};
    goto value;

  after_value:  // a value ended just before i
    i = skip_ws(i);
    if (depth == 0) return i == n_ ? JsonVerdict{} : JsonVerdict{JsonProblem::kTrailing, i};
    if (i == n_) return {JsonProblem::kEndsEarly, n_};
    if (top(depth)) {
      if (p_[i] == ',') {
        i = skip_ws(i + 1);
        goto member;
      }
      if (p_[i] != '}') return {JsonProblem::kExpectedCommaOrBrace, i};
    } else {
      if (p_[i] == ',') {
        i = skip_ws(i + 1);
        if (i == n_) return {JsonProblem::kEndsEarly, n_};
        goto value;
      }
      if (p_[i] != ']') return {JsonProblem::kExpectedCommaOrBracket, i};
    }
    --depth;
    ++i;
    goto after_value;
  }

 private:
  size_t skip_ws(size_t i) const {
    while (i < n_ && is_ws(p_[i])) ++i;
    return i;
  }

  void push(size_t depth, bool object) {
    uint64_t bit = uint64_t{1} << (depth & 63);
    if (object)
      stack_[depth >> 6] |= bit;
    else
      stack_[depth >> 6] &= ~bit;
  }
  bool top(size_t depth) const { return (stack_[(depth - 1) >> 6] >> ((depth - 1) & 63)) & 1; }

  // The four hex digits at `at` as a number, or -1.
  long hex4(size_t at) const {
    if (at > n_ || n_ - at < 4) return -1;
    unsigned a = kHex[p_[at]], b = kHex[p_[at + 1]], c = kHex[p_[at + 2]], d = kHex[p_[at + 3]];
    if ((a | b | c | d) & 16) return -1;
    return static_cast<long>((a << 12) | (b << 8) | (c << 4) | d);
  }

  // The string whose opening quote is at i; on success i is past its
  // closing quote.
  JsonVerdict string(size_t& i) const {
    const size_t start = i++;
    for (;;) {
      if constexpr (std::endian::native == std::endian::little) {
        while (n_ - i >= 8) {
          uint64_t w;
          std::memcpy(&w, p_ + i, 8);
          if (uint64_t m = special_bytes(w); m != 0) {
            i += static_cast<size_t>(std::countr_zero(m)) >> 3;
            break;
          }
          i += 8;
        }
      }
      if (i == n_) return {JsonProblem::kUnterminatedString, start};
      Byte c = p_[i];
      if (c == '"') {
        ++i;
        return {};
      }
      if (c == '\\') {
        if (n_ - i < 2) return {JsonProblem::kUnterminatedString, start};
        switch (p_[i + 1]) {
          case '"':
          case '\\':
          case '/':
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
            i += 2;
            continue;
          case 'u':
            break;
          default:
            return {JsonProblem::kBadEscape, i};
        }
        long u = hex4(i + 2);
        if (u < 0) return {JsonProblem::kBadEscape, i};
        if (u >= 0xD800 && u <= 0xDBFF) {  // must be followed by a low surrogate
          long low = n_ - i >= 12 && p_[i + 6] == '\\' && p_[i + 7] == 'u' ? hex4(i + 8) : -1;
          if (low < 0xDC00 || low > 0xDFFF) return {JsonProblem::kLoneSurrogate, i};
          i += 12;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
          return {JsonProblem::kLoneSurrogate, i};
        } else {
          i += 6;
        }
      } else if (c < 0x20) {
        return {JsonProblem::kControlInString, i};
      } else if (c >= 0x80) {
        size_t len = utf8_sequence(p_ + i, n_ - i);
        if (len == 0) return {JsonProblem::kBadUtf8, i};
        i += len;
      } else {
        ++i;  // an ordinary byte of the last few, which the 8-byte loop leaves
      }
    }
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?,
  // of any length. On success i is past the number.
  JsonVerdict number(size_t& i) const {
    const size_t start = i;
    auto digits = [&] {
      size_t from = i;
      while (i < n_ && is_digit(p_[i])) ++i;
      return i > from;
    };
    if (p_[i] == '-') ++i;
    if (i < n_ && p_[i] == '0') {
      ++i;
    } else if (!digits()) {
      return {JsonProblem::kBadNumber, start};
    }
    if (i < n_ && p_[i] == '.') {
      ++i;
      if (!digits()) return {JsonProblem::kBadNumber, start};
    }
    if (i < n_ && (p_[i] | 0x20) == 'e') {
      ++i;
      if (i < n_ && (p_[i] == '+' || p_[i] == '-')) ++i;
      if (!digits()) return {JsonProblem::kBadNumber, start};
    }
    if (i < n_ && is_number_byte(p_[i])) return {JsonProblem::kBadNumber, start};
    return {};
  }

  // true, false or null at i, not followed by a letter or digit.
  JsonVerdict literal(size_t& i, const char* word, size_t len) const {
    if (n_ - i < len || std::memcmp(p_ + i, word, len) != 0 ||
        (n_ - i > len && is_word_byte(p_[i + len])))
      return {JsonProblem::kBadLiteral, i};
    i += len;
    return {};
  }

  const Byte* p_;
  size_t n_;
  uint64_t stack_[kMaxJsonDepth / 64];
};

// The byte at `at` for a message: 'x' when printable ASCII, else 0xNN.
std::string byte_text(std::string_view text, size_t at) {
  if (at >= text.size()) return "the end of the text";
  auto c = static_cast<unsigned char>(text[at]);
  char buf[16];
  if (c >= 0x20 && c < 0x7F)
    std::snprintf(buf, sizeof buf, "'%c'", c);
  else
    std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

// Up to `max` bytes from `at` while `keep` says so, for a message.
template <class Keep>
std::string excerpt(std::string_view text, size_t at, size_t max, Keep keep) {
  size_t end = at;
  while (end < text.size() && end - at < max && keep(static_cast<Byte>(text[end]))) ++end;
  return std::string(text.substr(at, end - at));
}

}  // namespace

JsonVerdict check_json(const char* data, size_t size) noexcept {
  if (size == 0) return {JsonProblem::kEmpty, 0};
  return Scanner(data, size).run();
}

std::string describe_json_problem(JsonVerdict v, std::string_view text) {
  const std::string at = " at offset " + std::to_string(v.at);
  const std::string found = ", found " + byte_text(text, v.at);
  const std::string bad = "is not valid JSON: ";
  auto printable = [](Byte c) { return c >= 0x20 && c < 0x7F; };
  switch (v.problem) {
    case JsonProblem::kNone:
      return {};
    case JsonProblem::kEmpty:
      return bad + "there is no value (only whitespace)";
    case JsonProblem::kEndsEarly:
      return bad + "the text ends before the value is complete" + at;
    case JsonProblem::kExpectedValue:
      return bad + "expected a value" + at + found;
    case JsonProblem::kExpectedKey:
      return bad + "expected a string (an object key)" + at + found;
    case JsonProblem::kExpectedColon:
      return bad + "expected ':' after an object key" + at + found;
    case JsonProblem::kExpectedCommaOrBracket:
      return bad + "expected ',' or ']' after an array element" + at + found;
    case JsonProblem::kExpectedCommaOrBrace:
      return bad + "expected ',' or '}' after an object member" + at + found;
    case JsonProblem::kTrailing:
      return bad + "more text after the value" + at + found;
    case JsonProblem::kBadNumber:
      return bad + "a number is malformed" + at + " (\"" + excerpt(text, v.at, 24, is_number_byte) +
             "\")";
    case JsonProblem::kBadLiteral:
      return bad + "\"" + excerpt(text, v.at, 16, is_word_byte) + "\"" + at +
             " is not true, false or null";
    case JsonProblem::kControlInString:
      return bad + "a string holds an unescaped control character" + at + found +
             " (write it as an escape, e.g. \\n or \\u001f)";
    case JsonProblem::kBadEscape:
      return bad + "a string holds the invalid escape \\" +
             excerpt(text, v.at + 1, text[v.at + 1] == 'u' ? 5 : 1, printable) + at;
    case JsonProblem::kLoneSurrogate:
      // Valid JSON grammar, refused by evdb (docs/contract.md DATA-6): it
      // has no UTF-8 form, so no driver could store the text it stands for.
      return "holds the escape " + std::string(text.substr(v.at, 6)) + at +
             ", a lone UTF-16 surrogate: evdb payloads must decode to Unicode text (write a "
             "surrogate pair, or the character as UTF-8)";
    case JsonProblem::kBadUtf8:
      return "is not valid UTF-8" + at + found + " (in a string)";
    case JsonProblem::kUnterminatedString:
      return bad + "the string that starts" + at + " has no closing quote";
    case JsonProblem::kTooDeep:
      return "nests arrays and objects too deeply: the value" + at + " is at level " +
             std::to_string(kMaxJsonDepth + 1) + ", and evdb accepts at most " +
             std::to_string(kMaxJsonDepth) + " (docs/contract.md DATA-6)";
  }
  return bad + "unknown problem" + at;
}

}  // namespace evdb::json
