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

// Port text to number; 0 when it is not a port (empty is not either).
int port_number(const std::string& port) {
  long p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return 0;
    p = p * 10 + (c - '0');
    if (p > 65535) return 0;
  }
  return static_cast<int>(p);
}

// The host list of an authority naming several hosts, libpq style
// ("h1:5432,h2:5433", "[::1]:5432,h2"): RFC 3986 has no such thing, so it is
// taken out before uriparser sees the URI. Returns npos when `text` has no
// such list; else the list's position and length in `text`, after checking
// every entry (a host, optionally ":port"; IPv6 in brackets) with uriparser.
struct HostList {
  size_t pos = std::string::npos;
  size_t len = 0;
};
HostList find_host_list(const std::string& text, std::string& error) {
  HostList out;
  size_t colon = text.find(':');
  if (colon == std::string::npos || text.compare(colon + 1, 2, "//") != 0) return out;
  size_t start = colon + 3;
  size_t end = text.find_first_of("/?#", start);
  if (end == std::string::npos) end = text.size();
  size_t at = text.rfind('@', end);
  size_t hosts = at != std::string::npos && at >= start ? at + 1 : start;
  std::string list = text.substr(hosts, end - hosts);
  if (list.find(',') == std::string::npos) return out;
  size_t from = 0;
  for (int i = 1;; ++i) {
    size_t comma = list.find(',', from);
    std::string entry =
        list.substr(from, comma == std::string::npos ? std::string::npos : comma - from);
    const std::string which = "host " + std::to_string(i) + " of the host list";
    if (entry.empty()) {
      error = which + " is empty; expected host[:port],host[:port],...";
      return out;
    }
    std::string probe = "x://" + entry;
    UriUriA uri;
    const char* error_pos = nullptr;
    if (uriParseSingleUriA(&uri, probe.c_str(), &error_pos) != URI_SUCCESS) {
      error = which + " (\"" + entry + "\") is not host[:port] (an IPv6 address goes in brackets)";
      return out;
    }
    std::string port = range(uri.portText);
    bool ok = range(uri.userInfo).empty() && !range(uri.hostText).empty() &&
              (port.empty() || port_number(port) != 0);
    uriFreeUriMembersA(&uri);
    if (!ok) {
      error = which + " (\"" + entry + "\") is not host[:port] with a port in 1..65535";
      return out;
    }
    if (comma == std::string::npos) break;
    from = comma + 1;
  }
  out.pos = hosts;
  out.len = list.size();
  return out;
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
  // Several hosts (libpq's multi-host URIs): uriparser parses the URI with
  // the first host in place of the list; the driver gets the whole list.
  std::string list_error;
  const HostList list = find_host_list(out.text_, list_error);
  if (!list_error.empty()) {
    error = "the URI \"" + out.redacted_ + "\" has a malformed host list: " + list_error;
    return false;
  }
  std::string parsed = out.text_;
  if (list.pos != std::string::npos)
    parsed.replace(list.pos, list.len,
                   parsed.substr(list.pos, parsed.find(',', list.pos) - list.pos));
  const size_t shift = out.text_.size() - parsed.size();
  UriUriA uri;
  const char* error_pos = nullptr;
  int rc = uriParseSingleUriExA(&uri, parsed.data(), parsed.data() + parsed.size(), &error_pos);
  if (rc != URI_SUCCESS) {
    size_t pos = error_pos ? static_cast<size_t>(error_pos - parsed.data()) : 0;
    if (list.pos != std::string::npos && pos > list.pos) pos += shift;
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
      int p = port_number(port);
      if (p == 0) {
        error = "the URI \"" + out.redacted_ + "\" has an invalid port \"" + port + "\"";
        return false;
      }
      out.port_ = p;
    }
    if (list.pos != std::string::npos) {
      // The list as written (decoded), ports inside it; port stays 0.
      out.host_ = unescape(out.text_.substr(list.pos, list.len));
      out.port_ = 0;
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
