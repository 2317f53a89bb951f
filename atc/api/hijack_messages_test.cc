#include "atc/api/hijack_messages.h"

#include <gtest/gtest.h>

namespace tarmac::atc::api {
namespace {

TEST(HijackMessagesTest, SpecWithDefaultsAndTty) {
  auto p =
      parse_hijack_spec(R"({"path":"bash","args":["-l"],"env":["TERM=xterm"],"dir":"","user":"",)"
                        R"("privileged":false,"tty":{"window_size":{"columns":120,"rows":40}}})",
                        "/tmp/build/x", "root");
  ASSERT_TRUE(p.ok()) << p.error().message();
  EXPECT_EQ(p->path(), "bash");
  ASSERT_EQ(p->args_size(), 1);
  EXPECT_EQ(p->env(0), "TERM=xterm");
  EXPECT_EQ(p->dir(), "/tmp/build/x");
  EXPECT_EQ(p->user(), "root");
  EXPECT_EQ(p->tty().columns(), 120u);
  EXPECT_EQ(p->tty().rows(), 40u);
  auto plain = parse_hijack_spec(R"({"path":"sh","tty":null})", "/", "");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->has_tty());
}

TEST(HijackMessagesTest, BrokenSpecsNameTheField) {
  for (auto [json, field] : std::vector<std::pair<std::string, std::string>>{
           {"not json", "expected a JSON object"},
           {"[]", "expected a JSON object"},
           {R"({"args":["x"]})", "path"},
           {R"({"path":""})", "path"},
           {R"({"path":7})", "path"},
           {R"({"path":"sh","args":[1]})", "args"},
           {R"({"path":"sh","env":"A=B"})", "env"},
           {R"({"path":"sh","dir":5})", "dir"},
           {R"({"path":"sh","tty":"yes"})", "tty"},
           {R"({"path":"sh","tty":{"window_size":{"columns":"wide"}}})", "tty"}}) {
    auto p = parse_hijack_spec(json, "/", "");
    ASSERT_FALSE(p.ok()) << json;
    EXPECT_NE(p.error().message().find(field), std::string::npos)
        << json << ": " << p.error().message();
  }
}

TEST(HijackMessagesTest, InputsAndWhatIsIgnored) {
  auto in = parse_hijack_input(R"({"stdin":"aGkK"})");
  ASSERT_TRUE(in.has_value());
  EXPECT_EQ(in->stdin(), "hi\n");
  EXPECT_TRUE(parse_hijack_input(R"({"closed":true})")->close_stdin());
  auto size = parse_hijack_input(R"({"tty":{"window_size":{"columns":100,"rows":30}}})");
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(size->resize().columns(), 100u);
  for (const char* bad : {"", "nope", "[]", R"({"stdin":"***"})", R"({"stdin":5})",
                          R"({"closed":"yes"})", R"({"tty":{"window_size":[1]}})",
                          R"({"tty":{"window_size":{"rows":-1}}})", R"({"other":1})"})
    EXPECT_FALSE(parse_hijack_input(bad).has_value()) << bad;
}

}  // namespace
}  // namespace tarmac::atc::api
