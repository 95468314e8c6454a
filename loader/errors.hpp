// errors.hpp — filling evdb_error from the library (host) side.
#pragma once

#include <evdb/evdb.h>

#include <string>
#include <string_view>

namespace evdb::loader {

// Fills err with code and "evdb: <message>" and returns code. err may be NULL.
evdb_status fail(evdb_error* err, evdb_status code, std::string_view message);

}  // namespace evdb::loader
