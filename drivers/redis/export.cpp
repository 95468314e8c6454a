// export.cpp — compiled only into libevdb_driver_redis.so: exports the
// generic entry point evdb_driver_entry, forwarding to the redis driver's.
#include "redis_driver.hpp"

EVDB_DRIVER_EXPORT(evdb_driver_entry_redis)
