// The payload scanner (loader/json_check.hpp): what DATA-6 accepts and
// refuses, where each problem is reported, the nesting limit at its edges,
// and the 8-byte string loop at every alignment. Every text checked here is
// also given to the portable scanner alone and, on processors with AVX2, to
// the SIMD stage alone: check_json must give the portable scanner's verdict,
// and the SIMD stage must accept exactly what it accepts — including texts
// whose tokens, strings and escapes cross the stage's 64-byte blocks. The
// fuzz target json_check compares the scanner with simdjson on machine-made
// input; these are the cases a reader can check by eye.
#include "json_check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using evdb::json::check_json;
using evdb::json::check_json_portable;
using evdb::json::describe_json_problem;
using evdb::json::json_check_has_simd;
using evdb::json::json_check_simd_accepts;
using evdb::json::JsonProblem;
using evdb::json::JsonVerdict;
using evdb::json::kMaxJsonDepth;

// check_json's verdict, after checking that the portable scanner gives the
// same and that the SIMD stage (where it runs) accepts exactly when it does.
JsonVerdict check(const std::string& s) {
  const std::string shown = s.size() <= 300 ? s : s.substr(0, 300) + "...";
  JsonVerdict v = check_json(s.data(), s.size());
  JsonVerdict portable = check_json_portable(s.data(), s.size());
  EXPECT_EQ(v.problem, portable.problem) << shown;
  EXPECT_EQ(v.at, portable.at) << shown;
  if (json_check_has_simd()) {
    EXPECT_EQ(json_check_simd_accepts(s.data(), s.size()), portable.ok()) << shown;
  }
  return v;
}

std::string nested(size_t n, const std::string& inner) {
  return std::string(n, '[') + inner + std::string(n, ']');
}

std::string nested_objects(size_t n, const std::string& inner) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += R"({"k":)";
  s += inner;
  return s + std::string(n, '}');
}

TEST(JsonCheck, AcceptsEveryKindOfValue) {
  for (const std::string& ok : std::vector<std::string>{
           "0",
           "-0",
           "42",
           "-1.5e-3",
           "1E+2",
           "0.0e0",
           "1e400",
           "-1e-400",
           "123456789012345678901234567890",
           "18446744073709551616",
           "true",
           "false",
           "null",
           R"("")",
           R"("a")",
           "[]",
           "{}",
           " [ ] ",
           "\t\r\n{}\n",
           R"([1,"a",true,false,null,{},[],{"k":[{"x":-0.5}]}])",
           R"({"a":1,"a":2})",
           R"("\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uFFFF \ud83d\ude00 \uDBFF\uDFFF")",
           R"("\\ud800")",  // an escaped backslash: plain text
           "\"\x7f\"",      // DEL needs no escape
           "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf\"",
           std::string("\"a\0b\"", 5).replace(2, 1, "\\u0000"),
       }) {
    EXPECT_TRUE(check(ok).ok()) << ok << ": " << describe_json_problem(check(ok), ok);
  }
}

