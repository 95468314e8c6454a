// json_check.cpp — the validating JSON scanner (json_check.hpp).
//
// Two stages of one mechanism, and a portable scanner behind them:
//  * The SIMD stage (x86-64 with AVX2, chosen at run time; texts of 80 bytes
//    or more): each 64-byte block is classified with vector compares into bit masks — quotes,
//    backslashes, whitespace, the structural bytes {}[]:, control bytes and
//    bytes above 0x7F; a few 64-bit operations turn them into the inside of
//    the strings (a carry-less multiply is the prefix XOR of the quotes) and
//    the positions of the tokens: the structural bytes, the opening quotes and
//    the first byte of every number or word, all outside strings. The grammar
//    is a small state machine that walks only those positions (a 102-byte
//    event has ~40), with the nesting on a bit stack; numbers and true, false,
//    null are checked byte by byte as in the portable scanner, escapes by the
//    same function. It only says "accepted" or "not accepted".
//  * The portable scanner: one pass, left to right, byte by byte (ordinary
//    string bytes eight at a time), which finds the first problem and its
//    offset. It judges every text on machines without AVX2 (and on non-x86
//    ones), and every text the SIMD stage did not accept, so the verdicts and
//    messages are the scanner's on every machine (docs/decisions.md,
//    "Payload validation").
// Bytes above 0x7F are only noted on the way: when the grammar holds and
// there were some, the whole text goes once through simdjson's SIMD UTF-8
// validator.
#include "json_check.hpp"

#include <simdjson.h>

#include <array>
#include <bit>
#include <cstdio>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define EVDB_JSON_SIMD 1
#else
#define EVDB_JSON_SIMD 0
#endif

