// redact.hpp — a URI with its secrets replaced by "***", for messages.
//
// One implementation for everything that prints a URI: the drivers' messages
// and the conformance suite's output. Header-only so that any target (also
// the installed conformance library) can use it without linking anything.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace evdb::common {

// `text` with every %XX escape decoded and lower-cased: a parameter name as
// the drivers compare it ("Pass%77ord" is "password").
inline std::string decoded_lower(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  std::string k;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      c = static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    }
    k.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return k;
}

// True for a query parameter whose value is a secret: a name containing
// "password" (any case: password, sslpassword, db_password, …) or exactly
// "pass" or "passwd", once percent-decoded (the drivers decode names).
inline bool is_secret_parameter(std::string_view key) {
  std::string k = decoded_lower(key);
  return k.find("password") != std::string::npos || k == "pass" || k == "passwd";
}

// Returns `uri` with the password of its user information
// (scheme://user:PASSWORD@host) and the value of every secret query parameter
// (see is_secret_parameter) replaced by "***". Everything else is kept as
// written, so the result still says which store was meant. A text that is no
// URI comes back unchanged. Thread-safe (pure function).
inline std::string redact_uri(std::string_view uri) {
  std::string out(uri);
  // User information: between "//" and the last '@' before the path.
  size_t auth = out.find("//");
  if (auth != std::string::npos) {
    size_t start = auth + 2;
    size_t end = out.find_first_of("/?#", start);
    if (end == std::string::npos) end = out.size();
    size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // Query parameters, up to the fragment.
  size_t q = out.find('?');
  while (q != std::string::npos && q < out.size()) {
    size_t key = q + 1;
    size_t end = std::min(out.find('&', key), out.find('#', key));
    if (end == std::string::npos) end = out.size();
    size_t eq = out.find('=', key);
    if (eq != std::string::npos && eq < end && is_secret_parameter(out.substr(key, eq - key))) {
      out.replace(eq + 1, end - eq - 1, "***");
      end = eq + 4;
    }
    if (end >= out.size() || out[end] == '#') break;
    q = end;
  }
  return out;
}

}  // namespace evdb::common
