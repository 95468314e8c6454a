// main.cpp — `evdb`, the command-line tool: parses the command line (CLI11)
// and runs one subcommand from commands.hpp. See docs/cli.md.
#include "commands.hpp"
#include "exit_codes.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <string>

using namespace evdb::cli;

namespace {

// CLI11 validator for --format.
struct FormatValidator : CLI::Validator {
  FormatValidator() {
    name_ = "FORMAT";
    func_ = [](std::string& s) -> std::string {
      return parse_format(s) ? std::string() : "format must be text or json, not '" + s + "'";
    };
  }
};

const char* kUriHelp =
    "Connection URI: memory:NAME, sqlite:///path/file.db, postgres://user@host/db?schema=S, "
    "redis://host:6379?prefix=P, or a third-party driver's scheme";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"evdb — inspect and write evdb event logs from the shell"};
  app.footer(exit_codes_help());
  app.require_subcommand(1);
  app.fallthrough();  // global options may also follow the subcommand

  CommonOptions common;
  app.add_option("--driver", common.driver_files,
                 "Load this driver file first (repeatable); it serves its schemes ahead of any "
                 "driver found on the search path")
      ->type_name("FILE");
  app.add_option("--timeout", common.timeout_ms,
                 "Give up after this many milliseconds (exit status 7)")
      ->type_name("MS")
      ->check(CLI::NonNegativeNumber);

  std::string footer_short = "Exit status: see `evdb --help`; 0 = success.";

  // drivers
  auto* drivers = app.add_subcommand(
      "drivers",
      "List the drivers found (file, schemes, ABI version, capabilities) and the "
      "files that could not be loaded");
  drivers->footer(exit_codes_help());

  // head
  std::string head_uri;
  auto* head = app.add_subcommand("head", "Print the version of the last event (0 when empty)");
  head->add_option("URI", head_uri, kUriHelp)->required();
  head->footer(exit_codes_help());

  // append
  AppendOptions ap;
  auto* append = app.add_subcommand(
      "append",
      "Append one event and print its version. Without --expect-version the head is read and "
      "the event appended at it in one read-write transaction");
  append->add_option("URI", ap.uri, kUriHelp)->required();
  append->add_option("--type,-t", ap.type, "Event type name (non-empty)")->required();
  append->add_option("--payload,-p", ap.payload, "Event payload: JSON text, or - to read stdin")
      ->required();
  append
      ->add_option("--expect-version,-e", ap.expect_version,
                   "Append only if the head is this version (else exit status 3)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  append->add_option("--revision,-r", ap.revision, "VCS revision of the writer (default empty)");
  append
      ->add_option("--time-us", ap.time_us,
                   "Event time, microseconds since the Unix epoch (default: now)")
      ->check(CLI::NonNegativeNumber);
  append->footer(exit_codes_help());

  // read
  ReadOptions rd;
  std::string rd_format = "text";
  auto* read = app.add_subcommand("read", "Print events from one consistent snapshot");
  read->add_option("URI", rd.uri, kUriHelp)->required();
  read->add_option("--from,-f", rd.from,
                   "First version, inclusive (default: 1, or the head with --reverse)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  read->add_flag("--reverse", rd.reverse, "Newest first: versions <= --from, descending");
  read->add_option("--limit,-n", rd.limit, "Print at most N events (default: all)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  read->add_option("--format", rd_format,
                   "text (readable columns) or json (one object per line, payload as JSON)")
      ->check(FormatValidator());
  read->add_flag("--no-header", rd.no_header, "Text format: omit the column header");
  read->footer(exit_codes_help());

  // tail
  TailOptions tl;
  std::string tl_format = "text";
  auto* tail = app.add_subcommand(
      "tail",
      "Print the events from --from on, then each new one as it is committed, until "
      "Ctrl-C/SIGTERM (exit status 0)");
  tail->add_option("URI", tl.uri, kUriHelp)->required();
  tail->add_option("--from,-f", tl.from, "First version printed, inclusive (default 1)")
      ->type_name("N")
      ->check(CLI::NonNegativeNumber);
  tail->add_option("--format", tl_format, "text or json, as for read")->check(FormatValidator());
  tail->add_flag("--no-header", tl.no_header, "Text format: omit the column header");
  tail->footer(exit_codes_help());

  // projection
  ProjectionOptions pj;
  auto* projection = app.add_subcommand(
      "projection",
      "Projection versions: get ID prints it; init ID creates it at 0 if absent and prints it; "
      "set ID VERSION sets it");
  projection->add_option("URI", pj.uri, kUriHelp)->required();
  projection->add_option("ACTION", pj.action, "get, init or set")
      ->required()
      ->check(CLI::IsMember({"get", "init", "set"}));
  projection->add_option("ID", pj.id, "Projection id (32-bit integer)")->required();
  projection->add_option("VERSION", pj.version, "New version (set only)")
      ->check(CLI::NonNegativeNumber);
  projection->footer(exit_codes_help());

  try {
    app.parse(argc, argv);
    if (*projection) {
      if (pj.action == "set" && !pj.version)
        throw CLI::ValidationError("VERSION", "projection set needs a VERSION");
      if (pj.action != "set" && pj.version)
        throw CLI::ValidationError("VERSION", "projection " + pj.action + " takes no VERSION");
    }
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);  // prints help (rc 0) or the error (rc != 0)
    return rc == 0 ? kExitOk : kExitUsage;
  }

  rd.format = *parse_format(rd_format);
  tl.format = *parse_format(tl_format);

  if (*drivers) return cmd_drivers(common);
  if (*head) return cmd_head(common, head_uri);
  if (*append) return cmd_append(common, ap);
  if (*read) return cmd_read(common, rd);
  if (*tail) return cmd_tail(common, tl);
  if (*projection) return cmd_projection(common, pj);
  std::cerr << "evdb: no command given (see evdb --help)\n";
  return kExitUsage;
}
