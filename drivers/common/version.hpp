// version.hpp — the version every evdb driver reports (evdb_driver::version).
//
// The drivers ship with the project, so they carry its version: CMake's
// PROJECT_VERSION, given to every user of evdb_driver_common as the compile
// definition EVDB_PROJECT_VERSION.
#pragma once

#ifndef EVDB_PROJECT_VERSION
#error "EVDB_PROJECT_VERSION is not defined: link the target with evdb_driver_common"
#endif

namespace evdb::common {

// "1.0.0" for evdb 1.0.0.
inline constexpr const char* kDriverVersion = EVDB_PROJECT_VERSION;

}  // namespace evdb::common
