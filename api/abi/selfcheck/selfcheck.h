/* selfcheck.h — a tiny library shaped like libevdb (a growable struct with a
 * leading struct_size, an array element, functions taking it), built in
 * variants to show that the abidiff check fails on a removed function and a
 * changed struct field and passes on additions. */
#include <stddef.h>
#include <stdint.h>

typedef struct sc_event {
  uint32_t struct_size;
#ifdef SC_CHANGED_FIELD
  int32_t version; /* was int64_t: a changed field */
#else
  int64_t version;
#endif
  const char* payload;
  size_t payload_len;
#ifdef SC_APPENDED_FIELD
  int64_t appended; /* a field appended at the end: allowed */
#endif
} sc_event;

__attribute__((visibility("default"))) int sc_read(sc_event* out);
#ifndef SC_REMOVED_FUNCTION
__attribute__((visibility("default"))) int sc_append(const sc_event* event);
#endif
#ifdef SC_ADDED_FUNCTION
__attribute__((visibility("default"))) int sc_ping(void); /* an added function: allowed */
#endif
