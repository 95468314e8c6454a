// redis_internal.hpp — what the redis driver's sources share: reading log
// entries out of replies, reply checks, and starting a transaction.
// (redis_entries.cpp: entries and replies; redis_transaction.cpp: RedisTx.)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "redis_driver.hpp"

namespace evdb::redis {

// The id of the log entry of version v: "12-0" for 12.
std::string entry_id(int64_t v);

// The integer a whole text holds, nullopt when it holds anything else.
std::optional<int64_t> to_int(std::string_view s);

// The version encoded in an entry id "<version>-0"; INTERNAL for anything
// else.
int64_t id_version(const redisReply* id);

// Throws for an error reply to `doing`: CONNECTION for a cluster redirect
// (MOVED/ASK) a connection does not follow (not cluster=1: the URI names a
// cluster node as a single server) or READONLY (a demoted master): nothing
// was written, and the next connection looks for the master again;
// CONNECTION for CLUSTERDOWN, TRYAGAIN, LOADING, MASTERDOWN (nothing ran;
// later it will); INTERNAL otherwise.
[[noreturn]] void server_error(const redisReply* r, const std::string& doing);

// Throws (server_error) for an error reply, INTERNAL for a reply not of
// `type`.
void expect_ok_type(const redisReply* r, int type, const std::string& doing);

// Fills `out` from one XRANGE element [id, [field, value, …]]; the strings
// point into the reply (hiredis NUL-terminates them). INTERNAL when the
// entry lacks evdb's fields.
void fill_event(const redisReply* entry, evdb_event& out);

// The begin and release scripts (Lua); see redis_transaction.cpp.
const std::string& begin_script();
const std::string& release_script();

// Runs `script` on conn with `args` (numkeys, keys, arguments) by EVALSHA,
// again by EVAL when the server answers NOSCRIPT, and returns the reply
// (error replies included). watch, extra_wait_ms and busy_wait_ms are
// Connection::call's. Throws what Connection::call throws.
Reply run_script(Connection& conn, const drv::Ctx& ctx, const Script& script,
                 const std::vector<std::string_view>& args, std::string_view doing,
                 Connection::Watch watch = Connection::Watch::Context, int extra_wait_ms = 0,
                 int busy_wait_ms = -1);

// A transaction on `conn` (which it gives back to db's pool when it ends),
// with its snapshot taken: the head and every projection version, read
// atomically; a read-write one first waits for the store's write lock
// (unless write_lock_ms is 0, or a transaction last used by this thread
// holds it), in the same script that reads the snapshot.
// Throws what reading the snapshot throws (CONNECTION when the connection is
// dead, CANCELED / DEADLINE_EXCEEDED when ctx ends while waiting).
std::unique_ptr<drv::Tx> start_transaction(RedisDb& db, const drv::Ctx& ctx,
                                           std::unique_ptr<Connection> conn, bool read_only);

}  // namespace evdb::redis
