#include "atc/db/embedded_postgres.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
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

// The kernel's range for the local ports of outgoing connections: a port picked inside it
// may be taken by any client's connect() before PostgreSQL binds it (a parallel test suite
// makes hundreds), and again across restart().
int lowest_ephemeral_port() {
  auto text = fs::read_file("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  if (text) std::sscanf(text->c_str(), "%d", &low);
  return low;
}

// Binds a socket to 127.0.0.1:`port` (0: one the kernel picks) and closes it: the port, if
// it was free.
Result<int> try_port(int port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return sys_error("pick a port: socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  socklen_t len = sizeof a;
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return sys_error("pick a port: bind 127.0.0.1:" + std::to_string(port));
  return static_cast<int>(ntohs(a.sin_port));
}

// A port free on 127.0.0.1 now, below the ephemeral range when it leaves room (only other
// listeners compete there, and start() retries if one wins the race), else any.
Result<int> free_port() {
  constexpr int kLowest = 16384;
  int low = lowest_ephemeral_port();
  thread_local std::mt19937 random(std::random_device{}() ^ static_cast<unsigned>(::getpid()));
  if (low - kLowest >= 1024) {
    std::uniform_int_distribution<int> pick(kLowest, low - 1);
    for (int i = 0; i < 64; ++i)
      if (auto port = try_port(pick(random))) return port;
  }
  return try_port(0);
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
  TARMAC_RETURN_IF_ERROR(pg->init_cluster(), "start PostgreSQL");
  if (pg->options_.port != 0) {
    TARMAC_RETURN_IF_ERROR(pg->launch(), "start PostgreSQL");
    return pg;
  }
  // Between the check that a port is free and PostgreSQL's bind, another server may take
  // it: then another port.
  for (int attempt = 1;; ++attempt) {
    auto port = pg->options_.pick_port ? pg->options_.pick_port() : free_port();
    if (!port) return std::move(port).error().wrap("start PostgreSQL");
    pg->options_.port = *port;
    auto launched = pg->launch();
    if (launched) return pg;
    if (launched.error().errnum() != EADDRINUSE || attempt == 5)
      return std::move(launched).error().wrap("start PostgreSQL");
  }
}

EmbeddedPostgres::~EmbeddedPostgres() { (void)stop(); }

std::string EmbeddedPostgres::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(options_.port) + " user=" + options_.superuser +
         " dbname=" + dbname + " connect_timeout=5";
}

void EmbeddedPostgres::exec_child(std::vector<std::string>& args, pid_t die_with) const {
  // Signals as a shell would leave them: our daemon ignores SIGPIPE and blocks the ones its
  // main thread waits for, and both survive exec.
  ::signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (drop_privileges_ &&
      (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0))
    _exit(126);
  // After the change of user, which clears a parent-death signal set before it.
  if (die_with != 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (::getppid() != die_with) _exit(1);
  }
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

// As pg_ctl tells: postmaster.pid names this server (not one before it in the same data dir)
// and its status line says it accepts connections. A ping of the port would not do: when
// another server took the port first, it answers the ping while ours exits.
bool EmbeddedPostgres::ready() const {
  auto text = fs::read_file(options_.data_dir + "/postmaster.pid");
  if (!text) return false;
  std::istringstream lines(*text);
  std::string pid, status;
  std::getline(lines, pid);
  // The status is the 8th line (LOCK_FILE_LINE_PM_STATUS), padded with spaces.
  for (int i = 1; i < 8; ++i) std::getline(lines, status);
  return lines && std::atoi(pid.c_str()) == pid_ && status.rfind("ready", 0) == 0;
}

Status EmbeddedPostgres::launch() {
  std::string log_path = options_.data_dir + "/postgres.log";
  std::vector<std::string> args = {bin_dir_ + "/postgres",        "-D", options_.data_dir,    "-p",
                                   std::to_string(options_.port), "-k", options_.data_dir,    "-c",
                                   "listen_addresses=127.0.0.1",  "-c", "max_connections=300"};
  if (!options_.fsync) {
    args.insert(args.end(), {"-c", "fsync=off", "-c", "full_page_writes=off"});
  }
  // The log is appended to across starts: only what this one writes tells why it failed.
  struct stat before {};
  size_t log_start =
      ::stat(log_path.c_str(), &before) == 0 ? static_cast<size_t>(before.st_size) : 0;
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
    exec_child(args, options_.die_with_parent ? parent : 0);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (true) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      auto log = fs::read_file(log_path);
      std::string mine = log ? log->substr(std::min(log->size(), log_start)) : "no log";
      bool port_taken = mine.find("could not bind IPv4 address") != std::string::npos &&
                        mine.find("Address already in use") != std::string::npos;
      return Error(
          "postgres exited at start (status " + std::to_string(status) + "): " + tail(mine),
          port_taken ? EADDRINUSE : EIO);
    }
    if (ready()) return ok_status();
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
