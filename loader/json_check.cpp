// json_check.cpp — the validating JSON scanner (json_check.hpp).
//
// One pass, left to right, as a small state machine: "a value is due",
// "an object member is due", "a value just ended". Nesting is a bit stack
// (1 = object, 0 = array) of kMaxJsonDepth bits, so deep input cannot
// overflow the call stack. Runs of ordinary string bytes are skipped eight at
// a time (SWAR: one 64-bit load, a few integer operations find the first
// quote, backslash or control byte); everything else is looked at byte by
// byte. Bytes above 0x7F are only noted on the way: when the grammar holds and
// there were some, the whole text goes once through simdjson's SIMD UTF-8
// validator (non-ASCII text is then as cheap to check as ASCII).
#include "json_check.hpp"

#include <simdjson.h>

#include <array>
#include <bit>
#include <cstdio>
#include <cstring>

namespace evdb::json {

namespace {

using Byte = unsigned char;

// Byte classes, one table lookup each.
enum : uint8_t {
  kWs = 1,          // JSON's four whitespace bytes (RFC 8259 §2): space, tab, LF, CR
  kDigit = 2,       // 0-9
  kNumberByte = 4,  // may continue a number token: 0-9 + - . e E
  kWordByte = 8,    // may continue a word such as true: letters, digits, _
};

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c : {' ', '\t', '\n', '\r'}) t[c] |= kWs;
  for (int c = '0'; c <= '9'; ++c) t[c] |= kDigit | kNumberByte | kWordByte;
  for (int c : {'+', '-', '.', 'e', 'E'}) t[c] |= kNumberByte;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kWordByte;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kWordByte;
  t['_'] |= kWordByte;
  return t;
}();

constexpr bool is(Byte c, uint8_t cls) {
  return (kClass[c] & cls) != 0;
}

