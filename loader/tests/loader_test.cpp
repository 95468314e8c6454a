// Loader tests: discovery, negotiation, refusal of bad drivers, validation
// before any driver call, contexts, the polling listener.
#include <evdb/driver.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

extern "C" const evdb_driver* td_inprocess_entry(uint32_t, const evdb_host_api*);
extern "C" long td_append_calls(void);
extern "C" void td_fail_begin(int fail);

namespace {

const std::string kRoot = TD_ROOT;

void use_path(const std::string& value) {
  ::setenv("EVDB_DRIVER_PATH", value.c_str(), 1);
}

// Opens uri; returns the status and fills message.
evdb_status try_open(const std::string& uri, std::string& message, evdb_db** out = nullptr) {
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_open(uri.c_str(), nullptr, &db, &err);
  message = err.message ? err.message : "";
  evdb_error_release(&err);
  if (out != nullptr)
    *out = db;
  else
    evdb_close(db);
  return s;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

evdb::Event ev(std::string type, std::string payload) {
  evdb::Event e;
  e.type_name = std::move(type);
  e.payload = std::move(payload);
  return e;
}

// Appends one event with `payload` at db's head in a transaction of its own:
// "" when appended, else the message of the InvalidArgument it was refused
// with (any other error propagates).
std::string append_payload(evdb::DB& db, const std::string& payload) {
  try {
    db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), ev("T", payload)); });
    return "";
  } catch (const evdb::InvalidArgument& e) {
    return e.what();
  }
}

}  // namespace

TEST(Discovery, UnknownSchemeListsEveryPlaceSearched) {
  use_path(kRoot + "/good:" + kRoot + "/longer");
  std::string msg;
  EXPECT_EQ(try_open("nosuchscheme:whatever", msg), EVDB_DRIVER_NOT_FOUND);
  EXPECT_TRUE(contains(msg, "libevdb_driver_nosuchscheme.so")) << msg;
  EXPECT_TRUE(contains(msg, kRoot + "/good (EVDB_DRIVER_PATH)")) << msg;
  EXPECT_TRUE(contains(msg, kRoot + "/longer (EVDB_DRIVER_PATH)")) << msg;
  EXPECT_TRUE(contains(msg, "(beside libevdb)")) << msg;
  EXPECT_TRUE(contains(msg, "(install prefix)")) << msg;
}

// evdb_driver_search_path gives plain folders a caller can use; the notes
// (where each comes from, ignored entries) come through the notes callback.
TEST(Discovery, SearchPathIsPlainFoldersAndNotesComeApart) {
  use_path(kRoot + "/good:relative/dir:" + kRoot + "/longer");
  char* path = evdb_driver_search_path();
  ASSERT_NE(path, nullptr);
  std::vector<std::string> lines;
  for (std::string rest = path;;) {
    size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    if (nl == std::string::npos) break;
    rest = rest.substr(nl + 1);
  }
  evdb_string_free(path);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], kRoot + "/good");
  EXPECT_EQ(lines[1], kRoot + "/longer");
  for (auto& l : lines) {
    EXPECT_EQ(l.front(), '/') << "not an absolute folder: " << l;
    EXPECT_FALSE(contains(l, " (")) << "a note in a folder name: " << l;
  }
  struct Note {
    std::string folder, note;
  };
  std::vector<Note> notes;
  evdb_driver_search_path_notes(
      [](void* u, const char* folder, const char* note) {
        static_cast<std::vector<Note>*>(u)->push_back({folder ? folder : "(none)", note});
      },
      &notes);
  ASSERT_EQ(notes.size(), lines.size() + 1) << "every folder and the ignored entry";
  EXPECT_EQ(notes[0].folder, kRoot + "/good");
  EXPECT_EQ(notes[0].note, "EVDB_DRIVER_PATH");
  EXPECT_EQ(notes[1].folder, "(none)");
  EXPECT_TRUE(contains(notes[1].note, "relative/dir")) << notes[1].note;
  EXPECT_EQ(notes[2].folder, kRoot + "/longer");
  EXPECT_EQ(notes.back().note, "install prefix");
}

TEST(Discovery, FindsDriverNamedAfterScheme) {
  use_path(kRoot + "/good");
  evdb_db* db = nullptr;
  std::string msg;
  ASSERT_EQ(try_open("tgood:", msg, &db), EVDB_OK) << msg;
  EXPECT_STREQ(evdb_db_driver_name(db), "tgood");
  evdb_close(db);
}

