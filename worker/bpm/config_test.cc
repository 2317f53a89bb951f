#include "worker/bpm/config.h"

#include <gtest/gtest.h>

#include "worker/bpm/paths.h"

namespace tarmac::bpm {
namespace {

// Every field of bpm's example config is read.
TEST(BpmConfig, ParsesEveryField) {
  auto job = load_job_config(std::string(TARMAC_BPM_TESTDATA) + "/example.yml");
  ASSERT_TRUE(job.ok()) << job.error().what();
  ASSERT_EQ(job->processes.size(), 2u);
  const ProcessConfig& p = job->processes[0];
  EXPECT_EQ(p.name, "example");
  EXPECT_EQ(p.executable, "/var/vcap/packages/example/bin/example");
  EXPECT_EQ(p.args, (std::vector<std::string>{"--port", "2424"}));
  ASSERT_EQ(p.env.size(), 2u);
  EXPECT_EQ(p.env[0], (std::pair<std::string, std::string>{"FOO", "BAR"}));
  EXPECT_EQ(p.workdir, "/var/vcap/jobs/example");
  EXPECT_EQ(p.pre_start, "/var/vcap/jobs/example/bin/bpm-pre-start");
  EXPECT_EQ(p.capabilities, std::vector<std::string>{"NET_BIND_SERVICE"});
  EXPECT_EQ(*p.limits.memory, 3ULL << 30);
  EXPECT_EQ(*p.limits.open_files, 100u);
  EXPECT_EQ(*p.limits.processes, 300u);
  EXPECT_EQ(*p.limits.core_file_size, 4096u);
  EXPECT_TRUE(p.ephemeral_disk);
  EXPECT_TRUE(p.persistent_disk);
  ASSERT_EQ(p.additional_volumes.size(), 2u);
  EXPECT_TRUE(p.additional_volumes[0].writable);
  EXPECT_TRUE(p.additional_volumes[0].allow_executions);
  EXPECT_TRUE(p.additional_volumes[1].mount_only);
  EXPECT_TRUE(p.additional_volumes[1].shared);
  EXPECT_EQ(p.shutdown_signal, SIGINT);
  EXPECT_TRUE(p.unsafe.privileged);
  EXPECT_TRUE(p.unsafe.host_pid_namespace);
  ASSERT_EQ(p.unsafe.unrestricted_volumes.size(), 2u);
  EXPECT_EQ(p.unsafe.unrestricted_volumes[1].path, "/etc/ssl/*");
  const ProcessConfig& s = job->processes[1];
  EXPECT_EQ(s.shutdown_signal, SIGTERM);
  EXPECT_FALSE(s.limits.memory.has_value());
  EXPECT_TRUE(validate(*job, "example", "/var/vcap").ok());
}

// Sizes use binary units as bpm's bytefmt.
TEST(BpmConfig, SizeUnits) {
  EXPECT_EQ(*parse_size("1G"), 1ULL << 30);
  EXPECT_EQ(*parse_size("256M"), 256ULL << 20);
  EXPECT_EQ(*parse_size("512K"), 512ULL << 10);
  EXPECT_EQ(*parse_size("1gb"), 1ULL << 30);
  EXPECT_EQ(*parse_size("100"), 100u);
  EXPECT_EQ(*parse_size("2T"), 2ULL << 40);
  for (const char* bad : {"", "G", "lots", "1X", "-1G", "1.5G", "99999999999999999999"})
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
}

struct Broken {
  const char* yaml;
  const char* expected;  // part of the error message: file:line and key path
};

class BrokenConfig : public ::testing::TestWithParam<Broken> {};

// Each broken bpm.yml is refused with a message naming the line and the field.
TEST_P(BrokenConfig, RefusedNamingTheField) {
  auto job = parse_job_config(GetParam().yaml, "bpm.yml");
  ASSERT_FALSE(job.ok()) << GetParam().yaml;
  EXPECT_NE(job.error().message().find(GetParam().expected), std::string::npos)
      << job.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Files, BrokenConfig,
    ::testing::Values(
        Broken{"", "bpm.yml:1: empty file"}, Broken{"processes: [\n", "bpm.yml:2: invalid YAML"},
        Broken{"process:\n- name: a\n", "bpm.yml:1: process: unknown key"},
        Broken{"processes: []\n", "bpm.yml:1: processes: expected at least one process"},
        Broken{"processes: {name: a}\n", "processes: expected a list"},
        Broken{"processes:\n- executable: /bin/x\n", "bpm.yml:2: processes[0]: name is required"},
        Broken{"processes:\n- name: a\n", "processes[0]: executable is required"},
        Broken{"processes:\n- name: a\n  executable: [x]\n",
               "bpm.yml:3: processes[0].executable: expected a string"},
        Broken{"processes:\n- name: a\n  executable: /x\n  colour: red\n",
               "bpm.yml:4: processes[0].colour: unknown key"},
        Broken{"processes:\n- name: a\n  executable: /x\n  limits:\n    memory: lots\n",
               "bpm.yml:5: processes[0].limits.memory: expected a size like 1G or 256M, got "
               "\"lots\""},
        Broken{"processes:\n- name: a\n  executable: /x\n  limits:\n    open_files: -1\n",
               "bpm.yml:5: processes[0].limits.open_files: expected a non-negative whole number"},
        Broken{"processes:\n- name: a\n  executable: /x\n  limits:\n    processes: many\n",
               "processes[0].limits.processes: expected a non-negative whole number"},
        Broken{"processes:\n- name: a\n  executable: /x\n  limits:\n    cpu: 2\n",
               "processes[0].limits.cpu: unknown key"},
        Broken{"processes:\n- name: a\n  executable: /x\n  ephemeral_disk: maybe\n",
               "bpm.yml:4: processes[0].ephemeral_disk: expected true or false"},
        Broken{"processes:\n- name: a\n  executable: /x\n  shutdown_signal: KILL\n",
               "processes[0].shutdown_signal: expected TERM or INT, got \"KILL\""},
        Broken{"processes:\n- name: a\n  executable: /x\n  env: [A=B]\n",
               "processes[0].env: expected a map"},
        Broken{"processes:\n- name: a\n  executable: /x\n  env:\n    A: {b: c}\n",
               "bpm.yml:5: processes[0].env.A: expected a string"},
        Broken{"processes:\n- name: a\n  executable: /x\n  additional_volumes:\n  - writable: "
               "true\n",
               "processes[0].additional_volumes[0]: path is required"},
        Broken{"processes:\n- name: a\n  executable: /x\n  additional_volumes:\n  - path: /v\n"
               "    readonly: true\n",
               "bpm.yml:6: processes[0].additional_volumes[0].readonly: unknown key"},
        Broken{"processes:\n- name: a\n  executable: /x\n  unsafe:\n    privileged: yes please\n",
               "processes[0].unsafe.privileged: expected true or false"},
        Broken{"processes:\n- name: a\n  executable: /x\n  hooks:\n    post_start: /y\n",
               "processes[0].hooks.post_start: unknown key"},
        Broken{"processes:\n- name: a\n  executable: /x\n- name: a\n  executable: /y\n",
               "bpm.yml:4: processes[1]: duplicate process name \"a\""},
        Broken{"processes:\n- name: a\n  executable: /x\n  capabilities: NET_ADMIN\n",
               "processes[0].capabilities: expected a list"}));

// Volume rules that need the job: canonical, inside the root, not the job's own dirs.
TEST(BpmConfig, VolumeRules) {
  auto check = [](const std::string& path) {
    JobConfig job;
    ProcessConfig p;
    p.name = "j";
    p.executable = "/x";
    p.additional_volumes.push_back(Volume{path});
    job.processes.push_back(p);
    return validate(job, "j", "/var/vcap");
  };
  EXPECT_TRUE(check("/var/vcap/data/other").ok());
  EXPECT_TRUE(check("/var/vcap/store/j/sub").ok());
  for (const char* bad :
       {"/var/vcap/data/j", "/var/vcap/store/j", "/etc", "/var/vcapx/a", "/var/vcap/data/../../etc",
        "/var/vcap/data/x/", "var/vcap/data/x", "/var/vcap//data/x", "/var/vcap/./data"}) {
    auto s = check(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.error().message().find("processes[0].additional_volumes[0].path"),
              std::string::npos);
  }
}

// Container ids encode as bpm's: job, or job.proc, with ".xx" escapes, and decode back.
TEST(BpmPaths, ContainerIds) {
  EXPECT_EQ(container_id("web", "web"), "bpm-web");
  EXPECT_EQ(container_id("web", "worker"), "bpm-web.2eworker");
  EXPECT_EQ(container_id("a b", "a b"), "bpm-a.20b");
  EXPECT_EQ(*decode_container_id("bpm-web.2eworker"), "web.worker");
  EXPECT_FALSE(decode_container_id("web").ok());
  EXPECT_FALSE(decode_container_id("bpm-web.2").ok());
}

// The layout under a BOSH root, and the path the process sees.
TEST(BpmPaths, Layout) {
  BoshPaths p("/tmp/root");
  EXPECT_EQ(p.pid_file("j", "p"), "/tmp/root/sys/run/bpm/j/p.pid");
  EXPECT_EQ(p.stdout_log("j", "p"), "/tmp/root/sys/log/j/p.stdout.log");
  EXPECT_EQ(p.tmp_dir("j"), "/tmp/root/data/j/tmp");
  EXPECT_EQ(p.job_config("j"), "/tmp/root/jobs/j/config/bpm.yml");
  EXPECT_EQ(p.inside("/tmp/root/data/j"), "/var/vcap/data/j");
  EXPECT_EQ(BoshPaths("/var/vcap").cgroup_parent(), "bpm");
}

}  // namespace
}  // namespace tarmac::bpm
