// fuzz_input.hpp — splitting a fuzz input into fields, shared by the targets.
//
// Inputs with several fields (an event's type, revision, time and payload; the
// replies a fake server sends) separate them with the byte 0x1E (ASCII record
// separator), so seed files stay readable and libFuzzer can add or drop a
// field by inserting or deleting one byte. A target that takes N fields gives
// the last one everything after the (N-1)th separator, separators included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace evdb::fuzz {

inline constexpr char kSeparator = '\x1e';

// Marks a helper of an oracle (code that only judges what the code under test
// returned): libFuzzer gets no coverage from it, so its loops neither cost
// coverage callbacks on every input nor count as new behaviour worth keeping
// an input for. noinline keeps it out of the instrumented callers.
#if defined(__clang__)
#define EVDB_FUZZ_ORACLE __attribute__((noinline, no_sanitize("coverage")))
#else
#define EVDB_FUZZ_ORACLE
#endif

// The first max_fields - 1 fields and the rest (fewer when the input has
// fewer separators). max_fields 0 means "no limit".
inline std::vector<std::string_view> split_fields(const uint8_t* data, size_t size,
                                                  size_t max_fields = 0) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  for (;;) {
    if (max_fields != 0 && out.size() + 1 == max_fields) break;
    size_t sep = in.find(kSeparator);
    if (sep == std::string_view::npos) break;
    out.push_back(in.substr(0, sep));
    in.remove_prefix(sep + 1);
  }
  out.push_back(in);
  return out;
}

// Aborts with a message: the targets' oracles use it (a crash is what libFuzzer
// and the replay driver report).
[[noreturn]] inline void oracle_failed(const char* what, std::string_view detail) {
  std::fprintf(stderr, "fuzz oracle failed: %s\n  detail: %.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace evdb::fuzz
