#pragma once

#include <map>
#include <string>

#include "common/result.h"

namespace tarmac::fly {

// One ~/.flyrc target, as Concourse's fly keeps it.
struct Target {
  std::string api;   // https://ci.example.com
  std::string team;  // main
  bool insecure = false;
  std::string ca_cert;  // PEM text
  std::string token_type, token_value;
};

struct Flyrc {
  std::map<std::string, Target> targets;
};

// $HOME/.flyrc (FLYRC overrides, for tests and scripts).
std::string flyrc_path();
// A missing file is an empty one; a broken one is an error naming the file and line.
Result<Flyrc> load_flyrc(const std::string& path);
// Written atomically with mode 0600: it holds tokens.
Status save_flyrc(const std::string& path, const Flyrc& rc);

}  // namespace tarmac::fly
