// What goes out of a volume comes back the same, in every encoding; streams merge into what
// is there as tar -x would.
#include <fcntl.h>

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <algorithm>

#include "baggageclaim/tar/tar.h"
#include "baggageclaim/tar/tar_test_util.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim::tar {
namespace {

using testing::Entry;
using testing::make_archive;
using testing::read_from;

struct stat lstat_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class TarRoundTripTest : public ::testing::TestWithParam<Encoding> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (chown)";
    base_ = *fs::make_temp_dir("bc-roundtrip");
    src_ = base_ + "/src";
    dst_ = base_ + "/dst";
    ASSERT_TRUE(fs::make_dirs(src_ + "/tree/empty").ok());
    ASSERT_TRUE(fs::make_dirs(dst_).ok());
  }
  void TearDown() override {
    if (!base_.empty()) (void)fs::remove_all(base_);
  }

  std::string out(const std::string& subpath, int64_t offset = 0) {
    UniqueFd fd(::open(src_.c_str(), O_RDONLY | O_DIRECTORY));
    std::string data;
    ArchiveOptions o;
    o.encoding = GetParam();
    o.id_offset = offset;
    Status s = stream_out(
        fd.get(), subpath,
        [&](std::string_view d) {
          data.append(d);
          return ok_status();
        },
        o);
    EXPECT_TRUE(s.ok()) << s.error().what();
    return data;
  }

  Status in(const std::string& data, const std::string& subpath, int64_t offset = 0) {
    UniqueFd fd(::open(dst_.c_str(), O_RDONLY | O_DIRECTORY));
    ExtractOptions o;
    o.encoding = GetParam();
    o.id_offset = offset;
    return stream_in(fd.get(), subpath, read_from(data, 1000), o);
  }

  std::string base_, src_, dst_;
};

TEST_P(TarRoundTripTest, KeepsEverythingATreeHolds) {
  std::string t = src_ + "/tree";
  ASSERT_TRUE(fs::write_file(t + "/setuid", "#!/bin/sh\n").ok());
  ASSERT_EQ(::chown((t + "/setuid").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chmod((t + "/setuid").c_str(), 04755), 0);
  ASSERT_EQ(::symlink("/absolute/target", (t + "/abs-link").c_str()), 0);
  ASSERT_EQ(::symlink("setuid", (t + "/rel-link").c_str()), 0);
  ASSERT_EQ(::link((t + "/setuid").c_str(), (t + "/hardlink").c_str()), 0);
  ASSERT_EQ(::mkfifo((t + "/fifo").c_str(), 0640), 0);
  ASSERT_EQ(::setxattr((t + "/setuid").c_str(), "user.note", "hello", 5, 0), 0);
  std::string long_name = t + "/" + std::string(200, 'L');
  ASSERT_TRUE(fs::write_file(long_name, "long").ok());
  ASSERT_EQ(::chmod((t + "/empty").c_str(), 0711), 0);
  struct timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (t + "/empty").c_str(), times, 0), 0);
  // Holes at the end, all hole, nothing: the size comes from the entry, not the data.
  ASSERT_TRUE(fs::write_file(t + "/hole-tail", "x").ok());
  ASSERT_EQ(::truncate((t + "/hole-tail").c_str(), 3 << 20), 0);
  ASSERT_TRUE(fs::write_file(t + "/all-hole", "").ok());
  ASSERT_EQ(::truncate((t + "/all-hole").c_str(), 2 << 20), 0);
  ASSERT_TRUE(fs::write_file(t + "/zero-bytes", "").ok());

  ASSERT_TRUE(in(out("tree"), "copy").ok());
  std::string c = dst_ + "/copy";
  struct stat st = lstat_of(c + "/setuid");
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_EQ(lstat_of(c + "/hardlink").st_ino, st.st_ino);
  char buf[64] = {};
  ASSERT_EQ(::readlink((c + "/abs-link").c_str(), buf, sizeof buf), 16);
  EXPECT_STREQ(buf, "/absolute/target");
  EXPECT_TRUE(S_ISFIFO(lstat_of(c + "/fifo").st_mode));
  char note[16] = {};
  EXPECT_EQ(::getxattr((c + "/setuid").c_str(), "user.note", note, sizeof note), 5);
  EXPECT_STREQ(note, "hello");
  EXPECT_EQ(*fs::read_file(c + "/" + std::string(200, 'L')), "long");
  struct stat e = lstat_of(c + "/empty");
  EXPECT_EQ(e.st_mode & 07777, 0711u);
  EXPECT_EQ(e.st_mtim.tv_sec, 1600000000);
  EXPECT_TRUE(fs::list_dir(c + "/empty")->empty());
  EXPECT_EQ(lstat_of(c + "/hole-tail").st_size, 3 << 20);
  EXPECT_EQ(*fs::read_file(c + "/hole-tail"), "x" + std::string((3 << 20) - 1, '\0'));
  EXPECT_EQ(lstat_of(c + "/all-hole").st_size, 2 << 20);
  EXPECT_EQ(*fs::read_file(c + "/all-hole"), std::string(2 << 20, '\0'));
  EXPECT_EQ(lstat_of(c + "/zero-bytes").st_size, 0);
  // No staging directory stays behind.
  EXPECT_EQ(*fs::list_dir(dst_), std::vector<std::string>{"copy"});
}