namespace evdb::json {

namespace {

using Byte = unsigned char;

// Byte classes, one table lookup each.
enum : uint8_t {
  kWs = 1,          // JSON's four whitespace bytes (RFC 8259 §2): space, tab, LF, CR
  kDigit = 2,       // 0-9
  kNumberByte = 4,  // may continue a number token: 0-9 + - . e E
  kWordByte = 8,    // may continue a word such as true: letters, digits, _
  kDelimiter = 16,  // may follow a number or word: whitespace, {}[]:, and '"'
};

constexpr std::array<uint8_t, 256> kClass = [] {
  std::array<uint8_t, 256> t{};
  for (int c : {' ', '\t', '\n', '\r'}) t[c] |= kWs | kDelimiter;
  for (int c = '0'; c <= '9'; ++c) t[c] |= kDigit | kNumberByte | kWordByte;
  for (int c : {'+', '-', '.', 'e', 'E'}) t[c] |= kNumberByte;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kWordByte;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kWordByte;
  t['_'] |= kWordByte;
  for (int c : {'{', '}', '[', ']', ':', ',', '"'}) t[c] |= kDelimiter;
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

// ---- pieces both stages use -------------------------------------------------

// The four hex digits at s (s < end) as a number, or -1.
long hex4(const Byte* s, const Byte* end) {
  if (end - s < 4) return -1;
  unsigned a = kHex[s[0]], b = kHex[s[1]], c = kHex[s[2]], d = kHex[s[3]];
  if ((a | b | c | d) & 16) return -1;
  return static_cast<long>((a << 12) | (b << 8) | (c << 4) | d);
}

// An escape: its length, or what is wrong with it.
struct Escape {
  size_t length;
  JsonProblem problem;  // kNone, kUnterminatedString, kBadEscape or kLoneSurrogate
};

// The escape whose backslash is at s (s < end).
EVDB_JSON_COLD Escape check_escape(const Byte* s, const Byte* end) {
  if (end - s < 2) return {0, JsonProblem::kUnterminatedString};
  switch (s[1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      return {2, JsonProblem::kNone};
    case 'u':
      break;
    default:
      return {0, JsonProblem::kBadEscape};
  }
  long u = hex4(s + 2, end);
  if (u < 0) return {0, JsonProblem::kBadEscape};
  if (u >= 0xD800 && u <= 0xDBFF) {  // must be followed by a low surrogate
    long low = end - s >= 12 && s[6] == '\\' && s[7] == 'u' ? hex4(s + 8, end) : -1;
    if (low < 0xDC00 || low > 0xDFFF) return {0, JsonProblem::kLoneSurrogate};
    return {12, JsonProblem::kNone};
  }
  if (u >= 0xDC00 && u <= 0xDFFF) return {0, JsonProblem::kLoneSurrogate};
  return {6, JsonProblem::kNone};
}

// RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?, of any
// length, starting at s (s < end). Returns the byte after the number, nullptr
// when it is malformed (a number byte left over, as in "01" or "1.2.3", makes
// it malformed too).
EVDB_JSON_INLINE const Byte* scan_number(const Byte* s, const Byte* end) {
  auto digits = [&] {  // one or more
    if (s == end || !is(*s, kDigit)) return false;
    do ++s;
    while (s != end && is(*s, kDigit));
    return true;
  };
  if (*s == '-') ++s;
  if (s != end && *s == '0') {
    ++s;
  } else if (!digits()) {
    return nullptr;
  }
  if (s == end || !is(*s, kNumberByte)) return s;  // an integer: the common case
  if (*s == '.') {
    ++s;
    if (!digits()) return nullptr;
  }
  if (s != end && (*s | 0x20) == 'e') {
    ++s;
    if (s != end && (*s == '+' || *s == '-')) ++s;
    if (!digits()) return nullptr;
  }
  if (s != end && is(*s, kNumberByte)) return nullptr;
  return s;
}

// Whether the `len` bytes of `word` (true, false, null) are at s.
EVDB_JSON_INLINE bool word_at(const Byte* s, const Byte* end, const char* word, size_t len) {
  return static_cast<size_t>(end - s) >= len && std::memcmp(s, word, len) == 0;
}

// The kinds of the open arrays and objects, one bit each (1 = object):
// kMaxJsonDepth bits, so deep input cannot overflow the call stack.
class NestingStack {
 public:
  void push(size_t depth, bool object) {
    uint64_t bit = uint64_t{1} << (depth & 63);
    if (object)
      bits_[depth >> 6] |= bit;
    else
      bits_[depth >> 6] &= ~bit;
  }
  // Whether the innermost of `depth` (> 0) open ones is an object.
  bool top(size_t depth) const { return (bits_[(depth - 1) >> 6] >> ((depth - 1) & 63)) & 1; }

 private:
  uint64_t bits_[kMaxJsonDepth / 64];
};

// Whether the text, whose strings hold some byte above 0x7F, is UTF-8 (the
// grammar held, so all such bytes are in strings): simdjson's SIMD validator.
bool utf8_ok(const Byte* begin, const Byte* end) {
  return simdjson::validate_utf8(reinterpret_cast<const char*>(begin),
                                 static_cast<size_t>(end - begin));
}

// ---- the portable scanner ---------------------------------------------------

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
        stack_.push(depth++, in_object = true);
        goto member;
      case '[':
        s = skip_ws(s + 1);
        if (s != end_ && *s == ']') {
          ++s;
          goto after_value;
        }
        if (s == end_) return verdict(JsonProblem::kEndsEarly, end_);
        if (depth + 1 >= kMaxJsonDepth) return verdict(JsonProblem::kTooDeep, s);
        stack_.push(depth++, in_object = false);
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
      if (--depth != 0) in_object = stack_.top(depth);
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
  // must be UTF-8. Only a refused text is walked again to find the first bad
  // sequence.
  JsonVerdict utf8() const {
    if (utf8_ok(begin_, end_)) return {};
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
        Escape e = check_escape(s, end_);
        if (e.problem != JsonProblem::kNone)
          return fail(e.problem, e.problem == JsonProblem::kUnterminatedString ? start : s);
        s += e.length;
      } else if (c < 0x20) {
        return fail(JsonProblem::kControlInString, s);
      } else {
        high |= c & 0x80;
        ++s;  // an ordinary byte of the last few, which the 8-byte loop leaves
      }
    }
  }

  EVDB_JSON_INLINE const Byte* number(const Byte* s) {
    const Byte* e = scan_number(s, end_);
    return e != nullptr ? e : fail(JsonProblem::kBadNumber, s);
  }

  // true, false or null at s, not followed by a letter or digit.
  const Byte* literal(const Byte* s, const char* word, size_t len) {
    if (!word_at(s, end_, word, len) ||
        (static_cast<size_t>(end_ - s) > len && is(s[len], kWordByte)))
      return fail(JsonProblem::kBadLiteral, s);
    return s + len;
  }

