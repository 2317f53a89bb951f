#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil.h"
#include "worker/runtime/runtime.h"

namespace tarmac::testing {

// A bind mount of a host directory.
inline runtime::Mount bind_mount(const std::string& source, const std::string& destination,
                                 bool readonly = false) {
  runtime::Mount m;
  m.source = source;
  m.destination = destination;
  m.readonly = readonly;
  return m;
}

// A runtime of the test's own (run dir, cgroup parent) on a busybox rootfs; every container
// left over is destroyed and checked gone in TearDown.
class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A spec with full isolation: the test's id, the shared busybox rootfs, default masks.
  runtime::ContainerSpec spec(const std::vector<std::string>& args) const;

  struct Ran {
    runtime::ExitStatus status;
    std::string out;
    std::string err;
  };
  // Creates the container with pipes, feeds `input`, collects output, waits, destroys.
  Ran run(const runtime::ContainerSpec& spec, const std::string& input = "");

  std::string id() const;

  TempDir run_dir_{"tarmac-run"};
  runtime::RuntimePtr runtime_;
};

}  // namespace tarmac::testing
