// Build log storage: a build's log kept as tarmac keeps it (event rows while it runs, packed
// into zstd chunks when it ends) against Concourse's build_events layout (one JSON row per
// line: {"time","origin":{"source","id"},"payload"} with its (build_id, event_id) index), on
// the same PostgreSQL, for the same log. Sizes after VACUUM FULL, tables with their indexes.
//
//   build/bin/bench_log_bench [lines]      (as root; default 20000)
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>

#include "atc/db/builds.h"
#include "atc/db/embedded_postgres.h"
#include "atc/db/migrate.h"
#include "atc/db/pool.h"
#include "bench/bench_util.h"

using namespace tarmac;
using namespace tarmac::bench;
namespace db = tarmac::atc::db;

namespace {

// A compiler-and-test-runner kind of log: repeated shapes, varying paths, numbers and ids.
std::vector<std::string> make_log(int lines) {
  std::mt19937 rng(42);
  auto hex = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "0123456789abcdef"[rng() % 16];
    return s;
  };
  const char* dirs[] = {"atc/api", "atc/db", "worker/runtime", "baggageclaim/tar", "fly"};
  std::vector<std::string> out;
  for (int i = 0; i < lines; ++i) {
    std::string line;
    switch (rng() % 4) {
      case 0:
        line = "[" + std::to_string(100 * i / lines) + "%] Building CXX object " + dirs[rng() % 5] +
               "/CMakeFiles/lib.dir/file_" + std::to_string(rng() % 900) + ".cc.o";
        break;
      case 1:
        line = "[       OK ] Suite" + std::to_string(rng() % 40) + ".Case" +
               std::to_string(rng() % 300) + " (" + std::to_string(rng() % 2000) + " ms)";
        break;
      case 2:
        line = "2026-11-23T12:" + std::to_string(10 + rng() % 50) + ":" +
               std::to_string(10 + rng() % 50) + "Z INFO request id=" + hex(16) +
               " status=200 bytes=" + std::to_string(rng() % 100000);
        break;
      default:
        line = "fetching sha256:" + hex(64);
    }
    out.push_back(line + "\n");
  }
  return out;
}

int64_t total_size(db::Pool& pool, const std::string& table) {
  must(pool.exec("VACUUM FULL " + table), "vacuum " + table);
  auto r = must(pool.exec("SELECT pg_total_relation_size('" + table + "') AS n"), "size");
  return r[0].i64("n");
}

}  // namespace

int main(int argc, char** argv) {
  int lines = argc > 1 ? std::atoi(argv[1]) : 20000;
  auto dir = must(fs::make_temp_dir("tarmac-log-bench"), "temp dir");
  ::chmod(dir.c_str(), 0755);
  db::EmbeddedPostgresOptions po;
  po.data_dir = dir + "/pg";
  po.fsync = false;
  auto pg = must(db::EmbeddedPostgres::start(po), "postgres");
  db::PoolOptions o;
  o.conninfo = pg->conninfo("postgres");
  auto pool = must(db::Pool::create(o), "pool");
  must(db::migrate(*pool), "migrate");
  auto log = make_log(lines);
  size_t raw = 0;
  for (const auto& l : log) raw += l.size();

  // Concourse: a row per line.
  must(pool->exec("CREATE TABLE concourse_build_events (build_id integer, type varchar(32) NOT"
                  " NULL, payload text NOT NULL, event_id integer NOT NULL, version text NOT"
                  " NULL)"),
       "concourse table");
  must(pool->exec("CREATE UNIQUE INDEX concourse_build_events_build_id_event_id ON"
                  " concourse_build_events (build_id, event_id)"),
       "concourse index");
  must(pool->transaction([&](db::Connection& c) -> Status {
    for (int i = 0; i < lines; ++i) {
      nlohmann::json data = {{"time", 1700000000 + i / 50},
                             {"origin", {{"source", "stdout"}, {"id", "66f0dfb1"}}},
                             {"payload", log[i]}};
      auto r = c.query(
          "INSERT INTO concourse_build_events (build_id, type, payload, event_id, version)"
          " VALUES (1, 'log', $1, $2, '5.1')",
          data.dump(), i);
      if (!r) return std::move(r).error();
    }
    return ok_status();
  }),
       "concourse rows");

  // tarmac: the same lines as log events of a build (a line per event, the worst case for
  // storage: output that trickles), then compacted when the build ends.
  db::BuildStore builds(*pool);
  auto b = must(builds.create_one_off("main", "{}", "bench"), "build");
  must(builds.start(b.id), "start");
  for (int i = 0; i < lines; ++i) {
    nlohmann::json data = {{"time", 1700000000 + i / 50},
                           {"origin", {{"source", "stdout"}, {"id", "66f0dfb1"}}},
                           {"payload", log[i]}};
    must(builds.append_event(b.id, "log", "5.1", data.dump()), "event");
  }
  int64_t running = total_size(*pool, "build_events");
  must(builds.finish(b.id, "succeeded", 0), "finish");
  double compact_ms = time_ms([&] { must(builds.compact_events(b.id), "compact"); });
  int64_t events_left = total_size(*pool, "build_events");
  int64_t chunks = total_size(*pool, "build_event_chunks");
  int64_t concourse = total_size(*pool, "concourse_build_events");
  double read_ms = time_ms([&] { must(builds.events(b.id, -1, 500), "read"); });

  std::printf("log of %d lines, %zu bytes of text\n", lines, raw);
  std::printf("Concourse, a JSON row per line:       %10lld bytes\n",
              static_cast<long long>(concourse));
  std::printf("tarmac while running (event rows):    %10lld bytes\n",
              static_cast<long long>(running));
  std::printf(
      "tarmac once finished (chunks + rows): %10lld bytes (compaction %.0f ms, full "
      "read %.0f ms)\n",
      static_cast<long long>(chunks + events_left), compact_ms, read_ms);
  std::printf("ratio tarmac finished / Concourse: %.3f (target <= 0.25)\n",
              static_cast<double>(chunks + events_left) / static_cast<double>(concourse));
  pg.reset();
  (void)fs::remove_all(dir);
  return 0;
}
