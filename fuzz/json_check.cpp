// json_check.cpp — fuzz target: libevdb's payload scanner
// (loader/json_check.hpp) against simdjson's DOM parser, on the same bytes.
//
// Input: the payload, all of it (no fields). The scanner must give the same
// verdict as the reference below, which is how libevdb judged payloads
// before the scanner (docs/decisions.md, "Payload validation"):
//  * simdjson's DOM parser (RFC 8259 grammar, UTF-8 of the whole text, lone
//    surrogate escapes refused, nesting limited to 1024 levels);
//  * plus the project's rule for numbers (docs/contract.md DATA-6): numbers
//    of any size are JSON, so when simdjson refuses a number, every number
//    token is checked against RFC 8259's spelling (json_numbers.hpp) and
//    replaced by 0 before simdjson judges the rest.
// The verdict must also be the portable scanner's (check_json_portable: what
// check_json answers on processors without AVX2), offset included, and where
// the SIMD stage runs, it must accept exactly the texts the scanner accepts.
// Besides the verdict: a refusal's offset lies within the text (or at its
// end) and its message is not empty; a lone surrogate the scanner names is
// one (the six bytes at the offset are a \u escape of D800–DFFF); the scanner
// never reads outside the input (ASan: the input is a copy of exactly its
// size).
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "json_check.hpp"
#include "json_numbers.hpp"

namespace {

using evdb::fuzz::oracle_failed;

bool simdjson_accepts(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::error_code error = parser.parse(padded).error();
  if (error != simdjson::NUMBER_ERROR) return error == simdjson::SUCCESS;
  std::string copy(text);
  bool numbers_ok = true;
  evdb::json::for_each_number_token(copy, [&](size_t at, size_t len) {
    if (!evdb::json::is_number(std::string_view(copy).substr(at, len))) numbers_ok = false;
    copy[at] = '0';
    for (size_t k = 1; k < len; ++k) copy[at + k] = ' ';
  });
  if (!numbers_ok) return false;
  simdjson::padded_string replaced(copy);
  return parser.parse(replaced).error() == simdjson::SUCCESS;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  evdb::json::JsonVerdict v = evdb::json::check_json(text.data(), text.size());
  bool reference = simdjson_accepts(text);
  if (v.ok() != reference) {
    std::string why = v.ok() ? "accepted" : evdb::json::describe_json_problem(v, text);
    oracle_failed(v.ok() ? "the scanner accepts a text simdjson (+ big numbers) refuses"
                         : "the scanner refuses a text simdjson (+ big numbers) accepts",
                  why);
  }
  evdb::json::JsonVerdict portable = evdb::json::check_json_portable(text.data(), text.size());
  if (portable.problem != v.problem || portable.at != v.at)
    oracle_failed("check_json and the portable scanner give different verdicts",
                  evdb::json::describe_json_problem(v, text) + " / " +
                      evdb::json::describe_json_problem(portable, text));
  if (evdb::json::json_check_has_simd() &&
      evdb::json::json_check_simd_accepts(text.data(), text.size()) != portable.ok())
    oracle_failed(portable.ok() ? "the SIMD stage refuses a text the scanner accepts"
                                : "the SIMD stage accepts a text the scanner refuses",
                  text);
  if (v.ok()) return 0;
  if (v.at > size) oracle_failed("a problem's offset lies past the end", text);
  if (evdb::json::describe_json_problem(v, text).empty())
    oracle_failed("a refusal without a message", text);
  if (v.problem == evdb::json::JsonProblem::kLoneSurrogate) {
    // \uD800 to \uDFFF, hex digits in either case.
    std::string_view esc = text.substr(v.at, 6);
    auto hex = [](char c) {
      return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
    };
    bool surrogate = esc.size() == 6 && esc.substr(0, 2) == "\\u" && (esc[2] | 0x20) == 'd' &&
                     std::string_view("89abcdefABCDEF").find(esc[3]) != std::string_view::npos &&
                     hex(esc[4]) && hex(esc[5]);
    if (!surrogate) oracle_failed("a lone surrogate reported where there is none", text);
  }
  return 0;
}
