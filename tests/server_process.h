#pragma once

#include <sys/types.h>

#include <csignal>

#include <string>
#include <vector>

namespace tarmac::testing {

// A server binary run by a test: started with its args, ready once it printed
// "listening on IP:PORT" on stdout; stopped (SIGTERM unless told) and reaped when this goes.
class ServerProcess {
 public:
  // `stderr_path`: where its stderr goes (appended); empty = the test's own.
  explicit ServerProcess(std::vector<std::string> args, std::string stderr_path = "")
      : args_(std::move(args)), stderr_path_(std::move(stderr_path)) {}
  ~ServerProcess() { stop(SIGTERM); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts it and waits for the listening line; returns "" or why not.
  std::string start();
  // Sends `sig`, reaps it, returns its wait status (-1 if it was not running).
  int stop(int sig);
  // Waits for it to exit by itself; its wait status, or -1 if it is still running after
  // `timeout_ms`.
  int wait_exit(int timeout_ms);
  // "" while it runs (or before it started); once it ended by itself, how ("killed by
  // SIGSEGV"): a test that did not stop it reports a crash it would otherwise miss.
  std::string died();
  // A test failure naming `what` if it died by itself, with the end of the log at
  // `log_path`.
  void expect_not_died(const std::string& what, const std::string& log_path);

  pid_t pid() const { return pid_; }
  // What it printed before its listening line.
  const std::vector<std::string>& preamble() const { return preamble_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::vector<std::string> args_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  std::string died_;
  int port_ = 0;
  std::vector<std::string> preamble_;
};

}  // namespace tarmac::testing
