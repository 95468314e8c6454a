// export.cpp — compiled only into libevdb_driver_memory.so: exports the
// generic entry point evdb_driver_entry, forwarding to the memory driver's.
#include "memory_driver.hpp"

EVDB_DRIVER_EXPORT(evdb_driver_entry_memory)
