// driver_uri.hpp — the body shared by the <driver>_uri fuzz targets: a URI as
// evdb_open gets it, parsed by libevdb, then handed to one driver's parameter
// parsing (what the driver does first in open, before any I/O).
//
// Oracles besides the sanitizers: a refused URI gets INVALID_ARGUMENT or
// UNSUPPORTED with a message, never another code or exception; and no
// message (nor any text of the parsed config meant for messages) shows a
// password: the authority's, or a parameter named like one.
#pragma once

#include <cctype>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "adapter.hpp"
#include "fuzz_input.hpp"
#include "uri.hpp"

namespace evdb::fuzz {

EVDB_FUZZ_ORACLE inline bool is_secret_key(std::string_view key) {
  std::string k(key);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k.find("password") != std::string::npos || k == "pass" || k == "passwd";
}

EVDB_FUZZ_ORACLE inline size_t count(std::string_view text, std::string_view part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string_view::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

// `s` with every occurrence of `secret` replaced by `other` (same length).
EVDB_FUZZ_ORACLE inline std::string replace_all(const char* s, const std::string& secret,
                                                const std::string& other) {
  std::string out(s);
  for (size_t at = out.find(secret); at != std::string::npos;
       at = out.find(secret, at + other.size()))
    out.replace(at, secret.size(), other);
  return out;
}

// One run of a driver's parser: what it shows (an error message, or the texts
// of a parsed config meant for messages) and whether it refused the URI.
struct Outcome {
  std::string shown;
  bool refused = false;
};

template <class Parse, class Shown>
Outcome parse_once(const evdb_uri& c, Parse& parse, Shown& shown) {
  drv::Uri uri(c);
  Outcome out;
  try {
    auto config = parse(uri);
    out.shown = shown(config);
  } catch (const drv::Error& e) {
    if (e.code() != EVDB_INVALID_ARGUMENT && e.code() != EVDB_UNSUPPORTED)
      oracle_failed("a bad URI gave a code other than INVALID_ARGUMENT / UNSUPPORTED", e.what());
    if (e.what()[0] == '\0') oracle_failed("an error without a message", c.redacted);
    out.shown = e.what();
    out.refused = true;
  }
  return out;
}

// Runs parse(drv::Uri&) -> Config on the input when its scheme is one of
// `schemes`; shown(config) returns the texts of the config that end up in
// messages. For each secret (the authority's password, the value of each
// parameter named like a password) the URI is parsed again with the secret
// replaced by other bytes of the same length: if an occurrence of the secret
// in what is shown goes away, it was taken from the secret, which is a leak.
// (A secret that is also a word of the driver's own messages, or part of the
// path, stays.) The redacted text is left as libevdb made it: the uri target
// checks that it hides every secret.
template <class Parse, class Shown>
void run_driver_uri(const uint8_t* data, size_t size,
                    std::initializer_list<std::string_view> schemes, Parse parse, Shown shown) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  loader::ParsedUri parsed;
  std::string error;
  if (!loader::ParsedUri::parse(text, parsed, error)) return;
  bool served = false;
  for (auto s : schemes) served |= parsed.scheme() == s;
  if (!served) return;  // the loader would hand it to another driver
  const evdb_uri& c = parsed.as_c();
  Outcome first = parse_once(c, parse, shown);

  std::vector<std::string> secrets;
  if (c.password[0] != '\0') secrets.emplace_back(c.password);
  for (size_t i = 0; i < c.param_count; ++i)
    if (is_secret_key(c.params[i].key)) secrets.emplace_back(c.params[i].value);
  for (const std::string& secret : secrets) {
    if (secret.size() < 3 || count(first.shown, secret) == 0) continue;
    std::string other(secret.size(), '#');
    for (size_t i = 0; i < secret.size(); ++i)
      if (secret[i] == '#') other[i] = '%';
    auto replaced = [&](const char* s) { return replace_all(s, secret, other); };
    std::string text2 = replaced(c.text), password2 = replaced(c.password);
    std::vector<std::string> values2;
    for (size_t i = 0; i < c.param_count; ++i)
      values2.push_back(is_secret_key(c.params[i].key) ? replaced(c.params[i].value)
                                                       : std::string(c.params[i].value));
    std::vector<evdb_uri_param> params2(c.params, c.params + c.param_count);
    for (size_t i = 0; i < c.param_count; ++i) params2[i].value = values2[i].c_str();
    evdb_uri c2 = c;
    c2.text = text2.c_str();
    c2.password = password2.c_str();
    c2.params = params2.empty() ? nullptr : params2.data();
    Outcome second = parse_once(c2, parse, shown);
    if (count(second.shown, secret) < count(first.shown, secret))
      oracle_failed(first.refused ? "an error message shows a password"
                                  : "a text meant for messages shows a password",
                    first.shown);
  }
}

}  // namespace evdb::fuzz
