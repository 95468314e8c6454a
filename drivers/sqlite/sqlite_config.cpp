// sqlite_config.cpp — the URI (file path and parameters) and the checks of
// the path before SQLite opens it. See sqlite_driver.hpp.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "sqlite_internal.hpp"

namespace evdb::sqlite {
namespace {

using drv::fail;

std::string parent_folder(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Config parse_uri(drv::Uri& uri) {
  std::string shown(uri.redacted());
  if (!uri.host().empty())
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown + " names a host ('" + std::string(uri.host()) +
                                    "'); a sqlite URI names a file: sqlite:relative/path.db or "
                                    "sqlite:///absolute/path.db");
  if (!uri.user().empty() || !uri.password().empty() || uri.port() != 0)
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown +
                                    " has a user, password or port; a sqlite URI "
                                    "names a file only");
  Config o;
  o.path = std::string(uri.path());
  if (o.path.empty())
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown +
                                    " has no file path (use sqlite:relative/path.db or "
                                    "sqlite:///absolute/path.db)");
  if (o.path.front() == ':' || o.path.rfind("file:", 0) == 0)
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown + " names an in-memory or URI-style database ('" +
                                    o.path + "'); use the memory: driver for in-memory stores");
  if (auto v = uri.take_int("busy_timeout_ms", 0, INT32_MAX)) o.busy_timeout_ms = *v;
  if (auto v = uri.take_int("poll_ms", 1, 60000)) o.poll_ms = *v;
  if (auto v = uri.take("synchronous")) {
    std::string s = *v;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    if (s != "off" && s != "normal" && s != "full" && s != "extra")
      fail(EVDB_INVALID_ARGUMENT,
           "parameter synchronous=" + *v + " is not one of off, normal, full, extra");
    o.synchronous = s;
  }
  uri.reject_unknown("busy_timeout_ms, synchronous, poll_ms");
  return o;
}

// Clear errors for the file-system problems SQLite reports vaguely.
void check_path(const std::string& path) {
  std::string dir = parent_folder(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      fail(EVDB_CONNECTION, "folder " + dir + " of database file " + path + " does not exist");
    fail(EVDB_CONNECTION,
         "cannot access folder " + dir + " of database file " + path + ": " + std::strerror(e));
  }
  if (!S_ISDIR(st.st_mode))
    fail(EVDB_CONNECTION, dir + " (folder of database file " + path + ") is not a folder");
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      fail(EVDB_INVALID_ARGUMENT, path + " is a folder, not a database file");
    if (::access(path.c_str(), R_OK) != 0)
      fail(EVDB_CONNECTION, "no read permission on database file " + path);
    if (::access(path.c_str(), W_OK) != 0)
      fail(EVDB_CONNECTION, "no write permission on database file " + path);
  } else if (errno == ENOENT) {
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
      fail(EVDB_CONNECTION,
           "cannot create database file " + path + ": no write permission on folder " + dir);
  } else {
    fail(EVDB_CONNECTION, "cannot access database file " + path + ": " + std::strerror(errno));
  }
}

}  // namespace evdb::sqlite
