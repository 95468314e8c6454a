// uri.cpp — fuzz target: the connection URI given to evdb_open (untrusted
// text from configuration or a command line), parsed by libevdb
// (loader/uri.cpp) before any driver sees it, and its redaction for messages.
//
// Input: the URI text. Oracles besides the sanitizers:
//  * parse() fails with a message or succeeds with a lower-case scheme and a
//    port in 0..65535; its C view matches the parsed parts;
//  * the redacted text hides every secret: parsed again, it shows no password
//    other than "***" in the authority or in a parameter named like one.
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_input.hpp"
#include "uri.hpp"

namespace {

using evdb::fuzz::oracle_failed;

EVDB_FUZZ_ORACLE bool secret_key(std::string_view key) {
  std::string k(key);
  for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return k.find("password") != std::string::npos || k == "pass" || k == "passwd";
}

EVDB_FUZZ_ORACLE bool shows_secret(const evdb_uri& u) {
  if (u.password[0] != '\0' && std::string_view(u.password) != "***") return true;
  for (size_t i = 0; i < u.param_count; ++i)
    if (secret_key(u.params[i].key) && u.params[i].value[0] != '\0' &&
        std::string_view(u.params[i].value) != "***")
      return true;
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  evdb::loader::ParsedUri uri;
  std::string error;
  (void)evdb::loader::redact_uri(text);
  if (!evdb::loader::ParsedUri::parse(text, uri, error)) {
    if (error.empty()) oracle_failed("parse failed without a message", text);
    return 0;
  }
  const evdb_uri& c = uri.as_c();
  if (c.struct_size != sizeof(evdb_uri))
    oracle_failed("evdb_uri.struct_size is not sizeof(evdb_uri)", text);
  if (uri.scheme().empty() || c.scheme != uri.scheme())
    oracle_failed("a parsed URI has no scheme", text);
  for (char ch : uri.scheme())
    if (std::isupper(static_cast<unsigned char>(ch)))
      oracle_failed("the scheme is not lower case", text);
  if (c.port < 0 || c.port > 65535) oracle_failed("port out of range", text);
  if (c.param_count != 0 && c.params == nullptr) oracle_failed("params NULL with a count", text);
  for (size_t i = 0; i < c.param_count; ++i)
    if (c.params[i].key == nullptr || c.params[i].key[0] == '\0' || c.params[i].value == nullptr)
      oracle_failed("an empty or NULL parameter key", text);

  // What is shown in messages must not show a secret.
  evdb::loader::ParsedUri shown;
  std::string shown_error;
  if (evdb::loader::ParsedUri::parse(uri.redacted(), shown, shown_error) &&
      shows_secret(shown.as_c()))
    oracle_failed("the redacted URI still shows a password", uri.redacted());
  return 0;
}
