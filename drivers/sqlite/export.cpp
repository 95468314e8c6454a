// export.cpp — compiled only into libevdb_driver_sqlite.so: exports the
// generic entry point evdb_driver_entry, forwarding to the SQLite driver's.
#include "sqlite_driver.hpp"

EVDB_DRIVER_EXPORT(evdb_driver_entry_sqlite)
