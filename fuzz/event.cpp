// event.cpp — fuzz target: the event an application appends (type name,
// revision, time, payload), checked by libevdb (loader/validate.cpp) before
// any driver sees it.
//
// Input: type 0x1E revision 0x1E time 0x1E payload (fuzz_input.hpp); the time
// field is a decimal number, anything else means 0. Oracles besides the
// sanitizers, each an independent judge of one field:
//  * type name: accepted iff non-empty, without NUL and valid UTF-8
//    (simdjson::validate_utf8 as the reference);
//  * revision: the same, but may be empty;
//  * payload: accepted when simdjson's DOM parser accepts it; refused when the
//    grammar of RFC 8259 (json_grammar below, written for this target) refuses
//    it; accepted when the grammar accepts it, unless simdjson has a documented
//    reason to refuse valid JSON (nesting deeper than 1024, an escaped lone
//    surrogate).
#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "validate.hpp"

namespace {

using evdb::fuzz::oracle_failed;

// RFC 8259 JSON text, by recursive descent. Also reports the deepest nesting
// and whether a \u escape names a surrogate (simdjson refuses unpaired ones).
class JsonGrammar {
 public:
  explicit JsonGrammar(std::string_view s) : s_(s) {}
  bool valid() {
    ws();
    if (!value(1)) return false;
    ws();
    return i_ == s_.size();
  }
  int max_depth = 0;
  bool surrogate_escape = false;

 private:
  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool digits() {
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
    return i_ > start;
  }
  bool number() {
    eat('-');
    if (!eat('0') && !(i_ < s_.size() && s_[i_] >= '1' && s_[i_] <= '9' && digits())) return false;
    if (eat('.') && !digits()) return false;
    if (eat('e') || eat('E')) {
      if (!eat('+')) eat('-');
      if (!digits()) return false;
    }
    return true;
  }
  bool string() {
    if (!eat('"')) return false;
    size_t start = i_;
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        // The raw bytes between the quotes must be UTF-8.
        return simdjson::validate_utf8(s_.data() + start, i_ - 1 - start);
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++i_;
        if (i_ >= s_.size()) return false;
        char e = s_[i_++];
        if (e == 'u') {
          unsigned cp = 0;
          for (int k = 0; k < 4; ++k, ++i_) {
            if (i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return false;
            char h = s_[i_];
            cp = cp * 16 + static_cast<unsigned>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) surrogate_escape = true;
        } else if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') {
          return false;
        }
        continue;
      }
      ++i_;
    }
    return false;
  }
  bool value(int depth) {
    if (depth > max_depth) max_depth = depth;
    if (depth > 5000) return false;  // bounded recursion; simdjson stops at 1024 anyway
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      ++i_;
      ws();
      if (eat('}')) return true;
      do {
        ws();
        if (!string()) return false;
        ws();
        if (!eat(':')) return false;
        ws();
        if (!value(depth + 1)) return false;
        ws();
      } while (eat(','));
      return eat('}');
    }
    if (c == '[') {
      ++i_;
      ws();
      if (eat(']')) return true;
      do {
        ws();
        if (!value(depth + 1)) return false;
        ws();
      } while (eat(','));
      return eat(']');
    }
    if (c == '"') return string();
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    return number();
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool text_ok(std::string_view s) {
  return s.find('\0') == std::string_view::npos && simdjson::validate_utf8(s.data(), s.size());
}

bool mentions(const std::string& problem, const char* field) {
  return problem.find(field) != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = evdb::fuzz::split_fields(data, size, 4);
  while (f.size() < 4) f.push_back({});
  std::string_view type = f[0], revision = f[1], time = f[2], payload = f[3];
  int64_t time_us = 0;
  std::from_chars(time.data(), time.data() + time.size(), time_us);

  // Copies of exactly each field's size, so ASan catches any read past one.
  std::string type_c(type), rev_c(revision), payload_c(payload);
  evdb_event e{};
  e.type_name = type.empty() ? nullptr : type_c.data();
  e.type_name_len = type.size();
  e.revision_vcs = revision.empty() ? nullptr : rev_c.data();
  e.revision_vcs_len = revision.size();
  e.payload = payload.empty() ? nullptr : payload_c.data();
  e.payload_len = payload.size();
  e.time_us = time_us;
  std::string problem = evdb::loader::check_event(e);

  // The checks run in order: type, revision, time, payload; the first problem
  // is reported.
  bool type_ok = !type.empty() && text_ok(type);
  if (!type_ok) {
    if (!mentions(problem, "type name")) oracle_failed("a bad type name was not refused", type);
    return 0;
  }
  if (mentions(problem, "type name")) oracle_failed("a good type name was refused", problem);
  if (!text_ok(revision)) {
    if (!mentions(problem, "revision")) oracle_failed("a bad revision was not refused", revision);
    return 0;
  }
  if (mentions(problem, "revision")) oracle_failed("a good revision was refused", problem);
  if (time_us < 0) {
    if (!mentions(problem, "time_us")) oracle_failed("a negative time was not refused", time);
    return 0;
  }
  bool accepted = problem.empty();
  if (!accepted && !mentions(problem, "payload"))
    oracle_failed("refused for a reason other than the payload", problem);

  simdjson::dom::parser parser;
  simdjson::padded_string padded(payload);
  bool simdjson_ok = parser.parse(padded).error() == simdjson::SUCCESS;
  JsonGrammar grammar(payload);
  bool grammar_ok = grammar.valid();
  if (simdjson_ok && !accepted) oracle_failed("simdjson accepts a payload evdb refuses", problem);
  if (!grammar_ok && accepted) oracle_failed("evdb accepts a payload that is not JSON", payload);
  if (grammar_ok && !accepted && grammar.max_depth <= 1024 && !grammar.surrogate_escape)
    oracle_failed("evdb refuses a valid JSON payload", problem);
  return 0;
}
