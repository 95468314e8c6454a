// pg_test_helper.cpp — the "other process" of the fault tests.
//
//   evdb_pg_test_helper URI N   opens URI, begins a read-write transaction,
//                               appends N events, prints "appended" and
//                               waits forever without committing (the test
//                               kills it with SIGKILL).
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "pg_driver.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s URI N\n", argv[0]);
    return 2;
  }
  evdb_error err = EVDB_ERROR_INIT;
  if (evdb_register_driver(evdb_driver_entry_postgres, &err) != EVDB_OK) return 3;
  try {
    evdb::DB db = evdb::DB::open(argv[1]);
    int n = std::atoi(argv[2]);
    db.tx_rw([&](evdb::TxRW& tx) {
      int64_t v = tx.read_system_version();
      for (int i = 0; i < n; ++i) {
        evdb::Event e;
        e.type_name = "Killed";
        e.payload = "{\"i\":" + std::to_string(i) + "}";
        v = tx.append_event(v, e);
      }
      std::printf("appended\n");
      std::fflush(stdout);
      for (;;) ::pause();
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "helper: %s\n", e.what());
    return 1;
  }
  return 0;
}