TEST(JsonCheck, RefusesWithTheProblemAndWhereItIs) {
  struct Case {
    std::string text;
    JsonProblem problem;
    size_t at;
  };
  const std::vector<Case> cases = {
      {"", JsonProblem::kEmpty, 0},
      {" \n\t", JsonProblem::kEmpty, 3},
      {"\v1", JsonProblem::kExpectedValue, 0},  // not JSON whitespace
      {"1\f", JsonProblem::kTrailing, 1},
      {"\xEF\xBB\xBF{}", JsonProblem::kExpectedValue, 0},  // a byte order mark
      {"{", JsonProblem::kEndsEarly, 1},
      {"[1,", JsonProblem::kEndsEarly, 3},
      {R"({"a")", JsonProblem::kEndsEarly, 4},
      {R"({"a":)", JsonProblem::kEndsEarly, 5},
      {"[1 2]", JsonProblem::kExpectedCommaOrBracket, 3},
      {"[1}", JsonProblem::kExpectedCommaOrBracket, 2},
      {R"({"a":1])", JsonProblem::kExpectedCommaOrBrace, 6},
      {"[1,]", JsonProblem::kExpectedValue, 3},
      {R"({"a":1,})", JsonProblem::kExpectedKey, 7},
      {"{a:1}", JsonProblem::kExpectedKey, 1},
      {R"({"a" 1})", JsonProblem::kExpectedColon, 5},
      {"{} x", JsonProblem::kTrailing, 3},
      {"1 2", JsonProblem::kTrailing, 2},
      {"[01]", JsonProblem::kBadNumber, 1},
      {"-", JsonProblem::kBadNumber, 0},
      {"1.", JsonProblem::kBadNumber, 0},
      {"[.5]", JsonProblem::kExpectedValue, 1},
      {"+1", JsonProblem::kExpectedValue, 0},
      {"1e", JsonProblem::kBadNumber, 0},
      {"1e+", JsonProblem::kBadNumber, 0},
      {"[1e400, 1.]", JsonProblem::kBadNumber, 8},
      {"1-2", JsonProblem::kBadNumber, 0},
      {"[1x]", JsonProblem::kExpectedCommaOrBracket, 2},
      {"tru", JsonProblem::kBadLiteral, 0},
      {"[true1]", JsonProblem::kBadLiteral, 1},
      {"nulls", JsonProblem::kBadLiteral, 0},
      {"True", JsonProblem::kExpectedValue, 0},
      {"\"a\tb\"", JsonProblem::kControlInString, 2},
      {std::string("\"a\0\"", 4), JsonProblem::kControlInString, 2},
      {std::string("1\0", 2), JsonProblem::kTrailing, 1},
      {R"("\x")", JsonProblem::kBadEscape, 1},
      {R"("\u12G4")", JsonProblem::kBadEscape, 1},
      {R"("\u12")", JsonProblem::kBadEscape, 1},
      {R"("\ud800")", JsonProblem::kLoneSurrogate, 1},
      {R"(["ab\udc00"])", JsonProblem::kLoneSurrogate, 4},
      {R"("\ud800\u0041")", JsonProblem::kLoneSurrogate, 1},
      {R"("\ud800\ud800")", JsonProblem::kLoneSurrogate, 1},
      {R"("\ud800\n")", JsonProblem::kLoneSurrogate, 1},
      {"\"\xc0\xaf\"", JsonProblem::kBadUtf8, 1},                       // overlong '/'
      {"\"\xe0\x80\xaf\"", JsonProblem::kBadUtf8, 1},                   // overlong, 3 bytes
      {"\"\xf0\x80\x80\xaf\"", JsonProblem::kBadUtf8, 1},               // overlong, 4 bytes
      {"\"\xed\xa0\x80\"", JsonProblem::kBadUtf8, 1},                   // a surrogate in UTF-8
      {"\"\xf4\x90\x80\x80\"", JsonProblem::kBadUtf8, 1},               // above U+10FFFF
      {"\"ab\x80\"", JsonProblem::kBadUtf8, 3},                         // a lone continuation byte
      {"\"\xc3\"", JsonProblem::kBadUtf8, 1},                           // cut short by the quote
      {"\"\xe2\x82\xac\xe2\x82", JsonProblem::kUnterminatedString, 0},  // the grammar first
      {"[\"\xe2\x82\"]", JsonProblem::kBadUtf8, 2},                     // cut short by the quote
      {"\"\xff\"", JsonProblem::kBadUtf8, 1},
      {"\xc3\xa9", JsonProblem::kExpectedValue, 0},  // UTF-8, but outside a string
      {R"("abc)", JsonProblem::kUnterminatedString, 0},
      {R"([1, "abc\")", JsonProblem::kUnterminatedString, 4},
      {R"("\)", JsonProblem::kUnterminatedString, 0},
  };
  for (const auto& c : cases) {
    JsonVerdict v = check(c.text);
    EXPECT_EQ(v.problem, c.problem) << c.text << ": " << describe_json_problem(v, c.text);
    EXPECT_EQ(v.at, c.at) << c.text << ": " << describe_json_problem(v, c.text);
  }
}

