#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace tarmac::atc::db {

// One statement parameter in PostgreSQL's text form; nullopt is SQL NULL. Every value reaches
// the server as a parameter ($1, $2, …), never spliced into the SQL.
using Param = std::optional<std::string>;

Param param(std::string_view s);
Param param(const std::string& s);
Param param(const char* s);
Param param(int64_t v);
Param param(int v);
Param param(bool v);
Param param(std::nullopt_t);
// A text[] literal: {"a","b"} with quotes and backslashes escaped.
Param param(const std::vector<std::string>& v);
template <typename T>
Param param(const std::optional<T>& v) {
  return v ? param(*v) : std::nullopt;
}

// The result of one statement. Rows are read by column name; a missing column or a value of
// the wrong form is a programming error in the query and aborts, as an out-of-range index
// would.
class Rows {
 public:
  class Row {
   public:
    Row(const PGresult* r, int i) : r_(r), i_(i) {}
    bool null(const char* col) const;
    std::string str(const char* col) const;  // "" for NULL
    int64_t i64(const char* col) const;      // 0 for NULL
    bool boolean(const char* col) const;     // false for NULL
    // A text[] column; empty for NULL.
    std::vector<std::string> strings(const char* col) const;

   private:
    int column(const char* col) const;
    const PGresult* r_;
    int i_;
  };

  explicit Rows(PGresult* r) : r_(r, PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool empty() const { return size() == 0; }
  Row operator[](int i) const { return Row(r_.get(), i); }
  // Rows changed by an INSERT/UPDATE/DELETE.
  int64_t affected() const;

 private:
  std::shared_ptr<PGresult> r_;
};

// Parses a PostgreSQL array literal of text ({a,"b c",NULL}); NULL elements are skipped.
std::vector<std::string> parse_text_array(std::string_view literal);

// One connection to PostgreSQL. Errors carry the SQLSTATE in their message and an errno that
// says what the caller can do (see sqlstate.h); a lost connection is EAGAIN and leaves this
// connection broken() for good (the pool makes a new one).
class Connection {
 public:
  // `conninfo`: libpq's "key=value" or URI form.
  static Result<std::unique_ptr<Connection>> connect(const std::string& conninfo);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<Rows> exec(std::string_view sql, const std::vector<Param>& params = {});
  template <typename... A>
  Result<Rows> query(std::string_view sql, const A&... args) {
    return exec(sql, std::vector<Param>{param(args)...});
  }

  // Several statements separated by semicolons, without parameters (migrations).
  Status exec_script(const std::string& sql);

  // True once the server went away.
  bool broken();

 private:
  explicit Connection(PGconn* c) : c_(c) {}
  // Rows, or the error `r` carries (SQLSTATE, or a lost connection).
  Result<Rows> result(PGresult* r);
  PGconn* c_;
};

}  // namespace tarmac::atc::db
