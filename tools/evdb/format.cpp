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
// Columns a code point takes in a terminal: 0 for combining marks and
// zero-width characters, 2 for East Asian wide and fullwidth characters and
// emoji, 1 otherwise (a small, locale-free cousin of wcwidth()).
size_t code_point_width(uint32_t c) {
  static constexpr struct {
    uint32_t lo, hi;
  } kZero[] = {{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},  {0x0610, 0x061A},
               {0x064B, 0x065F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF},  {0x200B, 0x200F},
               {0x202A, 0x202E}, {0x2060, 0x2064}, {0x20D0, 0x20FF},  {0xFE00, 0xFE0F},
               {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF}},
    kWide[] = {{0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
               {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x26AA, 0x26AB},
               {0x2705, 0x2705},   {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},
               {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},
               {0xF900, 0xFAFF},   {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},
               {0xFFE0, 0xFFE6},   {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E},
               {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF},
               {0x1F900, 0x1F9FF}, {0x1FA70, 0x1FAFF}, {0x20000, 0x3FFFD}};
  for (const auto& r : kZero)
    if (c >= r.lo && c <= r.hi) return 0;
  for (const auto& r : kWide)
    if (c >= r.lo && c <= r.hi) return 2;
  return 1;
}
}  // namespace

size_t display_width(std::string_view s) {
  size_t width = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    size_t len = b < 0x80           ? 1
                 : (b >> 5) == 0x6  ? 2
                 : (b >> 4) == 0xE  ? 3
                 : (b >> 3) == 0x1E ? 4
                                    : 0;
    uint32_t c = len == 1 ? b : len == 2 ? (b & 0x1Fu) : len == 3 ? (b & 0x0Fu) : (b & 0x07u);
    bool ok = len != 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char cont = static_cast<unsigned char>(s[i + k]);
      ok = (cont & 0xC0) == 0x80;
      c = (c << 6) | (cont & 0x3Fu);
    }
    if (!ok) {  // not UTF-8: a terminal shows one replacement character
      width += 1;
      i += 1;
      continue;
    }
    width += code_point_width(c);
    i += len;
  }
  return width;
}

namespace {
// Pads to `width` terminal columns (not bytes: a type name in UTF-8 takes
// fewer columns than bytes, a CJK one more).
std::string pad(std::string s, size_t width) {
  size_t shown = display_width(s);
  if (shown < width) s.append(width - shown, ' ');
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
