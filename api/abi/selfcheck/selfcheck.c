/* selfcheck.c — the variants of selfcheck.h (see there). */
#include "selfcheck.h"

int sc_read(sc_event* out) {
  out->version = 1;
  out->payload = "{}";
  out->payload_len = 2;
  return 0;
}
#ifndef SC_REMOVED_FUNCTION
int sc_append(const sc_event* event) {
  return event->version > 0 ? 0 : 1;
}
#endif
#ifdef SC_ADDED_FUNCTION
int sc_ping(void) {
  return 0;
}
#endif
