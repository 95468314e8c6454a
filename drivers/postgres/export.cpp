// export.cpp — compiled only into libevdb_driver_postgres.so: exports the
// generic entry point evdb_driver_entry, forwarding to the PostgreSQL
// driver's.
#include "pg_driver.hpp"

EVDB_DRIVER_EXPORT(evdb_driver_entry_postgres)
