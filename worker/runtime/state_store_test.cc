#include "worker/runtime/state_store.h"

#include <gtest/gtest.h>

#include "common/fs.h"

namespace tarmac::runtime {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = fs::make_temp_dir("tarmac-state");
    ASSERT_TRUE(dir.ok());
    root_ = *dir;
    store_.emplace(root_ + "/run");
    ASSERT_TRUE(store_->create("c1").ok());
  }
  void TearDown() override { (void)fs::remove_all(root_); }

  static v1::ContainerState sample() {
    v1::ContainerState s;
    s.set_id("c1");
    s.set_status("running");
    s.set_init_pid(4242);
    s.set_cgroup("parent/c1");
    return s;
  }

  std::string root_;
  std::optional<StateStore> store_;
};

// Saved as binary (what load reads) and as JSON (for people); both say the same.
TEST_F(StateStoreTest, SavesBothAndLoadsTheBinary) {
  ASSERT_TRUE(store_->save(sample()).ok());
  EXPECT_TRUE(fs::exists(store_->dir("c1") + "/state.pb"));
  auto json = fs::read_file(store_->dir("c1") + "/state.json");
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"initPid\":4242"), std::string::npos) << *json;
  // The binary is the one read: a JSON edited by hand does not win over it.
  ASSERT_TRUE(fs::write_file(store_->dir("c1") + "/state.json", "{\"id\":\"c1\"}").ok());
  auto loaded = store_->load("c1");
  ASSERT_TRUE(loaded.ok()) << loaded.error().what();
  EXPECT_EQ(loaded->init_pid(), 4242);
  EXPECT_EQ(loaded->cgroup(), "parent/c1");
}

// The "creating" state is written as binary only, and is listed and found all the same: a
// crashed creator's half-made container must still be seen to be cleaned up.
TEST_F(StateStoreTest, BinaryOnlyStateIsListedAndLoaded) {
  v1::ContainerState creating = sample();
  creating.set_status("creating");
  ASSERT_TRUE(store_->save_binary(creating).ok());
  EXPECT_FALSE(fs::exists(store_->dir("c1") + "/state.json"));
  auto ids = store_->ids();
  ASSERT_TRUE(ids.ok()) << ids.error().what();
  EXPECT_EQ(*ids, std::vector<std::string>{"c1"});
  auto loaded = store_->load("c1");
  ASSERT_TRUE(loaded.ok()) << loaded.error().what();
  EXPECT_EQ(loaded->status(), "creating");
}

// State written before the binary copy existed is still found.
TEST_F(StateStoreTest, FallsBackToTheJson) {
  ASSERT_TRUE(store_->save(sample()).ok());
  ASSERT_TRUE(fs::remove_all(store_->dir("c1") + "/state.pb").ok());
  auto loaded = store_->load("c1");
  ASSERT_TRUE(loaded.ok()) << loaded.error().what();
  EXPECT_EQ(loaded->init_pid(), 4242);
}

// A damaged or foreign binary is an error naming the file, never a state made up.
TEST_F(StateStoreTest, BrokenBinaryIsAnErrorNamingTheFile) {
  std::string path = store_->dir("c1") + "/state.pb";
  ASSERT_TRUE(fs::write_file(path, std::string("\xff\xff\xff\xff garbage", 13)).ok());
  auto loaded = store_->load("c1");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message().find(path), std::string::npos) << loaded.error().what();

  // Well-formed, but another container's.
  v1::ContainerState other = sample();
  other.set_id("c2");
  ASSERT_TRUE(fs::write_file(path, other.SerializeAsString()).ok());
  loaded = store_->load("c1");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message().find("c1"), std::string::npos) << loaded.error().what();

  // Empty: a write cut short.
  ASSERT_TRUE(fs::write_file(path, "").ok());
  EXPECT_FALSE(store_->load("c1").ok());
}

TEST_F(StateStoreTest, MissingContainerIsNotFound) {
  auto loaded = store_->load("nope");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().errnum(), ENOENT);
}

}  // namespace
}  // namespace tarmac::runtime
