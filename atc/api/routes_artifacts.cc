// Artifacts: `fly execute` uploads its inputs here and downloads its outputs from here.
#include <spdlog/spdlog.h>

#include <thread>

#include "atc/api/context.h"
#include "atc/db/artifacts.h"
#include "atc/engine/placement.h"
#include "common/uuid.h"

namespace tarmac::atc::api {
namespace {

std::string describe(const std::string& platform, const std::vector<std::string>& tags) {
  std::string out = "platform '" + platform + "'";
  if (!tags.empty()) {
    out += ", tags";
    for (const auto& t : tags) out += " '" + t + "'";
  }
  return out;
}

// Takes the upload (a gzipped tar, as the body arrives) into a new volume on a worker the
// team may use.
Response create(ApiContext& ctx, Request& req, const auth::Identity& id) {
  const std::string& team = req.params["team_name"];
  if (!id.may(team, auth::Role::kMember)) return error_response(403, "forbidden");
  std::string platform = req.query["platform"];
  if (platform.empty()) platform = "linux";
  auto tags = query_values(req.query_string, "tags");
  auto candidates = ctx.workers.available(team, platform, tags);
  if (!candidates) return error_status(candidates.error());
  if (candidates->empty())
    return error_response(503, "no workers satisfying: " + describe(platform, tags));
  // Where the upload goes is where its task will most likely run (volume-locality): the
  // worker with the fewest build containers, as steps are placed.
  auto chosen =
      engine::narrow(ctx.pool, std::move(*candidates), {{"fewest-build-containers"}, 0}, {});
  if (!chosen) return error_status(chosen.error());
  const db::WorkerRecord& worker = chosen->front();
  auto client = ctx.clients.get(worker.info.address());
  if (!client) return error_status(client.error());

  db::ArtifactStore artifacts(ctx.pool);
  auto artifact = artifacts.begin_upload(team, worker.info.name(), new_uuid());
  if (!artifact) return error_status(artifact.error());
  auto fail = [&](const Error& e) {
    (void)artifacts.fail_upload(*artifact);
    spdlog::warn("api: artifact upload {}: {}", artifact->id, e.what());
    Response r = error_status(e);
    // A body cut off or refused by the worker is the client's to fix, not a server fault.
    if (r.status == 500) r = error_response(400, e.message());
    return r;
  };
  if (auto s = (*client)->empty_volume(artifact->volume_handle, false,
                                       {{"tarmac.artifact", std::to_string(artifact->id)}});
      !s.ok())
    return fail(std::move(s).error().wrap("worker " + worker.info.name()));
  std::string chunk;
  Status in = (*client)->volumes().stream_in(artifact->volume_handle, "",
                                             baggageclaim::tar::Encoding::kGzip,
                                             [&]() -> Result<std::string_view> {
                                               auto next = req.body_stream->read();
                                               if (!next) return std::move(next).error();
                                               chunk = std::move(*next);
                                               return std::string_view(chunk);
                                             });
  if (!in.ok()) return fail(std::move(in).error().wrap("upload"));
  if (auto s = artifacts.complete_upload(*artifact); !s.ok()) return fail(s.error());
  return json_response(201, artifact_json(*artifact));
}

// Streams the artifact's volume out as a gzipped tar while the server sends it on.
Response get(ApiContext& ctx, Request& req, const auth::Identity& id) {
  const std::string& team = req.params["team_name"];
  if (!id.may(team, auth::Role::kMember)) return error_response(403, "forbidden");
  auto artifact_id = parse_id(req.params["artifact_id"]);
  if (!artifact_id)
    return error_response(400,
                          "artifact id \"" + req.params["artifact_id"] + "\": expected a number");
  auto artifact = db::ArtifactStore(ctx.pool).find(*artifact_id);
  if (!artifact) return error_status(artifact.error());
  if (!*artifact || (*artifact)->team != team)
    return error_response(404, "artifact " + std::to_string(*artifact_id) + " not found");
  auto worker = ctx.workers.find((*artifact)->worker_name);
  if (!worker) return error_status(worker.error());
  if (!*worker)
    return error_response(404, "artifact " + std::to_string(*artifact_id) + ": its worker " +
                                   (*artifact)->worker_name + " is gone");
  auto client = ctx.clients.get((*worker)->info.address());
  if (!client) return error_status(client.error());

  Response resp;
  resp.headers["Content-Type"] = "application/octet-stream";
  resp.body_stream = std::make_shared<BytePipe>();
  // The producer ends by itself: at the end of the volume, or when the client goes (the
  // pipe is abandoned and the next write fails).
  std::thread([pipe = resp.body_stream, client = *client, handle = (*artifact)->volume_handle]() {
    Status out =
        client->volumes().stream_out(handle, "", baggageclaim::tar::Encoding::kGzip,
                                     [&](std::string_view data) { return pipe->write(data); });
    if (out.ok())
      pipe->close();
    else
      pipe->fail(std::move(out).error().wrap("download"));
  }).detach();
  return resp;
}

}  // namespace

nlohmann::json artifact_json(const db::ArtifactRecord& a) {
  return {{"id", a.id}, {"name", a.name}, {"build_id", a.build_id}, {"created_at", a.created_at}};
}

void add_artifact_routes(Router& r, ApiContext& ctx) {
  r.add_streaming(
      "POST", "/api/v1/teams/:team_name/artifacts",
      authed(ctx, [&ctx](Request& req, const auth::Identity& id) { return create(ctx, req, id); }));
  r.add("GET", "/api/v1/teams/:team_name/artifacts/:artifact_id",
        authed(ctx, [&ctx](Request& req, const auth::Identity& id) { return get(ctx, req, id); }));
}

}  // namespace tarmac::atc::api
