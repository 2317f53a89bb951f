// ext4 with and without a journal on real loop images, and a filesystem that is not ext4.
#include "common/fs_kind.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <memory>

#include "common/fs.h"
#include "common/loop_ext4_test_util.h"

namespace tarmac {
namespace {

class FsKindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts)";
    auto dir = fs::make_temp_dir("fs-kind");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
    mnt_ = dir_ + "/plain";
    ASSERT_TRUE(fs::make_dirs(mnt_).ok());
  }
  void TearDown() override {
    image_.reset();
    if (!dir_.empty()) ::umount2((dir_ + "/plain").c_str(), MNT_DETACH);
    if (!dir_.empty()) (void)fs::remove_all(dir_);
  }

  bool mount_ext4(const std::string& mkfs_options, std::string* why) {
    image_ = std::make_unique<testing::LoopExt4>(dir_);
    if (!image_->mount("32M", mkfs_options, why)) return false;
    mnt_ = image_->path();
    return true;
  }

  std::unique_ptr<testing::LoopExt4> image_;
  std::string dir_, mnt_;
};

TEST_F(FsKindTest, Ext4WithoutAJournalIsTold) {
  std::string why;
  if (!mount_ext4("-O ^has_journal", &why)) GTEST_SKIP() << why;
  auto r = on_ext4_without_journal(mnt_);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_TRUE(*r);
}

TEST_F(FsKindTest, Ext4WithAJournalIsNot) {
  std::string why;
  if (!mount_ext4("", &why)) GTEST_SKIP() << why;
  auto r = on_ext4_without_journal(mnt_);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_FALSE(*r);
}

TEST_F(FsKindTest, OtherFilesystemsAreNot) {
  ASSERT_EQ(::mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=1m"), 0);
  auto r = on_ext4_without_journal(mnt_);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_FALSE(*r);
}

TEST_F(FsKindTest, AMissingPathIsAnErrorNamingIt) {
  auto r = on_ext4_without_journal(dir_ + "/nope");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find(dir_ + "/nope"), std::string::npos) << r.error().what();
}

}  // namespace
}  // namespace tarmac
