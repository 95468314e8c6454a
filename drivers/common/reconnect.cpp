// reconnect.cpp — see reconnect.hpp.
#include "common/reconnect.hpp"

#include <algorithm>

#include "common/clock.hpp"

namespace evdb::common {

Reconnect::Reconnect(int64_t timeout_ms, int64_t backoff_max_ms)
    : timeout_ms_(timeout_ms), backoff_max_ms_(backoff_max_ms) {}

void Reconnect::lost() {
  if (lost_at_ms_ < 0) lost_at_ms_ = steady_now_ms();
}

void Reconnect::failed(const drv::Ctx& ctx, const std::string& why) {
  lost();
  int64_t left = timeout_ms_ - (steady_now_ms() - lost_at_ms_);
  if (left <= 0)
    drv::fail(EVDB_CONNECTION,
              "the listener lost its connection and could not reconnect within "
              "listen_reconnect_timeout_ms=" +
                  std::to_string(timeout_ms_) + ": " + why);
  ctx.sleep_us(std::min(pause_ms_, left) * 1000);
  pause_ms_ = std::min(pause_ms_ * 2, backoff_max_ms_);
}

void Reconnect::connected() {
  lost_at_ms_ = -1;
  pause_ms_ = kFirstPauseMs;
}

}  // namespace evdb::common
