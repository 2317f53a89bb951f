// The web node's worker registry under N simulated workers: each beats every interval with
// its handles (half containers, half volumes, all known to the database), spread evenly, from
// a pool of client threads. Prints p50/p99 heartbeat latency per N, and the database time of
// one GC pass over every row. The peer in the same run: the one UPDATE per beat a registry
// that ignores handles would do (Concourse's heartbeat), timed on the same PostgreSQL.
//
//   build/bin/bench_registry_bench [workers...]   (default: 100 1000; as root)
//   BENCH_HANDLES=1000 BENCH_INTERVAL_S=10 BENCH_ROUNDS=2
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "atc/db/embedded_postgres.h"
#include "atc/db/gc.h"
#include "atc/db/migrate.h"
#include "atc/db/pool.h"
#include "atc/db/workers.h"
#include "atc/registry/service.h"
#include "bench/bench_util.h"
#include "common/grpc/server.h"

using namespace tarmac;
using namespace tarmac::bench;
namespace v1 = tarmac::registry::v1;

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

void report(const char* what, std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  if (samples.empty()) return;
  std::printf("  %-34s n=%zu p50 %.2f ms  p99 %.2f ms  max %.2f ms\n", what, samples.size(),
              percentile(samples, 0.5), percentile(samples, 0.99), samples.back());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {100, 1000};
  int handles = env_int("BENCH_HANDLES", 1000);
  int interval_s = env_int("BENCH_INTERVAL_S", 10);
  int rounds = env_int("BENCH_ROUNDS", 2);

  auto dir = fs::make_temp_dir("tarmac-registry-bench");
  if (!dir) die("temp dir", dir.error());
  ::chmod(dir->c_str(), 0711);
  atc::db::EmbeddedPostgresOptions po;
  po.data_dir = *dir + "/data";
  po.die_with_parent = true;
  auto pg = atc::db::EmbeddedPostgres::start(po);
  if (!pg) die("postgres", pg.error());

  for (int n : counts) {
    std::string db = "bench_" + std::to_string(n);
    if (auto s = (*pg)->create_database(db); !s.ok()) die("create database", s.error());
    auto pool = atc::db::Pool::create({(*pg)->conninfo(db), 16});
    if (!pool) die("pool", pool.error());
    if (auto m = atc::db::migrate(**pool); !m) die("migrate", m.error());
    atc::db::WorkerStore workers(**pool);
    atc::db::GcStore gc(**pool, std::chrono::minutes(5));
    atc::RegistryService service(workers, gc, {});
    auto server = start_server("127.0.0.1:0", {&service}, {});
    if (!server) die("registry", server.error());
    auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server->port),
                                       grpc::InsecureChannelCredentials());
    auto stub = v1::Registry::NewStub(channel);

    // Register every worker, then give each its handles as rows (a finished build owns the
    // containers, so a GC pass has the whole table to look at).
    std::vector<v1::HeartbeatRequest> beats(n);
    for (int w = 0; w < n; ++w) {
      auto& info = *beats[w].mutable_worker();
      info.set_name("w" + std::to_string(w));
      info.set_address("10.0.0.1:7777");
      info.set_heartbeat_interval_ms(interval_s * 1000);
      v1::RegisterRequest req;
      *req.mutable_worker() = info;
      v1::RegisterResponse resp;
      grpc::ClientContext ctx;
      if (!stub->Register(&ctx, req, &resp).ok()) die("register", Error("failed"));
      for (int h = 0; h < handles / 2; ++h) {
        beats[w].add_container_handles("c-" + std::to_string(w) + "-" + std::to_string(h));
        beats[w].add_volume_handles("v-" + std::to_string(w) + "-" + std::to_string(h));
      }
    }
    auto t = Clock::now();
    auto seeded = (*pool)->query(
        "WITH b AS (INSERT INTO builds (name, team_id, status) SELECT '1', id, 'started'"
        " FROM teams WHERE name = 'main' RETURNING id)"
        " INSERT INTO containers (handle, worker_name, state, build_id)"
        " SELECT 'c-' || w || '-' || h, 'w' || w, 'created', b.id"
        " FROM b, generate_series(0, $1 - 1) w, generate_series(0, $2 - 1) h",
        n, handles / 2);
    if (!seeded) die("seed containers", seeded.error());
    seeded = (*pool)->query(
        "INSERT INTO volumes (handle, worker_name, state, type, container_id)"
        " SELECT 'v-' || substr(c.handle, 3), c.worker_name, 'created', 'container', c.id"
        " FROM containers c");
    if (!seeded) die("seed volumes", seeded.error());
    (void)(*pool)->exec("ANALYZE");
    std::printf("%d workers x %d handles (%d rows seeded in %.1f s), beat every %d s, %d rounds\n",
                n, handles, n * handles, ms_since(t) / 1000, interval_s, rounds);

    // Each worker beats at its own offset in the interval.
    std::mutex mu;
    std::vector<double> latencies;
    std::atomic<int> failures{0};
    auto start = Clock::now();
    int threads = 32;
    std::vector<std::thread> clients;
    for (int c = 0; c < threads; ++c)
      clients.emplace_back([&, c] {
        for (int r = 0; r < rounds; ++r)
          for (int w = c; w < n; w += threads) {
            auto due = start + std::chrono::milliseconds(static_cast<int64_t>(
                                   r * interval_s * 1000.0 + w * interval_s * 1000.0 / n));
            std::this_thread::sleep_until(due);
            v1::HeartbeatResponse resp;
            grpc::ClientContext ctx;
            auto t0 = Clock::now();
            auto s = stub->Heartbeat(&ctx, beats[w], &resp);
            double ms = ms_since(t0);
            if (!s.ok() || resp.destroy_containers_size() || resp.destroy_volumes_size())
              ++failures;
            std::lock_guard lock(mu);
            latencies.push_back(ms);
          }
      });
    for (auto& th : clients) th.join();
    report("heartbeat (gRPC, reconcile)", latencies);
    if (failures)
      std::printf("  %d beats failed or were answered with destroys\n", failures.load());

    // The peer: one UPDATE per beat, the whole of a heartbeat that ignores handles.
    std::vector<double> peer;
    for (int i = 0; i < std::min(n, 1000); ++i) {
      auto t0 = Clock::now();
      auto r = (*pool)->query(
          "UPDATE workers SET active_containers = $2, expires_at = now() + interval '30 s'"
          " WHERE name = $1",
          "w" + std::to_string(i), handles / 2);
      peer.push_back(ms_since(t0));
      if (!r) die("peer update", r.error());
    }
    report("peer: one UPDATE per beat", peer);
    std::sort(latencies.begin(), latencies.end());
    std::sort(peer.begin(), peer.end());
    std::printf("  ratio p50 tarmac/peer %.1fx\n",
                percentile(latencies, 0.5) / percentile(peer, 0.5));

    // One GC pass over every row: nothing is an orphan while the build runs, then everything.
    double idle = time_ms([&] { (void)gc.mark_orphans(); });
    (void)(*pool)->exec(
        "UPDATE builds SET status = 'succeeded', end_time = now() - interval '1 h'");
    atc::db::OrphanCounts marked;
    double full = time_ms([&] { marked = *gc.mark_orphans(); });
    std::printf("  GC pass: %.1f ms with no orphans, %.1f ms marking %lld containers\n", idle, full,
                static_cast<long long>(marked.containers));
    server->server->Shutdown();
  }
  (void)(*pg)->stop();
  (void)fs::remove_all(*dir);
  return 0;
}
