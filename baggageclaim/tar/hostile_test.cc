// Hostile archives: every one is refused with an error naming the entry, nothing is written
// outside the volume, and what the volume held before is untouched.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <map>

#include "baggageclaim/tar/tar.h"
#include "baggageclaim/tar/tar_test_util.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim::tar {
namespace {

using testing::Entry;
using testing::make_archive;
using testing::read_from;

// Everything under `dir` as "path: type mode uid gid content-or-target".
std::map<std::string, std::string> snapshot(const std::string& dir, const std::string& rel = "") {
  std::map<std::string, std::string> out;
  auto names = fs::list_dir(dir + rel);
  if (!names.ok()) return out;
  for (const auto& n : *names) {
    std::string path = rel + "/" + n;
    struct stat st;
    if (::lstat((dir + path).c_str(), &st) != 0) continue;
    std::string v = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + " " +
                    std::to_string(st.st_nlink) + " ";
    if (S_ISREG(st.st_mode)) v += fs::read_file(dir + path).value();
    if (S_ISLNK(st.st_mode)) {
      char t[256] = {};
      ::readlink((dir + path).c_str(), t, sizeof t - 1);
      v += t;
    }
    out[path] = v;
    if (S_ISDIR(st.st_mode)) out.merge(snapshot(dir, path));
  }
  return out;
}

class HostileArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown, mknod)";
    base_ = *fs::make_temp_dir("bc-hostile");
    vol_ = base_ + "/vol";
    ASSERT_TRUE(fs::make_dirs(vol_ + "/d/inner").ok());
    ASSERT_TRUE(fs::make_dirs(base_ + "/outside").ok());
    ASSERT_TRUE(fs::write_file(vol_ + "/existing", "keep").ok());
    ASSERT_TRUE(fs::write_file(vol_ + "/d/inner/file", "nested").ok());
    ASSERT_TRUE(fs::write_file(base_ + "/outside/secret", "secret").ok());
    ASSERT_EQ(::symlink("../outside", (vol_ + "/escape").c_str()), 0);
    fd_.reset(::open(vol_.c_str(), O_RDONLY | O_DIRECTORY));
    before_vol_ = snapshot(vol_);
    before_outside_ = snapshot(base_ + "/outside");
    ASSERT_EQ(::stat("/etc/passwd", &passwd_), 0);
  }
  void TearDown() override {
    if (!base_.empty()) (void)fs::remove_all(base_);
  }

  // Streams `data` and checks the refusal: the error names `needle`, nothing changed.
  void expect_refused(const std::string& data, const std::string& needle,
                      ExtractOptions options = {}, const std::string& subpath = ".") {
    Status s = stream_in(fd_.get(), subpath, read_from(data), options);
    ASSERT_FALSE(s.ok()) << "accepted an archive that should be refused (" << needle << ")";
    EXPECT_NE(s.error().what().find(needle), std::string::npos) << s.error().what();
    EXPECT_EQ(snapshot(vol_), before_vol_) << s.error().what();
    EXPECT_EQ(snapshot(base_ + "/outside"), before_outside_);
    struct stat now;
    ASSERT_EQ(::stat("/etc/passwd", &now), 0);
    EXPECT_EQ(now.st_mtim.tv_sec, passwd_.st_mtim.tv_sec);
    EXPECT_EQ(now.st_size, passwd_.st_size);
    EXPECT_FALSE(fs::exists(base_ + "/escape"));
    EXPECT_FALSE(fs::exists(base_ + "/x"));
  }

  ExtractOptions raw() {
    ExtractOptions o;
    o.encoding = Encoding::kRaw;
    return o;
  }

  std::string base_, vol_;
  UniqueFd fd_;
  std::map<std::string, std::string> before_vol_, before_outside_;
  struct stat passwd_;
};

TEST_F(HostileArchiveTest, DotDotName) {
  expect_refused(make_archive({{.name = "../escape", .data = "x"}}), "\"../escape\"", raw());
}

