#include "common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>

namespace tarmac::fs {
namespace {

// write_file_atomic replaces content and read_file returns it unchanged.
TEST(Fs, AtomicWriteRoundTrip) {
  auto dir = make_temp_dir("fs-test");
  ASSERT_TRUE(dir.ok()) << dir.error().what();
  std::string path = *dir + "/f";
  ASSERT_TRUE(write_file_atomic(path, "one").ok());
  ASSERT_TRUE(write_file_atomic(path, "two").ok());
  EXPECT_EQ(*read_file(path), "two");
  ASSERT_TRUE(remove_all(*dir).ok());
  EXPECT_FALSE(exists(*dir));
}

// remove_all deletes the link, never what a symlink points to.
TEST(Fs, RemoveAllDoesNotFollowSymlinks) {
  auto dir = make_temp_dir("fs-test");
  auto keep = make_temp_dir("fs-keep");
  ASSERT_TRUE(dir.ok() && keep.ok());
  ASSERT_TRUE(write_file(*keep + "/precious", "x").ok());
  ASSERT_TRUE(make_dirs(*dir + "/a/b").ok());
  ASSERT_EQ(::symlink(keep->c_str(), (*dir + "/a/b/link").c_str()), 0);
  ASSERT_TRUE(remove_all(*dir).ok());
  EXPECT_TRUE(exists(*keep + "/precious"));
  ASSERT_TRUE(remove_all(*keep).ok());
}

// make_dirs: one level or many, again without complaint, never over a file.
TEST(Fs, MakeDirsMakesParentsAndRefusesAFile) {
  auto dir = make_temp_dir("fs-test");
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(make_dirs(*dir + "/one", 0700).ok());
  ASSERT_TRUE(make_dirs(*dir + "/a/b/c", 0700).ok());
  ASSERT_TRUE(make_dirs(*dir + "/a/b/c", 0700).ok());
  ASSERT_TRUE(make_dirs(*dir + "/a/b", 0700).ok());
  ASSERT_TRUE(make_dirs(*dir + "/x//y/z/", 0700).ok());
  EXPECT_TRUE(exists(*dir + "/x/y/z"));
  struct stat st;
  ASSERT_EQ(::stat((*dir + "/a/b/c").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_TRUE(write_file(*dir + "/file", "x").ok());
  auto over_file = make_dirs(*dir + "/file");
  ASSERT_FALSE(over_file.ok());
  EXPECT_NE(over_file.error().message().find(*dir + "/file"), std::string::npos);
  auto under_file = make_dirs(*dir + "/file/sub");
  ASSERT_FALSE(under_file.ok());
  EXPECT_EQ(under_file.error().errnum(), ENOTDIR);
  ASSERT_TRUE(remove_all(*dir).ok());
}

// Errors name the path and carry the errno.
TEST(Fs, ErrorsNameThePath) {
  auto r = read_file("/nonexistent/tarmac/file");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/tarmac/file"), std::string::npos);
  EXPECT_EQ(r.error().errnum(), ENOENT);
}

// The *_at forms: a new file only where nothing is, no symlink followed, every name listed
// whatever an earlier read of the same directory left.
TEST(Fs, AtFormsStayInTheirDirectory) {
  auto dir = make_temp_dir("fs-test");
  ASSERT_TRUE(dir.ok()) << dir.error().what();
  int fd = ::open(dir->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(write_new_file_at(fd, "f", "content", 0600).ok());
  EXPECT_EQ(*read_file_at(fd, "f"), "content");
  struct stat st {};
  ASSERT_EQ(::stat((*dir + "/f").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = write_new_file_at(fd, "f", "other", 0600);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum(), EEXIST);
  EXPECT_NE(again.error().message().find("create f"), std::string::npos) << again.error().what();
  EXPECT_EQ(*read_file(*dir + "/f"), "content");
  ASSERT_EQ(::symlink("f", (*dir + "/link").c_str()), 0);
  auto through = read_file_at(fd, "link");
  ASSERT_FALSE(through.ok());
  EXPECT_EQ(through.error().errnum(), ELOOP);
  for (int round = 0; round < 2; ++round) {
    auto names = list_dir_at(fd);
    ASSERT_TRUE(names.ok()) << names.error().what();
    std::sort(names->begin(), names->end());
    EXPECT_EQ(*names, (std::vector<std::string>{"f", "link"}));
  }
  ::close(fd);
  ASSERT_TRUE(remove_all(*dir).ok());
}

}  // namespace
}  // namespace tarmac::fs
