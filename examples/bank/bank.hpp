// bank.hpp — the domain of the bank example: its events and the state they
// build (account balances). No storage here: main.cpp wires it to evdb.
//
// Events (type name -> JSON payload):
//   AccountOpened     {"account":"alice","initial":1000}
//   MoneyTransferred  {"from":"alice","to":"bob","amount":120}
#pragma once

#include <evdb/evdb.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace bank {

inline constexpr const char* kAccountOpened = "AccountOpened";
inline constexpr const char* kMoneyTransferred = "MoneyTransferred";

// The state the events build: every account's balance, as of `version` (the
// last event applied; 0 before any).
struct Balances {
  std::map<std::string, int64_t> accounts;
  int64_t version = 0;

  // Sum of all balances (transfers never change it).
  int64_t total() const;
  bool operator==(const Balances&) const = default;
};

// Event constructors: the payloads above.
evdb::Event account_opened(const std::string& account, int64_t initial);
evdb::Event money_transferred(const std::string& from, const std::string& to, int64_t amount);

// Applies one event to `b` and sets b.version to e.version. Throws
// std::runtime_error naming the event for an unknown type or a payload that
// does not match the type; b is then unchanged.
void apply(Balances& b, const evdb::Event& e);

// Why a transfer cannot happen at state `b`, or nullopt when it can: the
// business rule that commands validate before appending.
std::optional<std::string> check_transfer(const Balances& b, const std::string& from,
                                          const std::string& to, int64_t amount);

}  // namespace bank
