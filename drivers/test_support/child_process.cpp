// child_process.cpp — see child_process.hpp.
#include "test_support/child_process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

namespace evdb::test_support {

ChildProcess::ChildProcess(const std::string& exe, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  // Everything the child needs is built before fork: only async-signal-safe
  // calls happen between fork and exec.
  std::string path = exe;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  argv.push_back(path.data());
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv(path.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  out_ = fds[0];
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    wait();
  }
  if (out_ >= 0) ::close(out_);
}

std::string ChildProcess::line(int timeout_ms) {
  for (;;) {
    auto nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string l = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return l;
    }
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return "";
    char tmp[4096];
    ssize_t n = ::read(out_, tmp, sizeof tmp);
    if (n <= 0) {
      std::string rest;
      rest.swap(buf_);
      return rest;
    }
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

std::string ChildProcess::rest() {
  std::string all;
  for (std::string l = line(); !l.empty(); l = line()) all += l + "\n";
  return all;
}

void ChildProcess::kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

int ChildProcess::wait() {
  if (pid_ <= 0) return status_;
  int st = 0;
  ::waitpid(pid_, &st, 0);
  pid_ = -1;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return status_;
}

}  // namespace evdb::test_support
