// sqlite_listener.cpp — listen: woken by this process's commits through an
// eventfd, and by other processes' through PRAGMA data_version every poll_ms.
// See docs/sqlite-driver.md.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/wait.hpp"
#include "sqlite_internal.hpp"

namespace evdb::sqlite {

using drv::fail;

void SqliteDb::listen(drv::Ctx& ctx, drv::ListenSink& sink) {
  // A dedicated connection: PRAGMA data_version changes when any other
  // connection (this process or another) commits.
  std::unique_ptr<Connection> conn = Connection::open(cfg_, file_);
  conn->arm(&ctx, BusyMode::kReader);
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) fail(EVDB_INTERNAL, std::string("eventfd: ") + std::strerror(errno));
  struct Registration {
    FileState& file;
    int fd;
    ~Registration() {
      file.remove_listener(fd);
      ::close(fd);
    }
  } reg{*file_, efd};
  file_->add_listener(efd);

  const char* doing = "listening";
  int64_t data_version = conn->query_int(Sql::kDataVersion, 0, doing);
  int64_t last = conn->query_int(Sql::kHead, 0, doing);
  sink.ready();
  for (;;) {
    ctx.check(doing);
    common::wait_fd(&ctx, efd, POLLIN, static_cast<int>(cfg_.poll_ms), doing);
    bool notified = false;
    uint64_t count = 0;
    while (::read(efd, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) notified = true;
    ctx.check(doing);
    int64_t dv = conn->query_int(Sql::kDataVersion, 0, doing);
    if (!notified && dv == data_version) continue;
    data_version = dv;
    int64_t head = conn->query_int(Sql::kHead, 0, doing);
    while (last < head) {
      sink.inserted(++last);
      ctx.check(doing);
    }
  }
}

}  // namespace evdb::sqlite