TEST(Discovery, FindsAliasSchemeByAskingDrivers) {
  use_path(kRoot + "/good");
  std::string msg;
  evdb_db* db = nullptr;
  ASSERT_EQ(try_open("tgood-alias:", msg, &db), EVDB_OK) << msg;
  EXPECT_STREQ(evdb_db_driver_name(db), "tgood");
  evdb_close(db);
}

TEST(Discovery, DriverPathOrderDecides) {
  use_path(kRoot + "/order_b:" + kRoot + "/order_a");
  std::string msg;
  evdb_db* db = nullptr;
  ASSERT_EQ(try_open("tord:", msg, &db), EVDB_OK) << msg;
  EXPECT_STREQ(evdb_db_driver_name(db), "tord_b");
  evdb_close(db);
}

TEST(Discovery, CurrentDirectoryIsNeverSearched) {
  auto old = std::filesystem::current_path();
  std::filesystem::current_path(kRoot + "/cwd");
  use_path(".:cwd::relative/dir");
  std::string msg;
  evdb_status s = try_open("tcwd:", msg);
  std::filesystem::current_path(old);
  EXPECT_EQ(s, EVDB_DRIVER_NOT_FOUND) << msg;
  EXPECT_TRUE(contains(msg, "ignored relative EVDB_DRIVER_PATH entry \".\"")) << msg;
  EXPECT_TRUE(contains(msg, "ignored relative EVDB_DRIVER_PATH entry \"cwd\"")) << msg;
  EXPECT_FALSE(contains(msg, kRoot + "/cwd ")) << msg;
}

TEST(Discovery, ManyThreadsOpeningAtOnceAllSucceed) {
  use_path(kRoot + "/good");
  constexpr int kThreads = 16;
  std::atomic<int> ok{0}, go{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&] {
      while (go.load() == 0) std::this_thread::yield();
      for (int k = 0; k < 20; ++k) {
        std::string msg;
        evdb_db* db = nullptr;
        if (try_open(k % 2 ? "tgood:" : "tgood-alias:", msg, &db) == EVDB_OK &&
            std::string(evdb_db_driver_name(db)) == "tgood")
          ok.fetch_add(1);
        evdb_close(db);
      }
    });
  go.store(1);
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * 20);
}

TEST(BadDrivers, FileThatIsNotASharedObject) {
  use_path(kRoot + "/bad");
  std::string msg;
  EXPECT_EQ(try_open("tnotso:", msg), EVDB_DRIVER_NOT_FOUND);
  EXPECT_TRUE(contains(msg, "libevdb_driver_tnotso.so is not a shared object")) << msg;
}

TEST(BadDrivers, SharedObjectWithoutEntryPoint) {
  use_path(kRoot + "/bad");
  std::string msg;
  EXPECT_EQ(try_open("tnoentry:", msg), EVDB_DRIVER_NOT_FOUND);
  EXPECT_TRUE(contains(msg, "does not export the entry point evdb_driver_entry")) << msg;
}

TEST(BadDrivers, DriverThatOnlySpeaksAFutureAbi) {
  use_path(kRoot + "/bad");
  std::string msg;
  EXPECT_EQ(try_open("tfuture:", msg), EVDB_DRIVER_ABI_MISMATCH);
  EXPECT_TRUE(contains(msg, "driver ABI version 99")) << msg;
  EXPECT_TRUE(contains(msg, "this evdb speaks ABI version 1 up to 1")) << msg;
}

TEST(BadDrivers, TooSmallTable) {
  use_path(kRoot + "/bad");
  std::string msg;
  EXPECT_EQ(try_open("tsmall:", msg), EVDB_DRIVER_ABI_MISMATCH);
  EXPECT_TRUE(contains(msg, "its table is 24 bytes, smaller than")) << msg;
}

TEST(BadDrivers, NullTableAndMissingRequiredFunction) {
  use_path(kRoot + "/bad");
  std::string msg;
  EXPECT_EQ(try_open("tnull:", msg), EVDB_DRIVER_ABI_MISMATCH);
  EXPECT_TRUE(contains(msg, "returned no table")) << msg;
  EXPECT_EQ(try_open("tnoopen:", msg), EVDB_DRIVER_ABI_MISMATCH);
  EXPECT_TRUE(contains(msg, "lacks the required function open")) << msg;
}

