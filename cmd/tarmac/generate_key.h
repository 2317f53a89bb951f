#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace tarmac::cmd {

struct GenerateKeyOptions {
  std::string type;  // ca, web or worker
  std::string file;  // writes FILE.key and FILE.crt
  std::string ca;    // the CA's FILE (for web and worker)
  std::string name;  // common name; default the file's base name
  std::vector<std::string> hosts;
  int days = 0;  // 0: 10 years for a CA, 825 days otherwise
};

void add_generate_key(CLI::App& app, GenerateKeyOptions& options);
int run_generate_key(const GenerateKeyOptions& options);

}  // namespace tarmac::cmd