// A sparse entry keeps its holes, a trailing one included: its size is the entry's, beyond
// the last data written.
TEST_P(TarRoundTripTest, SparseEntriesKeepTheirHolesToTheEnd) {
  // libarchive takes a sparse entry's data as the file reads, holes as zeros it skips.
  std::string logical = "a" + std::string((2 << 20) - 1, '\0') + "b";
  std::string data = make_archive({
      {.name = "middle",
       .data = logical,
       .declared_size = 4 << 20,
       .sparse = {{0, 1}, {2 << 20, 1}}},
      {.name = "tail", .data = "x", .declared_size = 3 << 20, .sparse = {{0, 1}}},
  });
  ASSERT_LT(data.size(), 1u << 20) << "the writer did not make the entries sparse";
  UniqueFd fd(::open(dst_.c_str(), O_RDONLY | O_DIRECTORY));
  ExtractOptions o;
  o.encoding = Encoding::kRaw;
  Status s = stream_in(fd.get(), ".", read_from(data), o);
  ASSERT_TRUE(s.ok()) << s.error().what();
  struct stat tail = lstat_of(dst_ + "/tail");
  EXPECT_EQ(tail.st_size, 3 << 20);
  EXPECT_LT(tail.st_blocks * 512, 1 << 20);
  EXPECT_EQ(*fs::read_file(dst_ + "/tail"), "x" + std::string((3 << 20) - 1, '\0'));
  struct stat middle = lstat_of(dst_ + "/middle");
  EXPECT_EQ(middle.st_size, 4 << 20);
  EXPECT_LT(middle.st_blocks * 512, 1 << 20);
  auto content = fs::read_file(dst_ + "/middle");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ((*content)[0], 'a');
  EXPECT_EQ((*content)[2 << 20], 'b');
}

TEST_P(TarRoundTripTest, OneFileStreamsUnderItsName) {
  ASSERT_TRUE(fs::write_file(src_ + "/tree/f", "one").ok());
  ASSERT_TRUE(in(out("tree/f"), ".").ok());
  EXPECT_EQ(*fs::read_file(dst_ + "/f"), "one");
}

TEST_P(TarRoundTripTest, IdOffsetsShiftBothWays) {
  ASSERT_TRUE(fs::write_file(src_ + "/tree/f", "x").ok());
  ASSERT_EQ(::chown((src_ + "/tree/f").c_str(), 100007, 100007), 0);
  // Out of host-id storage with the offset: container ids in the stream.
  std::string data = out("tree", 100000);
  ASSERT_TRUE(in(data, "plain").ok());
  EXPECT_EQ(lstat_of(dst_ + "/plain/f").st_uid, 7u);
  // The tree's root belongs to host root, which the mapping does not cover.
  EXPECT_EQ(lstat_of(dst_ + "/plain").st_uid, 65534u);
  ASSERT_TRUE(in(data, "shifted", 200000).ok());
  EXPECT_EQ(lstat_of(dst_ + "/shifted/f").st_uid, 200007u);
}

TEST_P(TarRoundTripTest, MergesIntoWhatIsThere) {
  ASSERT_TRUE(fs::make_dirs(dst_ + "/d/keep").ok());
  ASSERT_TRUE(fs::write_file(dst_ + "/d/keep/old", "old").ok());
  ASSERT_TRUE(fs::write_file(dst_ + "/d/replaced", "old").ok());
  ASSERT_TRUE(fs::make_dirs(dst_ + "/d/dir-becomes-file/sub").ok());
  ASSERT_TRUE(fs::make_dirs(src_ + "/tree/d/keep").ok());
  ASSERT_TRUE(fs::write_file(src_ + "/tree/d/keep/new", "new").ok());
  ASSERT_TRUE(fs::write_file(src_ + "/tree/d/replaced", "new").ok());
  ASSERT_TRUE(fs::write_file(src_ + "/tree/d/dir-becomes-file", "file now").ok());
  ASSERT_TRUE(in(out("tree"), ".").ok());
  EXPECT_EQ(*fs::read_file(dst_ + "/d/keep/old"), "old");
  EXPECT_EQ(*fs::read_file(dst_ + "/d/keep/new"), "new");
  EXPECT_EQ(*fs::read_file(dst_ + "/d/replaced"), "new");
  EXPECT_EQ(*fs::read_file(dst_ + "/d/dir-becomes-file"), "file now");
}