// Tables that would work but break a rule the host can see at load (DRV-6,
// DRV-9, DRV-33) are refused with the rule named, instead of being served.
TEST(BadDrivers, TablesBreakingLoadTimeRulesAreRefusedAndNamed) {
  use_path(kRoot + "/bad");
  std::string msg;
  EXPECT_EQ(try_open("tclaims:", msg), EVDB_DRIVER_ABI_MISMATCH);
  EXPECT_TRUE(contains(msg, "claims EVDB_CAP_LISTENER but has no listen entry (DRV-33)")) << msg;
  EXPECT_EQ(try_open("tfresh:", msg), EVDB_DRIVER_ABI_MISMATCH);
  EXPECT_TRUE(contains(msg, "returned a different table when called again")) << msg;
  EXPECT_EQ(try_open("tcaps:", msg), EVDB_DRIVER_ABI_MISMATCH);
  EXPECT_TRUE(contains(msg, "the scheme \"Caps_Scheme\", which is not a lower-case URI scheme"))
      << msg;
}

TEST(BadDrivers, BrokenFilesDoNotHideOtherDrivers) {
  // A folder full of broken drivers before the good one: the good one still
  // serves its alias, and listing reports each broken file.
  use_path(kRoot + "/bad:" + kRoot + "/good");
  std::string msg;
  EXPECT_EQ(try_open("tgood-alias:", msg), EVDB_OK) << msg;
  struct Seen {
    std::vector<std::string> names, problems;
  } seen;
  evdb_drivers_list(
      [](void* u, const evdb_driver_info* i) { static_cast<Seen*>(u)->names.push_back(i->name); },
      &seen,
      [](void* u, const char* file, const char*) {
        static_cast<Seen*>(u)->problems.push_back(file);
      });
  EXPECT_NE(std::find(seen.names.begin(), seen.names.end(), "tgood"), seen.names.end());
  EXPECT_GE(seen.problems.size(), 5u);
}

TEST(Negotiation, LongerTableFromNewerDriverWorks) {
  use_path(kRoot + "/longer");
  evdb::DB db = evdb::DB::open("tlonger:");
  int64_t v = db.tx_rw([](evdb::TxRW& tx) { return tx.append_event(0, ev("A", "{}")); });
  EXPECT_EQ(v, 1);
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_event_at(1).type_name; }), "A");
}

TEST(Negotiation, OlderTableWithoutListenGetsThePollingListener) {
  use_path(kRoot + "/older");
  evdb::DB db = evdb::DB::open("tolder:");
  evdb::DB writer = evdb::DB::open("tolder:");
  evdb::Context ctx;
  std::vector<int64_t> got;
  std::atomic<bool> ready{false};
  std::thread listener([&] {
    evdb::Status s = db.listen(
        ctx, [&] { ready = true; },
        [&](int64_t v) {
          got.push_back(v);
          if (got.size() == 3) ctx.cancel();
        });
    EXPECT_EQ(s.code(), EVDB_CANCELED) << s.message();
  });
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 3; ++i)
    writer.tx_rw([&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), ev("E", "1")); });
  listener.join();
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 3}));
}

TEST(Negotiation, OlderTableGetsUnsupportedForEntriesItLacks) {
  use_path(kRoot + "/older");
  evdb::DB db = evdb::DB::open("tolder:");
  try {
    db.ping();
    FAIL() << "ping on a table without the entry must fail";
  } catch (const evdb::Unsupported& e) {
    EXPECT_TRUE(contains(e.what(), "has no ping entry")) << e.what();
  }
  // And a table that has it answers.
  use_path(kRoot + "/longer");
  evdb::DB newer = evdb::DB::open("tlonger:");
  EXPECT_NO_THROW(newer.ping());
}

TEST(Registration, InProcessDriverServesItsScheme) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);  // no-op
  EXPECT_EQ(evdb_register_driver(nullptr, &err), EVDB_INVALID_ARGUMENT);
  evdb_error_release(&err);
  evdb::DB db = evdb::DB::open("tinproc:");
  EXPECT_EQ(db.driver_name(), "tinproc");
}

