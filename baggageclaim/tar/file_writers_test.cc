// The writer threads of a stream in: every file ends with its content and attributes
// whatever the number of threads and the limits, an error names its file and stops the rest,
// and nothing is left open.
#include "baggageclaim/tar/file_writers.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/fs.h"

namespace tarmac::baggageclaim::tar {
namespace {

size_t open_fds() {
  size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (::readdir(d)) ++n;
  ::closedir(d);
  return n;
}

class FileWritersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = fs::make_temp_dir("file-writers");
    ASSERT_TRUE(dir.ok());
    dir_ = *dir;
    fds_before_ = open_fds();
  }
  void TearDown() override {
    EXPECT_EQ(open_fds(), fds_before_) << "a file was left open";
    (void)fs::remove_all(dir_);
  }
  UniqueFd create(const std::string& name, int flags = O_WRONLY) {
    UniqueFd fd(::open((dir_ + "/" + name).c_str(), flags | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd) << name;
    return fd;
  }
  std::string dir_;
  size_t fds_before_ = 0;
};

FileAttributes attributes(int64_t size, mode_t mode, time_t mtime) {
  FileAttributes a;
  a.size = size;
  a.uid = 1234;
  a.gid = 5678;
  a.mode = mode;
  a.mtime = {mtime, 42};
  return a;
}

// Large and small files interleaved, in blocks out of order and with holes, on 1 to 3
// threads and with limits that make the reading side wait.
TEST_F(FileWritersTest, EveryFileEndsWithItsContentAndAttributes) {
  // tmpfs before 6.6 takes no user.* xattrs (and the writers skip them there, as tar does).
  std::string probe = dir_ + "/probe";
  ASSERT_TRUE(fs::write_file(probe, "").ok());
  bool user_xattrs = ::setxattr(probe.c_str(), "user.probe", "1", 1, 0) == 0;
  for (int threads : {1, 2, 3}) {
    for (size_t limit : {size_t(4096), size_t(16) << 20}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", limit " + std::to_string(limit));
      FileWritersOptions options;
      options.threads = threads;
      options.max_buffered_bytes = limit;
      options.max_open_files = 3;
      auto writers = FileWriters::start(options);
      ASSERT_TRUE(writers.ok()) << writers.error().what();
      std::string prefix = "t" + std::to_string(threads) + "-" + std::to_string(limit) + "-";
      for (int i = 0; i < 40; ++i) {
        std::string name = prefix + std::to_string(i);
        auto file = (*writers)->add(create(name), name);
        ASSERT_TRUE(file.ok()) << file.error().what();
        size_t block = i % 4 == 0 ? 300000 : 100;
        std::string a(block, static_cast<char>('a' + i % 26));
        std::string b(block, static_cast<char>('A' + i % 26));
        // The second block first; a hole between the two; the size past both.
        ASSERT_TRUE((*writers)->write(*file, b, 2 * block).ok());
        ASSERT_TRUE((*writers)->write(*file, a, 0).ok());
        FileAttributes attrs = attributes(4 * block, 0640 + i % 8, 1600000000 + i);
        attrs.xattrs = {{"user.index", std::to_string(i)}};
        ASSERT_TRUE((*writers)->close(*file, std::move(attrs)).ok());
      }
      ASSERT_TRUE((*writers)->finish().ok());
      for (int i = 0; i < 40; ++i) {
        std::string path = dir_ + "/" + prefix + std::to_string(i);
        size_t block = i % 4 == 0 ? 300000 : 100;
        auto content = fs::read_file(path);
        ASSERT_TRUE(content.ok());
        std::string want =
            std::string(block, static_cast<char>('a' + i % 26)) + std::string(block, '\0') +
            std::string(block, static_cast<char>('A' + i % 26)) + std::string(block, '\0');
        EXPECT_EQ(*content, want) << path;
        struct stat st;
        ASSERT_EQ(::stat(path.c_str(), &st), 0);
        EXPECT_EQ(st.st_uid, 1234u);
        EXPECT_EQ(st.st_gid, 5678u);
        EXPECT_EQ(st.st_mode & 07777, 0640u + i % 8);
        EXPECT_EQ(st.st_mtim.tv_sec, 1600000000 + i);
        EXPECT_EQ(st.st_mtim.tv_nsec, 42);
        if (!user_xattrs) continue;
        char value[16] = {};
        ssize_t n = ::getxattr(path.c_str(), "user.index", value, sizeof(value));
        ASSERT_GE(n, 0) << path;
        EXPECT_EQ(std::string(value, n), std::to_string(i));
      }
    }
  }
}

