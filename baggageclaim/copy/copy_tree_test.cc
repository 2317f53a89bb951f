// The naive driver's copy: a tree comes out the same (modes, owners, times, xattrs,
// hardlinks, symlinks, holes, special files), and broken requests say what is wrong.
#include "baggageclaim/copy/copy_tree.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/fs.h"

namespace tarmac::baggageclaim {
namespace {

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class CopyTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown, mknod)";
    base_ = *fs::make_temp_dir("bc-copy");
    src_ = base_ + "/src";
    dst_ = base_ + "/dst";
    ASSERT_TRUE(fs::make_dirs(src_).ok());
    ASSERT_TRUE(fs::make_dirs(dst_).ok());
  }
  void TearDown() override {
    if (!base_.empty()) (void)fs::remove_all(base_);
  }
  std::string base_, src_, dst_;
};

TEST_F(CopyTreeTest, KeepsEverything) {
  ASSERT_TRUE(fs::make_dirs(src_ + "/dir/sub").ok());
  ASSERT_TRUE(fs::write_file(src_ + "/dir/suid", "x").ok());
  ASSERT_EQ(::chown((src_ + "/dir/suid").c_str(), 1000, 2000), 0);
  ASSERT_EQ(::chmod((src_ + "/dir/suid").c_str(), 06755), 0);
  ASSERT_EQ(::chmod((src_ + "/dir/sub").c_str(), 01777), 0);
  ASSERT_EQ(::link((src_ + "/dir/suid").c_str(), (src_ + "/hard").c_str()), 0);
  ASSERT_EQ(::symlink("/", (src_ + "/to-root").c_str()), 0);
  ASSERT_EQ(::lchown((src_ + "/to-root").c_str(), 33, 33), 0);
  ASSERT_EQ(::mkfifo((src_ + "/fifo").c_str(), 0600), 0);
  ASSERT_EQ(::mknod((src_ + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
  ASSERT_EQ(::setxattr((src_ + "/dir/suid").c_str(), "user.k", "v", 1, 0), 0);
  ASSERT_EQ(::setxattr((src_ + "/dir").c_str(), "trusted.t", "w", 1, 0), 0);
  // 100 MB with two small extents.
  {
    int fd = ::open((src_ + "/sparse").c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "head", 4, 0), 4);
    ASSERT_EQ(::pwrite(fd, "tail", 4, 100 << 20), 4);
    ::close(fd);
  }
  // Holes at the end, all hole: the size is set, no block is written.
  ASSERT_TRUE(fs::write_file(src_ + "/hole-tail", "x").ok());
  ASSERT_EQ(::truncate((src_ + "/hole-tail").c_str(), 3 << 20), 0);
  ASSERT_TRUE(fs::write_file(src_ + "/all-hole", "").ok());
  ASSERT_EQ(::truncate((src_ + "/all-hole").c_str(), 2 << 20), 0);
  struct timespec times[2] = {{1500000000, 0}, {1500000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (src_ + "/dir").c_str(), times, 0), 0);

  Status s = copy_tree(src_, dst_);
  ASSERT_TRUE(s.ok()) << s.error().what();
  struct stat st = lstat_of(dst_ + "/dir/suid");
  EXPECT_EQ(st.st_mode & 07777, 06755u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 2000u);
  EXPECT_EQ(lstat_of(dst_ + "/hard").st_ino, st.st_ino);
  EXPECT_EQ(lstat_of(dst_ + "/dir/sub").st_mode & 07777, 01777u);
  EXPECT_EQ(lstat_of(dst_ + "/dir").st_mtim.tv_sec, 1500000000);
  char buf[8] = {};
  EXPECT_EQ(::readlink((dst_ + "/to-root").c_str(), buf, sizeof buf), 1);
  EXPECT_EQ(lstat_of(dst_ + "/to-root").st_uid, 33u);
  EXPECT_TRUE(S_ISFIFO(lstat_of(dst_ + "/fifo").st_mode));
  struct stat null = lstat_of(dst_ + "/null");
  EXPECT_TRUE(S_ISCHR(null.st_mode));
  EXPECT_EQ(null.st_rdev, makedev(1, 3));
  char v[4] = {};
  EXPECT_EQ(::getxattr((dst_ + "/dir/suid").c_str(), "user.k", v, sizeof v), 1);
  EXPECT_EQ(::getxattr((dst_ + "/dir").c_str(), "trusted.t", v, sizeof v), 1);
  struct stat sparse = lstat_of(dst_ + "/sparse");
  EXPECT_EQ(sparse.st_size, (100 << 20) + 4);
  EXPECT_LT(sparse.st_blocks * 512, 1 << 20);
  auto content = fs::read_file(dst_ + "/sparse");
  EXPECT_EQ(content->substr(0, 4), "head");
  EXPECT_EQ(content->substr(100 << 20), "tail");
  struct stat tail = lstat_of(dst_ + "/hole-tail");
  EXPECT_EQ(tail.st_size, 3 << 20);
  EXPECT_LT(tail.st_blocks * 512, 1 << 20);
  EXPECT_EQ(*fs::read_file(dst_ + "/hole-tail"), "x" + std::string((3 << 20) - 1, '\0'));
  struct stat hole = lstat_of(dst_ + "/all-hole");
  EXPECT_EQ(hole.st_size, 2 << 20);
  EXPECT_EQ(hole.st_blocks, 0);
}

TEST_F(CopyTreeTest, ShiftsIds) {
  ASSERT_TRUE(fs::write_file(src_ + "/f", "x").ok());
  ASSERT_EQ(::chown((src_ + "/f").c_str(), 5, 6), 0);
  CopyOptions o;
  o.id_offset = 100000;
  ASSERT_TRUE(copy_tree(src_, dst_, o).ok());
  EXPECT_EQ(lstat_of(dst_ + "/f").st_uid, 100005u);
  EXPECT_EQ(lstat_of(dst_ + "/f").st_gid, 100006u);
}

TEST_F(CopyTreeTest, FollowsSymlinksWhenAsked) {
  ASSERT_TRUE(fs::make_dirs(base_ + "/elsewhere").ok());
  ASSERT_TRUE(fs::write_file(base_ + "/elsewhere/f", "followed").ok());
  ASSERT_EQ(::symlink("../elsewhere", (src_ + "/link").c_str()), 0);
  CopyOptions o;
  o.follow_symlinks = true;
  ASSERT_TRUE(copy_tree(src_, dst_, o).ok());
  EXPECT_TRUE(S_ISDIR(lstat_of(dst_ + "/link").st_mode));
  EXPECT_EQ(*fs::read_file(dst_ + "/link/f"), "followed");
}

TEST_F(CopyTreeTest, SymlinkLoopIsAnErrorNotAHang) {
  ASSERT_EQ(::symlink(".", (src_ + "/self").c_str()), 0);
  CopyOptions o;
  o.follow_symlinks = true;
  Status s = copy_tree(src_, dst_, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().what().find("self"), std::string::npos) << s.error().what();
}

TEST_F(CopyTreeTest, BadArgumentsAreNamed) {
  Status s = copy_tree(base_ + "/missing", dst_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().what().find("missing"), std::string::npos);
  ASSERT_TRUE(fs::write_file(dst_ + "/occupied", "x").ok());
  s = copy_tree(src_, dst_);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().what().find("not empty"), std::string::npos) << s.error().what();
  ASSERT_TRUE(fs::write_file(base_ + "/file", "x").ok());
  s = copy_tree(base_ + "/file", base_ + "/dst2");
  EXPECT_FALSE(s.ok());
}

TEST_F(CopyTreeTest, DoesNotDescendIntoMounts) {
  ASSERT_TRUE(fs::make_dirs(src_ + "/mnt").ok());
  ASSERT_EQ(::mount("tmpfs", (src_ + "/mnt").c_str(), "tmpfs", 0, "size=1m"), 0);
  ASSERT_TRUE(fs::write_file(src_ + "/mnt/inside", "x").ok());
  Status s = copy_tree(src_, dst_);
  ::umount2((src_ + "/mnt").c_str(), MNT_DETACH);
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_TRUE(fs::exists(dst_ + "/mnt"));
  EXPECT_FALSE(fs::exists(dst_ + "/mnt/inside"));
}

// copy_file_range refuses two filesystems (an overlay and its upper's, as a deep overlay's
// copy-on-write reads its parent): the copy reads and writes instead, holes still kept.
TEST_F(CopyTreeTest, CopiesBetweenFilesystems) {
  ASSERT_EQ(::mount("tmpfs", src_.c_str(), "tmpfs", 0, "size=64m"), 0);
  std::string big(3 << 20, 'b');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  Status written = fs::write_file(src_ + "/big", big);
  int fd = ::open((src_ + "/sparse").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  bool sparse_made =
      fd >= 0 && ::pwrite(fd, "head", 4, 0) == 4 && ::pwrite(fd, "tail", 4, 32 << 20) == 4;
  if (fd >= 0) ::close(fd);
  Status s = copy_tree(src_, dst_);
  ::umount2(src_.c_str(), MNT_DETACH);
  ASSERT_TRUE(written.ok() && sparse_made);
  ASSERT_TRUE(s.ok()) << s.error().what();
  auto copied = fs::read_file(dst_ + "/big");
  ASSERT_TRUE(copied.ok());
  EXPECT_TRUE(*copied == big);
  struct stat st = lstat_of(dst_ + "/sparse");
  EXPECT_EQ(st.st_size, (32 << 20) + 4);
  EXPECT_LT(st.st_blocks * 512, 1 << 20) << "the hole was filled";
  auto sparse = fs::read_file(dst_ + "/sparse");
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(sparse->substr(0, 4), "head");
  EXPECT_EQ(sparse->substr(32 << 20), "tail");
}

}  // namespace
}  // namespace tarmac::baggageclaim
