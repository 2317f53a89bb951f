// intercept (hijack): a shell, or any command, in a build step's container.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "fly/context.h"
#include "fly/hijack.h"

namespace tarmac::fly {
namespace {

std::string describe(const nlohmann::json& c) {
  std::string out;
  if (c.contains("build_id")) out += "build #" + text_or_none(c, "build_name");
  if (c.contains("step_name"))
    out += (out.empty() ? "" : ", ") + ("step: " + text_or_none(c, "step_name"));
  if (c.contains("type")) out += (out.empty() ? "" : ", ") + ("type: " + text_or_none(c, "type"));
  return out;
}

// The container the flags point at; asks which when several match and there is someone to
// ask.
Result<std::string> locate(Client& client, const InterceptOptions& o) {
  if (!o.handle.empty()) return o.handle;
  if (o.build.empty())
    return Error("give the build with -b BUILD (and -s STEP when it has several), or --handle",
                 EINVAL);
  std::string query = "?build_id=" + form_escape(o.build);
  if (!o.step.empty()) query += "&step_name=" + form_escape(o.step);
  if (!o.step_type.empty()) query += "&type=" + form_escape(o.step_type);
  auto list = client.get_json("/api/v1/teams/" + client.target().team + "/containers" + query);
  if (!list) return std::move(list).error();
  std::vector<nlohmann::json> found;
  for (const auto& c : *list)
    if (c.value("state", "created") == "created") found.push_back(c);
  if (found.empty())
    return Error(
        "no containers matched your search parameters!\n\nthey may have expired if your build "
        "hasn't recently finished.",
        ENOENT);
  if (found.size() == 1) return found[0].value("id", "");
  for (size_t i = 0; i < found.size(); ++i)
    std::fprintf(stderr, "%zu: %s\n", i + 1, describe(found[i]).c_str());
  if (!::isatty(STDIN_FILENO))
    return Error("several containers match; narrow it down with -s STEP or --step-type", EINVAL);
  std::fprintf(stderr, "choose a container: ");
  std::string answer;
  if (!std::getline(std::cin, answer)) return Error("no container chosen", EINVAL);
  size_t n = std::strtoul(answer.c_str(), nullptr, 10);
  if (n < 1 || n > found.size()) return Error("no container " + answer, EINVAL);
  return found[n - 1].value("id", "");
}

}  // namespace

int intercept(const Global& g, const InterceptOptions& o) {
  auto client = client_for(g);
  if (!client) return fail(client.error());
  auto handle = locate(*client, o);
  if (!handle) return fail(handle.error());
  bool default_command = o.command.empty();
  nlohmann::json spec = {{"path", default_command ? "bash" : o.command[0]},
                         {"args", nlohmann::json::array()},
                         {"env", nlohmann::json::array()},
                         {"dir", ""},
                         {"user", ""},
                         {"privileged", false}};
  for (size_t i = 1; i < o.command.size(); ++i) spec["args"].push_back(o.command[i]);
  if (const char* term = std::getenv("TERM"); term && ::isatty(STDIN_FILENO))
    spec["env"].push_back(std::string("TERM=") + term);
  if (default_command) {
    // Whether the image has bash, asked before this terminal's input goes anywhere (an
    // attempt that failed would have swallowed it).
    nlohmann::json probe = spec;
    probe["args"] = {"-c", "true"};
    auto found = hijack(client->target(), *handle, probe, false);
    if (!found) return fail(found.error());
    if (found->executable_not_found) {
      std::fprintf(stderr, "Couldn't find \"bash\" on container, retrying with \"sh\"\n");
      spec["path"] = "sh";
    }
  }
  auto r = hijack(client->target(), *handle, spec);
  if (!r) return fail(r.error());
  if (r->executable_not_found)
    return fail("executable not found in the container: " + spec["path"].get<std::string>());
  return r->exit_status;
}

}  // namespace tarmac::fly
