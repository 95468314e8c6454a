// wait.cpp — see wait.hpp.
#include "common/wait.hpp"

#include <poll.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace evdb::common {

short wait_fd(const drv::Ctx* ctx, int fd, short events, int cap_ms, std::string_view doing) {
  pollfd p[2] = {{fd, events, 0}, {-1, POLLIN, 0}};
  nfds_t n = 1;
  int timeout = cap_ms;
  if (ctx != nullptr && ctx->raw() != nullptr) {
    p[1].fd = ctx->cancel_fd();
    if (p[1].fd >= 0) n = 2;
    // Without a cancel fd, nothing wakes us when the context is cancelled.
    int slice = p[1].fd >= 0 || (cap_ms >= 0 && cap_ms <= 20) ? cap_ms : 20;
    timeout = ctx->poll_timeout_ms(slice);
  }
  int r = ::poll(p, n, timeout);
  if (r < 0) {
    if (errno == EINTR) return 0;
    drv::fail(EVDB_INTERNAL,
              "poll failed while " + std::string(doing) + ": " + std::strerror(errno));
  }
  return p[0].revents;
}

}  // namespace evdb::common
