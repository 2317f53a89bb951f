// ext4 with and without a journal on real loop images, and a filesystem that is not ext4.
#include "common/fs_kind.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>

#include "common/fs.h"

namespace tarmac {
namespace {

class FsKindTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (mounts)";
    auto dir = fs::make_temp_dir("fs-kind");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
    mnt_ = dir_ + "/mnt";
    ASSERT_TRUE(fs::make_dirs(mnt_).ok());
  }
  void TearDown() override {
    if (dir_.empty()) return;
    ::umount2(mnt_.c_str(), MNT_DETACH);
    (void)fs::remove_all(dir_);
  }

  // An ext4 image made with `mkfs_options`, loop-mounted at mnt_; false when this host
  // cannot (no mkfs.ext4 or no loop devices), with the reason in `why`.
  bool mount_ext4(const std::string& mkfs_options, std::string* why) {
    std::string image = dir_ + "/image";
    std::string mkfs = "truncate -s 32M " + image + " && mkfs.ext4 -q -F " + mkfs_options + " " +
                       image + " >/dev/null 2>&1";
    if (std::system(mkfs.c_str()) != 0) {
      *why = "mkfs.ext4 failed or is missing";
      return false;
    }
    if (std::system(("mount -o loop " + image + " " + mnt_ + " 2>/dev/null").c_str()) != 0) {
      *why = "no loop device to mount an image with";
      return false;
    }
    return true;
  }

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
