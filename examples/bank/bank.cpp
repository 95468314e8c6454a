// bank.cpp — events and state of the bank example.
#include "bank.hpp"

#include <simdjson.h>

#include <stdexcept>

namespace bank {

int64_t Balances::total() const {
  int64_t sum = 0;
  for (const auto& [name, balance] : accounts) sum += balance;
  return sum;
}

// Account names in this example are plain ASCII identifiers, so they go into
// the JSON text as they are.
evdb::Event account_opened(const std::string& account, int64_t initial) {
  evdb::Event e;
  e.type_name = kAccountOpened;
  e.payload = R"({"account":")" + account + R"(","initial":)" + std::to_string(initial) + "}";
  return e;
}

evdb::Event money_transferred(const std::string& from, const std::string& to, int64_t amount) {
  evdb::Event e;
  e.type_name = kMoneyTransferred;
  e.payload =
      R"({"from":")" + from + R"(","to":")" + to + R"(","amount":)" + std::to_string(amount) + "}";
  return e;
}

namespace {
[[noreturn]] void bad_event(const evdb::Event& e, const std::string& why) {
  throw std::runtime_error("event " + std::to_string(e.version) + " (" + e.type_name + "): " + why);
}
}  // namespace

void apply(Balances& b, const evdb::Event& e) {
  // One parser per thread: simdjson parsers are not thread-safe.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(e.payload).get(doc) != simdjson::SUCCESS) bad_event(e, "payload is not JSON");
  if (e.type_name == kAccountOpened) {
    std::string_view account;
    int64_t initial = 0;
    if (doc["account"].get(account) || doc["initial"].get(initial))
      bad_event(e, "expected {\"account\":string,\"initial\":integer}");
    if (b.accounts.count(std::string(account))) bad_event(e, "account already open");
    b.accounts[std::string(account)] = initial;
  } else if (e.type_name == kMoneyTransferred) {
    std::string_view from, to;
    int64_t amount = 0;
    if (doc["from"].get(from) || doc["to"].get(to) || doc["amount"].get(amount))
      bad_event(e, "expected {\"from\":string,\"to\":string,\"amount\":integer}");
    auto f = b.accounts.find(std::string(from));
    auto t = b.accounts.find(std::string(to));
    if (f == b.accounts.end() || t == b.accounts.end()) bad_event(e, "unknown account");
    f->second -= amount;
    t->second += amount;
  } else {
    bad_event(e, "unknown event type");
  }
  b.version = e.version;
}

std::optional<std::string> check_transfer(const Balances& b, const std::string& from,
                                          const std::string& to, int64_t amount) {
  if (amount <= 0) return "amount must be positive";
  if (from == to) return "cannot transfer to the same account";
  auto f = b.accounts.find(from);
  if (f == b.accounts.end()) return "no account " + from;
  if (b.accounts.count(to) == 0) return "no account " + to;
  if (f->second < amount) return "insufficient funds";
  return std::nullopt;
}

}  // namespace bank
