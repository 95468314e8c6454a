// format.hpp — how the `evdb` tool prints events, times and capabilities.
//
// Pure functions (no I/O, no libevdb calls) so they are unit-tested directly.
#pragma once

#include <evdb/evdb.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace evdb::cli {

// Output format of `read` and `tail`.
enum class Format { Text, Json };

// Parses "text" or "json"; nullopt for anything else.
std::optional<Format> parse_format(std::string_view s);

// `time_us` (microseconds since the Unix epoch, UTC) as ISO 8601 with
// microseconds: "2026-11-26T20:35:47.123456Z". Negative times and times past
// year 9999 are printed as the plain number followed by "us".
std::string format_time(int64_t time_us);

// `s` as a JSON string literal, quotes included. Escapes '"', '\\' and control
// characters; other bytes (UTF-8) pass through unchanged.
std::string json_string(std::string_view s);

// A JSON text made fit for one line: raw CR and LF bytes (which valid JSON can
// only hold as whitespace between tokens) become spaces. Everything else is
// kept byte for byte.
std::string json_one_line(std::string_view json);

// One event as one line of JSON, without the trailing newline:
// {"version":N,"time_us":N,"time":"…","type":"…","revision":"…","payload":<payload>}
// The payload is embedded as JSON (not as a string), see json_one_line.
std::string event_json(const evdb::Event& e);

// The number of terminal columns `s` (UTF-8) takes: combining marks and
// zero-width characters take none, East Asian wide characters and emoji two,
// other characters one; each byte that is not valid UTF-8 one.
size_t display_width(std::string_view s);

// The header line of the text format (no trailing newline).
std::string event_text_header();

// One event as one readable line (no trailing newline): version, time, type,
// revision ("-" when empty) and payload, in columns. A payload spread over
// several lines is printed on one (see json_one_line).
std::string event_text(const evdb::Event& e);

// The names of the EVDB_CAP_* bits set in `caps`, comma-separated
// ("listener,durable,…"); unknown bits as "bit<N>"; "none" when 0.
std::string capability_names(uint64_t caps);

// Parses a decimal int64 that must lie in [min, max]; nullopt otherwise
// (empty text, sign-only, trailing garbage, overflow).
std::optional<int64_t> parse_int(std::string_view s, int64_t min, int64_t max);

}  // namespace evdb::cli
