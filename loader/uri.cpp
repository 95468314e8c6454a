// uri.cpp — connection URI parsing with uriparser.
#include "uri.hpp"

#include <uriparser/Uri.h>

#include "common/redact.hpp"

#include <algorithm>
#include <cctype>
#include <memory>

namespace evdb::loader {

namespace {

std::string range(const UriTextRangeA& r) {
  if (r.first == nullptr || r.afterLast == nullptr) return {};
  return std::string(r.first, r.afterLast);
}

// Percent-decodes s (no '+' to space: that is a form encoding, not URI).
std::string unescape(std::string s) {
  if (s.empty()) return s;
  std::vector<char> buf(s.begin(), s.end());
  buf.push_back('\0');
  const char* end = uriUnescapeInPlaceExA(buf.data(), URI_FALSE, URI_BR_DONT_TOUCH);
  return std::string(static_cast<const char*>(buf.data()), end);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string redact_uri(std::string_view text) {
  return common::redact_uri(text);
}

bool ParsedUri::parse(std::string_view text, ParsedUri& out, std::string& error) {
  out = ParsedUri();
  out.text_ = std::string(text);
  out.redacted_ = redact_uri(text);
  if (text.empty()) {
    error = "the URI is empty; expected e.g. \"sqlite:///path/to/file.db\" or \"memory:\"";
    return false;
  }
  if (out.text_.find('\0') != std::string::npos) {
    error = "the URI contains a NUL byte";
    return false;
  }
  UriUriA uri;
  const char* error_pos = nullptr;
  int rc =
      uriParseSingleUriExA(&uri, out.text_.data(), out.text_.data() + out.text_.size(), &error_pos);
  if (rc != URI_SUCCESS) {
    size_t pos = error_pos ? static_cast<size_t>(error_pos - out.text_.data()) : 0;
    error = "malformed URI \"" + out.redacted_ + "\": syntax error at character " +
            std::to_string(pos + 1);
    return false;
  }
  std::unique_ptr<UriUriA, void (*)(UriUriA*)> guard(&uri,
                                                     [](UriUriA* u) { uriFreeUriMembersA(u); });

  out.scheme_ = lower(range(uri.scheme));
  if (out.scheme_.empty()) {
    error = "the URI \"" + out.redacted_ +
            "\" has no scheme; expected \"<scheme>:...\" such as sqlite:, memory:, "
            "postgres://, redis://";
    return false;
  }
  out.has_authority_ = uri.hostText.first != nullptr;
  if (out.has_authority_) {
    std::string userinfo = range(uri.userInfo);
    size_t colon = userinfo.find(':');
    out.user_ = unescape(userinfo.substr(0, colon));
    if (colon != std::string::npos) out.password_ = unescape(userinfo.substr(colon + 1));
    out.host_ = unescape(range(uri.hostText));
    std::string port = range(uri.portText);
    if (!port.empty()) {
      long p = 0;
      for (char c : port) {
        p = p * 10 + (c - '0');
        if (p > 65535) break;
      }
      if (p <= 0 || p > 65535) {
        error = "the URI \"" + out.redacted_ + "\" has an invalid port \"" + port + "\"";
        return false;
      }
      out.port_ = static_cast<int>(p);
    }
  }
  std::string path;
  for (UriPathSegmentA* seg = uri.pathHead; seg != nullptr; seg = seg->next) {
    if (seg != uri.pathHead || out.has_authority_ || uri.absolutePath) path += '/';
    path += unescape(range(seg->text));
  }
  if (path.empty() && uri.absolutePath) path = "/";
  out.path_ = path;

  if (uri.query.first != nullptr && uri.query.first != uri.query.afterLast) {
    UriQueryListA* list = nullptr;
    int count = 0;
    if (uriDissectQueryMallocExA(&list, &count, uri.query.first, uri.query.afterLast, URI_FALSE,
                                 URI_BR_DONT_TOUCH) != URI_SUCCESS) {
      error = "the URI \"" + out.redacted_ + "\" has a malformed query";
      return false;
    }
    for (UriQueryListA* it = list; it != nullptr; it = it->next) {
      std::string key = it->key ? it->key : "";
      if (key.empty()) continue;  // "a=1&&b=2": empty items are not parameters
      out.keys_.push_back(key);
      out.values_.push_back(it->value ? it->value : "");
    }
    uriFreeQueryListA(list);
  }
  // Drivers get C strings: a decoded NUL ("%00") would silently cut a part
  // short (sqlite:///a.db%00b would open /a.db), so it is refused.
  auto has_nul = [](const std::string& part) { return part.find('\0') != std::string::npos; };
  const char* nul_in = has_nul(out.user_)       ? "user name"
                       : has_nul(out.password_) ? "password"
                       : has_nul(out.host_)     ? "host"
                       : has_nul(out.path_)     ? "path"
                                                : nullptr;
  // uriparser hands query items out as C strings, already cut: look at the
  // raw query instead.
  if (nul_in == nullptr && uri.query.first != nullptr &&
      std::string_view(uri.query.first, static_cast<size_t>(uri.query.afterLast - uri.query.first))
              .find("%00") != std::string_view::npos)
    nul_in = "query parameters";
  if (nul_in != nullptr) {
    error = "the URI \"" + out.redacted_ + "\" has an encoded NUL byte (%00) in its " + nul_in;
    return false;
  }
  if (uri.fragment.first != nullptr) {
    error = "the URI \"" + out.redacted_ + "\" has a fragment ('#…'), which evdb does not use";
    return false;
  }
  return true;
}

void ParsedUri::build_c() const {
  params_.clear();
  for (size_t i = 0; i < keys_.size(); ++i)
    params_.push_back(evdb_uri_param{keys_[i].c_str(), values_[i].c_str()});
  c_ = evdb_uri{};
  c_.struct_size = sizeof(evdb_uri);
  c_.text = text_.c_str();
  c_.redacted = redacted_.c_str();
  c_.scheme = scheme_.c_str();
  c_.has_authority = has_authority_ ? 1 : 0;
  c_.user = user_.c_str();
  c_.password = password_.c_str();
  c_.host = host_.c_str();
  c_.port = port_;
  c_.path = path_.c_str();
  c_.params = params_.empty() ? nullptr : params_.data();
  c_.param_count = params_.size();
}

}  // namespace evdb::loader