// Hex digit values, 16 for "not a hex digit".
constexpr std::array<uint8_t, 256> kHex = [] {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 16;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}();

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
// bit of the first byte that is '"', '\\' or below 0x20 (0 when there is
// none). Each term below has no false positive before its first true one, so
// the lowest set bit of their union is exact. Bytes above 0x7F are not
// special here: they are checked as UTF-8 once for the whole text (run()).
inline uint64_t special_bytes(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto zero_byte = [&](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  uint64_t quote = zero_byte(w ^ (kOnes * '"'));
  uint64_t backslash = zero_byte(w ^ (kOnes * '\\'));
  uint64_t control = (w - kOnes * 0x20) & ~w & kHigh;  // bytes below 0x20
  return quote | backslash | control;
}

// Hot helpers are inlined into the scanner's loop even where they are called
// from two places (GCC and clang; other compilers may decide for themselves).
#if defined(__GNUC__)
#define EVDB_JSON_INLINE [[gnu::always_inline]] inline
#define EVDB_JSON_COLD [[gnu::noinline, gnu::cold]]
#else
#define EVDB_JSON_INLINE inline
#define EVDB_JSON_COLD
#endif

// The scanner. Positions are pointers into the text; a helper that finds a
// problem records it (fail) and returns nullptr, and run() returns it.
class Scanner {
 public:
  Scanner(const char* data, size_t size)
      : begin_(reinterpret_cast<const Byte*>(data)), end_(begin_ + size) {}

  JsonVerdict run() {
    const Byte* s = skip_ws(begin_);
    if (s == end_) return verdict(JsonProblem::kEmpty, end_);
    size_t depth = 0;        // open arrays and objects
    bool in_object = false;  // the innermost open one is an object
    // Whitespace is skipped where it is found, as one more case of each
    // state: compact JSON, the common case, then costs no extra test.

  value:  // a value is due at s (s < end_)
    switch (*s) {
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        s = skip_ws(s);
        if (s == end_) return verdict(JsonProblem::kEndsEarly, end_);
        goto value;
      case '{':
        s = skip_ws(s + 1);
        if (s != end_ && *s == '}') {
          ++s;
          goto after_value;
        }
        if (s == end_) return verdict(JsonProblem::kEndsEarly, end_);
        // Its members would be one level deeper than the object itself.
        if (depth + 1 >= kMaxJsonDepth) return verdict(JsonProblem::kTooDeep, s);
        push(depth++, in_object = true);
        goto member;
      case '[':
        s = skip_ws(s + 1);
        if (s != end_ && *s == ']') {
          ++s;
          goto after_value;
        }
        if (s == end_) return verdict(JsonProblem::kEndsEarly, end_);
        if (depth + 1 >= kMaxJsonDepth) return verdict(JsonProblem::kTooDeep, s);
        push(depth++, in_object = false);
        goto value;
      case '"':
        s = string(s);
        break;
      case 't':
        s = literal(s, "true", 4);
        break;
      case 'f':
        s = literal(s, "false", 5);
        break;
      case 'n':
        s = literal(s, "null", 4);
        break;
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
        s = number(s);
        break;
      default:
        return verdict(JsonProblem::kExpectedValue, s);
    }
    if (s == nullptr) return verdict(problem_, at_);
    goto after_value;

  member:  // an object member is due at s (s < end_)
    if (*s != '"') {
      if (!is(*s, kWs)) return verdict(JsonProblem::kExpectedKey, s);
      s = skip_ws(s);
      if (s == end_) return verdict(JsonProblem::kEndsEarly, end_);
      goto member;
    }
    s = string(s);
    if (s == nullptr) return verdict(problem_, at_);
    if (s == end_ || *s != ':') {
      s = skip_ws(s);
      if (s == end_) return verdict(JsonProblem::kEndsEarly, end_);
      if (*s != ':') return verdict(JsonProblem::kExpectedColon, s);
    }
    if (++s == end_) return verdict(JsonProblem::kEndsEarly, end_);
    goto value;

  after_value:  // a value ended just before s
    if (depth == 0) {
      s = skip_ws(s);
      if (s != end_) return verdict(JsonProblem::kTrailing, s);
      return high_ == 0 ? JsonVerdict{} : utf8();
    }
    if (s == end_) return verdict(JsonProblem::kEndsEarly, end_);
    if (*s == ',') {
      if (++s == end_) return verdict(JsonProblem::kEndsEarly, end_);
      if (in_object) goto member;
      goto value;
    }
    if (*s == (in_object ? '}' : ']')) {
      if (--depth != 0) in_object = top(depth);
      ++s;
      goto after_value;
    }
    if (is(*s, kWs)) {
      s = skip_ws(s);
      goto after_value;
    }
    return verdict(
        in_object ? JsonProblem::kExpectedCommaOrBrace : JsonProblem::kExpectedCommaOrBracket, s);
  }

 private:
  JsonVerdict verdict(JsonProblem p, const Byte* at) const {
    return {p, static_cast<size_t>(at - begin_)};
  }
  // The grammar held, and some string has bytes above 0x7F: all of them are
  // inside strings (anywhere else they break the grammar), so the whole text
  // must be UTF-8. simdjson's SIMD validator answers that; only a refused
  // text is walked again to find the first bad sequence.
  JsonVerdict utf8() const {
    const char* text = reinterpret_cast<const char*>(begin_);
    if (simdjson::validate_utf8(text, static_cast<size_t>(end_ - begin_))) return {};
    for (const Byte* s = begin_; s != end_;) {
      size_t len = utf8_sequence(s, static_cast<size_t>(end_ - s));
      if (len == 0) return verdict(JsonProblem::kBadUtf8, s);
      s += len;
    }
    return verdict(JsonProblem::kBadUtf8, begin_);  // not reached: the two agree
  }

  const Byte* fail(JsonProblem p, const Byte* at) {
    problem_ = p;
    at_ = at;
    return nullptr;
  }

  EVDB_JSON_INLINE const Byte* skip_ws(const Byte* s) const {
    while (s != end_ && is(*s, kWs)) ++s;
    return s;
  }

  void push(size_t depth, bool object) {
    uint64_t bit = uint64_t{1} << (depth & 63);
    if (object)
      stack_[depth >> 6] |= bit;
    else
      stack_[depth >> 6] &= ~bit;
  }
  bool top(size_t depth) const { return (stack_[(depth - 1) >> 6] >> ((depth - 1) & 63)) & 1; }

  // The four hex digits at s as a number, or -1.
  long hex4(const Byte* s) const {
    if (end_ - s < 4) return -1;
    unsigned a = kHex[s[0]], b = kHex[s[1]], c = kHex[s[2]], d = kHex[s[3]];
    if ((a | b | c | d) & 16) return -1;
    return static_cast<long>((a << 12) | (b << 8) | (c << 4) | d);
  }

  // The string whose opening quote is at s; returns the byte after its
  // closing quote.
  EVDB_JSON_INLINE const Byte* string(const Byte* s) {
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    const Byte* const start = s++;
    uint64_t high = 0;  // kept in a register, stored once per string
    for (;;) {
      if constexpr (std::endian::native == std::endian::little) {
        while (end_ - s >= 8) {
          uint64_t w;
          std::memcpy(&w, s, 8);
          high |= w & kHigh;  // may include bytes after the string: harmless
          if (uint64_t m = special_bytes(w); m != 0) {
            s += std::countr_zero(m) >> 3;
            break;
          }
          s += 8;
        }
      }
      if (s == end_) return fail(JsonProblem::kUnterminatedString, start);
      Byte c = *s;
      if (c == '"') {
        high_ |= high;
        return s + 1;
      }
      if (c == '\\') {
        s = escape(s, start);
        if (s == nullptr) return nullptr;
      } else if (c < 0x20) {
        return fail(JsonProblem::kControlInString, s);
      } else {
        high |= c & 0x80;
        ++s;  // an ordinary byte of the last few, which the 8-byte loop leaves
      }
    }
  }

  // The escape at s (a backslash) in the string that starts at `start`;
  // returns the byte after it.
  EVDB_JSON_COLD const Byte* escape(const Byte* s, const Byte* start) {
    if (end_ - s < 2) return fail(JsonProblem::kUnterminatedString, start);
    switch (s[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        return s + 2;
      case 'u':
        break;
      default:
        return fail(JsonProblem::kBadEscape, s);
    }
    long u = hex4(s + 2);
    if (u < 0) return fail(JsonProblem::kBadEscape, s);
    if (u >= 0xD800 && u <= 0xDBFF) {  // must be followed by a low surrogate
      long low = end_ - s >= 12 && s[6] == '\\' && s[7] == 'u' ? hex4(s + 8) : -1;
      if (low < 0xDC00 || low > 0xDFFF) return fail(JsonProblem::kLoneSurrogate, s);
      return s + 12;
    }
    if (u >= 0xDC00 && u <= 0xDFFF) return fail(JsonProblem::kLoneSurrogate, s);
    return s + 6;
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?,
  // of any length. Returns the byte after the number.
  EVDB_JSON_INLINE const Byte* number(const Byte* s) {
    const Byte* const start = s;
    auto digits = [&] {  // one or more
      if (s == end_ || !is(*s, kDigit)) return false;
      do ++s;
      while (s != end_ && is(*s, kDigit));
      return true;
    };
    if (*s == '-') ++s;
    if (s != end_ && *s == '0') {
      ++s;
    } else if (!digits()) {
      return fail(JsonProblem::kBadNumber, start);
    }
    if (s == end_ || !is(*s, kNumberByte)) return s;  // an integer: the common case
    if (*s == '.') {
      ++s;
      if (!digits()) return fail(JsonProblem::kBadNumber, start);
    }
    if (s != end_ && (*s | 0x20) == 'e') {
      ++s;
      if (s != end_ && (*s == '+' || *s == '-')) ++s;
      if (!digits()) return fail(JsonProblem::kBadNumber, start);
    }
    // A number byte left over ("01", "1.2.3", "1-2") makes the token malformed.
    if (s != end_ && is(*s, kNumberByte)) return fail(JsonProblem::kBadNumber, start);
    return s;
  }

  // true, false or null at s, not followed by a letter or digit.
  const Byte* literal(const Byte* s, const char* word, size_t len) {
    if (static_cast<size_t>(end_ - s) < len || std::memcmp(s, word, len) != 0 ||
        (static_cast<size_t>(end_ - s) > len && is(s[len], kWordByte)))
      return fail(JsonProblem::kBadLiteral, s);
    return s + len;
  }

  const Byte* const begin_;
  const Byte* const end_;
  JsonProblem problem_ = JsonProblem::kNone;
  const Byte* at_ = nullptr;
  uint64_t high_ = 0;  // non-zero when a string may hold a byte above 0x7F
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
      return bad + "a number is malformed" + at + " (\"" +
             excerpt(text, v.at, 24, [](Byte c) { return is(c, kNumberByte); }) + "\")";
    case JsonProblem::kBadLiteral:
      return bad + "\"" + excerpt(text, v.at, 16, [](Byte c) { return is(c, kWordByte); }) + "\"" +
             at + " is not true, false or null";
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
      return "nests arrays and objects too deeply: what starts" + at + " is at level " +
             std::to_string(kMaxJsonDepth + 1) + ", and evdb accepts at most " +
             std::to_string(kMaxJsonDepth) + " (docs/contract.md DATA-6)";
  }
  return bad + "unknown problem" + at;
}

}  // namespace evdb::json