TEST_P(TarRoundTripTest, DeepPathsBeyondPathMax) {
  std::string name;
  for (int i = 0; i < 20; ++i) name += std::string(250, 'a' + i) + "/";
  name += "leaf";
  std::string data = make_archive({{.name = name, .data = "deep"}});
  UniqueFd fd(::open(dst_.c_str(), O_RDONLY | O_DIRECTORY));
  ExtractOptions o;
  o.encoding = Encoding::kRaw;
  ASSERT_TRUE(stream_in(fd.get(), ".", read_from(data), o).ok());
  EXPECT_TRUE(fs::exists(dst_ + "/" + std::string(250, 'a')));
}

TEST_P(TarRoundTripTest, SymlinkAsTheStreamedPathIsRefused) {
  ASSERT_EQ(::symlink("/etc", (src_ + "/tree/etc").c_str()), 0);
  UniqueFd fd(::open(src_.c_str(), O_RDONLY | O_DIRECTORY));
  Status s = stream_out(fd.get(), "tree/etc", [](std::string_view) { return ok_status(); }, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().what().find("tree/etc"), std::string::npos);
}

TEST_P(TarRoundTripTest, IncludeFilterLeavesOutWhatItRefusesAndWholeDirectories) {
  std::string t = src_ + "/tree";
  ASSERT_TRUE(fs::make_dirs(t + "/build/deep").ok());
  ASSERT_TRUE(fs::write_file(t + "/keep.txt", "k").ok());
  ASSERT_TRUE(fs::write_file(t + "/skip.log", "s").ok());
  ASSERT_TRUE(fs::write_file(t + "/build/deep/x", "x").ok());
  UniqueFd fd(::open(src_.c_str(), O_RDONLY | O_DIRECTORY));
  std::string data;
  std::vector<std::string> asked;
  ArchiveOptions o;
  o.encoding = GetParam();
  o.include = [&](const std::string& name, bool is_dir) {
    asked.push_back(name);
    return name != "./skip.log" && !(is_dir && name == "./build");
  };
  ASSERT_TRUE(stream_out(
                  fd.get(), "tree",
                  [&](std::string_view d) {
                    data.append(d);
                    return ok_status();
                  },
                  o)
                  .ok());
  ASSERT_TRUE(in(data, "").ok());
  EXPECT_TRUE(fs::exists(dst_ + "/keep.txt"));
  EXPECT_TRUE(fs::exists(dst_ + "/empty"));
  EXPECT_FALSE(fs::exists(dst_ + "/skip.log"));
  EXPECT_FALSE(fs::exists(dst_ + "/build"));
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "./build/deep"), 0) << "walked a refused dir";
}

TEST_P(TarRoundTripTest, WithoutKeepOwnersEntriesBelongToTheExtractingUser) {
  std::string t = src_ + "/tree";
  ASSERT_TRUE(fs::write_file(t + "/owned", "o").ok());
  ASSERT_EQ(::chown((t + "/owned").c_str(), 1234, 5678), 0);
  ASSERT_EQ(::chmod((t + "/owned").c_str(), 0750), 0);
  std::string data = out("tree");
  UniqueFd fd(::open(dst_.c_str(), O_RDONLY | O_DIRECTORY));
  ExtractOptions o;
  o.encoding = GetParam();
  o.keep_owners = false;
  ASSERT_TRUE(stream_in(fd.get(), "", read_from(data, 1000), o).ok());
  struct stat st = lstat_of(dst_ + "/owned");
  EXPECT_EQ(st.st_uid, ::geteuid());
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

INSTANTIATE_TEST_SUITE_P(Encodings, TarRoundTripTest,
                         ::testing::Values(Encoding::kRaw, Encoding::kGzip, Encoding::kZstd),
                         [](const auto& info) { return std::string(encoding_name(info.param)); });

TEST(EncodingTest, NamesParse) {
  EXPECT_EQ(*parse_encoding("zstd"), Encoding::kZstd);
  EXPECT_EQ(*parse_encoding(""), Encoding::kGzip);
  auto bad = parse_encoding("s2");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("\"s2\""), std::string::npos);
}

}  // namespace
}  // namespace tarmac::baggageclaim::tar