TEST(Registration, ExplicitFileLoad) {
  use_path(kRoot + "/good");
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_driver_load_file((kRoot + "/nowhere/libevdb_driver_x.so").c_str(), &err),
            EVDB_DRIVER_NOT_FOUND);
  EXPECT_TRUE(contains(err.message, "does not exist")) << err.message;
  EXPECT_EQ(evdb_driver_load_file((kRoot + "/bad/libevdb_driver_tnotso.so").c_str(), &err),
            EVDB_DRIVER_NOT_FOUND);
  EXPECT_TRUE(contains(err.message, "not a shared object")) << err.message;
  EXPECT_EQ(evdb_driver_load_file("", &err), EVDB_INVALID_ARGUMENT);
  ASSERT_EQ(evdb_driver_load_file((kRoot + "/explicit/libevdb_driver_tload.so").c_str(), &err),
            EVDB_OK);
  evdb_error_release(&err);
  evdb::DB db = evdb::DB::open("tload:");
  EXPECT_EQ(db.driver_name(), "tload");
}

// Every bad argument is refused by the library before the driver is called.
TEST(Validation, BadInputNeverReachesTheDriver) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  evdb_db* db = nullptr;
  ASSERT_EQ(evdb_open("tinproc:", nullptr, &db, &err), EVDB_OK);
  evdb_tx* tx = nullptr;
  ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, &err), EVDB_OK);
  long before = td_append_calls();
  auto append = [&](const char* type, size_t tlen, const char* payload, size_t plen,
                    int64_t assumed = 0, int64_t time_us = 0) {
    evdb_event e = EVDB_EVENT_INIT;
    e.type_name = type;
    e.type_name_len = tlen;
    e.payload = payload;
    e.payload_len = plen;
    e.time_us = time_us;
    int64_t nv = 0;
    evdb_status s = evdb_append_event(tx, nullptr, assumed, &e, &nv, &err);
    return s;
  };
  EXPECT_EQ(append("", 0, "{}", 2), EVDB_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(err.message, "type name is empty")) << err.message;
  EXPECT_EQ(append("T", 1, "{", 1), EVDB_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(err.message, "payload is not valid JSON")) << err.message;
  EXPECT_EQ(append("T", 1, "", 0), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(append("T", 1, "{\"a\":1} x", 9), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(append("\xff\xfe", 2, "{}", 2), EVDB_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(err.message, "not valid UTF-8")) << err.message;
  EXPECT_EQ(append("A\0B", 3, "{}", 2), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(append("T", 1, "{}", 2, -1), EVDB_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(err.message, "assumed_version must not be negative")) << err.message;
  EXPECT_EQ(append("T", 1, "{}", 2, 0, -5), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_append_event(tx, nullptr, 0, nullptr, nullptr, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(td_append_calls(), before) << "the driver saw invalid input";
  // Numbers beyond int64/double are valid JSON (RFC 8259) and are accepted;
  // malformed numbers are not.
  const std::string big = "[1" + std::string(300, '0') + ", 1e400, -0.5E-999]";
  EXPECT_EQ(append("T", 1, big.c_str(), big.size(), 0), EVDB_OK) << err.message;
  EXPECT_EQ(append("T", 1, "[01]", 4), EVDB_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(err.message, "a number is malformed")) << err.message;
  EXPECT_EQ(append("T", 1, "[1e400, 1.]", 11), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(append("T", 1, "[1e400 x]", 9), EVDB_INVALID_ARGUMENT);
  before += 1;
  // A valid one does reach it.
  EXPECT_EQ(append("T", 1, " [1, 2] ", 8, 1), EVDB_OK);
  EXPECT_EQ(td_append_calls(), before + 1);

  evdb_event out = EVDB_EVENT_INIT;
  EXPECT_EQ(evdb_read_event_at(tx, nullptr, -1, &out, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_read_event_at(tx, nullptr, 0, &out, &err), EVDB_NOT_FOUND);
  EXPECT_EQ(evdb_read_event_at(tx, nullptr, 1, nullptr, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_read_event_after(tx, nullptr, -3, &out, &err), EVDB_INVALID_ARGUMENT);
  size_t n = 7;
  EXPECT_EQ(evdb_read_events(tx, nullptr, 1, 0, nullptr, 0, &n, &err), EVDB_OK);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(evdb_read_events(tx, nullptr, 1, 0, nullptr, 5, &n, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_read_events(tx, nullptr, -1, 0, &out, 1, &n, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_set_projection_version(tx, nullptr, 1, -1, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_read_system_version(tx, nullptr, nullptr, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_read_system_version(nullptr, nullptr, nullptr, &err), EVDB_INVALID_ARGUMENT);
  evdb_rollback(tx);

  // Writes on a read-only transaction are refused by the library.
  ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, &err), EVDB_OK);
  EXPECT_EQ(append("T", 1, "{}", 2), EVDB_READ_ONLY);
  EXPECT_EQ(evdb_init_projection_version(tx, nullptr, 1, nullptr, &err), EVDB_READ_ONLY);
  EXPECT_EQ(evdb_set_projection_version(tx, nullptr, 1, 1, &err), EVDB_READ_ONLY);
  EXPECT_EQ(td_append_calls(), before + 1);
  evdb_rollback(tx);

  EXPECT_EQ(evdb_begin(db, nullptr, static_cast<evdb_tx_kind>(7), &tx, &err),
            EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, nullptr, &err), EVDB_INVALID_ARGUMENT);
  evdb_db* none = nullptr;
  EXPECT_EQ(evdb_open(nullptr, nullptr, &none, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(evdb_listen(nullptr, nullptr, nullptr, nullptr, nullptr, &err), EVDB_INVALID_ARGUMENT);
  evdb_error_release(&err);
  evdb_close(db);
}

// A lone surrogate escape is valid JSON grammar but names no character:
// refused, with a message naming the escape (docs/decisions.md). Pairs and
// an escaped backslash followed by "ud800" (plain text) are fine.
TEST(Validation, LoneSurrogateEscapeIsRefusedAndNamed) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  evdb::DB db = evdb::DB::open("tinproc:");
  for (const char* lone : {R"("\ud800")", R"({"a":"x\uDBFFy"})", R"(["\udc00"])",
                           R"("\ud800\u0041")", R"("\ud83d")"}) {
    std::string why = append_payload(db, lone);
    EXPECT_TRUE(contains(why, "lone UTF-16 surrogate")) << lone << ": " << why;
  }
  EXPECT_TRUE(contains(append_payload(db, R"(["\ud83d"])"), R"(\ud83d)"))
      << "the message names the escape";
  for (const char* fine : {R"("\ud83d\ude00")", R"("\\ud800")", R"("\u00e9")"})
    EXPECT_EQ(append_payload(db, fine), "") << fine;
}

// A refused payload's message says what is wrong and at which byte; nesting
// is limited to 1024 levels (docs/contract.md DATA-6), checked without
// recursion, so even absurdly deep input is refused cleanly.
TEST(Validation, PayloadMessagesSayWhereAndNestingIsLimited) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  evdb::DB db = evdb::DB::open("tinproc:");
  std::string why = append_payload(db, R"({"a":[1,2}})");
  EXPECT_TRUE(contains(why, "payload is not valid JSON")) << why;
  EXPECT_TRUE(contains(why, "at offset 9")) << why;
  why = append_payload(db, "\"caf\xc3\"");
  EXPECT_TRUE(contains(why, "not valid UTF-8 at offset 4")) << why;
  EXPECT_EQ(append_payload(db, std::string(1024, '[') + std::string(1024, ']')), "");
  why = append_payload(db, std::string(1023, '[') + "[0]" + std::string(1023, ']'));
  EXPECT_TRUE(contains(why, "too deeply")) << why;
  EXPECT_TRUE(contains(append_payload(db, std::string(1 << 20, '[')), "too deeply"));
}

TEST(Validation, UnknownUriParameterIsRefusedByTheDriver) {
  use_path(kRoot + "/good");
  std::string msg;
  EXPECT_EQ(try_open("tgood:?bogus=1", msg), EVDB_INVALID_ARGUMENT);
}

TEST(Contexts, CancelAndDeadline) {
  evdb_ctx* ctx = evdb_ctx_new();
  ASSERT_NE(ctx, nullptr);
  EXPECT_EQ(evdb_ctx_status(ctx), EVDB_OK);
  EXPECT_EQ(evdb_ctx_status(nullptr), EVDB_OK);
  evdb_ctx_set_timeout_ms(ctx, 0);
  EXPECT_EQ(evdb_ctx_status(ctx), EVDB_DEADLINE_EXCEEDED);
  evdb_ctx_set_timeout_ms(ctx, -1);
  EXPECT_EQ(evdb_ctx_status(ctx), EVDB_OK);
  evdb_ctx_cancel(ctx);
  evdb_ctx_cancel(ctx);
  EXPECT_EQ(evdb_ctx_status(ctx), EVDB_CANCELED);
  evdb_ctx_free(ctx);
}

TEST(Contexts, CancelledContextStopsOpenAndBegin) {
  use_path(kRoot + "/good");
  evdb::Context ctx;
  ctx.cancel();
  EXPECT_THROW(evdb::DB::open("tgood:", &ctx), evdb::Canceled);
  evdb::DB db = evdb::DB::open("tgood:");
  EXPECT_THROW(db.tx_read_only([](evdb::TxRO&) {}, &ctx), evdb::Canceled);
}

TEST(Contexts, CancelInterruptsThePollingListenerPromptly) {
  use_path(kRoot + "/older");
  evdb::DB db = evdb::DB::open("tolder:");
  evdb::Context ctx;
  std::atomic<bool> ready{false};
  std::chrono::steady_clock::time_point cancelled_at;
  std::chrono::steady_clock::duration took{};
  std::thread t([&] {
    evdb::Status s = db.listen(
        ctx, [&] { ready = true; }, [](int64_t) {});
    took = std::chrono::steady_clock::now() - cancelled_at;
    EXPECT_TRUE(s.is<evdb::Canceled>()) << s.message();
  });
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  cancelled_at = std::chrono::steady_clock::now();
  ctx.cancel();
  t.join();
  // The contract: within 100 ms (plus scheduling slack on a loaded machine).
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 250);
}

TEST(Contexts, DeadlineEndsTheListener) {
  use_path(kRoot + "/older");
  evdb::DB db = evdb::DB::open("tolder:");
  evdb::Context ctx(std::chrono::milliseconds(80));
  evdb::Status s = db.listen(
      ctx, [] {}, [](int64_t) {});
  EXPECT_TRUE(s.is<evdb::DeadlineExceeded>()) << s.message();
}

TEST(CppApi, TransactionBodyErrorsAndExceptions) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  evdb::DB db = evdb::DB::open("tinproc:");
  int64_t head = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });
  // A returned Status rolls back and comes back unchanged.
  evdb::Status s = db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(head, ev("X", "{}"));
    return evdb::Status(EVDB_CONFLICT, "my own reason");
  });
  EXPECT_EQ(s.code(), EVDB_CONFLICT);
  EXPECT_EQ(s.message(), "my own reason");
  // An exception rolls back and is rethrown as is.
  struct Mine {};
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(head, ev("X", "{}"));
    throw Mine{};
  }),
               Mine);
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), head);
  // Typed errors.
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(head + 5, ev("X", "{}")); }),
               evdb::VersionMismatch);
  EXPECT_THROW(db.tx_read_only([&](evdb::TxRO& tx) { tx.read_event_at(head + 100); }),
               evdb::NotFound);
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(head, ev("", "{}")); }),
               evdb::InvalidArgument);
}

