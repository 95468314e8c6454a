// exit_codes.hpp — the exit statuses of the `evdb` command-line tool.
//
// They are part of the tool's interface: scripts rely on them, so values are
// only ever added, never renumbered. docs/cli.md and `evdb --help` list them.
#pragma once

#include <evdb/evdb.h>

namespace evdb::cli {

// Exit status of `evdb`. One value per kind of failure a script may want to
// tell apart.
enum ExitCode : int {
  kExitOk = 0,               // success
  kExitUsage = 1,            // bad command line (unknown option, missing argument…)
  kExitNotFound = 2,         // no such event / projection never initialised
  kExitVersionMismatch = 3,  // --expect-version was stale, or a concurrent writer won
  kExitConnection = 4,       // the backend could not be reached / connection lost
  kExitInvalidArgument = 5,  // bad URI, unknown URI parameter, payload not JSON, …
  kExitDriverNotFound = 6,   // no driver for the scheme, or a driver of another ABI
  kExitTimeout = 7,          // --timeout passed
  kExitUnsupported = 8,      // the driver does not support the operation
  kExitInDoubt = 9,          // a commit's outcome is unknown (since 1.1)
  kExitOther = 10,           // anything else (internal error)
  kExitInterrupted = 130,    // SIGINT/SIGTERM ended a command other than `tail`
};

// The exit status for a failed evdb call with status `s`. EVDB_OK gives
// kExitOk; EVDB_CANCELED gives kExitInterrupted (the tool only cancels on a
// signal). Never fails.
ExitCode exit_code_for(evdb_status s) noexcept;

// The table of exit statuses as help text (one "  N  meaning" line each), for
// --help footers and docs. Static storage; never NULL.
const char* exit_codes_help() noexcept;

}  // namespace evdb::cli
