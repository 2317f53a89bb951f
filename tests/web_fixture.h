#pragma once

// A real `tarmac web` process on a fresh database of the test PostgreSQL, an HTTP client
// for its API and a pool on the same database for arranging scenarios.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "atc/db/pool.h"
#include "tests/http_client.h"
#include "tests/server_process.h"
#include "tests/test_database.h"
#include "tests/testutil.h"

namespace tarmac::testing {

class WebProcess {
 public:
  // `db`: a database of `pg`; `extra`: flags after the usual ones.
  WebProcess(PostgresServer& pg, std::string db, std::vector<std::string> extra = {})
      : pg_(pg), db_(std::move(db)), extra_(std::move(extra)) {}

  std::string start() {
    std::vector<std::string> args = {
        bin_dir() + "/tarmac", "web", "--postgres-port", std::to_string(pg_.pg().port()),
        "--postgres-user", "tarmac", "--postgres-database", db_, "--bind-port",
        std::to_string(fixed_port_), "--tsa-bind-port", std::to_string(fixed_registry_port_),
        "--add-local-user", "admin:secret", "--main-team-local-user", "admin", "--gc-interval",
        "0.2",
        // Builds the tests write straight to the database are
        // theirs; the engine takes only those made through the API.
        "--build-tracker-interval", "3600"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    // A checker in front of the binary (the web_memcheck run: valgrind), words split on spaces.
    if (const char* wrapper = std::getenv("TARMAC_TEST_WEB_WRAPPER")) {
      std::vector<std::string> wrapped;
      std::istringstream words(wrapper);
      for (std::string w; words >> w;) wrapped.push_back(w);
      args.insert(args.begin(), wrapped.begin(), wrapped.end());
    }
    process_ = std::make_unique<ServerProcess>(args, log_.path() + "/web.log");
    std::string err = process_->start();
    if (!err.empty()) return err + ": " + log();
    for (const auto& line : process_->preamble())
      if (line.rfind("registry listening on ", 0) == 0)
        registry_port_ = std::atoi(line.c_str() + line.rfind(':') + 1);
    return registry_port_ ? "" : "no registry line";
  }
  void stop() { process_.reset(); }
  // Ends it with `sig` (SIGKILL: as a crash) and starts it again on the same ports, so its
  // workers and clients find it where it was.
  std::string restart(int sig) {
    fixed_port_ = port();
    fixed_registry_port_ = registry_port_;
    process_->stop(sig);
    process_.reset();
    return start();
  }

  int port() const { return process_->port(); }
  int registry_port() const { return registry_port_; }
  std::string registry_address() const { return "127.0.0.1:" + std::to_string(registry_port_); }
  pid_t pid() const { return process_->pid(); }
  // The end of a test: a failure if it ended without being stopped (a crash), or if asked
  // to stop it does not exit 0 (under valgrind: 99 for a memory error), with its log.
  void expect_alive_then_stop() {
    if (!process_) return;
    std::string how = process_->died();
    if (how.empty()) {
      ::kill(process_->pid(), SIGTERM);
      int status = process_->wait_exit(60000);
      if (status == -1) {
        // Hung: SIGABRT has it write a backtrace to its log first.
        ::kill(process_->pid(), SIGABRT);
        if (process_->wait_exit(5000) == -1) process_->stop(SIGKILL);
        how = "did not exit within 60 s of SIGTERM";
      } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        how = "stopped with wait status " + std::to_string(status) + " (SIGTERM; 0 expected)";
      }
    } else {
      how += " during the test";
    }
    process_.reset();
    // Much of it: under valgrind each error is a few KiB.
    if (!how.empty())
      ADD_FAILURE() << "tarmac web " << how << "; the end of its log:\n" << tail(log(), 32768);
  }
  std::string log() const {
    std::string out;
    run_host("cat " + log_.path() + "/web.log", &out);
    return out;
  }

  // A bearer token for `user`, or "" (and a test failure).
  std::string login(const std::string& user, const std::string& password) {
    auto r =
        http(port(), "POST", "/sky/issuer/token", "",
             "grant_type=password&username=" + user + "&password=" + password + "&scope=openid",
             {{"Content-Type", "application/x-www-form-urlencoded"}});
    auto j = r.json();
    if (r.status != 200 || !j.is_object() || !j.contains("access_token")) {
      ADD_FAILURE() << "login " << user << ": " << r.status << " " << r.body;
      return "";
    }
    return j["access_token"].get<std::string>();
  }

 private:
  PostgresServer& pg_;
  std::string db_;
  std::vector<std::string> extra_;
  TempDir log_{"tarmac-web-log"};
  std::unique_ptr<ServerProcess> process_;
  int registry_port_ = 0;
  int fixed_port_ = 0, fixed_registry_port_ = 0;  // 0: any
};

class WebFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = shared_postgres().fresh_database_name();
    web_ = std::make_unique<WebProcess>(shared_postgres(), db_, web_args_);
    ASSERT_EQ(web_->start(), "");
    admin_ = web_->login("admin", "secret");
    ASSERT_FALSE(admin_.empty());
    auto pool = atc::db::Pool::create({shared_postgres().pg().conninfo(db_), 4});
    ASSERT_TRUE(pool.ok()) << pool.error().what();
    pool_ = std::move(*pool);
  }

  void TearDown() override {
    if (web_) web_->expect_alive_then_stop();
  }

  HttpReply get(const std::string& target, const std::string& token) {
    return http(web_->port(), "GET", target, token);
  }
  HttpReply put(const std::string& target, const std::string& token, const std::string& body = "") {
    return http(web_->port(), "PUT", target, token, body, {{"Content-Type", "application/json"}});
  }

  // Creates team `team` owned by a new local user `user` (password "secret"); their token.
  std::string team_with_owner(const std::string& team, const std::string& user) {
    // Local users are the web node's flags; a second node process would be needed to add
    // users at run time, so tests add them straight to the table it reads.
    auto hash = pool_->query("SELECT password_hash FROM users WHERE username = 'admin'");
    EXPECT_TRUE(hash.ok());
    EXPECT_TRUE(pool_
                    ->query("INSERT INTO users (username, password_hash) VALUES ($1, $2)", user,
                            (*hash)[0].str("password_hash"))
                    .ok());
    auto r = put("/api/v1/teams/" + team, admin_,
                 R"({"auth":{"owner":{"users":["local:)" + user + R"("],"groups":[]}}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return web_->login(user, "secret");
  }

  std::vector<std::string> web_args_;
  std::string db_;
  std::unique_ptr<WebProcess> web_;
  std::unique_ptr<atc::db::Pool> pool_;
  std::string admin_;
};

}  // namespace tarmac::testing
