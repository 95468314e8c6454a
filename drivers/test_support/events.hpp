// events.hpp — events for the drivers' tests, for the C++ API (evdb::Event)
// and for the C API and driver tables (evdb_event). Header-only. Not
// installed.
#pragma once

#include <evdb/evdb.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace evdb::test_support {

// An event for evdb::TxRW::append_event (version 0: the store assigns it).
inline Event event(std::string type, std::string payload = "{}", int64_t time_us = 0,
                   std::string revision_vcs = "") {
  return Event{0, time_us, std::move(type), std::move(payload), std::move(revision_vcs)};
}

// An evdb_event pointing at the given texts: they must outlive it (pass
// literals or named strings).
inline evdb_event c_event(std::string_view type, std::string_view payload,
                          std::string_view revision_vcs = "", int64_t time_us = 0) {
  evdb_event e{};
  e.time_us = time_us;
  e.type_name = type.data();
  e.type_name_len = type.size();
  e.payload = payload.data();
  e.payload_len = payload.size();
  e.revision_vcs = revision_vcs.data();
  e.revision_vcs_len = revision_vcs.size();
  return e;
}

}  // namespace evdb::test_support
