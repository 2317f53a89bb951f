#include "atc/db/embedded_postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "atc/db/pq.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::atc::db {
namespace {

// The newest server installed by Debian's postgresql packages, unless TARMAC_POSTGRES_BIN
// names another bin directory.
Result<std::string> find_bin_dir() {
  if (const char* env = std::getenv("TARMAC_POSTGRES_BIN"); env && *env) return std::string(env);
  glob_t g{};
  std::vector<std::string> dirs;
  if (::glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string p = g.gl_pathv[i];
      dirs.push_back(p.substr(0, p.size() - std::string("/postgres").size()));
    }
  }
  globfree(&g);
  if (dirs.empty())
    return Error(
        "find PostgreSQL: no /usr/lib/postgresql/*/bin/postgres (install the postgresql "
        "package or set TARMAC_POSTGRES_BIN)",
        ENOENT);
  auto version = [](const std::string& d) {
    return std::atoi(d.c_str() + std::string("/usr/lib/postgresql/").size());
  };
  return *std::max_element(dirs.begin(), dirs.end(),
                           [&](auto& a, auto& b) { return version(a) < version(b); });
}

Result<int> free_port() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("pick a port: socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return sys_error("pick a port: bind 127.0.0.1:0");
  return static_cast<int>(ntohs(a.sin_port));
}

std::string tail(const std::string& text, size_t max = 2000) {
  return text.size() > max ? "…" + text.substr(text.size() - max) : text;
}

}  // namespace

Result<std::unique_ptr<EmbeddedPostgres>> EmbeddedPostgres::start(EmbeddedPostgresOptions o) {
  if (o.data_dir.empty()) return Error("start PostgreSQL: no data dir given", EINVAL);
  std::unique_ptr<EmbeddedPostgres> pg(new EmbeddedPostgres(std::move(o)));
  auto bin = find_bin_dir();
  if (!bin) return std::move(bin).error().wrap("start PostgreSQL");
  pg->bin_dir_ = *bin;
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam(pg->options_.run_as.c_str());
    if (!pw)
      return Error("start PostgreSQL: it refuses to run as root and there is no user \"" +
                       pg->options_.run_as + "\" to run it as",
                   ENOENT);
    pg->uid_ = pw->pw_uid;
    pg->gid_ = pw->pw_gid;
    pg->drop_privileges_ = true;
  }
  TARMAC_RETURN_IF_ERROR(fs::make_dirs(pg->options_.data_dir, 0700), "start PostgreSQL");
  if (pg->drop_privileges_ && ::chown(pg->options_.data_dir.c_str(), pg->uid_, pg->gid_) != 0)
    return sys_error("start PostgreSQL: chown " + pg->options_.data_dir);
  if (pg->options_.port == 0) {
    auto port = free_port();
    if (!port) return std::move(port).error().wrap("start PostgreSQL");
    pg->options_.port = *port;
  }
  TARMAC_RETURN_IF_ERROR(pg->init_cluster(), "start PostgreSQL");
  TARMAC_RETURN_IF_ERROR(pg->launch(), "start PostgreSQL");
  return pg;
}

EmbeddedPostgres::~EmbeddedPostgres() { (void)stop(); }

std::string EmbeddedPostgres::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(options_.port) + " user=" + options_.superuser +
         " dbname=" + dbname + " connect_timeout=5";
}

void EmbeddedPostgres::exec_child(std::vector<std::string>& args) const {
  // Signals as a shell would leave them: our daemon ignores SIGPIPE and blocks the ones its
  // main thread waits for, and both survive exec.
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (drop_privileges_ &&
      (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0))
    _exit(126);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(argv[0], argv.data());
  _exit(127);
}

Status EmbeddedPostgres::init_cluster() {
  if (fs::exists(options_.data_dir + "/PG_VERSION")) return ok_status();
  std::vector<std::string> args = {bin_dir_ + "/initdb",
                                   "-D",
                                   options_.data_dir,
                                   "-U",
                                   options_.superuser,
                                   "--auth=trust",
                                   "-E",
                                   "UTF8",
                                   "--locale=C"};
  if (!options_.fsync) args.push_back("--no-sync");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return sys_error("initdb: pipe");
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("initdb: fork");
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    exec_child(args);
  }
  ::close(out[1]);
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR);)
    if (n > 0) output.append(buf, n);
  ::close(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return Error("initdb " + options_.data_dir + " failed (status " + std::to_string(status) +
                     "): " + tail(output),
                 EIO);
  return ok_status();
}

Status EmbeddedPostgres::launch() {
  std::string log_path = options_.data_dir + "/postgres.log";
  std::vector<std::string> args = {bin_dir_ + "/postgres",        "-D", options_.data_dir,    "-p",
                                   std::to_string(options_.port), "-k", options_.data_dir,    "-c",
                                   "listen_addresses=127.0.0.1",  "-c", "max_connections=300"};
  if (!options_.fsync) {
    args.insert(args.end(), {"-c", "fsync=off", "-c", "full_page_writes=off"});
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return sys_error("postgres: fork");
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      if (drop_privileges_) (void)!::fchown(fd, uid_, gid_);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) ::dup2(null, 0);
    ::setsid();
    if (options_.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
      if (::getppid() != parent) _exit(1);
    }
    exec_child(args);
  }
  pid_ = pid;
  std::string info = conninfo();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      auto log = fs::read_file(log_path);
      return Error("postgres exited at start (status " + std::to_string(status) +
                       "): " + (log ? tail(*log) : std::string("no log")),
                   EIO);
    }
    if (PQping(info.c_str()) == PQPING_OK) return ok_status();
    if (std::chrono::steady_clock::now() > deadline) {
      (void)stop();
      return Error("postgres did not accept connections within 60 s; see " + log_path, ETIMEDOUT);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Status EmbeddedPostgres::stop() {
  if (pid_ <= 0) return ok_status();
  ::kill(pid_, SIGINT);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      // Immediate shutdown: crash recovery on the next start, nothing committed is lost.
      ::kill(pid_, SIGQUIT);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return ok_status();
}

Status EmbeddedPostgres::restart() {
  TARMAC_TRY(stop());
  return launch();
}

Status EmbeddedPostgres::create_database(const std::string& name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
      }))
    return Error("create database \"" + name + "\": only a-z, 0-9 and _ are allowed", EINVAL);
  auto c = Connection::connect(conninfo());
  if (!c) return std::move(c).error().wrap("create database " + name);
  auto r = (*c)->exec("CREATE DATABASE " + name);
  if (!r) return std::move(r).error().wrap("create database " + name);
  return ok_status();
}

}  // namespace tarmac::atc::db
