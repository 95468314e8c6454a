// redis_test_util.hpp — helpers shared by the redis driver's tests: URIs of
// the private test server, a raw hiredis connection for looking at what the
// driver wrote, starting/stopping extra servers with scripts/redis-local.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "test_support/child_process.hpp"
#include "test_support/events.hpp"
#include "test_support/names.hpp"
#include "test_support/opening.hpp"

namespace evdb::redis::test {

// The port the redis_server fixture starts the server on (CMake's
// EVDB_REDIS_TEST_PORT, fixed at configure time like the fixture's).
inline int test_port() {
  return EVDB_REDIS_TEST_PORT;
}
inline std::string password() {
  return EVDB_REDIS_TEST_PASSWORD;
}

// Store prefixes: test_support's unique names.
using evdb::test_support::c_event;
using evdb::test_support::unique_name;

inline std::string uri_for(int port, const std::string& prefix, const std::string& extra = "") {
  return "redis://evdb:" + password() + "@127.0.0.1:" + std::to_string(port) + "?prefix=" + prefix +
         extra;
}
inline std::string uri(const std::string& prefix, const std::string& extra = "") {
  return uri_for(test_port(), prefix, extra);
}

// How a server started by redis_local keeps its data.
enum class Persistence {
  Default,          // the script's settings
  AppendOnlyFsync,  // appendonly yes + appendfsync always
};

// Runs scripts/redis-local `cmd` for `port`.
inline int redis_local(const std::string& cmd, int port,
                       Persistence persistence = Persistence::Default) {
  const bool aof = persistence == Persistence::AppendOnlyFsync;
  std::string line = std::string("EVDB_REDIS_PASSWORD=") + EVDB_REDIS_TEST_PASSWORD +
                     " EVDB_REDIS_AOF=" + (aof ? "1" : "0") + " " + EVDB_REDIS_LOCAL + " " + cmd +
                     " " + std::to_string(port);
  return std::system(line.c_str());
}

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFreeT {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RawReply = std::unique_ptr<redisReply, ReplyFreeT>;

// A plain hiredis connection, authenticated, for inspecting the server.
class Raw {
 public:
  explicit Raw(int port = test_port()) {
    c_.reset(redisConnect("127.0.0.1", port));
    if (!c_ || c_->err) throw std::runtime_error("raw connect failed");
    auto r = cmd({"AUTH", "evdb", password()});
    if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error("raw AUTH failed");
  }
  RawReply cmd(std::initializer_list<std::string> args) {
    return cmd(std::vector<std::string>(args));
  }
  // A command of any number of arguments.
  RawReply cmd(const std::vector<std::string>& args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c_.get(), static_cast<int>(argv.size()), argv.data(), lens.data()));
    if (r == nullptr) throw std::runtime_error("raw command failed");
    return RawReply(r);
  }
  long long integer(std::initializer_list<std::string> args) {
    auto r = cmd(args);
    if (r->type != REDIS_REPLY_INTEGER) throw std::runtime_error("not an integer reply");
    return r->integer;
  }
  std::string str(std::initializer_list<std::string> args) {
    auto r = cmd(args);
    if (r->type == REDIS_REPLY_NIL) return "(nil)";
    return std::string(r->str, r->len);
  }
  // Sends `request` (one command, already RESP-encoded) and returns the
  // reply.
  RawReply formatted(const std::string& request) {
    if (redisAppendFormattedCommand(c_.get(), request.data(), request.size()) != REDIS_OK)
      throw std::runtime_error("raw append failed");
    void* r = nullptr;
    if (redisGetReply(c_.get(), &r) != REDIS_OK || r == nullptr)
      throw std::runtime_error("raw command failed");
    return RawReply(static_cast<redisReply*>(r));
  }
  // The next reply the server pushes without a command (after MONITOR),
  // waiting up to 10 s.
  std::string next_pushed() {
    redisSetTimeout(c_.get(), timeval{10, 0});
    void* r = nullptr;
    if (redisGetReply(c_.get(), &r) != REDIS_OK || r == nullptr)
      throw std::runtime_error("no reply within 10 s");
    RawReply reply(static_cast<redisReply*>(r));
    return std::string(reply->str, reply->len);
  }

 private:
  std::unique_ptr<redisContext, ContextFree> c_;
};

}  // namespace evdb::redis::test
