// exit_codes.cpp — mapping evdb statuses to the tool's exit statuses.
#include "exit_codes.hpp"

namespace evdb::cli {

ExitCode exit_code_for(evdb_status s) noexcept {
  switch (s) {
    case EVDB_OK:
      return kExitOk;
    case EVDB_NOT_FOUND:
      return kExitNotFound;
    case EVDB_VERSION_MISMATCH:
    case EVDB_CONFLICT:
      return kExitVersionMismatch;
    case EVDB_CONNECTION:
      return kExitConnection;
    case EVDB_INVALID_ARGUMENT:
      return kExitInvalidArgument;
    case EVDB_DRIVER_NOT_FOUND:
    case EVDB_DRIVER_ABI_MISMATCH:
      return kExitDriverNotFound;
    case EVDB_DEADLINE_EXCEEDED:
      return kExitTimeout;
    case EVDB_READ_ONLY:
    case EVDB_UNSUPPORTED:
      return kExitUnsupported;
    case EVDB_CANCELED:
      return kExitInterrupted;
    case EVDB_COMMIT_IN_DOUBT:
      return kExitInDoubt;
    case EVDB_INTERNAL:
    default:
      return kExitOther;
  }
}

const char* exit_codes_help() noexcept {
  return "Exit status:\n"
         "  0    success\n"
         "  1    usage error (bad command line)\n"
         "  2    not found (no such event, projection never initialised)\n"
         "  3    version mismatch or conflict (stale --expect-version, concurrent writer)\n"
         "  4    connection error (backend unreachable, connection lost)\n"
         "  5    invalid argument (bad URI or URI parameter, payload not JSON, ...)\n"
         "  6    driver not found (no driver for the scheme, or wrong driver ABI)\n"
         "  7    timeout (--timeout passed)\n"
         "  8    unsupported by the driver (or a write on a read-only transaction)\n"
         "  9    commit in doubt (connection lost during commit; check the log before\n"
         "       appending again)\n"
         "  10   other error\n"
         "  130  interrupted by SIGINT/SIGTERM (except tail, which then exits 0)\n";
}

}  // namespace evdb::cli
