#include "atc/config/task_config.h"

#include <gtest/gtest.h>

namespace tarmac::atc::config {
namespace {

constexpr const char* kFull = R"(---
platform: linux
image_resource:
  type: registry-image
  source: {repository: busybox, tag: "1.36"}
  version: {digest: "sha256:abc"}
inputs:
- name: src
- name: ci
  path: tasks/ci
  optional: true
outputs:
- name: built
caches:
- path: .cache/go
params:
  GOFLAGS: -mod=vendor
  COUNT: 3
  DEBUG: true
  EMPTY:
  NESTED: {a: [1, 2]}
run:
  path: sh
  args: [-ec, "make build"]
  dir: src
  user: root
container_limits:
  cpu: 512
  memory: 1GB
)";

// Every field of Concourse's task config, with defaults filled in as Concourse fills them.
TEST(TaskConfigTest, ParsesEveryField) {
  auto c = parse_task_config("task.yml", kFull);
  ASSERT_TRUE(c.ok()) << c.error().what();
  EXPECT_EQ(c->platform, "linux");
  ASSERT_TRUE(c->image_resource);
  EXPECT_EQ(c->image_resource->type, "registry-image");
  EXPECT_EQ(c->image_resource->source["tag"], "1.36");
  EXPECT_EQ(c->image_resource->version["digest"], "sha256:abc");
  ASSERT_EQ(c->inputs.size(), 2u);
  EXPECT_EQ(c->inputs[0].path, "src");
  EXPECT_FALSE(c->inputs[0].optional);
  EXPECT_EQ(c->inputs[1].path, "tasks/ci");
  EXPECT_TRUE(c->inputs[1].optional);
  ASSERT_EQ(c->outputs.size(), 1u);
  EXPECT_EQ(c->outputs[0].path, "built");
  EXPECT_EQ(c->caches, std::vector<std::string>{".cache/go"});
  std::vector<std::pair<std::string, std::string>> params = {{"GOFLAGS", "-mod=vendor"},
                                                             {"COUNT", "3"},
                                                             {"DEBUG", "true"},
                                                             {"EMPTY", ""},
                                                             {"NESTED", R"({"a":[1,2]})"}};
  EXPECT_EQ(c->params, params);
  EXPECT_EQ(c->run.path, "sh");
  EXPECT_EQ(c->run.args, (std::vector<std::string>{"-ec", "make build"}));
  EXPECT_EQ(c->run.dir, "src");
  EXPECT_EQ(c->run.user, "root");
  EXPECT_EQ(*c->container_limits.cpu, 512u);
  EXPECT_EQ(*c->container_limits.memory, 1ull << 30);

  auto j = to_json(*c);
  EXPECT_EQ(j["inputs"][1]["optional"], true);
  EXPECT_EQ(j["run"]["args"][1], "make build");
  EXPECT_EQ(j["container_limits"]["memory"], 1ull << 30);
}

TEST(TaskConfigTest, RootfsUriAndMinimal) {
  auto c = parse_task_config("t.yml",
                             "platform: linux\nrootfs_uri: raw:///opt/img\nrun: {path: true}\n");
  ASSERT_TRUE(c.ok()) << c.error().what();
  EXPECT_EQ(c->rootfs_uri, "raw:///opt/img");
  EXPECT_FALSE(c->image_resource);
  EXPECT_TRUE(c->inputs.empty());
}

// Broken task files: each error names the file, the line and the field, and says what was
// expected.
TEST(TaskConfigTest, BrokenInputNamesFileLineAndField) {
  struct Case {
    const char* yaml;
    const char* want;
  };
  const Case cases[] = {
      {"", "t.yml:1: the task config is empty"},
      {"run: {path: x}\n", "t.yml:1: platform: required but missing"},
      {"platform: linux\n", "t.yml:1: run: required but missing"},
      {"platform: linux\nrun: {args: [a]}\n", "t.yml:2: run.path: required but missing"},
      {"platform: linux\nrun: {path: x}\nplatfrom: linux\n",
       "t.yml:3: platfrom: unknown key; expected one of platform"},
      {"platform: linux\nrun: {path: x}\ninputs:\n- path: a\n",
       "t.yml:4: inputs[0].name: required"},
      {"platform: linux\nrun: {path: x}\ninputs:\n- name: a/b\n",
       "t.yml:4: inputs[0].name: \"a/b\" is not a valid name"},
      {"platform: linux\nrun: {path: x}\ninputs:\n- name: a\n  path: ../etc\n",
       "inputs[0].path: \"../etc\" must be a relative path inside"},
      {"platform: linux\nrun: {path: x}\noutputs:\n- name: o\n  path: /abs\n",
       "outputs[0].path: \"/abs\" must be a relative path"},
      {"platform: linux\nrun: {path: x}\ninputs:\n- name: a\n- name: a\n",
       "t.yml:5: inputs[1].name: input \"a\" given twice"},
      {"platform: linux\nrun: {path: x}\ninputs: {name: a}\n", "t.yml:3: inputs: expected a list"},
      {"platform: linux\nrun: {path: x}\ninputs:\n- name: a\n  optional: maybe\n",
       "inputs[0].optional: expected true or false"},
      {"platform: linux\nrun: {path: x}\ncontainer_limits: {memory: lots}\n",
       "container_limits.memory: \"lots\" is not a size"},
      {"platform: linux\nrun: {path: x}\ncontainer_limits: {cpu: -1}\n",
       "container_limits.cpu: expected a non-negative whole number"},
      {"platform: linux\nrun: {path: x}\nimage_resource: {source: {}}\n",
       "image_resource.type: required but missing"},
      {"platform: linux\nrun: {path: x}\nimage_resource: {type: r, source: [a]}\n",
       "image_resource.source: expected a map"},
      {"platform: linux\nrun: {path: x}\nrootfs_uri: raw:///a\nimage_resource: {type: r}\n",
       "give image_resource or rootfs_uri, not both"},
      {"platform: linux\nrun: {path: x}\nparams: [a]\n", "t.yml:3: params: expected a map"},
      {"platform: linux\nrun: {path: x, args: {a: b}}\n", "run.args: expected a list"},
      {"platform: [linux]\nrun: {path: x}\n", "t.yml:1: platform: expected a string"},
      {"platform: linux\nrun: {path: x}\ncaches:\n- path: ../../x\n", "caches[0].path"},
      {"platform: linux\nrun: {path: x}\nimage: foo\n", "belongs to the task step"},
      {"platform: linux\n  run: {path: x}\n", "t.yml:2: invalid YAML"},
      {"platform: linux\nrun: {path: x}\nplatform: windows\n",
       "t.yml:3: platform: key given twice"},
  };
  for (const auto& c : cases) {
    auto r = parse_task_config("t.yml", c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos)
        << "yaml:\n"
        << c.yaml << "\nerror: " << r.error().message() << "\nwant: " << c.want;
  }
}

TEST(TaskConfigTest, ParseBytes) {
  EXPECT_EQ(parse_bytes("1024"), 1024u);
  EXPECT_EQ(parse_bytes("1KB"), 1024u);
  EXPECT_EQ(parse_bytes("512m"), 512ull << 20);
  EXPECT_EQ(parse_bytes("2GiB"), 2ull << 30);
  EXPECT_EQ(parse_bytes("1t"), 1ull << 40);
  EXPECT_FALSE(parse_bytes(""));
  EXPECT_FALSE(parse_bytes("GB"));
  EXPECT_FALSE(parse_bytes("1.5GB"));
  EXPECT_FALSE(parse_bytes("1PB"));
  EXPECT_FALSE(parse_bytes("99999999999999999999"));
  EXPECT_FALSE(parse_bytes("17179869184GB"));
}

TEST(TaskConfigTest, MissingFileIsNamed) {
  auto r = load_task_config("/nonexistent/task.yml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("/nonexistent/task.yml"), std::string::npos);
}

TEST(TaskConfigTest, VarsWholeAndInsideValuesAndUndefinedOnesNamed) {
  Vars vars = {{"image", "/images/busybox"}, {"mem", "1GB"}, {"who", "world"}};
  std::string text =
      "platform: linux\nrootfs_uri: raw://((image))\ncontainer_limits: {memory: ((mem))}\n"
      "params: {GREETING: hello ((who))!, LITERAL: '(( who ))'}\nrun: {path: sh}\n";
  auto c = parse_task_config("t.yml", text, &vars);
  ASSERT_TRUE(c.ok()) << c.error().message();
  EXPECT_EQ(c->rootfs_uri, "raw:///images/busybox");
  EXPECT_EQ(c->container_limits.memory, 1024ull * 1024 * 1024);
  EXPECT_EQ(c->params[0].second, "hello world!");
  EXPECT_EQ(c->params[1].second, "world");  // spaces inside the parentheses are allowed
  Vars few = {{"who", "x"}};
  auto missing = parse_task_config("t.yml", text, &few);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("t.yml: undefined vars: image, mem"), std::string::npos)
      << missing.error().message();
  // Without vars (the web node's own parse of a config) nothing is replaced.
  auto raw = parse_task_config("t.yml", "platform: linux\nrun: {path: ((p))}\n");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->run.path, "((p))");
}

}  // namespace
}  // namespace tarmac::atc::config
