// A stream in survives a crash at any point: before its merge nothing of it shows, from its
// merge on recovery finishes it.
#include "baggageclaim/tar/staging.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>

#include "baggageclaim/tar/tar.h"
#include "baggageclaim/tar/tar_test_util.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::baggageclaim::tar {
namespace {

using testing::Entry;
using testing::make_archive;
using testing::read_from;

TEST(MergePlanTest, RoundTrips) {
  MergePlan with_root{"a/b\nc d", RootEntry{7, 8, false, 0750, {1700000000, 123}}};
  auto back = decode_plan(encode_plan(with_root));
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->subpath, "a/b\nc d");
  ASSERT_TRUE(back->root);
  EXPECT_EQ(back->root->uid, 7u);
  EXPECT_EQ(back->root->gid, 8u);
  EXPECT_FALSE(back->root->owners);
  EXPECT_EQ(back->root->mode, 0750u);
  EXPECT_EQ(back->root->mtime.tv_sec, 1700000000);
  EXPECT_EQ(back->root->mtime.tv_nsec, 123);
  auto none = decode_plan(encode_plan(MergePlan{"", std::nullopt}));
  ASSERT_TRUE(none.ok()) << none.error().what();
  EXPECT_EQ(none->subpath, "");
  EXPECT_FALSE(none->root);
}

TEST(MergePlanTest, BrokenPlansNameWhatIsWrong) {
  const std::string header = "tarmac stream plan 1\n";
  struct Case {
    std::string text, expect;
  } cases[] = {
      {"", "first line"},
      {"tarmac stream plan 2\nroot none\npath x", "first line"},
      {header, "no path line"},
      {header + "root none\n", "no path line"},
      {header + "root none\nsubpath x", "no path line"},
      {header + "root 1 2 3 755 0 0\npath x", "root line"},
      {header + "root 1 2 1 75x 0 0\npath x", "root line"},
      {header + "root 1 2 1 17777 0 0\npath x", "root line"},
      {header + "root 1 2 1 755 0 1000000000\npath x", "root line"},
      {header + "root 1 2 1 755 0 0 extra\npath x", "root line"},
      {header + "root -1\npath x", "root line"},
  };
  for (const auto& c : cases) {
    auto plan = decode_plan(c.text);
    ASSERT_FALSE(plan.ok()) << c.text;
    EXPECT_NE(plan.error().message().find(c.expect), std::string::npos)
        << c.text << " → " << plan.error().what();
  }
}

// Every entry beneath `dir`: type, mode, owner, size, content or link target, link count.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  auto walk = [&](auto& self, const std::string& rel) -> void {
    auto names = fs::list_dir(dir + rel);
    if (!names.ok()) return;
    for (const auto& name : *names) {
      std::string path = rel + "/" + name;
      struct stat st;
      if (::lstat((dir + path).c_str(), &st) != 0) continue;
      std::string what = std::to_string(st.st_mode) + " " + std::to_string(st.st_uid) + ":" +
                         std::to_string(st.st_gid) + " n" + std::to_string(st.st_nlink);
      if (S_ISREG(st.st_mode)) {
        auto content = fs::read_file(dir + path);
        what += " " + (content.ok() ? *content : std::string("?"));
      }
      if (S_ISLNK(st.st_mode)) {
        char target[256];
        ssize_t n = ::readlink((dir + path).c_str(), target, sizeof target);
        what += " -> " + std::string(target, n > 0 ? n : 0);
      }
      out[path] = what;
      if (S_ISDIR(st.st_mode)) self(self, path);
    }
  };
  walk(walk, "");
  struct stat root;
  if (::stat(dir.c_str(), &root) == 0) out["."] = std::to_string(root.st_mode);
  return out;
}

// The id of the stream whose names are at the root of `volume` ("" if none).
std::string id_in(const std::string& volume) {
  auto names = fs::list_dir(volume);
  if (!names.ok()) return "";
  for (const auto& name : names.value())
    for (std::string prefix : {".baggageclaim-merge-plan.", ".baggageclaim-merge."})
      if (name.rfind(prefix, 0) == 0) return name.substr(prefix.size());
  return "";
}

class StreamCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (the archive's owners)";
    base_ = *fs::make_temp_dir("bc-staging");
  }
  void TearDown() override {
    if (!base_.empty()) (void)fs::remove_all(base_);
  }

  // A volume with something in every place the stream changes.
  std::string volume(const std::string& name) {
    std::string v = base_ + "/" + name;
    EXPECT_TRUE(fs::make_dirs(v + "/into/d/keep").ok());
    EXPECT_TRUE(fs::write_file(v + "/into/d/keep/old", "old").ok());
    EXPECT_TRUE(fs::write_file(v + "/into/d/replaced", "old").ok());
    EXPECT_TRUE(fs::make_dirs(v + "/into/d/dir-becomes-file/sub").ok());
    EXPECT_TRUE(fs::write_file(v + "/into/d/dir-becomes-file/sub/x", "x").ok());
    EXPECT_TRUE(fs::write_file(v + "/into/file-becomes-dir", "file").ok());
    EXPECT_TRUE(fs::write_file(v + "/outside", "untouched").ok());
    return v;
  }

  static std::string archive() {
    return make_archive({
        {.name = "./", .type = AE_IFDIR, .perm = 0750, .uid = 5, .gid = 6},
        {.name = "d/", .type = AE_IFDIR, .perm = 0700},
        {.name = "d/keep/", .type = AE_IFDIR, .perm = 0711},
        {.name = "d/keep/new", .data = "new"},
        {.name = "d/replaced", .data = "new"},
        {.name = "d/dir-becomes-file", .data = "file now"},
        {.name = "file-becomes-dir/", .type = AE_IFDIR},
        {.name = "file-becomes-dir/inner", .data = "inner", .uid = 9},
        {.name = "newdir/", .type = AE_IFDIR},
        {.name = "newdir/a", .data = "linked"},
        {.name = "newdir/b", .hardlink = "newdir/a"},
        {.name = "newdir/l", .type = AE_IFLNK, .link = "/anywhere"},
        {.name = "top", .data = "top"},
    });
  }

  static Status stream(const std::string& volume, const std::string& data,
                       std::function<void()> step = {}) {
    UniqueFd fd(::open(volume.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ExtractOptions o;
    o.encoding = Encoding::kRaw;
    o.merge_step = std::move(step);
    return stream_in(fd.get(), "into", read_from(data), o);
  }

  static Status recover(const std::string& volume) {
    UniqueFd fd(::open(volume.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    return recover_streams(fd.get());
  }

  std::string base_;
};

// A child process streams and dies without any clean-up (as kill -9 would leave it) before
// the k-th change of the merge, for every k; recovery then ends every volume as the
// uninterrupted stream did.
TEST_F(StreamCrashTest, ACrashAtAnyStepOfTheMergeIsFinishedOnRecovery) {
  std::string data = archive();
  std::string whole = volume("whole");
  ASSERT_TRUE(stream(whole, data).ok());
  auto expected = snapshot(whole);
  ASSERT_EQ(expected["/into/d/keep/new"].substr(expected["/into/d/keep/new"].size() - 3), "new");
  ASSERT_NE(expected["/into/newdir/a"].find(" n2 "), std::string::npos);

  int crashed = 0;
  for (int k = 1; k < 100; ++k) {
    std::string v = volume("crash" + std::to_string(k));
    auto before = snapshot(v);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int steps = 0;
      Status s = stream(v, data, [&] {
        if (++steps == k) ::_exit(42);
      });
      ::_exit(s.ok() ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) {
      EXPECT_EQ(snapshot(v), expected) << "uninterrupted, k=" << k;
      break;
    }
    ASSERT_EQ(WEXITSTATUS(status), 42) << "the stream failed, k=" << k;
    ++crashed;
    EXPECT_TRUE(fs::exists(v + "/.baggageclaim-merge-plan." + id_in(v)) ||
                fs::exists(v + "/.baggageclaim-merge." + id_in(v)))
        << "k=" << k << ": the crash left no merge to finish";
    Status r = recover(v);
    ASSERT_TRUE(r.ok()) << "k=" << k << ": " << r.error().what();
    EXPECT_EQ(snapshot(v), expected) << "k=" << k;
  }
  // Every removal and rename of the merge was a crash point.
  EXPECT_GE(crashed, 8);
}

TEST_F(StreamCrashTest, AnUnfinishedExtractionIsDropped) {
  std::string v = volume("v");
  auto before = snapshot(v);
  ASSERT_TRUE(fs::make_dirs(v + "/" + staging_dir_name("0123456789abcdef") + "/half").ok());
  ASSERT_TRUE(recover(v).ok());
  EXPECT_EQ(snapshot(v), before);
}

// The plan is written before the merge begins and removed after it ends: alone, it is a
// crash on either side of the merge, and nothing is merged.
TEST_F(StreamCrashTest, APlanWithoutItsMergeIsRemoved) {
  std::string v = volume("v");
  auto before = snapshot(v);
  ASSERT_TRUE(fs::make_dirs(v + "/" + staging_dir_name("00000000000000ab")).ok());
  ASSERT_TRUE(fs::write_file(v + "/.baggageclaim-merge-plan.00000000000000ab",
                             encode_plan(MergePlan{"into", std::nullopt}))
                  .ok());
  ASSERT_TRUE(recover(v).ok());
  EXPECT_EQ(snapshot(v), before);
}

// A plan that does not parse cannot be finished: recovery says so (the store then removes
// the volume whole) and leaves none of its names behind.
TEST_F(StreamCrashTest, ABrokenPlanIsAnErrorAndLeavesNothing) {
  std::string v = volume("v");
  ASSERT_TRUE(fs::make_dirs(v + "/.baggageclaim-merge.00000000000000cd/new").ok());
  ASSERT_TRUE(fs::write_file(v + "/.baggageclaim-merge-plan.00000000000000cd", "garbage").ok());
  Status r = recover(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("finish stream 00000000000000cd: merge plan: first line"),
            std::string::npos)
      << r.error().what();
  auto names = fs::list_dir(v);
  ASSERT_TRUE(names.ok());
  for (const auto& name : names.value())
    EXPECT_EQ(name.rfind(".baggageclaim", 0), std::string::npos) << name;
}

// The names sit at the root of a volume its container writes to: what only looks like one
// of them (another shape of id, another type of entry) is the container's and stays.
TEST_F(StreamCrashTest, EntriesThatOnlyLookLikeOursAreLeftAlone) {
  std::string v = volume("v");
  ASSERT_TRUE(fs::make_dirs(v + "/.baggageclaim-merge-plan.0123456789abcdef").ok());
  ASSERT_TRUE(fs::make_dirs(v + "/.baggageclaim-merge-plan.mine").ok());
  ASSERT_TRUE(fs::write_file(v + "/.baggageclaim-merge.0123456789abcdef", "a file").ok());
  ASSERT_TRUE(fs::make_dirs(v + "/.baggageclaim-merge.0123456789ABCDEF/x").ok());
  ASSERT_TRUE(fs::make_dirs(v + "/.baggageclaim-stream-in.user/x").ok());
  ASSERT_TRUE(fs::write_file(v + "/.baggageclaim-stream-in.0123456789abcdef", "a file").ok());
  auto before = snapshot(v);
  Status r = recover(v);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(snapshot(v), before);
}

}  // namespace
}  // namespace tarmac::baggageclaim::tar
