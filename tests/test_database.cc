#include "tests/test_database.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "atc/db/migrate.h"
#include "common/fs.h"

namespace tarmac::testing {

std::unique_ptr<PostgresServer> PostgresServer::start() {
  auto dir = fs::make_temp_dir("tarmac-pg");
  if (!dir) {
    ADD_FAILURE() << dir.error().what();
    return nullptr;
  }
  // The server runs as the postgres user: it must reach its data dir inside.
  ::chmod(dir->c_str(), 0711);
  std::unique_ptr<PostgresServer> s(new PostgresServer);
  s->dir_ = *dir;
  atc::db::EmbeddedPostgresOptions o;
  o.data_dir = *dir + "/data";
  o.fsync = false;
  o.die_with_parent = true;
  auto pg = atc::db::EmbeddedPostgres::start(o);
  if (!pg) {
    ADD_FAILURE() << pg.error().what();
    return nullptr;
  }
  s->pg_ = std::move(*pg);
  return s;
}

PostgresServer::~PostgresServer() {
  if (pg_) (void)pg_->stop();
  pg_.reset();
  if (!dir_.empty()) (void)fs::remove_all(dir_);
}

std::string PostgresServer::fresh_database() { return pg_->conninfo(fresh_database_name()); }

std::string PostgresServer::fresh_database_name() {
  std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++databases_);
  auto s = pg_->create_database(name);
  if (!s.ok()) ADD_FAILURE() << s.error().what();
  return name;
}

PostgresServer& shared_postgres() {
  static std::unique_ptr<PostgresServer> server = [] {
    auto s = PostgresServer::start();
    if (!s) std::abort();
    return s;
  }();
  return *server;
}

std::unique_ptr<atc::db::Pool> fresh_pool(bool migrated, int size) {
  atc::db::PoolOptions o;
  o.conninfo = shared_postgres().fresh_database();
  o.size = size;
  auto pool = atc::db::Pool::create(o);
  if (!pool) {
    ADD_FAILURE() << pool.error().what();
    return nullptr;
  }
  if (migrated) {
    auto r = atc::db::migrate(**pool);
    if (!r) ADD_FAILURE() << r.error().what();
  }
  return std::move(*pool);
}

}  // namespace tarmac::testing
