// redis_test_util.hpp — helpers shared by the redis driver's tests: URIs of
// the private test server, a raw hiredis connection for looking at what the
// driver wrote, starting/stopping extra servers with scripts/redis-local.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace evdb::redis::test {

// The port the redis_server fixture starts the server on (CMake's
// EVDB_REDIS_TEST_PORT, fixed at configure time like the fixture's).
inline int test_port() {
  return EVDB_REDIS_TEST_PORT;
}
inline std::string password() {
  return EVDB_REDIS_TEST_PASSWORD;
}

// A fresh store name per call.
inline std::string unique_prefix(const std::string& base) {
  static std::atomic<int> n{0};
  return base + "-" + std::to_string(::getpid()) + "-" + std::to_string(n.fetch_add(1)) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count() % 1000000007);
}

inline std::string uri_for(int port, const std::string& prefix, const std::string& extra = "") {
  return "redis://evdb:" + password() + "@127.0.0.1:" + std::to_string(port) + "?prefix=" + prefix +
         extra;
}
inline std::string uri(const std::string& prefix, const std::string& extra = "") {
  return uri_for(test_port(), prefix, extra);
}

// Runs scripts/redis-local `cmd` for `port` (aof: appendonly + fsync always).
inline int redis_local(const std::string& cmd, int port, bool aof = false) {
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

// An event for the C API (evdb_append_event); the strings must outlive it.
inline evdb_event c_event(const char* type, const char* payload) {
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = type;
  e.type_name_len = std::strlen(type);
  e.payload = payload;
  e.payload_len = std::strlen(payload);
  return e;
}

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