// The limit of simdjson's DOM parser, which libevdb used before: a value at
// most 1024 levels deep (the whole text is level 1).
TEST(JsonCheck, NestingLimitAtItsEdges) {
  EXPECT_TRUE(check(nested(kMaxJsonDepth, "")).ok()) << "1024 empty arrays";
  EXPECT_TRUE(check(nested(kMaxJsonDepth - 1, "1")).ok()) << "a number at level 1024";
  EXPECT_TRUE(check(nested(kMaxJsonDepth - 1, "{}")).ok());
  EXPECT_TRUE(check(nested_objects(kMaxJsonDepth - 1, "[]")).ok());
  EXPECT_TRUE(check(nested_objects(kMaxJsonDepth - 1, "1")).ok());

  JsonVerdict v = check(nested(kMaxJsonDepth, "1"));
  EXPECT_EQ(v.problem, JsonProblem::kTooDeep);
  EXPECT_EQ(v.at, kMaxJsonDepth);
  v = check(nested(kMaxJsonDepth + 1, ""));
  EXPECT_EQ(v.problem, JsonProblem::kTooDeep);
  EXPECT_EQ(v.at, kMaxJsonDepth);
  EXPECT_EQ(check(nested_objects(kMaxJsonDepth, "1")).problem, JsonProblem::kTooDeep);
  // Far deeper than any call stack would survive in a recursive parser.
  EXPECT_EQ(check(std::string(10'000'000, '[')).problem, JsonProblem::kTooDeep);
  // Arrays and objects mixed at every depth keep their own closing bracket.
  std::string mixed;
  for (size_t i = 0; i < 700; ++i) mixed += i % 3 == 0 ? R"({"k":)" : "[";
  std::string closing;
  for (size_t i = 700; i-- > 0;) closing += i % 3 == 0 ? "}" : "]";
  EXPECT_TRUE(check(mixed + "0" + closing).ok());
  std::string wrong = closing;
  wrong[350] = wrong[350] == '}' ? ']' : '}';
  EXPECT_FALSE(check(mixed + "0" + wrong).ok());
}

// Strings are read 8 bytes at a time; each special byte must be found at
// every position of that word, and near the end of the text.
TEST(JsonCheck, StringBytesAtEveryAlignment) {
  for (size_t pad = 0; pad < 20; ++pad) {
    std::string a(pad, 'a');
    EXPECT_TRUE(check("\"" + a + "\"").ok()) << pad;
    EXPECT_TRUE(check("[\"" + a + "\\n" + a + "\"]").ok()) << pad;
    EXPECT_TRUE(check("\"" + a + "\xc3\xa9" + a + "\"").ok()) << pad;
    EXPECT_TRUE(check("\"" + a + "\x7f~ " + a + "\"").ok()) << pad;
    JsonVerdict v = check("\"" + a + "\x1f" + a + "\"");
    EXPECT_EQ(v.problem, JsonProblem::kControlInString) << pad;
    EXPECT_EQ(v.at, pad + 1);
    v = check("\"" + a + "\xff" + a + "\"");
    EXPECT_EQ(v.problem, JsonProblem::kBadUtf8) << pad;
    EXPECT_EQ(v.at, pad + 1);
    v = check("\"" + a + "\"" + a + "\"");
    EXPECT_EQ(v.problem, JsonProblem::kTrailing) << pad;
    EXPECT_EQ(v.at, pad + 2);
    v = check("\"" + a);
    EXPECT_EQ(v.problem, JsonProblem::kUnterminatedString) << pad;
    EXPECT_EQ(v.at, 0u);
  }
}

TEST(JsonCheck, MessagesSayWhatAndWhere) {
  auto message = [](const std::string& s) { return describe_json_problem(check(s), s); };
  EXPECT_EQ(message("{}"), "");
  EXPECT_EQ(message("[01]"), R"(is not valid JSON: a number is malformed at offset 1 ("01"))");
  EXPECT_EQ(message("[1 2]"),
            "is not valid JSON: expected ',' or ']' after an array element at offset 3, found '2'");
  EXPECT_EQ(message("{} \x01"),
            "is not valid JSON: more text after the value at offset 3, found "
            "byte 0x01");
  EXPECT_EQ(message(R"(["\ud83d"])"),
            "holds the escape \\ud83d at offset 2, a lone UTF-16 surrogate: evdb payloads must "
            "decode to Unicode text (write a surrogate pair, or the character as UTF-8)");
  EXPECT_EQ(message("\"\xc0\xaf\""),
            "is not valid UTF-8 at offset 1, found byte 0xC0 (in a string)");
  EXPECT_EQ(message("[tru]"), R"(is not valid JSON: "tru" at offset 1 is not true, false or null)");
  EXPECT_EQ(message(R"("\q")"),
            R"(is not valid JSON: a string holds the invalid escape \q at offset 1)");
  EXPECT_EQ(message(R"("\u12x4")"),
            R"(is not valid JSON: a string holds the invalid escape \u12x4 at offset 1)");
  EXPECT_EQ(message(nested(kMaxJsonDepth + 1, "")),
            "nests arrays and objects too deeply: what starts at offset 1024 is at level 1025, and "
            "evdb accepts at most 1024 (docs/contract.md DATA-6)");
}

