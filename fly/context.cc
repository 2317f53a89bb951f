#include "fly/context.h"

namespace tarmac::fly {

Result<Client> client_for(const Global& g) {
  if (g.target.empty())
    return Error("no target specified; give -t TARGET (see `fly targets`)", EINVAL);
  auto rc = load_flyrc(g.flyrc_path);
  if (!rc) return std::move(rc).error();
  auto it = rc->targets.find(g.target);
  if (it == rc->targets.end())
    return Error(
        "unknown target: " + g.target + "; log in with `fly -t " + g.target + " login -c URL`",
        ENOENT);
  return Client(it->second);
}

int fail(const Error& e) { return fail(e.message()); }

int fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string text_or_none(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "none";
  if (j[key].is_string())
    return j[key].get<std::string>().empty() ? "none" : j[key].get<std::string>();
  return j[key].dump();
}

}  // namespace tarmac::fly
