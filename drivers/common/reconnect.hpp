// reconnect.hpp — how a listener that lost its connection tries again:
// exponential backoff (20 ms, doubling up to a maximum) for at most a
// configured time, then CONNECTION.
#pragma once

#include <cstdint>
#include <string>

#include "adapter.hpp"

namespace evdb::common {

// One per listener; used by the listener's thread only.
class Reconnect {
 public:
  // timeout_ms: how long after the loss attempts go on
  // (listen_reconnect_timeout_ms); backoff_max_ms: the longest pause between
  // two attempts.
  Reconnect(int64_t timeout_ms, int64_t backoff_max_ms);

  // The connection was lost now (a no-op while already reconnecting): the
  // reconnect time starts.
  void lost();
  // An attempt failed (or the connection was lost) with `why`: throws
  // drv::Error(CONNECTION) naming listen_reconnect_timeout_ms and `why` when
  // the reconnect time is used up, else sleeps the next pause (shorter when
  // ctx ends; the caller checks ctx before its next attempt).
  void failed(const drv::Ctx& ctx, const std::string& why);
  // An attempt succeeded: the next loss starts again from the first pause.
  void connected();

 private:
  static constexpr int64_t kFirstPauseMs = 20;
  int64_t timeout_ms_;
  int64_t backoff_max_ms_;
  int64_t lost_at_ms_ = -1;  // steady clock; -1 while connected
  int64_t pause_ms_ = kFirstPauseMs;
};

}  // namespace evdb::common
