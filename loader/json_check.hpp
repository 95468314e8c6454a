// json_check.hpp — is a text one JSON value as evdb accepts it (DATA-6)?
//
// A validating scanner written for libevdb's append path: it reads the text
// once, left to right, builds nothing and allocates nothing, and answers
// "accepted" or the first problem and the byte where it is. What it accepts
// is exactly what docs/contract.md §1 (DATA-6) calls JSON:
//  * RFC 8259's grammar: one value, surrounded by optional whitespace (space,
//    tab, line feed, carriage return only); no byte order mark;
//  * numbers of any size and precision (only their spelling is checked);
//  * strings: raw bytes valid UTF-8 (no overlong forms, no UTF-8-encoded
//    surrogates, nothing above U+10FFFF), no unescaped byte below 0x20, only
//    the escapes \" \\ \/ \b \f \n \r \t \uXXXX, and no \u escape that is a
//    lone UTF-16 surrogate;
//  * nesting: no value deeper than kMaxJsonDepth levels (the whole text is
//    level 1, a member or element of a container at level k is at level k+1),
//    so 1024 empty arrays nested are fine and 1024 holding a value are not.
// The limits are those of simdjson's DOM parser, which libevdb used before
// (docs/decisions.md, "Payload validation"); the fuzz target json_check
// compares the two on every input.
//
// Thread-safe and reentrant (no state outside the call, which allocates
// nothing); nesting is kept on a fixed 128-byte bit stack, never recursing.
// On x86-64 processors with AVX2 (checked once, at load), a SIMD stage reads
// a text of 80 bytes or more in 64-byte blocks and accepts it when it is
// valid; a shorter text, a text it does
// not accept, and every text on other processors, goes to the portable
// scanner, which finds the problem and its offset — the verdict is the same
// on every machine (docs/decisions.md, "Payload validation"). Text with bytes
// above 0x7F in its strings is checked as UTF-8 by simdjson's SIMD validator
// once the grammar holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace evdb::json {

// The deepest level a value may sit at (see above).
inline constexpr size_t kMaxJsonDepth = 1024;

// What is wrong with a text; kNone when it is accepted.
enum class JsonProblem : uint8_t {
  kNone,
  kEmpty,                   // no value at all (empty or whitespace only)
  kEndsEarly,               // the text ends inside a value, array or object
  kExpectedValue,           // a byte that cannot start a value where one is due
  kExpectedKey,             // an object member does not start with a string
  kExpectedColon,           // no ':' after an object key
  kExpectedCommaOrBracket,  // no ',' or ']' after an array element
  kExpectedCommaOrBrace,    // no ',' or '}' after an object member
  kTrailing,                // more than whitespace after the value
  kBadNumber,               // a number not spelled as RFC 8259 says (01, 1., -, 1e)
  kBadLiteral,              // a word that is not true, false or null
  kControlInString,         // an unescaped byte below 0x20 inside a string
  kBadEscape,               // a backslash not followed by a valid escape
  kLoneSurrogate,           // a \u escape naming an unpaired UTF-16 surrogate
  kBadUtf8,                 // bytes that are not UTF-8
  kUnterminatedString,      // a string without its closing quote
  kTooDeep,                 // a value deeper than kMaxJsonDepth
};

// The verdict on a text: the problem (kNone when accepted) and the byte
// offset where it was found (for kUnterminatedString: where the string
// starts; for kEmpty and kEndsEarly: the text's length).
struct JsonVerdict {
  JsonProblem problem = JsonProblem::kNone;
  size_t at = 0;
  bool ok() const { return problem == JsonProblem::kNone; }
};

// Checks text (any bytes, not NUL-terminated, may be empty; data may be NULL
// when size is 0). Never reads outside [data, data + size). Does not throw.
JsonVerdict check_json(const char* data, size_t size) noexcept;

// The same verdict as check_json, always found by the portable scanner
// alone: what check_json does on processors without AVX2. For the tests and
// the fuzz target, which hold the two to the same verdicts.
JsonVerdict check_json_portable(const char* data, size_t size) noexcept;

// Whether check_json runs the SIMD stage on this processor (x86-64 with
// AVX2, BMI1 and PCLMULQDQ); false on other architectures.
bool json_check_has_simd() noexcept;

// The SIMD stage's own answer, for a text of any size (check_json asks it
// only from 80 bytes on): true when it accepts the text, false when it does
// not, or when json_check_has_simd() is false. It must accept exactly
// the texts check_json accepts (the tests and the fuzz target check that);
// check_json hands every other text to the portable scanner.
bool json_check_simd_accepts(const char* data, size_t size) noexcept;

// What is wrong with a refused text and where, as a phrase whose subject is
// the text, e.g. "is not valid JSON: a number is malformed at offset 1
// (\"01\")" (offsets count bytes from 0), showing the bytes concerned when
// they are printable. For kNone, "". `text` must be the text given to
// check_json. Throws only std::bad_alloc.
std::string describe_json_problem(JsonVerdict verdict, std::string_view text);

}  // namespace evdb::json
