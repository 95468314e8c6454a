// uri.hpp — parsing connection URIs (RFC 3986, with uriparser) into the
// evdb_uri a driver receives, and redacting passwords for messages.
#pragma once

#include <evdb/driver.h>

#include <string>
#include <string_view>
#include <vector>

namespace evdb::loader {

// A parsed URI owning its strings. as_c() points into this object.
class ParsedUri {
 public:
  // Parses text; on failure returns false and sets `error` (no password in it).
  static bool parse(std::string_view text, ParsedUri& out, std::string& error);

  // The C view; valid until this object changes or dies.
  const evdb_uri& as_c() const {
    build_c();
    return c_;
  }
  const std::string& scheme() const { return scheme_; }
  const std::string& redacted() const { return redacted_; }

 private:
  void build_c() const;

  std::string text_, redacted_, scheme_, user_, password_, host_, path_;
  int port_ = 0;
  bool has_authority_ = false;
  std::vector<std::string> keys_, values_;
  mutable std::vector<evdb_uri_param> params_;
  mutable evdb_uri c_{};
};

// Best-effort redaction of a URI that may not even parse: the password in
// "scheme://user:password@host" and the value of any query parameter whose
// name contains "password" become "***".
std::string redact_uri(std::string_view text);

}  // namespace evdb::loader