// ---- transaction handles (api.cpp keeps freed evdb_tx wrappers per thread) ----

namespace {

// The head of the in-process test driver's (process-wide) log.
int64_t tinproc_head(evdb_db* db) {
  evdb_tx* tx = nullptr;
  int64_t head = -1;
  EXPECT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, nullptr), EVDB_OK);
  EXPECT_EQ(evdb_read_system_version(tx, nullptr, &head, nullptr), EVDB_OK);
  EXPECT_EQ(evdb_commit(tx, nullptr, nullptr), EVDB_OK);
  return head;
}

}  // namespace

// docs/contract.md OP-26: commit with an ended context fails at once with its
// status, says so, and rolls the transaction back; the handle is freed
// (ABI-10) and the next transaction works.
TEST(Transactions, CommitWithEndedContextRollsBackAndSaysWhy) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  evdb_db* db = nullptr;
  ASSERT_EQ(evdb_open("tinproc:", nullptr, &db, &err), EVDB_OK);
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = "X";
  e.type_name_len = 1;
  e.payload = "{}";
  e.payload_len = 2;
  const int64_t head = tinproc_head(db);
  evdb_ctx* cancelled = evdb_ctx_new();
  evdb_ctx* expired = evdb_ctx_new();
  ASSERT_NE(cancelled, nullptr);
  ASSERT_NE(expired, nullptr);
  evdb_ctx_cancel(cancelled);
  evdb_ctx_set_timeout_ms(expired, 0);
  struct Case {
    evdb_ctx* ctx;
    evdb_status want;
    const char* says;
  };
  for (const Case& c :
       {Case{cancelled, EVDB_CANCELED, "evdb: commit: the context was cancelled"},
        Case{expired, EVDB_DEADLINE_EXCEEDED, "evdb: commit: the deadline passed"}}) {
    evdb_tx* tx = nullptr;
    ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, &err), EVDB_OK);
    ASSERT_EQ(evdb_append_event(tx, nullptr, head, &e, nullptr, &err), EVDB_OK);
    EXPECT_EQ(evdb_commit(tx, c.ctx, &err), c.want);
    EXPECT_EQ(err.code, c.want);
    EXPECT_STREQ(err.message, c.says);
    EXPECT_EQ(tinproc_head(db), head) << "a commit refused for its context applied its event";
  }
  // Begin refuses the ended context too, and hands out no transaction.
  int not_a_tx = 0;
  evdb_tx* tx = reinterpret_cast<evdb_tx*>(&not_a_tx);
  EXPECT_EQ(evdb_begin(db, cancelled, EVDB_TX_READ_ONLY, &tx, &err), EVDB_CANCELED);
  EXPECT_EQ(tx, nullptr);
  // The same transaction with a live context commits.
  evdb_ctx* live = evdb_ctx_new();
  ASSERT_EQ(evdb_begin(db, live, EVDB_TX_READ_WRITE, &tx, &err), EVDB_OK);
  ASSERT_EQ(evdb_append_event(tx, live, head, &e, nullptr, &err), EVDB_OK);
  EXPECT_EQ(evdb_commit(tx, live, &err), EVDB_OK);
  EXPECT_EQ(tinproc_head(db), head + 1);
  evdb_ctx_free(live);
  evdb_ctx_free(expired);
  evdb_ctx_free(cancelled);
  evdb_error_release(&err);
  evdb_close(db);
}

