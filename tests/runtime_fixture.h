#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testutil.h"
#include "worker/runtime/runtime.h"

namespace tarmac::testing {

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
