// validate.hpp — argument checks done once by the library before any driver
// is called (docs/contract.md §4, ABI-2): events, versions.
#pragma once

#include <evdb/evdb.h>

#include <string>

namespace evdb::loader {

// Returns "" when the event is valid for append, else what is wrong (type
// name empty / not UTF-8 / has NUL; payload NULL / not JSON; revision not
// UTF-8; negative time).
std::string check_event(const evdb_event& event);

}  // namespace evdb::loader
