// redis_internal.hpp — what the redis driver's sources share: reading log
// entries out of replies, reply checks, and starting a transaction.
// (redis_entries.cpp: entries and replies; redis_transaction.cpp: RedisTx.)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "redis_driver.hpp"

namespace evdb::redis {

// The id of the log entry of version v: "12-0" for 12.
std::string entry_id(int64_t v);

// The integer a whole text holds, nullopt when it holds anything else.
std::optional<int64_t> to_int(std::string_view s);

// The version encoded in an entry id "<version>-0"; INTERNAL for anything
// else.
int64_t id_version(const redisReply* id);

// Throws for an error reply to `doing`: UNSUPPORTED for a cluster redirect
// (MOVED/ASK), INTERNAL otherwise.
[[noreturn]] void server_error(const redisReply* r, const std::string& doing);

// Throws (server_error) for an error reply, INTERNAL for a reply not of
// `type`.
void expect_ok_type(const redisReply* r, int type, const std::string& doing);

// Fills `out` from one XRANGE element [id, [field, value, …]]; the strings
// point into the reply (hiredis NUL-terminates them). INTERNAL when the
// entry lacks evdb's fields.
void fill_event(const redisReply* entry, evdb_event& out);

// A transaction on `conn` (which it gives back to db's pool when it ends),
// with its snapshot taken: the head and every projection version, read
// atomically. Throws what reading the snapshot throws (CONNECTION when the
// connection is dead).
std::unique_ptr<drv::Tx> start_transaction(RedisDb& db, const drv::Ctx& ctx,
                                           std::unique_ptr<Connection> conn, bool read_only);

}  // namespace evdb::redis