// The SIMD stage reads 64-byte blocks, carrying "inside a string", "inside
// a number or word" and "the last byte escapes the next" from one block to
// the next, and reads the last block shifted (texts of 64 bytes or more) or
// padded (shorter ones). Each piece below is put at every offset across the
// first two block boundaries; check() holds both stages to the same verdict.
TEST(JsonCheck, TokensAcrossBlockBoundaries) {
  const std::vector<std::string> pieces = {
      R"("abc")",
      R"("a\"b")",
      R"("\\")",
      R"("\\\"")",
      R"("\u00e9\ud83d\ude00")",
      R"("\ud83d")",
      R"("\x")",
      R"("\u12")",
      "\"\xc3\xa9\xe2\x82\xac\"",
      "\"\xe2\x82\"",
      "\"a\tb\"",
      "\"a\x01\"",
      "12345.5e-3",
      "-0",
      "01",
      "1.",
      "1e",
      "true",
      "tru",
      "nulls",
      "false",
      "{}",
      "[]",
      R"({"k":[1,{"x":null}]})",
      R"({"k" : 1 , "j":2})",
      R"({"k","j"})",
      R"(["a":1])",
      "[1,]",
      "{\"k\":1,}",
      "\"",
      "\\",
      "\"\\\"",
      "x",
      "\xc3\xa9",
  };
  for (const std::string& piece : pieces) {
    for (size_t pad = 0; pad < 140; ++pad) {
      const std::string ws(pad, pad % 3 == 0 ? '\n' : ' ');
      check(ws + piece);
      check(ws + piece + ws);
      check("[" + ws + piece + "]");
      check("[" + ws + piece + "," + ws + piece + "]");
      const std::string key(pad, 'k');
      check("{\"" + key + "\":" + piece + "}");
      check("\"" + key + "\"" + piece);
    }
  }
}

// The payloads of the benchmarks (bench/), at every offset across a block
// boundary, whole and cut short at every byte.
TEST(JsonCheck, BenchmarkPayloadsAtEveryOffsetAndLength) {
  const std::vector<std::string> payloads = {
      R"({"order":12345,"customer":"c-778","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":59.90})",
      R"({"order_id":12345,"customer":"c-42","amount":19.99,"items":[1,2,3]})",
  };
  for (const std::string& p : payloads) {
    for (size_t pad = 0; pad < 130; ++pad) EXPECT_TRUE(check(std::string(pad, ' ') + p).ok());
    for (size_t len = 0; len < p.size(); ++len) EXPECT_FALSE(check(p.substr(0, len)).ok()) << len;
  }
}

// Random edits of valid texts (a fixed seed, so the same texts every run):
// the two stages agree on each.
TEST(JsonCheck, StagesAgreeOnEditedTexts) {
  const std::vector<std::string> seeds = {
      R"({"order":12345,"customer":"c-778","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":59.90})",
      "[\"\xc3\xa9\\u00e9\\ud83d\\ude00\", -1.5e+3, true, false, null, {\"\\\\\": [[], {}]}]",
      R"({"a": {"b": {"c": [1, 2, {"d": "\"quoted\""}]}}, "e": "tab\tand\nnewline"})",
  };
  const std::string alphabet = "{}[]:,\"\\ \t\n0123456789-+.eEtrufalsn\x01\x1f\x7f\x80\xc3\xa9";
  uint64_t state = 0x9E3779B97F4A7C15ULL;
  auto next = [&] {  // xorshift64
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  size_t accepted = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string s = seeds[next() % seeds.size()];
    for (int edits = 1 + static_cast<int>(next() % 3); edits > 0; --edits) {
      size_t at = next() % (s.size() + 1);
      char c = alphabet[next() % alphabet.size()];
      switch (next() % 3) {
        case 0:  // (not s.insert: GCC 12's -Wrestrict misfires on it at -O3)
          s = s.substr(0, at) + c + s.substr(at);
          break;
        case 1:
          if (at < s.size()) s = s.substr(0, at) + s.substr(at + 1);
          break;
        default:
          if (at < s.size()) s[at] = c;
      }
    }
    if (next() % 2 == 0) s = std::string(next() % 70, ' ') + s;
    accepted += check(s).ok();
  }
  EXPECT_GT(accepted, 100u) << "the edits should leave some texts valid";
}

}  // namespace
