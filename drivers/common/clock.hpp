// clock.hpp — the clocks the drivers read, in the units they use.
//
// Wall time (what an event's time_us is) and the steady clock (what timeouts
// and backoff are measured with). Header-only; thread-safe (pure functions).
#pragma once

#include <chrono>
#include <cstdint>

namespace evdb::common {

// Microseconds since the Unix epoch (system clock): the time an event is
// given when the application leaves time_us at 0.
inline int64_t wall_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Milliseconds of the steady clock (monotonic; only differences mean
// anything): for deadlines and timeouts.
inline int64_t steady_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace evdb::common
