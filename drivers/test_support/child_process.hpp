// child_process.hpp — another process for the drivers' tests (a helper that
// holds a transaction open, a writer killed mid-commit): started with its
// stdout on a pipe, read line by line, killed or waited for. Not installed.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace evdb::test_support {

class ChildProcess {
 public:
  // Runs `exe` with `args` (argv[1…]); its stdout comes back through line().
  // Throws std::runtime_error when it cannot be started.
  ChildProcess(const std::string& exe, const std::vector<std::string>& args);
  // Kills (SIGKILL) and reaps the child if it still runs.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next line it printed (without '\n'); "" at the end of its output or
  // after timeout_ms without a line (a safety net so that a broken child
  // cannot hang the test).
  std::string line(int timeout_ms = 30000);
  // Every further line, until it exits.
  std::string rest();
  // Sends signal `sig`.
  void kill(int sig);
  // Waits for the exit; returns the exit code, or 128 + the signal.
  int wait();

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int status_ = -1;
  std::string buf_;
};

}  // namespace evdb::test_support
