// workers, land-worker, prune-worker, containers, volumes.
#include <cstdio>
#include <ctime>

#include "fly/context.h"

namespace tarmac::fly {
namespace {

std::string join(const nlohmann::json& list) {
  std::string out;
  if (!list.is_array()) return "none";
  for (const auto& v : list) out += (out.empty() ? "" : ", ") + v.get<std::string>();
  return out.empty() ? "none" : out;
}

std::string age(int64_t start) {
  if (start <= 0) return "n/a";
  int64_t s = std::time(nullptr) - start;
  if (s < 0) s = 0;
  if (s >= 86400) return std::to_string(s / 86400) + "d";
  if (s >= 3600) return std::to_string(s / 3600) + "h" + std::to_string((s % 3600) / 60) + "m";
  return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
}

}  // namespace

int workers(const Global& g, bool details) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  auto all = client->get_json("/api/v1/workers");
  if (!all) return fail(all.error());
  std::vector<std::vector<std::string>> rows, stalled;
  for (const auto& w : *all) {
    std::vector<std::string> row = {
        w.value("name", ""),     std::to_string(w.value("active_containers", 0)),
        w.value("platform", ""), join(w["tags"]),
        text_or_none(w, "team"), w.value("state", ""),
        w.value("version", ""),  age(w.value("start_time", int64_t{0}))};
    if (details) {
      std::string types;
      for (const auto& t : w["resource_types"])
        types += (types.empty() ? "" : ", ") + t.value("type", "");
      row.insert(row.end(), {text_or_none(w, "addr"), std::to_string(w.value("active_tasks", 0)),
                             types.empty() ? "none" : types});
    }
    (w.value("state", "") == "stalled" ? stalled : rows).push_back(row);
  }
  std::vector<std::string> headers = {"name", "containers", "platform", "tags",
                                      "team", "state",      "version",  "age"};
  if (details) headers.insert(headers.end(), {"address", "active tasks", "resource types"});
  print_table(headers, rows, g.print_table_headers);
  if (!stalled.empty()) {
    std::printf("\nthe following workers have not checked in recently:\n\n");
    print_table(headers, stalled, true);
    std::printf("\nthese stalled workers can be cleaned up by running:\n\n");
    for (const auto& s : stalled)
      std::printf("    fly -t %s prune-worker -w %s\n", g.target.c_str(), s[0].c_str());
  }
  return 0;
}

int land_worker(const Global& g, const std::string& worker) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  if (auto s = client->put("/api/v1/workers/" + worker + "/land"); !s.ok()) return fail(s.error());
  std::printf("landing '%s'\n", worker.c_str());
  return 0;
}

int prune_worker(const Global& g, const std::string& worker, bool all_stalled) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  std::vector<std::string> names;
  if (all_stalled) {
    auto all = client->get_json("/api/v1/workers");
    if (!all) return fail(all.error());
    for (const auto& w : *all)
      if (w.value("state", "") == "stalled") names.push_back(w.value("name", ""));
  }
  if (!worker.empty()) names.push_back(worker);
  if (names.empty())
    return fail(all_stalled ? "no stalled workers" : "give -w WORKER or --all-stalled");
  for (const auto& n : names) {
    auto r = client->request("PUT", "/api/v1/workers/" + n + "/prune");
    if (!r) return fail(r.error());
    if (r->status / 100 != 2) return fail(http_error("prune " + n, *r));
    std::printf("pruned '%s'\n", n.c_str());
  }
  return 0;
}

int containers(const Global& g) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  auto all = client->get_json("/api/v1/teams/" + client->target().team + "/containers");
  if (!all) return fail(all.error());
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : *all)
    rows.push_back({c.value("id", ""), c.value("worker_name", ""), text_or_none(c, "pipeline_name"),
                    text_or_none(c, "job_name"), text_or_none(c, "build_name"),
                    text_or_none(c, "build_id"), text_or_none(c, "type"),
                    text_or_none(c, "step_name"), text_or_none(c, "attempt")});
  print_table(
      {"handle", "worker", "pipeline", "job", "build #", "build id", "type", "name", "attempt"},
      rows, g.print_table_headers);
  return 0;
}

int volumes(const Global& g, bool details) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  auto all = client->get_json("/api/v1/teams/" + client->target().team + "/volumes");
  if (!all) return fail(all.error());
  std::vector<std::vector<std::string>> rows;
  for (const auto& v : *all) {
    std::string id = v.value("container_handle", "");
    if (id.empty()) id = v.value("path", "");
    if (details && !v.value("parent_handle", "").empty())
      id += " (from " + v.value("parent_handle", "") + ")";
    rows.push_back({v.value("id", ""), v.value("worker_name", ""), v.value("type", ""),
                    id.empty() ? "none" : id});
  }
  print_table({"handle", "worker", "type", "identifier"}, rows, g.print_table_headers);
  return 0;
}

}  // namespace tarmac::fly