// A driver whose begin fails: evdb_begin returns its status and message
// untouched and leaves *out NULL, as often as it fails (more times than the
// thread's pool holds wrappers: each failure gives its wrapper back), and
// transactions begin again once the driver does.
TEST(Transactions, FailedDriverBeginLeavesNoHandleAndPassesItsError) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  evdb_db* db = nullptr;
  ASSERT_EQ(evdb_open("tinproc:", nullptr, &db, &err), EVDB_OK);
  td_fail_begin(1);
  for (int i = 0; i < 40; ++i) {
    evdb_tx* tx = reinterpret_cast<evdb_tx*>(&err);  // anything but NULL
    ASSERT_EQ(evdb_begin(db, nullptr, i % 2 ? EVDB_TX_READ_ONLY : EVDB_TX_READ_WRITE, &tx, &err),
              EVDB_CONNECTION);
    EXPECT_EQ(tx, nullptr);
    ASSERT_NE(err.message, nullptr);
    EXPECT_STREQ(err.message, "begin refused (td_fail_begin)");
  }
  td_fail_begin(0);
  evdb_tx* tx = nullptr;
  ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, &err), EVDB_OK);
  EXPECT_EQ(evdb_tx_get_kind(tx), EVDB_TX_READ_WRITE);
  EXPECT_EQ(evdb_commit(tx, nullptr, &err), EVDB_OK);
  evdb_error_release(&err);
  evdb_close(db);
}

