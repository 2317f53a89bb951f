// The output log: resume from any offset, bounded size, damage reported.
#include "worker/shim/output_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "worker/shim/protocol.h"

namespace tarmac::shim {
namespace {

class OutputLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = fs::make_temp_dir("output-log");
    ASSERT_TRUE(d.ok());
    dir_ = *d;
  }
  void TearDown() override { ASSERT_TRUE(fs::remove_all(dir_).ok()); }

  std::string all_of(const OutputBatch& b, Stream only) {
    std::string out;
    for (const auto& c : b.chunks)
      if (c.stream == only) out += c.data;
    return out;
  }

  std::string dir_;
};

// What was appended reads back in order with its stream, from the start or from any offset a
// reader stopped at.
TEST_F(OutputLogTest, ReadsBackFromAnyOffset) {
  auto w = OutputLogWriter::create(dir_, 1 << 20);
  ASSERT_TRUE(w.ok()) << w.error().what();
  // Nothing trimmed yet: no output.start (one file less on disk per process; reads as 0).
  EXPECT_FALSE(fs::exists(dir_ + "/" + kOutputStartFile));
  ASSERT_TRUE(w->append(Stream::kStdout, "hello ").ok());
  ASSERT_TRUE(w->append(Stream::kStderr, "oops").ok());
  auto r = OutputLogReader::open(dir_, 0);
  ASSERT_TRUE(r.ok());
  auto first = r->read(1);  // at least one whole frame, however small the limit
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->chunks.size(), 1u);
  EXPECT_EQ(first->chunks[0].data, "hello ");
  ASSERT_TRUE(w->append(Stream::kStdout, "world").ok());
  auto again = OutputLogReader::open(dir_, first->next_offset);
  ASSERT_TRUE(again.ok());
  auto rest = again->read(1 << 20);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(all_of(*rest, Stream::kStderr), "oops");
  EXPECT_EQ(all_of(*rest, Stream::kStdout), "world");
  EXPECT_EQ(rest->next_offset, w->end());
  EXPECT_EQ(rest->dropped, 0u);
  auto empty = again->read(1 << 20);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->chunks.empty());
}

// Past the retained size the oldest output is dropped from disk; a reader from offset 0 is
// told how much it missed and gets the newest output intact.
TEST_F(OutputLogTest, StaysBoundedAndSaysWhatWasDropped) {
  const uint64_t retain = 256 * 1024;
  auto w = OutputLogWriter::create(dir_, retain);
  ASSERT_TRUE(w.ok());
  std::string line(1000, 'x');
  for (int i = 0; i < 5000; ++i) {
    line[0] = static_cast<char>('a' + i % 26);
    ASSERT_TRUE(w->append(Stream::kStdout, line).ok());
  }
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/" + kOutputFile).c_str(), &st), 0);
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, retain + 64 * 1024);
  auto r = OutputLogReader::open(dir_, 0);
  ASSERT_TRUE(r.ok());
  std::string got;
  uint64_t dropped = 0;
  for (;;) {
    auto b = r->read(1 << 20);
    ASSERT_TRUE(b.ok()) << b.error().what();
    dropped += b->dropped;
    if (b->chunks.empty()) break;
    got += all_of(*b, Stream::kStdout);
  }
  EXPECT_GT(dropped, 0u);
  ASSERT_GE(got.size(), retain / 2 - 8 * 1024);
  EXPECT_EQ(got.size() % 1000, 0u);  // whole frames only
  EXPECT_EQ(got.back(), 'x');
  EXPECT_EQ(got[got.size() - 1000], static_cast<char>('a' + 4999 % 26));
}

// Big writes are split into frames and come back whole.
TEST_F(OutputLogTest, SplitsLargeWrites) {
  auto w = OutputLogWriter::create(dir_, 16 << 20);
  ASSERT_TRUE(w.ok());
  std::string big(300 * 1024, 'q');
  big[12345] = 'z';
  ASSERT_TRUE(w->append(Stream::kStdout, big).ok());
  auto r = OutputLogReader::open(dir_, 0);
  ASSERT_TRUE(r.ok());
  auto b = r->read(1 << 30);
  ASSERT_TRUE(b.ok());
  EXPECT_GT(b->chunks.size(), 4u);
  EXPECT_EQ(all_of(*b, Stream::kStdout), big);
}

// A log with garbage where a frame should be is an error naming the offset, not a crash or
// an endless loop; a second log in the same dir is refused.
TEST_F(OutputLogTest, DamageIsAnError) {
  auto w = OutputLogWriter::create(dir_, 1 << 20);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->append(Stream::kStdout, "fine").ok());
  int fd = ::open((dir_ + "/" + kOutputFile).c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "garbage!garbage!", 16), 16);
  ::close(fd);
  auto r = OutputLogReader::open(dir_, 0);
  ASSERT_TRUE(r.ok());
  auto b = r->read(1 << 20);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.error().what().find("no frame at offset 12"), std::string::npos) << b.error().what();
  EXPECT_FALSE(OutputLogWriter::create(dir_, 1 << 20).ok());
  EXPECT_FALSE(OutputLogReader::open(dir_ + "/missing", 0).ok());
}

// process.json: broken input names the field.
TEST(ShimRequestTest, BrokenRequestsNameTheField) {
  ShimRequest r;
  r.container = "c1";
  r.process.args = {"/bin/echo", "hi"};
  r.process.env = {"A=b"};
  r.tty = true;
  r.rows = 50;
  r.output_dir = "/var/out/c1/p1";
  auto back = parse_request(to_json(r));
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->process.args, r.process.args);
  EXPECT_EQ(back->rows, 50);
  EXPECT_TRUE(back->tty);
  EXPECT_EQ(back->output_dir, "/var/out/c1/p1");

  struct Case {
    const char* json;
    const char* expect;
  } cases[] = {
      {"", "expected a JSON object"},
      {"[1]", "expected a JSON object"},
      {R"({"process":{"args":["x"]}})", "container"},
      {R"({"container":"c","process":{"args":[]}})", "process.args"},
      {R"({"container":"c","process":{"args":"x"}})", "process.args"},
      {R"({"container":"c","process":{"args":["x"],"uid":"root"}})", "process.uid"},
      {R"({"container":"c","process":{"args":["x"]},"rows":70000})", "rows"},
      {R"({"container":"c","process":{"args":["x"]},"runtime":{"run_dir":3}})", "runtime.run_dir"},
      {R"({"container":"c","process":{"args":["x"]},"output_dir":"out"})", "output_dir"},
      {R"({"container":"c","process":{"args":["x"]},"output_dir":7})", "output_dir"},
  };
  for (const Case& c : cases) {
    auto p = parse_request(c.json);
    ASSERT_FALSE(p.ok()) << c.json;
    EXPECT_NE(p.error().what().find(c.expect), std::string::npos)
        << c.json << " -> " << p.error().what();
  }
}

}  // namespace
}  // namespace tarmac::shim