// File capabilities (ping's) and setuid survive the chown and the write that come with them.
TEST_F(FileWritersTest, CapabilitiesAndSetuidSurviveTheChown) {
  auto writers = FileWriters::start({});
  ASSERT_TRUE(writers.ok());
  auto file = (*writers)->add(create("ping"), "bin/ping");
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE((*writers)->write(*file, "ELF", 0).ok());
  // vfs_cap_data revision 2, effective: cap_net_raw (13) permitted.
  std::string cap(20, '\0');
  uint32_t words[5] = {0x02000001, 1u << 13, 0, 0, 0};
  std::memcpy(cap.data(), words, sizeof(words));
  FileAttributes attrs = attributes(3, 04755, 1);
  attrs.xattrs = {{"security.capability", cap}};
  ASSERT_TRUE((*writers)->close(*file, std::move(attrs)).ok());
  ASSERT_TRUE((*writers)->finish().ok());
  std::string path = dir_ + "/ping";
  char value[64];
  ssize_t n = ::getxattr(path.c_str(), "security.capability", value, sizeof(value));
  ASSERT_EQ(n, 20) << "capability removed: " << std::strerror(errno);
  EXPECT_EQ(std::string(value, n), cap);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 1234u);
}

// A write that fails (here: a file open for reading only) is returned naming the entry, by
// finish() and by every later call, and the files queued behind it are closed unwritten.
TEST_F(FileWritersTest, AnErrorNamesItsEntryAndStopsTheRest) {
  FileWritersOptions options;
  options.threads = 1;
  auto writers = FileWriters::start(options);
  ASSERT_TRUE(writers.ok());
  auto bad = (*writers)->add(create("bad", O_RDONLY), "dir/bad");
  ASSERT_TRUE(bad.ok());
  ASSERT_TRUE((*writers)->write(*bad, "x", 0).ok());
  // The writer may have failed by now: then the close says so already (and still closes).
  Status closed = (*writers)->close(*bad, attributes(1, 0644, 1));
  if (!closed.ok()) {
    EXPECT_EQ(closed.error().errnum(), EBADF);
  }
  // Behind it on the one writer, or refused at once if the writer failed already.
  auto behind = (*writers)->add(create("behind"), "behind");
  if (behind.ok()) {
    (void)(*writers)->write(*behind, "y", 0);
    (void)(*writers)->close(*behind, attributes(1, 0600, 1));
  }
  Status done = (*writers)->finish();
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().what().find("entry \"dir/bad\""), std::string::npos)
      << done.error().what();
  EXPECT_EQ(done.error().errnum(), EBADF);
  auto later = (*writers)->add(create("later"), "later");
  ASSERT_FALSE(later.ok());
  EXPECT_NE(later.error().what().find("dir/bad"), std::string::npos);
  auto behind_content = fs::read_file(dir_ + "/behind");
  ASSERT_TRUE(behind_content.ok());
  EXPECT_EQ(*behind_content, "") << "written after the error";
}

// The attribute steps fail as the writes do: here the size of a file open for reading.
TEST_F(FileWritersTest, AnAttributeStepThatFailsNamesItsEntry) {
  auto writers = FileWriters::start({});
  ASSERT_TRUE(writers.ok());
  auto file = (*writers)->add(create("sized", O_RDONLY), "dir/sized");
  ASSERT_TRUE(file.ok());
  (void)(*writers)->close(*file, attributes(5, 0644, 1));
  Status done = (*writers)->finish();
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().what().find("entry \"dir/sized\": set size"), std::string::npos)
      << done.error().what();
}

// A stream refused half-way drops its writers with files handed over but never closed, and
// content still queued: nothing is left open and nothing hangs.
TEST_F(FileWritersTest, DroppedUnfinishedClosesEverything) {
  FileWritersOptions options;
  options.threads = 2;
  options.max_open_files = 8;
  auto writers = FileWriters::start(options);
  ASSERT_TRUE(writers.ok());
  std::string block(1 << 20, 'x');
  for (int i = 0; i < 8; ++i) {
    auto file = (*writers)->add(create("f" + std::to_string(i)), "f" + std::to_string(i));
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*writers)->write(*file, block, 0).ok());
  }
  writers->reset();
}

}  // namespace
}  // namespace tarmac::baggageclaim::tar