TEST_F(HostileArchiveTest, DotDotInTheMiddle) {
  expect_refused(make_archive({{.name = "a/../../escape", .data = "x"}}), "a/../../escape", raw());
}

TEST_F(HostileArchiveTest, AbsoluteName) {
  expect_refused(make_archive({{.name = "/abs/path", .data = "x"}}), "/abs/path", raw());
}

TEST_F(HostileArchiveTest, DotSlashDotDot) {
  expect_refused(make_archive({{.name = "./../x", .data = "x"}}), "./../x", raw());
}

TEST_F(HostileArchiveTest, ThroughASymlinkToRoot) {
  expect_refused(make_archive({{.name = "link", .type = AE_IFLNK, .link = "/"},
                               {.name = "link/etc/passwd", .data = "owned"}}),
                 "link/etc/passwd", raw());
}

TEST_F(HostileArchiveTest, ThroughASymlinkToParent) {
  expect_refused(
      make_archive({{.name = "up", .type = AE_IFLNK, .link = ".."}, {.name = "up/x", .data = "x"}}),
      "up/x", raw());
}

TEST_F(HostileArchiveTest, ThroughASymlinkChain) {
  expect_refused(make_archive({{.name = "s2", .type = AE_IFLNK, .link = "../outside"},
                               {.name = "s1", .type = AE_IFLNK, .link = "s2"},
                               {.name = "s1/secret", .data = "overwritten"}}),
                 "s1/secret", raw());
}

TEST_F(HostileArchiveTest, ThroughASymlinkAlreadyInTheVolume) {
  expect_refused(make_archive({{.name = "x", .data = "x"}}), "escape", raw(), "escape");
}

TEST_F(HostileArchiveTest, DestinationPathWithDotDot) {
  expect_refused(make_archive({{.name = "x", .data = "x"}}), "../outside", raw(), "../outside");
}

TEST_F(HostileArchiveTest, DirectoryReplacedBySymlinkThenWrittenThrough) {
  expect_refused(make_archive({{.name = "dir", .type = AE_IFDIR, .perm = 0755},
                               {.name = "dir", .type = AE_IFLNK, .link = "../outside"},
                               {.name = "dir/secret", .data = "overwritten"}}),
                 "dir/secret", raw());
}

TEST_F(HostileArchiveTest, HardlinkToAnAbsolutePath) {
  expect_refused(make_archive({{.name = "h", .hardlink = "/etc/passwd"}}), "/etc/passwd", raw());
}

TEST_F(HostileArchiveTest, HardlinkOutOfTheVolume) {
  expect_refused(make_archive({{.name = "h", .hardlink = "../outside/secret"}}),
                 "../outside/secret", raw());
}

TEST_F(HostileArchiveTest, HardlinkToANameNotYetSeen) {
  expect_refused(make_archive({{.name = "h", .hardlink = "later"}, {.name = "later", .data = "x"}}),
                 "\"h\"", raw());
}

TEST_F(HostileArchiveTest, HardlinkToExistingVolumeContent) {
  // A link to something already in the volume would let the stream alias (and later
  // overwrite through) a file it did not bring.
  expect_refused(make_archive({{.name = "h", .hardlink = "existing"}}), "\"h\"", raw());
}

TEST_F(HostileArchiveTest, HardlinkToASymlinkPointingOut) {
  expect_refused(make_archive({{.name = "sl", .type = AE_IFLNK, .link = "/etc/passwd"},
                               {.name = "h", .hardlink = "sl"}}),
                 "\"h\"", raw());
}

TEST_F(HostileArchiveTest, CharDeviceInAnUnprivilegedVolume) {
  expect_refused(
      make_archive(
          {{.name = "mem", .type = AE_IFCHR, .perm = 0666, .rdev_major = 1, .rdev_minor = 1}}),
      "\"mem\"", raw());
}

TEST_F(HostileArchiveTest, BlockDeviceInAnUnprivilegedVolume) {
  expect_refused(
      make_archive(
          {{.name = "disk", .type = AE_IFBLK, .perm = 0666, .rdev_major = 8, .rdev_minor = 0}}),
      "\"disk\"", raw());
}

