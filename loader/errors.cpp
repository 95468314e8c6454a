// errors.cpp — status names and evdb_error handling.
#include "errors.hpp"

#include <cstdlib>
#include <cstring>

namespace {
void release_malloced(evdb_error* e) {
  std::free(e->message);
  e->message = nullptr;
  e->release = nullptr;
}
}  // namespace

namespace evdb::loader {

evdb_status fail(evdb_error* err, evdb_status code, std::string_view message) {
  std::string full = "evdb: ";
  full += message;
  evdb_error_set(err, code, full.c_str());
  return code;
}

}  // namespace evdb::loader

extern "C" {

uint32_t evdb_version_number(void) {
  return EVDB_VERSION_NUMBER;
}

const char* evdb_version(void) {
#define EVDB_STR2(x) #x
#define EVDB_STR(x) EVDB_STR2(x)
  return EVDB_STR(EVDB_VERSION_MAJOR) "." EVDB_STR(EVDB_VERSION_MINOR) "." EVDB_STR(
      EVDB_VERSION_PATCH);
#undef EVDB_STR
#undef EVDB_STR2
}

const char* evdb_status_name(evdb_status status) {
  switch (status) {
    case EVDB_OK:
      return "EVDB_OK";
    case EVDB_VERSION_MISMATCH:
      return "EVDB_VERSION_MISMATCH";
    case EVDB_NOT_FOUND:
      return "EVDB_NOT_FOUND";
    case EVDB_CONFLICT:
      return "EVDB_CONFLICT";
    case EVDB_READ_ONLY:
      return "EVDB_READ_ONLY";
    case EVDB_INVALID_ARGUMENT:
      return "EVDB_INVALID_ARGUMENT";
    case EVDB_CANCELED:
      return "EVDB_CANCELED";
    case EVDB_DEADLINE_EXCEEDED:
      return "EVDB_DEADLINE_EXCEEDED";
    case EVDB_CONNECTION:
      return "EVDB_CONNECTION";
    case EVDB_UNSUPPORTED:
      return "EVDB_UNSUPPORTED";
    case EVDB_DRIVER_NOT_FOUND:
      return "EVDB_DRIVER_NOT_FOUND";
    case EVDB_DRIVER_ABI_MISMATCH:
      return "EVDB_DRIVER_ABI_MISMATCH";
    case EVDB_INTERNAL:
      return "EVDB_INTERNAL";
    case EVDB_COMMIT_IN_DOUBT:
      return "EVDB_COMMIT_IN_DOUBT";
  }
  return "EVDB_UNKNOWN_STATUS";
}

int evdb_status_is_retryable(evdb_status status) {
  return status == EVDB_VERSION_MISMATCH || status == EVDB_CONFLICT;
}

void evdb_error_release(evdb_error* err) {
  if (err == nullptr) return;
  if (err->release != nullptr) err->release(err);
  // struct_size is the caller's and stays; only the 1.0 fields are reset.
  err->code = EVDB_OK;
  err->message = nullptr;
  err->release = nullptr;
  err->private_data = nullptr;
}

void evdb_error_set(evdb_error* err, evdb_status code, const char* message) {
  if (err == nullptr) return;
  evdb_error_release(err);
  err->code = code;
  if (message != nullptr) {
    size_t n = std::strlen(message);
    char* copy = static_cast<char*>(std::malloc(n + 1));
    if (copy != nullptr) {
      std::memcpy(copy, message, n + 1);
      err->message = copy;
      err->release = release_malloced;
    }
  }
}

void evdb_string_free(char* s) {
  std::free(s);
}

}  // extern "C"
