#include "atc/db/pq.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "tests/test_database.h"

namespace tarmac::atc::db {
namespace {

std::unique_ptr<Connection> connect_fresh() {
  auto c = Connection::connect(testing::shared_postgres().fresh_database());
  EXPECT_TRUE(c.ok()) << c.error().what();
  return c ? std::move(*c) : nullptr;
}

// Values travel as parameters: quotes, backslashes and SQL in them are data, not SQL.
TEST(PqTest, ParametersRoundTrip) {
  auto c = connect_fresh();
  ASSERT_TRUE(c);
  std::string nasty = "it's \"quoted\" \\ ; DROP TABLE x; --";
  auto r = c->query("SELECT $1::text AS s, $2::bigint AS n, $3::boolean AS b, $4::text AS z", nasty,
                    int64_t{-9007199254740993}, true, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ((*r)[0].str("s"), nasty);
  EXPECT_EQ((*r)[0].i64("n"), -9007199254740993);
  EXPECT_TRUE((*r)[0].boolean("b"));
  EXPECT_TRUE((*r)[0].null("z"));
}

// text[] parameters and columns keep commas, quotes, braces, backslashes and empty items.
TEST(PqTest, TextArraysRoundTrip) {
  auto c = connect_fresh();
  ASSERT_TRUE(c);
  std::vector<std::string> tags = {"a", "b,c", "d\"e", "{f}", "g\\h", "", "NULL", "sp ace"};
  auto r = c->query("SELECT $1::text[] AS t, cardinality($1::text[]) AS n", tags);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ((*r)[0].strings("t"), tags);
  EXPECT_EQ((*r)[0].i64("n"), 8);
}

// Broken array literals give what can be read, never a crash or an out-of-bounds read.
TEST(PqTest, ParseTextArrayBrokenInput) {
  EXPECT_TRUE(parse_text_array("").empty());
  EXPECT_TRUE(parse_text_array("{").empty());
  EXPECT_TRUE(parse_text_array("a,b").empty());
  EXPECT_EQ(parse_text_array("{}"), std::vector<std::string>{});
  EXPECT_EQ(parse_text_array("{\"unterminated}"), std::vector<std::string>{"unterminated"});
  EXPECT_EQ(parse_text_array("{\"a\\\"}"), std::vector<std::string>{"a\""});
  EXPECT_EQ(parse_text_array("{a,NULL,\"NULL\"}"), (std::vector<std::string>{"a", "NULL"}));
}

// SQLSTATEs become errnos a caller can act on, and the message keeps the SQLSTATE.
TEST(PqTest, SqlStatesMapToErrnos) {
  auto c = connect_fresh();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->exec("CREATE TABLE p (id int PRIMARY KEY)").ok());
  ASSERT_TRUE(c->exec("CREATE TABLE ch (p int REFERENCES p(id), v int CHECK (v > 0))").ok());
  ASSERT_TRUE(c->query("INSERT INTO p VALUES ($1)", 1).ok());

  auto dup = c->query("INSERT INTO p VALUES ($1)", 1);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().errnum(), EEXIST);
  EXPECT_NE(dup.error().message().find("SQLSTATE 23505"), std::string::npos);

  auto fk = c->query("INSERT INTO ch VALUES ($1, 1)", 2);
  ASSERT_FALSE(fk.ok());
  EXPECT_EQ(fk.error().errnum(), ENOENT);

  auto check = c->query("INSERT INTO ch VALUES ($1, 0)", 1);
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.error().errnum(), EINVAL);

  auto bad_type = c->query("SELECT $1::integer", "twelve");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.error().errnum(), EINVAL);

  auto syntax = c->exec("SELEC 1");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().errnum(), EIO);
  EXPECT_NE(syntax.error().message().find("42601"), std::string::npos);
}

// A server that is not there is EAGAIN with libpq's reason.
TEST(PqTest, ConnectFailureIsRetryable) {
  auto c = Connection::connect("host=127.0.0.1 port=1 dbname=x connect_timeout=2");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().errnum(), EAGAIN);
  EXPECT_NE(c.error().message().find("connect to the database"), std::string::npos);
}

TEST(PqTest, AffectedRows) {
  auto c = connect_fresh();
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->exec("CREATE TABLE t (v int)").ok());
  auto r = c->exec("INSERT INTO t SELECT generate_series(1, 5)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->affected(), 5);
}

}  // namespace
}  // namespace tarmac::atc::db
