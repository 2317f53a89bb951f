#include "tests/runtime_fixture.h"

#include <unistd.h>

#include <thread>

#include "common/fs.h"

namespace tarmac::testing {

void RuntimeTest::SetUp() {
  if (!is_root()) GTEST_SKIP() << "needs root: creates namespaces, mounts and cgroups";
  auto rt = runtime::make_runtime(test_runtime_options(run_dir_.path()));
  ASSERT_TRUE(rt.ok()) << rt.error().what();
  runtime_ = std::move(*rt);
}

void RuntimeTest::TearDown() {
  if (!runtime_) return;
  auto ids = runtime_->list();
  ASSERT_TRUE(ids.ok());
  for (const std::string& id : *ids) {
    auto c = runtime_->find(id);
    if (c.ok()) {
      EXPECT_TRUE((*c)->destroy().ok());
    }
  }
  remove_cgroup_parent(test_runtime_options(run_dir_.path()).cgroup_parent);
  EXPECT_TRUE(mounts_under(shared_busybox_rootfs()).empty());
}

std::string RuntimeTest::id() const {
  std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c))) c = '-';
  return "t-" + name;
}

runtime::ContainerSpec RuntimeTest::spec(const std::vector<std::string>& args) const {
  runtime::ContainerSpec s;
  s.id = id();
  s.rootfs = shared_busybox_rootfs();
  s.process.args = args;
  s.process.env = {"PATH=/bin", "HOME=/root"};
  s.masked_paths = runtime::default_masked_paths();
  s.readonly_paths = runtime::default_readonly_paths();
  return s;
}

RuntimeTest::Ran RuntimeTest::run(const runtime::ContainerSpec& spec, const std::string& input) {
  Ran ran;
  runtime::StdioConfig io;
  io.mode = runtime::StdioConfig::Mode::kPipes;
  auto made = runtime_->create(spec, io);
  EXPECT_TRUE(made.ok()) << made.error().what();
  if (!made.ok()) return ran;
  if (!input.empty()) {
    ssize_t n = ::write(made->stdio.stdin_fd.get(), input.data(), input.size());
    EXPECT_EQ(n, static_cast<ssize_t>(input.size()));
  }
  made->stdio.stdin_fd.reset();
  std::thread err_reader([&] { ran.err = read_all(made->stdio.stderr_fd.get()); });
  ran.out = read_all(made->stdio.stdout_fd.get());
  err_reader.join();
  auto st = made->container->wait();
  EXPECT_TRUE(st.ok()) << st.error().what();
  if (st.ok()) ran.status = *st;
  auto destroyed = made->container->destroy();
  EXPECT_TRUE(destroyed.ok()) << destroyed.error().what();
  return ran;
}

}  // namespace tarmac::testing