  const Byte* const begin_;
  const Byte* const end_;
  JsonProblem problem_ = JsonProblem::kNone;
  const Byte* at_ = nullptr;
  uint64_t high_ = 0;  // non-zero when a string may hold a byte above 0x7F
  NestingStack stack_;
};

// ---- the SIMD stage (x86-64, AVX2) ------------------------------------------

#if EVDB_JSON_SIMD
// The stage's functions are compiled for AVX2 (plus BMI1 for the bit loops and
// PCLMUL for the prefix XOR) whatever the build's -march; check_json calls
// them only when the processor has all three (simd_available()).
#define EVDB_JSON_AVX2 __attribute__((target("avx2,bmi,pclmul")))

// One 64-byte block, bit i for byte i.
struct BlockMasks {
  uint64_t quote;      // '"'
  uint64_t backslash;  // '\\'
  uint64_t ws;         // space, tab, LF, CR
  uint64_t op;         // { } [ ] : ,  (and 0x0C, 0x1A: control bytes, refused anyway)
  uint64_t control;    // below 0x20
  uint64_t high;       // above 0x7F
};

EVDB_JSON_AVX2 inline uint64_t bits_of(__m256i lo, __m256i hi) {
  return static_cast<uint32_t>(_mm256_movemask_epi8(lo)) |
         uint64_t{static_cast<uint32_t>(_mm256_movemask_epi8(hi))} << 32;
}

// Classifies the 64 bytes at p.
EVDB_JSON_AVX2 inline BlockMasks classify(const Byte* p) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
  // Table lookups by the low 4 bits (vpshufb; a byte above 0x7F looks up 0):
  // the one whitespace byte with those low bits, else 0xFF, which no byte
  // below 0x80 equals. The structural bytes likewise, after OR 0x20, which
  // maps '[' and ']' onto '{' and '}'.
  const __m256i ws_table =
      _mm256_setr_epi8(' ', -1, -1, -1, -1, -1, -1, -1, -1, '\t', '\n', -1, -1, '\r', -1, -1, ' ',
                       -1, -1, -1, -1, -1, -1, -1, -1, '\t', '\n', -1, -1, '\r', -1, -1);
  const __m256i op_table =
      _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, ':', '{', ',', '}', -1, -1, -1, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, ':', '{', ',', '}', -1, -1);
  const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\');
  const __m256i x20 = _mm256_set1_epi8(0x20), x1f = _mm256_set1_epi8(0x1F);
  const __m256i a20 = _mm256_or_si256(a, x20), b20 = _mm256_or_si256(b, x20);
  BlockMasks m;
  m.quote = bits_of(_mm256_cmpeq_epi8(a, quote), _mm256_cmpeq_epi8(b, quote));
  m.backslash = bits_of(_mm256_cmpeq_epi8(a, backslash), _mm256_cmpeq_epi8(b, backslash));
  m.ws = bits_of(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, a), a),
                 _mm256_cmpeq_epi8(_mm256_shuffle_epi8(ws_table, b), b));
  m.op = bits_of(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(op_table, a20), a20),
                 _mm256_cmpeq_epi8(_mm256_shuffle_epi8(op_table, b20), b20));
  m.control = bits_of(_mm256_cmpeq_epi8(_mm256_max_epu8(a, x1f), x1f),
                      _mm256_cmpeq_epi8(_mm256_max_epu8(b, x1f), x1f));
  m.high = bits_of(a, b);
  return m;
}

// Bit i of the result is the XOR of bits 0..i of x: a carry-less multiply by
// all ones.
EVDB_JSON_AVX2 inline uint64_t prefix_xor(uint64_t x) {
  const __m128i product =
      _mm_clmulepi64_si128(_mm_set_epi64x(0, static_cast<long long>(x)), _mm_set1_epi8(-1), 0);
  return static_cast<uint64_t>(_mm_cvtsi128_si64(product));
}

// Whether the text is accepted, found by classifying blocks and walking the
// token positions. Answers false for every refused text and for no accepted
// one (the tests and the fuzz target hold it to that); check_json then asks
// the portable scanner what is wrong.
class SimdChecker {
 public:
  SimdChecker(const char* data, size_t size)
      : begin_(reinterpret_cast<const Byte*>(data)), end_(begin_ + size), size_(size) {}

  EVDB_JSON_AVX2 bool run();

