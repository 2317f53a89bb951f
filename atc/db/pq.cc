#include "atc/db/pq.h"

#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "atc/db/sqlstate.h"

namespace tarmac::atc::db {

Param param(std::string_view s) { return std::string(s); }
Param param(const std::string& s) { return s; }
Param param(const char* s) { return std::string(s); }
Param param(int64_t v) { return std::to_string(v); }
Param param(int v) { return std::to_string(v); }
Param param(bool v) { return std::string(v ? "true" : "false"); }
Param param(std::nullopt_t) { return std::nullopt; }

Param param(const std::vector<std::string>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::vector<std::string> parse_text_array(std::string_view s) {
  std::vector<std::string> out;
  if (s.size() < 2 || s.front() != '{' || s.back() != '}') return out;
  size_t i = 1, end = s.size() - 1;
  while (i < end) {
    std::string item;
    bool quoted = s[i] == '"';
    if (quoted) {
      ++i;
      while (i < end && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < end) ++i;
        item += s[i++];
      }
      ++i;  // closing quote
    } else {
      while (i < end && s[i] != ',') item += s[i++];
    }
    if (quoted || item != "NULL") out.push_back(std::move(item));
    if (i < end && s[i] == ',') ++i;
  }
  return out;
}

int Rows::Row::column(const char* col) const {
  int c = PQfnumber(r_, col);
  if (c < 0) {
    std::fprintf(stderr, "db: result has no column \"%s\"\n", col);
    std::abort();
  }
  return c;
}

bool Rows::Row::null(const char* col) const { return PQgetisnull(r_, i_, column(col)); }

std::string Rows::Row::str(const char* col) const {
  int c = column(col);
  return std::string(PQgetvalue(r_, i_, c), PQgetlength(r_, i_, c));
}

int64_t Rows::Row::i64(const char* col) const {
  return std::strtoll(PQgetvalue(r_, i_, column(col)), nullptr, 10);
}

bool Rows::Row::boolean(const char* col) const { return PQgetvalue(r_, i_, column(col))[0] == 't'; }

std::vector<std::string> Rows::Row::strings(const char* col) const {
  if (null(col)) return {};
  return parse_text_array(str(col));
}

int64_t Rows::affected() const {
  const char* n = PQcmdTuples(r_.get());
  return n && *n ? std::strtoll(n, nullptr, 10) : 0;
}

namespace {

std::string trimmed(const char* s) {
  std::string m = s ? s : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::connect(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (!c) return Error("connect to the database: out of memory", ENOMEM);
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = trimmed(PQerrorMessage(c));
    PQfinish(c);
    return Error("connect to the database: " + msg, EAGAIN);
  }
  // Errors and notices reach callers as values; libpq's default would print notices.
  PQsetNoticeProcessor(
      c, [](void*, const char*) {}, nullptr);
  std::unique_ptr<Connection> conn(new Connection(c));
  // JIT compiling takes longer than the short statements here ever run (300 ms of JIT for a
  // 60 ms GC scan of 500,000 rows).
  if (auto r = conn->exec("SET jit = off"); !r) return std::move(r).error().wrap("connect");
  return conn;
}

Connection::~Connection() { PQfinish(c_); }

Result<Rows> Connection::exec(std::string_view sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  std::string text(sql);
  return result(PQexecParams(c_, text.c_str(), static_cast<int>(values.size()), nullptr,
                             values.data(), nullptr, nullptr, 0));
}

Status Connection::exec_script(const std::string& sql) {
  auto r = result(PQexec(c_, sql.c_str()));
  if (!r) return std::move(r).error();
  return ok_status();
}

Result<Rows> Connection::result(PGresult* r) {
  if (!r) return Error("database: " + trimmed(PQerrorMessage(c_)), EAGAIN);
  Rows rows(r);
  auto status = PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return rows;
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  if (!state || PQstatus(c_) == CONNECTION_BAD)
    return Error("database connection lost: " + trimmed(PQerrorMessage(c_)), EAGAIN);
  std::string msg = trimmed(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
  return Error(msg + " (SQLSTATE " + state + ")", errno_for_sqlstate(state));
}

bool Connection::broken() {
  if (PQstatus(c_) == CONNECTION_BAD) return true;
  // An idle connection whose server went away has an EOF (or a "terminating connection"
  // message) waiting on its socket: read it now, so the caller's statement is not the one
  // that finds out.
  pollfd p = {PQsocket(c_), POLLIN, 0};
  if (p.fd >= 0 && poll(&p, 1, 0) == 1) {
    if (!PQconsumeInput(c_)) return true;
    while (PGnotify* n = PQnotifies(c_)) PQfreemem(n);
  }
  return PQstatus(c_) == CONNECTION_BAD;
}

}  // namespace tarmac::atc::db
