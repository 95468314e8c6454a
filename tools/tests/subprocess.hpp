// subprocess.hpp — runs a program for the CLI tests (posix_spawn + pipes).
//
// Test helper only. run() waits for the program and collects its output;
// Child keeps it running, reads its stdout line by line, and signals it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace evdb::testing {

struct RunResult {
  int exit_code = -1;  // exit status, or -1 when killed by a signal
  int term_signal = 0;
  std::string out;
  std::string err;
};

// Extra environment: name -> value (an empty optional removes the variable).
using EnvChanges = std::map<std::string, std::optional<std::string>>;

namespace detail {

inline std::vector<std::string> make_env(const EnvChanges& changes) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string name = kv.substr(0, kv.find('='));
    if (changes.count(name) == 0) env.push_back(kv);
  }
  for (auto& [k, v] : changes)
    if (v) env.push_back(k + "=" + *v);
  return env;
}

inline std::vector<char*> c_vec(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

inline void fill_result(int status, RunResult& r) {
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.term_signal = WTERMSIG(status);
  }
}

// Spawns argv with stdin/stdout/stderr connected to new pipes; returns the pid
// and the parent's ends (in_w, out_r, err_r).
inline pid_t spawn(std::vector<std::string> argv, const EnvChanges& env, int& in_w, int& out_r,
                   int& err_r) {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  // The child starts with default signal handling and an empty mask, whatever
  // the test process uses.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<std::string> envs = make_env(env);
  auto cargv = c_vec(argv);
  auto cenv = c_vec(envs);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, cargv[0], &fa, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
  in_w = in[1];
  out_r = out[0];
  err_r = err[0];
  return pid;
}

}  // namespace detail

// Runs argv[0] (a path) with the arguments, feeds it `input` on stdin, and
// waits for it to end.
inline RunResult run(const std::vector<std::string>& argv, const std::string& input = "",
                     const EnvChanges& env = {}) {
  int in_w, out_r, err_r;
  pid_t pid = detail::spawn(argv, env, in_w, out_r, err_r);
  size_t written = 0;
  if (input.empty()) {
    close(in_w);
    in_w = -1;
  }
  RunResult r;
  bool out_open = true, err_open = true;
  signal(SIGPIPE, SIG_IGN);
  while (out_open || err_open || in_w >= 0) {
    pollfd fds[3] = {
        {out_open ? out_r : -1, POLLIN, 0}, {err_open ? err_r : -1, POLLIN, 0}, {in_w, POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (in_w >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in_w, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        close(in_w);
        in_w = -1;
      }
    }
  }
  close(out_r);
  close(err_r);
  int status = 0;
  waitpid(pid, &status, 0);
  detail::fill_result(status, r);
  return r;
}

// A program left running: read its stdout by lines, then signal and wait.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const EnvChanges& env = {}) {
    int in_w;
    pid_ = detail::spawn(argv, env, in_w, out_r_, err_r_);
    close(in_w);
  }
  ~Child() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_r_ >= 0) close(out_r_);
    if (err_r_ >= 0) close(err_r_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The next stdout line (without '\n'), or nullopt at end of output or when
  // nothing arrives within `guard` (a hang guard, not a timing assertion).
  std::optional<std::string> read_line(std::chrono::milliseconds guard = std::chrono::seconds(60)) {
    auto until = std::chrono::steady_clock::now() + guard;
    for (;;) {
      size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (eof_) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_r_, POLLIN, 0};
      int rc = poll(&p, 1, static_cast<int>(left.count()));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) continue;
      char b[4096];
      ssize_t n = read(out_r_, b, sizeof b);
      if (n > 0) {
        buf_.append(b, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        eof_ = true;
      }
    }
  }

  void signal(int sig) { kill(pid_, sig); }

  // Waits for the end; the rest of stdout and all of stderr are in the result.
  RunResult wait() {
    RunResult r;
    r.out = buf_;
    buf_.clear();
    char b[4096];
    ssize_t n;
    while ((n = read(out_r_, b, sizeof b)) > 0) r.out.append(b, static_cast<size_t>(n));
    while ((n = read(err_r_, b, sizeof b)) > 0) r.err.append(b, static_cast<size_t>(n));
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    detail::fill_result(status, r);
    return r;
  }

 private:
  pid_t pid_ = -1;
  int out_r_ = -1;
  int err_r_ = -1;
  std::string buf_;
  bool eof_ = false;
};

}  // namespace evdb::testing