 private:
  EVDB_JSON_AVX2 uint64_t next_block();
  EVDB_JSON_AVX2 bool escapes(uint64_t backslash, uint64_t& escaped);
  EVDB_JSON_AVX2 bool finish() const {
    return in_string_ == 0 && escape_carry_ == 0 && (high_ == 0 || utf8_ok(begin_, end_));
  }
  // A number, or true/false/null, at p, ending at a delimiter or the end.
  EVDB_JSON_AVX2 bool number(const Byte* p) const {
    const Byte* e = scan_number(p, end_);
    return e != nullptr && (e == end_ || is(*e, kDelimiter));
  }
  EVDB_JSON_AVX2 bool word(const Byte* p, const char* w, size_t len) const {
    return word_at(p, end_, w, len) && (p + len == end_ || is(p[len], kDelimiter));
  }

  const Byte* const begin_;
  const Byte* const end_;
  const size_t size_;
  size_t next_ = 0;                    // offset of the first byte not classified yet
  const Byte* base_ = nullptr;         // the block whose token bits the walk reads
  const Byte* escapes_end_ = nullptr;  // escapes before it are checked already
  uint64_t in_string_ = 0;             // all ones when the last block ended inside a string
  uint64_t in_scalar_ = 0;             // 1 when its last byte belongs to a number or word
  uint64_t escape_carry_ = 0;          // 1 when its last byte is a backslash escaping the next
  uint64_t high_ = 0;                  // non-zero when some byte is above 0x7F
  bool bad_ = false;                   // a block broke a rule of its own
  NestingStack stack_;
};

// Classifies the block at next_ and returns its token positions (possibly 0);
// sets bad_ when the block alone shows the text is refused: an unescaped
// control byte in a string, a control byte other than whitespace outside one,
// a bad escape.
EVDB_JSON_AVX2 uint64_t SimdChecker::next_block() {
  const size_t left = size_ - next_;
  BlockMasks m;
  if (left >= 64) {
    m = classify(begin_ + next_);
  } else if (size_ >= 64) {
    // The text's last 64 bytes, shifted so that bit 0 is byte next_; the
    // bits from `left` on stand for whitespace after the end.
    m = classify(end_ - 64);
    const unsigned shift = static_cast<unsigned>(64 - left);
    m.quote >>= shift;
    m.backslash >>= shift;
    m.ws = m.ws >> shift | ~uint64_t{0} << left;
    m.op >>= shift;
    m.control >>= shift;
    m.high >>= shift;
  } else {
    alignas(32) Byte padded[64];
    std::memset(padded, ' ', sizeof padded);
    std::memcpy(padded, begin_ + next_, left);
    m = classify(padded);
  }
  base_ = begin_ + next_;
  next_ += 64;
  uint64_t escaped = 0;  // bytes after a backslash that escapes them
  if ((m.backslash | escape_carry_) != 0 && !escapes(m.backslash, escaped)) {
    bad_ = true;
    return 0;
  }
  const uint64_t quote = m.quote & ~escaped;
  // From an opening quote (included) to its closing quote (excluded).
  const uint64_t in_string = prefix_xor(quote) ^ in_string_;
  in_string_ = static_cast<uint64_t>(static_cast<int64_t>(in_string) >> 63);
  high_ |= m.high;
  if ((m.control & (in_string | ~m.ws)) != 0) {
    bad_ = true;
    return 0;
  }
  // Bytes of numbers and words (and anything else out of place): the first
  // of each run is a token.
  const uint64_t scalar = ~(m.ws | m.op | m.quote | in_string);
  const uint64_t scalar_starts = scalar & ~(scalar << 1 | in_scalar_);
  in_scalar_ = scalar >> 63;
  return (m.op & ~in_string) | (quote & in_string) | scalar_starts;
}

// Finds the escaped bytes of the block at base_ (each backslash that is not
// itself escaped escapes the next byte) and checks each escape once.
EVDB_JSON_AVX2 bool SimdChecker::escapes(uint64_t backslash, uint64_t& escaped) {
  escaped = escape_carry_;
  escape_carry_ = 0;
  for (uint64_t m = backslash & ~escaped; m != 0;) {
    const int i = std::countr_zero(m);
    const Byte* at = base_ + i;
    // The second half of a surrogate pair was checked with the first.
    if (at >= escapes_end_) {
      const Escape e = check_escape(at, end_);
      if (e.problem != JsonProblem::kNone) return false;
      escapes_end_ = at + e.length;
    }
    if (i == 63)
      escape_carry_ = 1;
    else
      escaped |= uint64_t{2} << i;
    m &= ~(uint64_t{3} << i);  // an escaped backslash starts no escape
  }
  return true;
}