TEST_F(HostileArchiveTest, OwnerOutsideTheMappedRange) {
  ExtractOptions o = raw();
  o.id_offset = 100000;
  expect_refused(make_archive({{.name = "f", .data = "x", .uid = 4294967290}}), "\"f\"", o);
}

TEST_F(HostileArchiveTest, MoreThanTheLimit) {
  ExtractOptions o = raw();
  o.max_bytes = 1000;
  expect_refused(make_archive({{.name = "ok", .data = std::string(600, 'a')},
                               {.name = "big", .data = std::string(5000, 'b')}}),
                 "limit of 1000 bytes", o);
}

TEST_F(HostileArchiveTest, CompressionBomb) {
  ExtractOptions o;
  o.encoding = Encoding::kGzip;
  o.max_bytes = 1 << 20;
  std::string bomb = make_archive({{.name = "zeros", .data = std::string(64 << 20, '\0')}}, "gzip");
  ASSERT_LT(bomb.size(), 1u << 20);
  Status s = stream_in(fd_.get(), ".", read_from(bomb), o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().errnum(), EFBIG);
  EXPECT_NE(s.error().what().find("\"zeros\""), std::string::npos) << s.error().what();
  EXPECT_EQ(snapshot(vol_), before_vol_);
}

TEST_F(HostileArchiveTest, TruncatedGzip) {
  std::string full = make_archive({{.name = "f", .data = std::string(200000, 'q')}}, "gzip");
  std::string half = full.substr(0, full.size() / 2);
  ExtractOptions o;
  o.encoding = Encoding::kGzip;
  expect_refused(half, "stream in", o);
}

TEST_F(HostileArchiveTest, TruncatedInsideAnEntry) {
  std::string full = make_archive({{.name = "f", .data = std::string(200000, 'q')}});
  expect_refused(full.substr(0, 100000), "\"f\"", raw());
}

TEST_F(HostileArchiveTest, Garbage) {
  expect_refused(std::string(20000, '\x5a'), "stream in", raw());
}

TEST_F(HostileArchiveTest, WrongEncoding) {
  std::string gz = make_archive({{.name = "f", .data = "x"}}, "gzip");
  expect_refused(gz, "raw", raw());
}

TEST_F(HostileArchiveTest, NameLongerThanTheKernelTakes) {
  std::string name = "dir/" + std::string(300, 'n');
  expect_refused(make_archive({{.name = "ok", .data = "x"}, {.name = name, .data = "x"}}),
                 std::string(300, 'n'), raw());
}

TEST_F(HostileArchiveTest, RootReplacedByAFile) {
  expect_refused(make_archive({{.name = "./", .type = AE_IFREG, .data = "x"}}), "root", raw());
}

TEST_F(HostileArchiveTest, ReaderFailsMidStream) {
  std::string data = make_archive({{.name = "a", .data = std::string(100000, 'a')},
                                   {.name = "b", .data = std::string(100000, 'b')}});
  size_t served = 0;
  ReadFn failing = [&]() -> Result<std::string_view> {
    if (served > data.size() / 2) return Error("connection reset");
    std::string_view v(data.data() + served, 4096);
    served += 4096;
    return v;
  };
  Status s = stream_in(fd_.get(), ".", failing, raw());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().what().find("connection reset"), std::string::npos) << s.error().what();
  EXPECT_EQ(snapshot(vol_), before_vol_);
}

TEST_F(HostileArchiveTest, DevicesArePrivilegedOnly) {
  ExtractOptions o = raw();
  o.allow_devices = true;
  std::string data = make_archive(
      {{.name = "null", .type = AE_IFCHR, .perm = 0666, .rdev_major = 1, .rdev_minor = 3}});
  ASSERT_TRUE(stream_in(fd_.get(), ".", read_from(data), o).ok());
  struct stat st;
  ASSERT_EQ(::lstat((vol_ + "/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(major(st.st_rdev), 1u);
  EXPECT_EQ(minor(st.st_rdev), 3u);
}

}  // namespace
}  // namespace tarmac::baggageclaim::tar
