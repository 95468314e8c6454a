/* evdb_next.h — what a 1.x release after 1.0 could add, for the ABI tests
 * only (never installed). Each addition is made the way docs/abi.md
 * ("How a 1.x release adds something") says, so that the tests can build a
 * driver and an application "from newer headers" and run them against this
 * libevdb, which lacks the additions:
 *   - a new event field (causation_id), appended to evdb_event;
 *   - a new host service (now_us), appended to evdb_host_api;
 *   - a new status code (EVDB_NEXT_STATUS), the next free number.
 * The structs repeat the 1.0 layout field by field and append; the tests
 * check with static assertions that the prefixes agree. */
#ifndef EVDB_NEXT_H
#define EVDB_NEXT_H

#include <evdb/driver.h>

typedef struct evdb_event_next {
  uint32_t struct_size;
  int64_t version;
  int64_t time_us;
  const char* type_name;
  size_t type_name_len;
  const char* payload;
  size_t payload_len;
  const char* revision_vcs;
  size_t revision_vcs_len;
  /* ---- added after 1.0 ---- */
  const char* causation_id;
  size_t causation_id_len;
} evdb_event_next;

#define EVDB_EVENT_NEXT_INIT \
  { (uint32_t)sizeof(evdb_event_next), 0, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0 }

typedef struct evdb_host_api_next {
  uint32_t struct_size;
  uint32_t abi_version;
  evdb_status (*ctx_status)(const evdb_ctx* ctx);
  int64_t (*ctx_remaining_us)(const evdb_ctx* ctx);
  int (*ctx_cancel_fd)(evdb_ctx* ctx);
  evdb_status (*ctx_sleep)(evdb_ctx* ctx, int64_t timeout_us);
  /* ---- added after 1.0 ---- */
  int64_t (*now_us)(void);
} evdb_host_api_next;

/** A status code added after 1.0. */
#define EVDB_NEXT_STATUS 14

#endif
