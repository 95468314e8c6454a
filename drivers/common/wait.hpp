// wait.hpp — waiting on a file descriptor together with the caller's context.
#pragma once

#include <string_view>

#include "adapter.hpp"

namespace evdb::common {

// Waits until `fd` reports one of `events` (poll() flags), the context
// `ctx` (may be null: none) is cancelled or reaches its deadline, or cap_ms
// passes (-1: no cap). A context with a cancel fd is watched through that fd;
// one without is looked at every 20 ms. Returns fd's revents, 0 when it
// returned for any other reason (time, context, a signal): the caller then
// looks at the context and its own clock, and calls again. Throws
// drv::Error(INTERNAL) naming `doing` when poll() itself fails.
short wait_fd(const drv::Ctx* ctx, int fd, short events, int cap_ms, std::string_view doing);

}  // namespace evdb::common
