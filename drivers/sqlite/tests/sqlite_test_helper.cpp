// sqlite_test_helper.cpp — the "other process" of the SQLite driver tests.
//
// Usage (URI is an evdb sqlite URI):
//   append-block URI PRE N  commits PRE events, then appends N more in one
//                           transaction, prints "ready" and blocks forever
//                           without committing (the test kills it).
//   append-loop URI BATCH   commits transactions of BATCH events forever,
//                           printing "committed HEAD" after each.
//   append URI N            commits N transactions of one event each
//                           (retrying lost races), then prints "done".
//   open URI [nobody]       (as user nobody) tries to open URI and prints
//                           "status NAME" and "message TEXT"; exits 77 when
//                           it cannot drop privileges.
// Exit code 0 on success, 1 on an evdb error (printed as "error: ...").
#include <evdb/driver.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "sqlite_driver.hpp"

namespace {

evdb::Event event(int64_t i) {
  return evdb::Event{0, 0, "HelperEvent", "{\"n\":" + std::to_string(i) + "}", "helper"};
}

void say(const std::string& line) {
  std::fputs((line + "\n").c_str(), stdout);
  std::fflush(stdout);
}

int append_block(const std::string& uri, int pre, int n) {
  evdb::DB db = evdb::DB::open(uri);
  if (pre > 0) {
    db.tx_rw([&](evdb::TxRW& tx) {
      int64_t head = tx.read_system_version();
      for (int i = 0; i < pre; ++i) head = tx.append_event(head, event(head + 1));
    });
  }
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  if (evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, &err) != EVDB_OK) {
    say(std::string("error: ") + (err.message ? err.message : "begin"));
    return 1;
  }
  int64_t head = 0;
  evdb_read_system_version(tx, nullptr, &head, nullptr);
  for (int i = 0; i < n; ++i) {
    std::string payload = "{\"n\":" + std::to_string(head + 1) + "}";
    evdb_event e{sizeof(evdb_event), 0, 0, "Blocked", 7, payload.c_str(), payload.size(), "", 0};
    if (evdb_append_event(tx, nullptr, head, &e, &head, &err) != EVDB_OK) {
      say(std::string("error: ") + (err.message ? err.message : "append"));
      return 1;
    }
  }
  say("ready");
  for (;;) ::pause();
}

int append_loop(const std::string& uri, int batch) {
  evdb::DB db = evdb::DB::open(uri);
  for (;;) {
    int64_t head = db.tx_rw([&](evdb::TxRW& tx) {
      int64_t h = tx.read_system_version();
      for (int i = 0; i < batch; ++i) h = tx.append_event(h, event(h + 1));
      return h;
    });
    say("committed " + std::to_string(head));
  }
}

int append(const std::string& uri, int n) {
  evdb::DB db = evdb::DB::open(uri);
  for (int i = 0; i < n; ++i) {
    for (;;) {
      try {
        db.tx_rw([&](evdb::TxRW& tx) {
          int64_t h = tx.read_system_version();
          tx.append_event(h, event(h + 1));
        });
        break;
      } catch (const evdb::Error& e) {
        if (!e.retryable()) throw;
      }
    }
  }
  say("done");
  return 0;
}

int open_as(const std::string& uri, bool nobody) {
  if (nobody) {
    struct passwd* pw = ::getpwnam("nobody");
    if (pw == nullptr || ::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 ||
        ::setuid(pw->pw_uid) != 0 || ::geteuid() == 0) {
      say("cannot drop privileges to nobody");
      return 77;
    }
  }
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_open(uri.c_str(), nullptr, &db, &err);
  say(std::string("status ") + evdb_status_name(s));
  say(std::string("message ") + (err.message ? err.message : ""));
  evdb_error_release(&err);
  evdb_close(db);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  evdb_error err = EVDB_ERROR_INIT;
  if (evdb_register_driver(evdb_driver_entry_sqlite, &err) != EVDB_OK) {
    std::fprintf(stderr, "cannot register the sqlite driver\n");
    return 2;
  }
  std::string cmd = argc > 1 ? argv[1] : "";
  try {
    if (cmd == "append-block" && argc == 5)
      return append_block(argv[2], std::atoi(argv[3]), std::atoi(argv[4]));
    if (cmd == "append-loop" && argc == 4) return append_loop(argv[2], std::atoi(argv[3]));
    if (cmd == "append" && argc == 4) return append(argv[2], std::atoi(argv[3]));
    if (cmd == "open" && (argc == 3 || argc == 4))
      return open_as(argv[2], argc == 4 && std::string(argv[3]) == "nobody");
  } catch (const evdb::Error& e) {
    say(std::string("error: ") + e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: see sqlite_test_helper.cpp\n");
  return 2;
}
