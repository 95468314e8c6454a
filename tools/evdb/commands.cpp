// commands.cpp — the subcommands of the `evdb` tool.
#include "commands.hpp"

#include "exit_codes.hpp"
#include "signals.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <mutex>
#include <thread>

namespace evdb::cli {

namespace {

constexpr size_t kBatch = 256;

// What every command needs: a context cancelled by SIGINT/SIGTERM (and
// bounded by --timeout), the driver files loaded. Build it first thing, before
// any thread exists.
class Session {
 public:
  Session(const char* command, const CommonOptions& common)
      : command_(command), watcher_([this](int) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            interrupted_ = true;
          }
          cv_.notify_all();
          ctx_.cancel();
        }) {
    if (common.timeout_ms >= 0) ctx_.set_timeout(std::chrono::milliseconds(common.timeout_ms));
    for (const auto& file : common.driver_files) {
      evdb_error err = EVDB_ERROR_INIT;
      evdb_status s = evdb_driver_load_file(file.c_str(), &err);
      if (s != EVDB_OK) {
        std::string msg = err.message ? err.message : evdb_status_name(s);
        evdb_error_release(&err);
        throw_error(s, "--driver " + file + ": " + msg);
      }
    }
  }

  evdb::Context& ctx() { return ctx_; }
  std::mutex& mu() { return mu_; }
  std::condition_variable& cv() { return cv_; }
  // True once SIGINT/SIGTERM arrived. Read it with mu() held or after the fact.
  bool interrupted() const { return watcher_.received() != 0; }
  bool interrupted_locked() const { return interrupted_; }
  const char* command() const { return command_; }

 private:
  const char* command_;
  evdb::Context ctx_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool interrupted_ = false;
  SignalWatcher watcher_;  // last: stopped first, before ctx_ goes away
};

int report(const char* command, evdb_status code, const std::string& message) {
  std::cerr << "evdb " << command << ": " << message << "\n";
  return exit_code_for(code);
}

// Runs body(session) and turns every exception into a message and an exit
// status. An EVDB_CANCELED caused by a signal reports "interrupted" (130).
template <class Body>
int guarded(const char* command, const CommonOptions& common, Body&& body) noexcept {
  try {
    Session session(command, common);
    try {
      return body(session);
    } catch (const evdb::Error& e) {
      if (e.code() == EVDB_CANCELED && session.interrupted())
        return report(command, EVDB_CANCELED, "interrupted");
      return report(command, e.code(), e.what());
    }
  } catch (const evdb::Error& e) {
    return report(command, e.code(), e.what());
  } catch (const std::exception& e) {
    return report(command, EVDB_INTERNAL, e.what());
  } catch (...) {
    return report(command, EVDB_INTERNAL, "unknown error");
  }
}

void print_event(const evdb::Event& e, Format f) {
  std::string line = f == Format::Json ? event_json(e) : event_text(e);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
}

void print_header(Format f, bool no_header) {
  if (f == Format::Text && !no_header) std::printf("%s\n", event_text_header().c_str());
}

}  // namespace

// ---------------------------------------------------------------------------

int cmd_drivers(const CommonOptions& common) {
  return guarded("drivers", common, [](Session&) {
    std::printf("Search path (in order):\n");
    evdb_driver_search_path_notes(
        [](void*, const char* folder, const char* note) {
          if (folder != nullptr)
            std::printf("  %s (%s)\n", folder, note);
          else
            std::printf("  (%s)\n", note);
        },
        nullptr);
    struct Collected {
      std::vector<std::string> drivers;
      std::vector<std::string> problems;
    } c;
    evdb_drivers_list(
        [](void* user, const evdb_driver_info* info) {
          auto* col = static_cast<Collected*>(user);
          std::string schemes;
          for (const char* const* s = info->schemes; s && *s; ++s)
            schemes += (schemes.empty() ? "" : ", ") + std::string(*s);
          std::string text = "  " + std::string(info->name ? info->name : "?") + " " +
                             (info->version ? info->version : "") + "\n";
          text += "    file:         " + std::string(info->file ? info->file : "") + "\n";
          text += "    schemes:      " + schemes + "\n";
          text += "    abi version:  " + std::to_string(info->abi_version) + "\n";
          text += "    capabilities: " + capability_names(info->capabilities) + "\n";
          col->drivers.push_back(std::move(text));
        },
        &c,
        [](void* user, const char* file, const char* message) {
          auto* col = static_cast<Collected*>(user);
          col->problems.push_back("  " + std::string(file ? file : "?") + ": " +
                                  (message ? message : "unknown problem") + "\n");
        });
    std::printf("Drivers (%zu):\n", c.drivers.size());
    for (auto& d : c.drivers) std::fputs(d.c_str(), stdout);
    if (c.drivers.empty()) std::printf("  (none found)\n");
    if (!c.problems.empty()) {
      std::printf("Problems (%zu files could not be loaded):\n", c.problems.size());
      for (auto& p : c.problems) std::fputs(p.c_str(), stdout);
    }
    return int{kExitOk};
  });
}

