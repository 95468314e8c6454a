// commands.hpp — the subcommands of the `evdb` tool.
//
// Each cmd_* function runs one subcommand with options already parsed by
// main.cpp, prints its result to stdout and its errors to stderr
// ("evdb <command>: <cause>"), and returns the process exit status
// (exit_codes.hpp). None of them throws.
#pragma once

#include "format.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace evdb::cli {

// Options every subcommand takes.
struct CommonOptions {
  // Driver files to load before anything else (--driver FILE, repeatable).
  std::vector<std::string> driver_files;
  // Deadline for the whole command in milliseconds (--timeout); -1 = none.
  int64_t timeout_ms = -1;
};

// `evdb drivers`: the search path, every usable driver (name, version, file,
// schemes, ABI version, capability names) and every file that could not be
// loaded, with the reason.
int cmd_drivers(const CommonOptions& common);

// `evdb head URI`: prints the version of the last event (0 when empty).
int cmd_head(const CommonOptions& common, const std::string& uri);

struct AppendOptions {
  std::string uri;
  std::string type;
  // JSON text; "-" means "read it from standard input".
  std::string payload;
  std::string revision;
  // Append only if the head is this version; otherwise read the head and
  // append at it, in one read-write transaction.
  std::optional<int64_t> expect_version;
  // Event time in microseconds since the epoch; 0 = now.
  int64_t time_us = 0;
};
// `evdb append`: appends one event and prints its new version.
int cmd_append(const CommonOptions& common, const AppendOptions& opt);

struct ReadOptions {
  std::string uri;
  // First version (inclusive); default 1, or the head with --reverse.
  std::optional<int64_t> from;
  bool reverse = false;
  // At most this many events; default all.
  std::optional<int64_t> limit;
  Format format = Format::Text;
  bool no_header = false;
};
// `evdb read`: prints events from one consistent snapshot.
int cmd_read(const CommonOptions& common, const ReadOptions& opt);

struct TailOptions {
  std::string uri;
  // First version printed (inclusive); default 1 (the whole log).
  int64_t from = 1;
  Format format = Format::Text;
  bool no_header = false;
};
// `evdb tail`: prints the events from `from` on, then every new one as the
// listener reports it, until SIGINT/SIGTERM (exit 0).
int cmd_tail(const CommonOptions& common, const TailOptions& opt);

struct ProjectionOptions {
  std::string uri;
  // "get", "init" or "set".
  std::string action;
  int32_t id = 0;
  // Required by "set", refused by the others.
  std::optional<int64_t> version;
};
// `evdb projection URI get|init|set ID [VERSION]`: prints the projection's
// version (after init / set).
int cmd_projection(const CommonOptions& common, const ProjectionOptions& opt);

}  // namespace evdb::cli
