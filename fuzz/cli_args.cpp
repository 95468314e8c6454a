// cli_args.cpp — fuzz target: the command line of the `evdb` tool
// (tools/evdb/main.cpp, CLI11), up to the point where it runs a command.
//
// main.cpp is compiled into this target with main renamed (see
// CMakeLists.txt), and the commands (commands.hpp) are replaced by checks
// of the options they would receive: the target parses arbitrary command
// lines without touching any store.
//
// Input: the arguments after "evdb", separated by 0x1E (fuzz_input.hpp).
// Oracles besides the sanitizers: the parser ends with the usage status (1)
// or success (0, e.g. --help) without running a command, or runs exactly one
// command, and then with the options its help promises: numbers not
// negative, a projection action in get/init/set with a VERSION
// for set only, a known output format.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "fuzz_input.hpp"

int evdb_cli_main(int argc, char** argv);  // tools/evdb/main.cpp's main

namespace {

using evdb::fuzz::oracle_failed;
int commands_run = 0;
constexpr int kRan = 99;  // what the stand-in commands return

int ran(const evdb::cli::CommonOptions& common) {
  ++commands_run;
  if (common.timeout_ms < -1) oracle_failed("a negative --timeout was accepted", "");
  return kRan;
}

}  // namespace

namespace evdb::cli {

int cmd_drivers(const CommonOptions& common) {
  return ran(common);
}
// The URI may be any text, even empty: evdb_open refuses a bad one with its
// own message (tested in the uri target).
int cmd_head(const CommonOptions& common, const std::string&) {
  return ran(common);
}
int cmd_append(const CommonOptions& common, const AppendOptions& opt) {
  if (opt.expect_version && *opt.expect_version < 0)
    oracle_failed("a negative --expect-version was accepted", "");
  if (opt.time_us < 0) oracle_failed("a negative --time-us was accepted", "");
  return ran(common);
}
int cmd_read(const CommonOptions& common, const ReadOptions& opt) {
  if ((opt.from && *opt.from < 0) || (opt.limit && *opt.limit < 0))
    oracle_failed("a negative --from or --limit was accepted", "");
  if (opt.format != Format::Text && opt.format != Format::Json)
    oracle_failed("an unknown format", "");
  return ran(common);
}
int cmd_tail(const CommonOptions& common, const TailOptions& opt) {
  if (opt.from < 0) oracle_failed("a negative --from was accepted", "");
  return ran(common);
}
int cmd_projection(const CommonOptions& common, const ProjectionOptions& opt) {
  if (opt.action != "get" && opt.action != "init" && opt.action != "set")
    oracle_failed("an unknown projection action was accepted", opt.action);
  if ((opt.action == "set") != opt.version.has_value())
    oracle_failed("VERSION given to get/init or missing for set", opt.action);
  if (opt.version && *opt.version < 0) oracle_failed("a negative VERSION was accepted", "");
  return ran(common);
}

}  // namespace evdb::cli

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"evdb"};
  if (size > 0)
    for (auto f : evdb::fuzz::split_fields(data, size)) args.emplace_back(f);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  commands_run = 0;
  int rc = evdb_cli_main(static_cast<int>(args.size()), argv.data());
  if (commands_run > 1) oracle_failed("more than one command ran", "");
  if (commands_run == 1 && rc != kRan) oracle_failed("a command ran but its status was lost", "");
  if (commands_run == 0 && rc != evdb::cli::kExitOk && rc != evdb::cli::kExitUsage)
    oracle_failed("no command ran, and the status is neither 0 nor usage", "");
  return 0;
}