int cmd_head(const CommonOptions& common, const std::string& uri) {
  return guarded("head", common, [&](Session& s) {
    evdb::DB db = evdb::DB::open(uri, &s.ctx());
    int64_t head =
        db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }, &s.ctx());
    std::printf("%lld\n", static_cast<long long>(head));
    return int{kExitOk};
  });
}

int cmd_append(const CommonOptions& common, const AppendOptions& opt) {
  return guarded("append", common, [&](Session& s) {
    evdb::Event ev;
    ev.type_name = opt.type;
    ev.revision_vcs = opt.revision;
    ev.time_us = opt.time_us;
    if (opt.payload == "-") {
      ev.payload.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      // A trailing newline from `echo` or a file is whitespace, not payload.
      while (!ev.payload.empty() && (ev.payload.back() == '\n' || ev.payload.back() == '\r'))
        ev.payload.pop_back();
    } else {
      ev.payload = opt.payload;
    }
    evdb::DB db = evdb::DB::open(opt.uri, &s.ctx());
    int64_t nv = 0;
    try {
      nv = db.tx_rw(
          [&](evdb::TxRW& tx) {
            int64_t assumed = opt.expect_version ? *opt.expect_version : tx.read_system_version();
            return tx.append_event(assumed, ev);
          },
          &s.ctx());
    } catch (const evdb::VersionMismatch& e) {
      std::string msg = e.what();
      if (opt.expect_version) {
        try {
          int64_t head =
              db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }, &s.ctx());
          msg += " (--expect-version " + std::to_string(*opt.expect_version) +
                 ", the head is now " + std::to_string(head) + ")";
        } catch (const evdb::Error&) {
        }
      }
      throw evdb::VersionMismatch(msg);
    }
    std::printf("%lld\n", static_cast<long long>(nv));
    return int{kExitOk};
  });
}

int cmd_read(const CommonOptions& common, const ReadOptions& opt) {
  return guarded("read", common, [&](Session& s) {
    evdb::DB db = evdb::DB::open(opt.uri, &s.ctx());
    db.tx_read_only(
        [&](evdb::TxRO& tx) {
          const auto dir = opt.reverse ? evdb::Direction::Descending : evdb::Direction::Ascending;
          int64_t at = opt.from ? *opt.from : (opt.reverse ? tx.read_system_version() : 1);
          uint64_t left = opt.limit ? static_cast<uint64_t>(*opt.limit) : UINT64_MAX;
          print_header(opt.format, opt.no_header);
          while (left > 0 && !(opt.reverse && at < 1)) {
            size_t want = static_cast<size_t>(std::min<uint64_t>(left, kBatch));
            std::vector<evdb::Event> events = tx.read_events(std::max<int64_t>(at, 0), want, dir);
            for (const auto& e : events) print_event(e, opt.format);
            left -= events.size();
            if (events.size() < want) break;
            at = opt.reverse ? events.back().version - 1 : events.back().version + 1;
          }
        },
        &s.ctx());
    std::fflush(stdout);
    return int{kExitOk};
  });
}

