#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "fly/flyrc.h"
#include "fly/output.h"
#include "fly/sse.h"

namespace tarmac::fly {
namespace {

// Events split anywhere across chunks come out whole; comments and blank events are skipped.
TEST(SseParserTest, EventsAcrossChunks) {
  std::vector<SseEvent> seen;
  SseParser p([&](const SseEvent& e) {
    seen.push_back(e);
    return true;
  });
  std::string stream =
      ":\n\nid: 0\nevent: event\ndata: {\"a\":1}\n\nid: 1\r\nevent: end\r\ndata\r\n\r\n";
  for (char c : stream) ASSERT_TRUE(p.feed(std::string(1, c)));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].id, "0");
  EXPECT_EQ(seen[0].name, "event");
  EXPECT_EQ(seen[0].data, "{\"a\":1}");
  EXPECT_EQ(seen[1].name, "end");
}

TEST(SseParserTest, StopsWhenAsked) {
  int n = 0;
  SseParser p([&](const SseEvent&) { return ++n < 1; });
  EXPECT_FALSE(p.feed("event: a\n\nevent: b\n\n"));
  EXPECT_EQ(n, 1);
}

// Targets survive a round trip (mode 0600); broken files name the file, line and field.
TEST(FlyrcTest, RoundTripAndBrokenFiles) {
  auto dir = fs::make_temp_dir("tarmac-flyrc");
  ASSERT_TRUE(dir.ok());
  std::string path = *dir + "/.flyrc";
  auto empty = load_flyrc(path);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->targets.empty());
  Flyrc rc;
  rc.targets["ci"] = {"https://ci.example.com",    "main",   true,
                      "-----BEGIN CERT-----\nx\n", "bearer", "tok"};
  ASSERT_TRUE(save_flyrc(path, rc).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = load_flyrc(path);
  ASSERT_TRUE(back.ok()) << back.error().what();
  const Target& t = back->targets["ci"];
  EXPECT_EQ(t.api, "https://ci.example.com");
  EXPECT_TRUE(t.insecure);
  EXPECT_EQ(t.ca_cert, "-----BEGIN CERT-----\nx\n");
  EXPECT_EQ(t.token_value, "tok");

  ASSERT_TRUE(fs::write_file(path, "targets:\n  ci:\n    team: main\n").ok());
  auto missing = load_flyrc(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find(":2: targets.ci.api: required but missing"),
            std::string::npos)
      << missing.error().message();
  ASSERT_TRUE(fs::write_file(path, "targets:\n  ci: [\n").ok());
  auto broken = load_flyrc(path);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("invalid YAML"), std::string::npos);
  ASSERT_TRUE(fs::write_file(path, "targets:\n  ci:\n    api: x\n    insecure: sometimes\n").ok());
  auto flag = load_flyrc(path);
  ASSERT_FALSE(flag.ok());
  EXPECT_NE(flag.error().message().find("targets.ci.insecure: expected true or false"),
            std::string::npos);
  (void)fs::remove_all(*dir);
}

TEST(OutputTest, DurationsAndExitCodes) {
  EXPECT_EQ(show_duration(100, 3825), "1h2m5s");
  EXPECT_EQ(show_duration(100, 145), "45s");
  EXPECT_EQ(show_duration(0, 145), "n/a");
  EXPECT_EQ(exit_code_for("succeeded"), 0);
  EXPECT_EQ(exit_code_for("failed"), 1);
  EXPECT_EQ(exit_code_for("errored"), 2);
  EXPECT_EQ(exit_code_for("aborted"), 3);
}

}  // namespace
}  // namespace tarmac::fly