// The grammar over the token positions: the same states as the portable
// scanner, with whitespace already out of the way.
EVDB_JSON_AVX2 bool SimdChecker::run() {
  escapes_end_ = begin_;
  uint64_t bits = 0;  // the token positions of the block at base_ not walked yet
  const Byte* p = begin_;
  Byte c = 0;
  size_t depth = 0;        // open arrays and objects
  bool in_object = false;  // the innermost open one is an object

  // The next token: p, and its first byte c. At the end of the text, runs
  // at_end.
#define EVDB_JSON_NEXT(at_end)          \
  do {                                  \
    while (bits == 0) {                 \
      if (next_ >= size_) at_end;       \
      bits = next_block();              \
      if (bad_) return false;           \
    }                                   \
    p = base_ + std::countr_zero(bits); \
    bits &= bits - 1;                   \
    c = *p;                             \
  } while (false)

value:  // a value is due
  EVDB_JSON_NEXT(return false);
value_at:
  if (c == '"') goto after_value;  // its bytes were checked with the blocks
  if (static_cast<Byte>(c - '0') < 10 || c == '-') {
    if (!number(p)) return false;
    goto after_value;
  }
  switch (c) {
    case '{':
      EVDB_JSON_NEXT(return false);
      if (c == '}') goto after_value;
      if (depth + 1 >= kMaxJsonDepth) return false;
      stack_.push(depth++, in_object = true);
      goto key_at;
    case '[':
      EVDB_JSON_NEXT(return false);
      if (c == ']') goto after_value;
      if (depth + 1 >= kMaxJsonDepth) return false;
      stack_.push(depth++, in_object = false);
      goto value_at;
    case 't':
      if (!word(p, "true", 4)) return false;
      goto after_value;
    case 'f':
      if (!word(p, "false", 5)) return false;
      goto after_value;
    case 'n':
      if (!word(p, "null", 4)) return false;
      goto after_value;
    default:
      return false;
  }

key:  // an object member is due
  EVDB_JSON_NEXT(return false);
key_at:
  if (c != '"') return false;
  EVDB_JSON_NEXT(return false);
  if (c != ':') return false;
  goto value;

after_value:  // a value ended
  if (depth == 0) {
    EVDB_JSON_NEXT(return finish());
    return false;  // more after the value
  }
  EVDB_JSON_NEXT(return false);
  if (c == ',') {
    if (in_object) goto key;
    goto value;
  }
  if (c != (in_object ? '}' : ']')) return false;
  if (--depth != 0) in_object = stack_.top(depth);
  goto after_value;
#undef EVDB_JSON_NEXT
}

// Below this size check_json leaves even valid texts to the scanner: a
// short text costs the stage two blocks' classification however few of
// their bytes it fills, and the scanner is cheaper there. Measured with
// callgrind on an event payload whose one string grew (docs/benchmarks.md,
// "Validation without a DOM"): 68 bytes, scanner 820 instructions against
// the stage's 894; 80 bytes, 882 against 894; 90 bytes, 913 against 894.
constexpr size_t kSimdMinSize = 80;

bool detect_simd() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") &&
         __builtin_cpu_supports("pclmul");
}

// Read once when libevdb is loaded.
const bool kSimd = detect_simd();

bool simd_available() {
  return kSimd;
}
#else
bool simd_available() {
  return false;
}
#endif  // EVDB_JSON_SIMD

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
#if EVDB_JSON_SIMD
  if (kSimd && size >= kSimdMinSize && SimdChecker(data, size).run()) return {};
#endif
  return Scanner(data, size).run();
}

JsonVerdict check_json_portable(const char* data, size_t size) noexcept {
  if (size == 0) return {JsonProblem::kEmpty, 0};
  return Scanner(data, size).run();
}

bool json_check_has_simd() noexcept {
  return simd_available();
}

bool json_check_simd_accepts(const char* data, size_t size) noexcept {
#if EVDB_JSON_SIMD
  return kSimd && size != 0 && SimdChecker(data, size).run();
#else
  (void)data;
  (void)size;
  return false;
#endif
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
