// builds, abort-build, watch.
#include <cstdio>
#include <ctime>

#include "fly/context.h"
#include "fly/sse.h"

namespace tarmac::fly {

int builds(const Global& g, int count, bool all_teams, const std::string& team) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  std::string route = "/api/v1/builds?limit=" + std::to_string(count);
  if (!all_teams)
    route = "/api/v1/teams/" + (team.empty() ? client->target().team : team) +
            "/builds?limit=" + std::to_string(count);
  auto all = client->get_json(route);
  if (!all) return fail(all.error());
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : *all) {
    std::string name = b.contains("job_name") && b["job_name"].is_string()
                           ? b.value("pipeline_name", "") + "/" + b.value("job_name", "") + "/" +
                                 b.value("name", "")
                           : "one-off";
    int64_t start = b.value("start_time", int64_t{0}), end = b.value("end_time", int64_t{0});
    rows.push_back({std::to_string(b.value("id", int64_t{0})), name, b.value("status", ""),
                    show_time(start), show_time(end), show_duration(start, end),
                    b.value("team_name", ""), text_or_none(b, "created_by")});
  }
  print_table({"id", "name", "status", "start", "end", "duration", "team", "created by"}, rows,
              g.print_table_headers);
  return 0;
}

int abort_build(const Global& g, const std::string& build) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  if (auto s = client->put("/api/v1/builds/" + build + "/abort"); !s.ok()) return fail(s.error());
  std::printf("build successfully aborted\n");
  return 0;
}

int watch(const Global& g, const std::string& build, bool timestamps) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  auto b = client->get_json("/api/v1/builds/" + build);
  if (!b) return fail(b.error());
  std::string status;
  std::string last_id;
  bool ended = false, line_start = true;
  SseParser parser([&](const SseEvent& e) {
    if (!e.id.empty()) last_id = e.id;
    if (e.name == "end") {
      ended = true;
      return false;
    }
    auto msg = nlohmann::json::parse(e.data, nullptr, false);
    if (!msg.is_object()) return true;
    const std::string type = msg.value("event", "");
    const auto& data = msg["data"];
    if (type == "log") {
      std::string payload = data.value("payload", "");
      if (timestamps) {
        time_t t = data.value("time", int64_t{0});
        tm local{};
        localtime_r(&t, &local);
        char stamp[16];
        std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
        std::string out;
        for (char c : payload) {
          if (line_start) out += std::string(stamp) + "  ";
          out += c;
          line_start = c == '\n';
        }
        payload = out;
      }
      std::fwrite(payload.data(), 1, payload.size(), stdout);
      std::fflush(stdout);
    } else if (type == "error") {
      std::fprintf(stderr, "%s\n", data.value("message", "").c_str());
    } else if (type == "selected-worker") {
      std::printf("selected worker: %s\n", data.value("selected_worker", "").c_str());
    } else if (type == "initialize-task") {
      std::printf("initializing\n");
    } else if (type == "waiting-for-worker") {
      std::printf("waiting for a suitable worker\n");
    } else if (type == "status") {
      status = data.value("status", "");
    }
    return true;
  });
  // A stream cut short (web node restarted, network) resumes after the last event seen.
  for (int attempt = 0; !ended && attempt < 10; ++attempt) {
    std::map<std::string, std::string> headers = {{"Accept", "text/event-stream"}};
    if (!last_id.empty()) headers["Last-Event-ID"] = last_id;
    auto r = client->stream("/api/v1/builds/" + build + "/events", headers,
                            [&](const std::string& chunk) { return parser.feed(chunk); });
    if (r && *r / 100 != 2) return fail("watch build " + build + ": " + std::to_string(*r));
    if (!ended) {
      struct timespec pause = {1, 0};
      nanosleep(&pause, nullptr);
    }
  }
  if (!ended) return fail("watch build " + build + ": the event stream kept breaking");
  if (status.empty()) {
    auto final = client->get_json("/api/v1/builds/" + build);
    if (final) status = (*final).value("status", "");
  }
  std::printf("%s\n", status.c_str());
  return exit_code_for(status);
}

}  // namespace tarmac::fly
