#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace tarmac::atc::db {

struct EmbeddedPostgresOptions {
  // Where the cluster lives: initdb'd on first start, reused after. Its socket is here too.
  std::string data_dir;
  // TCP port on 127.0.0.1; 0 picks a free one (kept across restart()).
  int port = 0;
  // How a free port is picked when `port` is 0 (tests replace it to lose the race for one).
  std::function<Result<int>()> pick_port;
  // The superuser initdb creates; connections from this host are trusted (loopback and the
  // socket only), so no password.
  std::string superuser = "tarmac";
  // Off for throwaway test clusters: data survives a PostgreSQL restart, not a host crash.
  bool fsync = true;
  // As root, PostgreSQL runs as this user (it refuses root).
  std::string run_as = "postgres";
  // The server is sent SIGQUIT when the thread that started it exits (tests).
  bool die_with_parent = false;
};

// A private PostgreSQL server: what `tarmac quickstart` and the test suites run, so neither
// needs a database set up by hand. Stopped (fast shutdown) when this goes.
class EmbeddedPostgres {
 public:
  static Result<std::unique_ptr<EmbeddedPostgres>> start(EmbeddedPostgresOptions options);
  ~EmbeddedPostgres();
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // libpq connection string for `dbname` on this server.
  std::string conninfo(const std::string& dbname = "postgres") const;
  Status create_database(const std::string& name);
  int port() const { return options_.port; }
  pid_t pid() const { return pid_; }

  // Fast shutdown (SIGINT: clients are disconnected, committed data stays) and wait.
  Status stop();
  // stop() then start again on the same port and data dir.
  Status restart();

 private:
  explicit EmbeddedPostgres(EmbeddedPostgresOptions o) : options_(std::move(o)) {}
  // In a forked child: become the server's user (as root) and exec `args`, to be sent
  // SIGQUIT when `die_with` (the parent, if not 0) goes; never returns.
  [[noreturn]] void exec_child(std::vector<std::string>& args, pid_t die_with = 0) const;
  Status init_cluster();
  Status launch();
  bool ready() const;

  EmbeddedPostgresOptions options_;
  std::string bin_dir_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  bool drop_privileges_ = false;
  pid_t pid_ = -1;
};

}  // namespace tarmac::atc::db