// Many transactions open at once from one thread (OP-18), more than the
// per-thread pool of wrappers holds, each ended on another thread (ABI-14),
// some left open by a thread that exits: every open transaction is a
// distinct handle of its own kind, whichever thread's pool its wrapper came
// from.
TEST(Transactions, ManyOpenAtOnceEndedOnOtherThreads) {
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_register_driver(td_inprocess_entry, &err), EVDB_OK);
  evdb_db* db = nullptr;
  ASSERT_EQ(evdb_open("tinproc:", nullptr, &db, &err), EVDB_OK);
  constexpr int kOpen = 40;
  auto begin_many = [&](std::vector<evdb_tx*>& txs) {
    for (int i = 0; i < kOpen; ++i) {
      evdb_tx* tx = nullptr;
      ASSERT_EQ(
          evdb_begin(db, nullptr, i % 2 ? EVDB_TX_READ_WRITE : EVDB_TX_READ_ONLY, &tx, nullptr),
          EVDB_OK);
      txs.push_back(tx);
    }
  };
  auto check_and_end = [&](const std::vector<evdb_tx*>& txs) {
    EXPECT_EQ(std::set<evdb_tx*>(txs.begin(), txs.end()).size(), txs.size())
        << "one wrapper handed out for two open transactions";
    for (size_t i = 0; i < txs.size(); ++i) {
      EXPECT_EQ(evdb_tx_get_kind(txs[i]), i % 2 ? EVDB_TX_READ_WRITE : EVDB_TX_READ_ONLY);
      int64_t v = -1;
      EXPECT_EQ(evdb_read_system_version(txs[i], nullptr, &v, nullptr), EVDB_OK);
      if (i % 3 == 0)
        evdb_rollback(txs[i]);
      else
        EXPECT_EQ(evdb_commit(txs[i], nullptr, nullptr), EVDB_OK);
    }
  };
  for (int round = 0; round < 3; ++round) {
    std::vector<evdb_tx*> a, b;
    std::thread([&] { begin_many(a); }).join();
    begin_many(b);  // this thread's cache may hold wrappers ended elsewhere
    std::set<evdb_tx*> both(a.begin(), a.end());
    both.insert(b.begin(), b.end());
    EXPECT_EQ(both.size(), a.size() + b.size()) << "one wrapper handed out to two threads";
    std::thread([&] { check_and_end(a); }).join();
    std::thread([&] { check_and_end(b); }).join();
  }
  // A thread that exits with transactions open hands its wrappers on with
  // its pool: the next thread takes the pool over and never the wrappers
  // still in use.
  for (int round = 0; round < 3; ++round) {
    std::vector<evdb_tx*> left, next;
    std::thread([&] {
      for (int i = 0; i < 3; ++i) {
        evdb_tx* tx = nullptr;
        ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), EVDB_OK);
        left.push_back(tx);
      }
    }).join();
    std::thread([&] {
      for (int i = 0; i < 20; ++i) {
        evdb_tx* tx = nullptr;
        ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, nullptr), EVDB_OK);
        next.push_back(tx);
      }
    }).join();
    std::set<evdb_tx*> all(left.begin(), left.end());
    all.insert(next.begin(), next.end());
    EXPECT_EQ(all.size(), left.size() + next.size()) << "a wrapper still in use handed out again";
    for (evdb_tx* tx : left) {
      EXPECT_EQ(evdb_tx_get_kind(tx), EVDB_TX_READ_WRITE);
      EXPECT_EQ(evdb_commit(tx, nullptr, nullptr), EVDB_OK);
    }
    for (evdb_tx* tx : next) {
      EXPECT_EQ(evdb_tx_get_kind(tx), EVDB_TX_READ_ONLY);
      evdb_rollback(tx);
    }
  }
  // Two threads beginning and handing their transactions to each other at
  // once: the caches never share a wrapper (TSan build: no data race).
  std::mutex mu;
  std::vector<evdb_tx*> to_a, to_b;
  std::set<evdb_tx*> open;
  std::atomic<int> failures{0};
  auto worker = [&](std::vector<evdb_tx*>& mine, std::vector<evdb_tx*>& theirs) {
    for (int i = 0; i < 2000; ++i) {
      evdb_tx* tx = nullptr;
      if (evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, nullptr) != EVDB_OK) ++failures;
      evdb_tx* handed = nullptr;
      {
        std::lock_guard lock(mu);
        if (!open.insert(tx).second) ++failures;  // handed out while still open
        theirs.push_back(tx);
        if (!mine.empty()) {
          handed = mine.back();
          mine.pop_back();
          open.erase(handed);
        }
      }
      if (handed != nullptr && evdb_commit(handed, nullptr, nullptr) != EVDB_OK) ++failures;
    }
  };
  std::thread ta([&] { worker(to_a, to_b); });
  std::thread tb([&] { worker(to_b, to_a); });
  ta.join();
  tb.join();
  for (evdb_tx* tx : to_a) evdb_rollback(tx);
  for (evdb_tx* tx : to_b) evdb_rollback(tx);
  EXPECT_EQ(failures.load(), 0);
  evdb_close(db);
}

// 1.1's status for a commit whose outcome is unknown: named, never retryable
// (retrying could append the events twice), and its own C++ exception.
TEST(Statuses, CommitInDoubtIsNamedNotRetryableAndHasItsException) {
  EXPECT_EQ(EVDB_COMMIT_IN_DOUBT, 13);
  EXPECT_STREQ(evdb_status_name(EVDB_COMMIT_IN_DOUBT), "EVDB_COMMIT_IN_DOUBT");
  EXPECT_EQ(evdb_status_is_retryable(EVDB_COMMIT_IN_DOUBT), 0);
  try {
    evdb::throw_error(EVDB_COMMIT_IN_DOUBT, "lost during commit");
    FAIL() << "throw_error returned";
  } catch (const evdb::CommitInDoubt& e) {
    EXPECT_EQ(e.code(), EVDB_COMMIT_IN_DOUBT);
    EXPECT_FALSE(e.retryable());
    EXPECT_STREQ(e.what(), "lost during commit");
  }
  EXPECT_GE(evdb_version_number(), 10100u);
}