int cmd_tail(const CommonOptions& common, const TailOptions& opt) {
  return guarded("tail", common, [&](Session& s) {
    evdb::DB db = evdb::DB::open(opt.uri, &s.ctx());
    std::mutex& mu = s.mu();
    std::condition_variable& cv = s.cv();
    bool ready = false;
    bool done = false;
    int64_t latest = 0;
    evdb::Status listen_status;

    // The listener only records the newest version and wakes the printer; the
    // printer reads and prints in its own read-only transactions.
    std::thread listener([&] {
      evdb::Status st;
      try {
        st = db.listen(
            s.ctx(),
            [&] {
              std::lock_guard<std::mutex> lock(mu);
              ready = true;
              cv.notify_all();
            },
            [&](int64_t v) {
              std::lock_guard<std::mutex> lock(mu);
              latest = std::max(latest, v);
              cv.notify_all();
            });
      } catch (const evdb::Error& e) {
        st = evdb::Status::from(e);
      } catch (const std::exception& e) {
        st = evdb::Status(EVDB_INTERNAL, e.what());
      } catch (...) {
        st = evdb::Status(EVDB_INTERNAL, "unknown error in the listener");
      }
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      listen_status = st;
      cv.notify_all();
    });

    int64_t next = std::max<int64_t>(opt.from, 1);
    // Prints every event >= next in one snapshot; advances next.
    auto print_from_next = [&] {
      db.tx_read_only(
          [&](evdb::TxRO& tx) {
            for (;;) {
              std::vector<evdb::Event> events = tx.read_events(next, kBatch);
              for (const auto& e : events) print_event(e, opt.format);
              if (!events.empty()) next = events.back().version + 1;
              if (events.size() < kBatch) break;
            }
          },
          &s.ctx());
      std::fflush(stdout);
    };

    evdb::Status result;
    try {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return ready || done || s.interrupted_locked(); });
      // Subscribed: everything committed from now on will be reported, and
      // everything before is read now. Header only once we know we can run.
      if (ready && !s.interrupted_locked()) {
        lock.unlock();
        print_header(opt.format, opt.no_header);
        print_from_next();
        lock.lock();
        for (;;) {
          cv.wait(lock, [&] { return latest >= next || done || s.interrupted_locked(); });
          if (done || s.interrupted_locked()) break;
          lock.unlock();
          int64_t before = next;
          print_from_next();
          lock.lock();
          // Reported but not visible yet (should not happen): do not spin.
          if (next == before)
            cv.wait_for(lock, std::chrono::milliseconds(10),
                        [&] { return done || s.interrupted_locked(); });
        }
      }
    } catch (const evdb::Error& e) {
      result = evdb::Status::from(e);
    }
    s.ctx().cancel();
    listener.join();
    std::fflush(stdout);
    if (s.interrupted()) return int{kExitOk};  // Ctrl-C / SIGTERM: the normal end
    if (!result.ok()) result.throw_if_error();
    listen_status.throw_if_error();
    return int{kExitOk};
  });
}

int cmd_projection(const CommonOptions& common, const ProjectionOptions& opt) {
  return guarded("projection", common, [&](Session& s) {
    if (opt.action == "set" && !opt.version)
      throw evdb::InvalidArgument("set needs a VERSION: evdb projection URI set ID VERSION");
    if (opt.action != "set" && opt.version)
      throw evdb::InvalidArgument(opt.action + " takes no VERSION (got " +
                                  std::to_string(*opt.version) + ")");
    evdb::DB db = evdb::DB::open(opt.uri, &s.ctx());
    int64_t v = 0;
    if (opt.action == "get") {
      v = db.tx_read_only([&](evdb::TxRO& tx) { return tx.read_projection_version(opt.id); },
                          &s.ctx());
    } else if (opt.action == "init") {
      v = db.tx_rw([&](evdb::TxRW& tx) { return tx.init_projection_version(opt.id); }, &s.ctx());
    } else if (opt.action == "set") {
      db.tx_rw([&](evdb::TxRW& tx) { tx.set_projection_version(opt.id, *opt.version); }, &s.ctx());
      v = *opt.version;
    } else {
      throw evdb::InvalidArgument("unknown projection action '" + opt.action +
                                  "' (expected get, init or set)");
    }
    std::printf("%lld\n", static_cast<long long>(v));
    return int{kExitOk};
  });
}

}  // namespace evdb::cli
