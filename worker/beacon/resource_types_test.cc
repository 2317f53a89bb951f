// Bundled resource types: Concourse's layout read, broken metadata named.
#include "worker/beacon/resource_types.h"

#include <gtest/gtest.h>

#include "common/fs.h"

namespace tarmac::beacon {
namespace {

class ResourceTypesTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = *fs::make_temp_dir("resource-types"); }
  void TearDown() override { ASSERT_TRUE(fs::remove_all(dir_).ok()); }
  void type(const std::string& name, const std::string& json, const char* image = "rootfs.tgz") {
    ASSERT_TRUE(fs::make_dirs(dir_ + "/" + name).ok());
    ASSERT_TRUE(fs::write_file(dir_ + "/" + name + "/resource_metadata.json", json).ok());
    if (image) {
      ASSERT_TRUE(fs::write_file(dir_ + "/" + name + "/" + image, "x").ok());
    }
  }
  std::string dir_;
};

// Every type directory becomes a resource type with its image; other entries are skipped.
TEST_F(ResourceTypesTest, ReadsConcoursesLayout) {
  type("git",
       R"({"type":"git","version":"1.15.0","privileged":false,"unique_version_history":false})");
  type("docker-image", R"({"type":"docker-image","version":"1.8.0","privileged":true})");
  ASSERT_TRUE(fs::make_dirs(dir_ + "/not-a-type").ok());
  auto types = load_resource_types(dir_);
  ASSERT_TRUE(types.ok()) << types.error().what();
  ASSERT_EQ(types->size(), 2u);
  EXPECT_EQ((*types)[0].type(), "docker-image");
  EXPECT_TRUE((*types)[0].privileged());
  EXPECT_EQ((*types)[1].version(), "1.15.0");
  EXPECT_EQ((*types)[1].image(), dir_ + "/git/rootfs.tgz");
}

// Broken metadata is an error naming the file and the field.
TEST_F(ResourceTypesTest, BrokenMetadataNamesFileAndField) {
  struct Case {
    const char* json;
    const char* image;
    const char* expect;
  } cases[] = {
      {"{", "rootfs.tgz", "expected a JSON object"},
      {R"({"version":"1"})", "rootfs.tgz", "type: expected a string"},
      {R"({"type":7})", "rootfs.tgz", "type: expected a string, got 7"},
      {R"({"type":""})", "rootfs.tgz", "type: expected a non-empty name"},
      {R"({"type":"git","privileged":"yes"})", "rootfs.tgz", "privileged: expected true or false"},
      {R"({"type":"git"})", nullptr, "expected its image"},
  };
  for (const Case& c : cases) {
    ASSERT_TRUE(fs::remove_all(dir_ + "/t").ok());
    type("t", c.json, c.image);
    auto types = load_resource_types(dir_);
    ASSERT_FALSE(types.ok()) << c.json;
    EXPECT_NE(types.error().what().find(c.expect), std::string::npos)
        << c.json << " -> " << types.error().what();
    if (c.image) {
      EXPECT_NE(types.error().what().find("resource_metadata.json"), std::string::npos);
    }
  }
  EXPECT_FALSE(load_resource_types(dir_ + "/missing").ok());
}

}  // namespace
}  // namespace tarmac::beacon
