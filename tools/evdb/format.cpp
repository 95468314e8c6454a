// format.cpp — event, time and capability formatting for the `evdb` tool.
#include "format.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace evdb::cli {

std::optional<Format> parse_format(std::string_view s) {
  if (s == "text") return Format::Text;
  if (s == "json") return Format::Json;
  return std::nullopt;
}

std::string format_time(int64_t time_us) {
  // 253402300800 s = 10000-01-01T00:00:00Z.
  constexpr int64_t kMaxSeconds = 253402300800LL;
  if (time_us < 0 || time_us / 1000000 >= kMaxSeconds) return std::to_string(time_us) + "us";
  time_t secs = static_cast<time_t>(time_us / 1000000);
  auto micros = static_cast<long>(time_us % 1000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

std::string json_string(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string json_one_line(std::string_view json) {
  std::string out(json);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string event_json(const evdb::Event& e) {
  std::string out =
      "{\"version\":" + std::to_string(e.version) + ",\"time_us\":" + std::to_string(e.time_us) +
      ",\"time\":" + json_string(format_time(e.time_us)) + ",\"type\":" + json_string(e.type_name) +
      ",\"revision\":" + json_string(e.revision_vcs) + ",\"payload\":";
  out += e.payload.empty() ? std::string("null") : json_one_line(e.payload);
  out += '}';
  return out;
}

namespace {
std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}
// Type names and revisions are user text: keep a line a line.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  return out;
}
}  // namespace

std::string event_text_header() {
  char buf[128];
  std::snprintf(buf, sizeof buf, "%7s  %-27s  %-20s  %-10s  %s", "VERSION", "TIME", "TYPE",
                "REVISION", "PAYLOAD");
  return buf;
}

std::string event_text(const evdb::Event& e) {
  char ver[32];
  std::snprintf(ver, sizeof ver, "%7lld", static_cast<long long>(e.version));
  std::string out = ver;
  out += "  " + pad(format_time(e.time_us), 27);
  out += "  " + pad(printable(e.type_name), 20);
  out += "  " + pad(e.revision_vcs.empty() ? std::string("-") : printable(e.revision_vcs), 10);
  out += "  " + json_one_line(e.payload);
  return out;
}

std::string capability_names(uint64_t caps) {
  static constexpr struct {
    uint64_t bit;
    const char* name;
  } kNames[] = {
      {EVDB_CAP_LISTENER, "listener"},
      {EVDB_CAP_DURABLE, "durable"},
      {EVDB_CAP_CROSS_PROCESS, "cross-process"},
      {EVDB_CAP_GAPLESS, "gapless"},
      {EVDB_CAP_BYTE_EXACT_PAYLOAD, "byte-exact-payload"},
      {EVDB_CAP_LISTENER_RECONNECT, "listener-reconnect"},
  };
  if (caps == 0) return "none";
  std::string out;
  uint64_t known = 0;
  for (auto& n : kNames) {
    known |= n.bit;
    if ((caps & n.bit) == 0) continue;
    if (!out.empty()) out += ',';
    out += n.name;
  }
  for (int i = 0; i < 64; ++i) {
    uint64_t bit = uint64_t{1} << i;
    if ((caps & bit) == 0 || (known & bit) != 0) continue;
    // Appended piece by piece: `"literal" + std::string&&` trips a false
    // -Wrestrict in GCC 12 at -O3 (GCC bug 105329).
    if (!out.empty()) out += ',';
    out += "bit";
    out += std::to_string(i);
  }
  return out;
}

std::optional<int64_t> parse_int(std::string_view s, int64_t min, int64_t max) {
  if (s.empty()) return std::nullopt;
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;  // from_chars refuses '+'; accept "+5" like strtoll.
  int64_t v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || b == e || v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace evdb::cli
