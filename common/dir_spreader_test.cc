// Shards land in different block groups of a real ext4 image; elsewhere they are plain
// directories; a reopen keeps them.
#include "common/dir_spreader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <set>

#include "common/fs.h"
#include "common/loop_ext4_test_util.h"

namespace tarmac {
namespace {

ino_t inode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_ino;
}

class DirSpreaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = fs::make_temp_dir("dir-spreader");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
  }
  void TearDown() override {
    image_.reset();
    if (!dir_.empty()) (void)fs::remove_all(dir_);
  }

  std::unique_ptr<testing::LoopExt4> image_;
  std::string dir_;
};

TEST_F(DirSpreaderTest, ShardsSitInDifferentBlockGroupsAndWhatIsMadeInThemStays) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts)";
  // 8 block groups of 8192 inodes each, no flex groups: a group is inode number / 8192.
  image_ = std::make_unique<testing::LoopExt4>(dir_);
  std::string why;
  if (!image_->mount("1G", "-O ^flex_bg -N 65536", &why)) GTEST_SKIP() << why;
  constexpr ino_t kInodesPerGroup = 8192;
  std::string root = image_->path();
  auto group = [&](const std::string& path) { return (inode_of(path) - 1) / kInodesPerGroup; };

  // Without the spreader every directory stays in its parent's group.
  ASSERT_TRUE(fs::make_dirs(root + "/plain/a").ok());
  ASSERT_TRUE(fs::make_dirs(root + "/plain/b").ok());
  EXPECT_EQ(group(root + "/plain/a"), group(root + "/plain/b"));

  auto spreader = DirSpreader::open(root + "/spread", 4, 0711);
  ASSERT_TRUE(spreader.ok()) << spreader.error().what();
  std::set<ino_t> groups;
  for (int i = 0; i < 4; ++i) {
    std::string shard = (*spreader)->next();
    groups.insert(group(shard));
    // A directory made in a shard, and what is made in it after it has moved, stay with it.
    std::string made = shard + "/v" + std::to_string(i);
    ASSERT_TRUE(fs::make_dirs(made).ok());
    std::string moved = root + "/plain/v" + std::to_string(i);
    ASSERT_EQ(::rename(made.c_str(), moved.c_str()), 0);
    ASSERT_TRUE(fs::make_dirs(moved + "/upper").ok());
    ASSERT_TRUE(fs::write_file(moved + "/meta.json", "{}").ok());
    EXPECT_EQ(group(moved), group(shard));
    EXPECT_EQ(group(moved + "/upper"), group(shard));
    EXPECT_EQ(group(moved + "/meta.json"), group(shard));
  }
  EXPECT_GE(groups.size(), 3u) << "the shards share block groups";
}

TEST_F(DirSpreaderTest, ElsewhereShardsArePlainDirectoriesTakenInTurn) {
  auto spreader = DirSpreader::open(dir_ + "/spread", 3, 0700);
  ASSERT_TRUE(spreader.ok()) << spreader.error().what();
  EXPECT_EQ((*spreader)->next(), dir_ + "/spread/s0");
  EXPECT_EQ((*spreader)->next(), dir_ + "/spread/s1");
  EXPECT_EQ((*spreader)->next(), dir_ + "/spread/s2");
  EXPECT_EQ((*spreader)->next(), dir_ + "/spread/s0");
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/spread/s2").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  // Opened again: the shards and what they hold stay.
  ASSERT_TRUE(fs::write_file(dir_ + "/spread/s1/kept", "x").ok());
  auto again = DirSpreader::open(dir_ + "/spread", 3, 0700);
  ASSERT_TRUE(again.ok()) << again.error().what();
  EXPECT_TRUE(fs::exists(dir_ + "/spread/s1/kept"));
}

TEST_F(DirSpreaderTest, BadArgumentsAreNamed) {
  auto none = DirSpreader::open(dir_ + "/spread", 0, 0700);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find(dir_ + "/spread"), std::string::npos);
  ASSERT_TRUE(fs::write_file(dir_ + "/file", "x").ok());
  auto on_file = DirSpreader::open(dir_ + "/file", 2, 0700);
  ASSERT_FALSE(on_file.ok());
  EXPECT_NE(on_file.error().message().find(dir_ + "/file"), std::string::npos)
      << on_file.error().what();
}

}  // namespace
}  // namespace tarmac
