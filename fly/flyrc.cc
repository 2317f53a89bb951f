#include "fly/flyrc.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "common/fs.h"
#include "common/yaml/node.h"

namespace tarmac::fly {

std::string flyrc_path() {
  if (const char* p = std::getenv("FLYRC"); p && *p) return p;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.flyrc";
}

Result<Flyrc> load_flyrc(const std::string& path) {
  Flyrc rc;
  if (!fs::exists(path)) return rc;
  auto text = fs::read_file(path);
  if (!text) return std::move(text).error();
  try {
    YAML::Node root = YAML::Load(*text);
    yaml::Node doc(path, root, "", std::max(root.Mark().line, 0));
    if (doc.is_null()) return rc;
    auto top = yaml::fields(doc, {"targets"});
    if (!top) return std::move(top).error();
    const yaml::Node* targets = top->get("targets");
    if (!targets) return rc;
    auto entries = targets->entries();
    if (!entries) return std::move(entries).error();
    for (const auto& [name, node] : *entries) {
      auto f = yaml::fields(node, {"api", "team", "insecure", "ca_cert", "token"});
      if (!f) return std::move(f).error();
      Target t;
      TARMAC_TRY(f->required("api", t.api));
      TARMAC_TRY(f->text("team", t.team));
      TARMAC_TRY(f->flag("insecure", t.insecure));
      TARMAC_TRY(f->text("ca_cert", t.ca_cert));
      if (const yaml::Node* tok = f->get("token")) {
        auto tf = yaml::fields(*tok, {"type", "value"});
        if (!tf) return std::move(tf).error();
        TARMAC_TRY(tf->text("type", t.token_type));
        TARMAC_TRY(tf->text("value", t.token_value));
      }
      rc.targets[name] = std::move(t);
    }
  } catch (const YAML::Exception& e) {
    return Error(yaml::where(path, e.mark.line) + ": invalid YAML: " + e.msg, EINVAL);
  }
  return rc;
}

Status save_flyrc(const std::string& path, const Flyrc& rc) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "targets" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, t] : rc.targets) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "api" << YAML::Value << t.api;
    out << YAML::Key << "team" << YAML::Value << t.team;
    if (t.insecure) out << YAML::Key << "insecure" << YAML::Value << true;
    if (!t.ca_cert.empty())
      out << YAML::Key << "ca_cert" << YAML::Value << YAML::Literal << t.ca_cert;
    if (!t.token_value.empty()) {
      out << YAML::Key << "token" << YAML::Value << YAML::BeginMap;
      out << YAML::Key << "type" << YAML::Value << t.token_type;
      out << YAML::Key << "value" << YAML::Value << t.token_value;
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap << YAML::EndMap;
  return fs::write_file_atomic(path, std::string(out.c_str()) + "\n", 0600, true);
}

}  // namespace tarmac::fly
