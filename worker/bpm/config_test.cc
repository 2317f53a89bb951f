#include "worker/bpm/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "common/fs.h"

namespace tarmac::bpm {
namespace {

const std::string kTestdata = TARMAC_BPM_TESTDATA;

using Env = std::vector<std::pair<std::string, std::string>>;

Volume volume(const std::string& path) {
  Volume v;
  v.path = path;
  return v;
}

// A JobConfig of one process "j" with the given additional volume.
JobConfig with_volume(const std::string& path) {
  JobConfig job;
  ProcessConfig p;
  p.name = "j";
  p.executable = "/x";
  p.additional_volumes.push_back(volume(path));
  job.processes.push_back(p);
  return job;
}

// Every field of the full example is read, with the values the file gives.
TEST(BpmConfig, ParsesEveryFieldOfTheExample) {
  auto job = load_job_config(kTestdata + "/example.yml");
  ASSERT_TRUE(job.ok()) << job.error().what();
  ASSERT_EQ(job->processes.size(), 3u);
  const ProcessConfig& p = job->processes[0];
  EXPECT_EQ(p.name, "first-process");
  EXPECT_EQ(p.executable, "/var/vcap/packages/program/bin/program-server");
  EXPECT_EQ(p.args, (std::vector<std::string>{"--port=2424", "--host=\"localhost\"", "2424"}));
  EXPECT_EQ(p.env, (Env{{"FOO", "BAR"}, {"BAZ", "BUZZ"}, {"EMPTY", ""}}));
  EXPECT_EQ(p.limits.memory, 100ULL << 30);
  EXPECT_EQ(p.limits.open_files, 100u);
  EXPECT_EQ(p.limits.processes, 300u);
  EXPECT_EQ(p.limits.core_file_size, 1073741824u);
  ASSERT_EQ(p.additional_volumes.size(), 4u);
  EXPECT_EQ(p.additional_volumes[0].path, "/var/vcap/data/program/foobar");
  EXPECT_TRUE(p.additional_volumes[0].writable);
  EXPECT_FALSE(p.additional_volumes[0].allow_executions);
  EXPECT_FALSE(p.additional_volumes[1].writable);
  EXPECT_TRUE(p.additional_volumes[2].allow_executions);
  EXPECT_TRUE(p.additional_volumes[3].shared);
  EXPECT_TRUE(p.additional_volumes[3].mount_only);
  EXPECT_EQ(p.additional_volumes[2].origin, kTestdata + "/example.yml:23");
  EXPECT_EQ(p.pre_start, "/var/vcap/jobs/program/bin/pre");
  EXPECT_EQ(p.capabilities, (std::vector<std::string>{"NET_BIND_SERVICE", "SYS_TIME"}));
  EXPECT_EQ(p.workdir, "/I/AM/A/WORKDIR");
  EXPECT_TRUE(p.persistent_disk);
  EXPECT_TRUE(p.ephemeral_disk);
  EXPECT_EQ(p.shutdown_signal, SIGINT);
  EXPECT_TRUE(p.unsafe.privileged);
  EXPECT_TRUE(p.unsafe.host_pid_namespace);
  ASSERT_EQ(p.unsafe.unrestricted_volumes.size(), 3u);
  EXPECT_EQ(p.unsafe.unrestricted_volumes[0].path, "/");
  EXPECT_TRUE(p.unsafe.unrestricted_volumes[0].writable);
  EXPECT_EQ(p.unsafe.unrestricted_volumes[2].path, "/var/vcap/jobs/*/config/indicators.yml");
  EXPECT_TRUE(p.unsafe.unrestricted_volumes[2].allow_executions);
  EXPECT_TRUE(validate(*job, "program", "/var/vcap").ok());
}

// Fields left out take bpm's defaults: TERM, no limits, no hook, nothing unsafe.
TEST(BpmConfig, OmittedFieldsTakeDefaults) {
  auto job = load_job_config(kTestdata + "/example.yml");
  ASSERT_TRUE(job.ok()) << job.error().what();
  for (size_t i : {1u, 2u}) {
    const ProcessConfig& p = job->processes[i];
    EXPECT_EQ(p.shutdown_signal, SIGTERM);
    EXPECT_TRUE(p.args.empty() && p.env.empty() && p.capabilities.empty());
    EXPECT_TRUE(p.workdir.empty() && p.pre_start.empty());
    EXPECT_FALSE(p.limits.memory || p.limits.open_files || p.limits.processes ||
                 p.limits.core_file_size);
    EXPECT_FALSE(p.ephemeral_disk || p.persistent_disk);
    EXPECT_TRUE(p.additional_volumes.empty());
    EXPECT_FALSE(p.unsafe.privileged || p.unsafe.host_pid_namespace);
    EXPECT_TRUE(p.unsafe.unrestricted_volumes.empty());
  }
  EXPECT_EQ(job->processes[2].name, "third-process");
}

// Null values read as bpm's YAML library reads them: an empty string or an absent field.
TEST(BpmConfig, NullsAreEmptyOrAbsent) {
  auto job = parse_job_config(
      "processes:\n- name: a\n  executable: /x\n  args: [~, b]\n  env: {A: ~}\n"
      "  workdir:\n  hooks:\n  limits:\n  unsafe:\n  shutdown_signal: ''\n",
      "bpm.yml");
  ASSERT_TRUE(job.ok()) << job.error().what();
  const ProcessConfig& p = job->processes[0];
  EXPECT_EQ(p.args, (std::vector<std::string>{"", "b"}));
  EXPECT_EQ(p.env, (Env{{"A", ""}}));
  EXPECT_TRUE(p.workdir.empty());
  EXPECT_EQ(p.shutdown_signal, SIGTERM);
}

// YAML 1.1 booleans and scalar numbers as strings are accepted, as bpm accepts them.
TEST(BpmConfig, LenientScalarsAsBpm) {
  auto job = parse_job_config(
      "processes:\n- name: 42\n  executable: /x\n  ephemeral_disk: yes\n"
      "  persistent_disk: off\n  limits: {memory: 1048576, open_files: 0}\n",
      "bpm.yml");
  ASSERT_TRUE(job.ok()) << job.error().what();
  const ProcessConfig& p = job->processes[0];
  EXPECT_EQ(p.name, "42");
  EXPECT_TRUE(p.ephemeral_disk);
  EXPECT_FALSE(p.persistent_disk);
  EXPECT_EQ(p.limits.memory, 1048576u);
  EXPECT_EQ(p.limits.open_files, 0u);
}

// Anchors and "<<" merge keys work, the process's own keys winning over merged ones.
TEST(BpmConfig, FollowsAnchorsAndMergeKeys) {
  auto job = parse_job_config(
      "processes:\n- &web\n  name: web\n  executable: /bin/web\n  env: {A: '1'}\n"
      "- <<: *web\n  name: web-2\n",
      "bpm.yml");
  ASSERT_TRUE(job.ok()) << job.error().what();
  ASSERT_EQ(job->processes.size(), 2u);
  EXPECT_EQ(job->processes[1].name, "web-2");
  EXPECT_EQ(job->processes[1].executable, "/bin/web");
  EXPECT_EQ(job->processes[1].env, (Env{{"A", "1"}}));
}

// A map that merges itself through an alias is refused instead of recursing forever.
TEST(BpmConfig, SelfMergeIsRefused) {
  auto job = parse_job_config(
      "processes:\n- &web\n  name: web\n  executable: /bin/web\n  <<: *web\n", "bpm.yml");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.error().message(),
            "bpm.yml:2: processes[0]: <<: merges nested too deeply (does a map merge itself?)");
}

// Only the first YAML document counts, as in bpm; the example's second one is empty.
TEST(BpmConfig, ReadsOnlyTheFirstDocument) {
  auto job =
      parse_job_config("processes:\n- {name: a, executable: /x}\n---\nnonsense: 1\n", "bpm.yml");
  ASSERT_TRUE(job.ok()) << job.error().what();
  EXPECT_EQ(job->processes.size(), 1u);
}

// A missing file is an error that keeps ENOENT, which `bpm list` uses to skip the job.
TEST(BpmConfig, MissingFileKeepsErrno) {
  auto job = load_job_config(kTestdata + "/no-such-file.yml");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.error().errnum(), ENOENT);
  EXPECT_NE(job.error().message().find("no-such-file.yml"), std::string::npos);
}

struct Broken {
  const char* file;      // under testdata/invalid
  const char* expected;  // the message after "<path>:"; it starts with the line
};

// "%FILE%" in `expected` stands for the file's path.
const Broken kBroken[] = {
    Broken{"empty-file", "1: empty file; expected a map with processes"},
    Broken{"not-yaml", "4: invalid YAML: end of sequence flow not found"},
    Broken{"tab-indent", "3: invalid YAML: illegal tab when looking for indentation"},
    Broken{"top-level-list", "1: expected a map, got a list"},
    Broken{"unknown-top-level-key", "1: process: unknown key; expected one of processes"},
    Broken{"no-processes-key", "2: processes: required but missing"},
    Broken{"empty-processes", "1: processes: expected at least one process, got none"},
    Broken{"null-processes", "1: processes: expected at least one process, got none"},
    Broken{"processes-not-a-list", "1: processes: expected a list, got a map"},
    Broken{"missing-name", "2: processes[0].name: required but missing"},
    Broken{"missing-executable", "4: processes[0].executable: required but missing"},
    Broken{"empty-executable", "3: processes[0].executable: must not be empty"},
    Broken{"name-with-slash",
           "2: processes[0].name: expected a name without \"/\", got \"../../etc\""},
    Broken{"duplicate-process",
           "6: processes[2].name: process \"web\" defined twice (first at %FILE%:2)"},
    Broken{"duplicate-key", "4: processes[0].executable: key given twice (first at %FILE%:3)"},
    Broken{"unknown-process-key",
           "4: processes[0].colour: unknown key; expected one of name, executable, args, env, "
           "workdir, hooks, capabilities, limits, ephemeral_disk, persistent_disk, "
           "additional_volumes, shutdown_signal, unsafe"},
    Broken{"executable-is-a-map", "3: processes[0].executable: expected a string, got a map"},
    Broken{"args-not-a-list", "4: processes[0].args: expected a list, got \"--port 2424\""},
    Broken{"arg-is-a-map", "6: processes[0].args[1]: expected a string, got a map"},
    Broken{"env-is-a-list", "4: processes[0].env: expected a map, got a list"},
    Broken{"env-value-is-a-list", "6: processes[0].env.PATHS: expected a string, got a list"},
    Broken{"env-key-with-equals",
           "5: processes[0].env.FOO=BAR: expected a variable name without \"=\""},
    Broken{"bad-memory",
           "6: processes[0].limits.memory: expected a size like 1G or 256M, got \"lots\""},
    Broken{"negative-memory",
           "5: processes[0].limits.memory: expected a size like 1G or 256M, got \"-1G\""},
    Broken{"memory-unit-unknown",
           "5: processes[0].limits.memory: expected a size like 1G or 256M, got \"12X\""},
    Broken{"memory-too-large",
           "5: processes[0].limits.memory: \"8E\" is too large (at most 8E - 1 bytes)"},
    Broken{"negative-open-files",
           "5: processes[0].limits.open_files: expected a non-negative whole number, got "
           "\"-1\""},
    Broken{"processes-not-a-number",
           "5: processes[0].limits.processes: expected a non-negative whole number, got "
           "\"many\""},
    Broken{"processes-too-large",
           "5: processes[0].limits.processes: \"9223372036854775808\" is too large (at most "
           "9223372036854775807)"},
    Broken{"quoted-open-files",
           "5: processes[0].limits.open_files: expected a non-negative whole number, got "
           "\"100\""},
    Broken{"unknown-limit",
           "5: processes[0].limits.cpu: unknown key; expected one of memory, open_files, "
           "processes, core_file_size"},
    Broken{"limits-not-a-map", "4: processes[0].limits: expected a map, got \"1G\""},
    Broken{"bool-not-bool",
           "4: processes[0].ephemeral_disk: expected true or false, got \"maybe\""},
    Broken{"quoted-bool", "4: processes[0].persistent_disk: expected true or false, got \"true\""},
    Broken{"bad-shutdown-signal",
           "4: processes[0].shutdown_signal: expected TERM or INT, got \"KILL\""},
    Broken{"hook-unknown",
           "6: processes[0].hooks.post_start: unknown key; expected one of pre_start"},
    Broken{"capabilities-not-a-list",
           "4: processes[0].capabilities: expected a list, got \"NET_ADMIN\""},
    Broken{"capability-with-prefix",
           "6: processes[0].capabilities[1]: expected a capability name without CAP_ "
           "(NET_ADMIN), got \"CAP_NET_ADMIN\""},
    Broken{"volume-without-path",
           "6: processes[0].additional_volumes[1].path: required but missing"},
    Broken{"volume-unknown-key",
           "6: processes[0].additional_volumes[0].readonly: unknown key; expected one of "
           "path, writable, allow_executions, mount_only, shared"},
    Broken{"volume-writable-not-bool",
           "6: processes[0].additional_volumes[0].writable: expected true or false, got "
           "\"rw\""},
    Broken{"volume-is-a-string",
           "5: processes[0].additional_volumes[0]: expected a map, got "
           "\"/var/vcap/data/a\""},
    Broken{"unsafe-privileged-not-bool",
           "5: processes[0].unsafe.privileged: expected true or false, got \"yes please\""},
    Broken{"unsafe-unknown-key",
           "5: processes[0].unsafe.host_network: unknown key; expected one of privileged, "
           "unrestricted_volumes, host_pid_namespace"},
    Broken{"unrestricted-volume-unknown-key",
           "7: processes[0].unsafe.unrestricted_volumes[0].recursive: unknown key; expected "
           "one of path, writable, allow_executions, mount_only, shared"},
};

class BrokenConfig : public ::testing::TestWithParam<Broken> {};

// Each broken bpm.yml is refused with a message naming the file, the line and the field.
TEST_P(BrokenConfig, RefusedNamingFileLineAndField) {
  const std::string path = kTestdata + "/invalid/" + GetParam().file + ".yml";
  auto job = load_job_config(path);
  ASSERT_FALSE(job.ok()) << GetParam().file << " was accepted";
  std::string expected = GetParam().expected;
  if (size_t at = expected.find("%FILE%"); at != std::string::npos) expected.replace(at, 6, path);
  EXPECT_EQ(job.error().message(), path + ":" + expected);
}

INSTANTIATE_TEST_SUITE_P(Files, BrokenConfig, ::testing::ValuesIn(kBroken),
                         [](const ::testing::TestParamInfo<Broken>& info) {
                           std::string name = info.param.file;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Every file under testdata/invalid has a case above, so none goes untested.
TEST(BpmConfig, EveryBrokenFileHasACase) {
  auto files = fs::list_dir(kTestdata + "/invalid");
  ASSERT_TRUE(files.ok()) << files.error().what();
  EXPECT_GE(files->size(), 15u);
  for (const std::string& file : *files) {
    bool listed = std::any_of(std::begin(kBroken), std::end(kBroken), [&](const Broken& b) {
      return std::string(b.file) + ".yml" == file;
    });
    EXPECT_TRUE(listed) << file << " has no case in kBroken";
  }
}

// Parsed volumes keep their line, so validate() can point into the file.
TEST(BpmConfig, ValidateNamesTheVolumeLine) {
  const std::string path = kTestdata + "/volume-outside-root.yml";
  auto job = load_job_config(path);
  ASSERT_TRUE(job.ok()) << job.error().what();
  auto s = validate(*job, "web", "/var/vcap");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            path +
                ":8: processes[0].additional_volumes[1].path: invalid volume path: /etc/ssl "
                "must be within /var/vcap");
}

// Additional volumes must be canonical, strictly inside the root and not the job's own
// data or store directory; the messages are bpm's.
TEST(BpmConfig, AdditionalVolumeRules) {
  for (const char* good : {"/var/vcap/data/other", "/var/vcap/store/j/sub", "/var/vcap/data/j2",
                           "/var/vcap/jobs/other/config", "/var/vcap/sys/run/j"})
    EXPECT_TRUE(validate(with_volume(good), "j", "/var/vcap").ok()) << good;
  const std::string field = "processes[0].additional_volumes[0].path: ";
  const std::pair<const char*, std::string> bad[] = {
      {"/var/vcap/data/j",
       "invalid volume path: /var/vcap/data/j cannot conflict with default job data or store "
       "directories"},
      {"/var/vcap/store/j",
       "invalid volume path: /var/vcap/store/j cannot conflict with default job data or store "
       "directories"},
      {"/etc", "invalid volume path: /etc must be within /var/vcap"},
      {"/var/vcap", "invalid volume path: /var/vcap must be within /var/vcap"},
      {"/var/vcapx/a", "invalid volume path: /var/vcapx/a must be within /var/vcap"},
      {"var/vcap/data/x", "invalid volume path: var/vcap/data/x must be within /var/vcap"},
      {"/var/vcap/data/../../etc",
       "volume path must be canonical, expected /var/etc but got \"/var/vcap/data/../../etc\""},
      {"/var/vcap/data/x/",
       "volume path must be canonical, expected /var/vcap/data/x but got \"/var/vcap/data/x/\""},
      {"/var/vcap//data/x",
       "volume path must be canonical, expected /var/vcap/data/x but got \"/var/vcap//data/x\""},
      {"/var/vcap/./data/x",
       "volume path must be canonical, expected /var/vcap/data/x but got \"/var/vcap/./data/x\""},
      {"", "volume path must be canonical, expected . but got \"\""},
  };
  for (const auto& [path, message] : bad) {
    auto s = validate(with_volume(path), "j", "/var/vcap");
    ASSERT_FALSE(s.ok()) << path;
    EXPECT_EQ(s.error().message(), field + message);
  }
}

// With another BOSH root, the root and the job's directories move with it.
TEST(BpmConfig, AdditionalVolumesFollowTheRoot) {
  EXPECT_TRUE(validate(with_volume("/tmp/root/data/x"), "j", "/tmp/root/").ok());
  EXPECT_FALSE(validate(with_volume("/tmp/root/data/j"), "j", "/tmp/root").ok());
  EXPECT_FALSE(validate(with_volume("/var/vcap/data/x"), "j", "/tmp/root").ok());
}

// Unrestricted volumes may be anywhere, globs included, but must be absolute.
TEST(BpmConfig, UnrestrictedVolumesOnlyAbsolute) {
  JobConfig job = with_volume("/var/vcap/data/x");
  for (const char* path : {"/", "/etc", "/var/vcap/jobs/*/config/x.yml", "/var/vcap/data/j"})
    job.processes[0].unsafe.unrestricted_volumes.push_back(volume(path));
  EXPECT_TRUE(validate(job, "j", "/var/vcap").ok());
  job.processes[0].unsafe.unrestricted_volumes.push_back(volume("etc/*"));
  auto s = validate(job, "j", "/var/vcap");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message(),
            "processes[0].unsafe.unrestricted_volumes[4].path: expected an absolute path or glob, "
            "got \"etc/*\"");
}

// Sizes read as bpm's bytefmt reads them: binary units in any spelling, decimals truncated.
TEST(BpmSize, AcceptedSpellings) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"1G", 1ULL << 30},
      {"256M", 256ULL << 20},
      {"512K", 512ULL << 10},
      {"100B", 100},
      {"100", 100},
      {"1", 1},
      {"1g", 1ULL << 30},
      {"1gb", 1ULL << 30},
      {"1GiB", 1ULL << 30},
      {"1MB", 1ULL << 20},
      {"1mib", 1ULL << 20},
      {"1KB", 1024},
      {"2T", 2ULL << 40},
      {"3P", 3ULL << 50},
      {"7E", 7ULL << 60},
      {"1.5G", 3ULL << 29},
      {"0.5K", 512},
      {".5K", 512},
      {"1.K", 1024},
      {"1.1K", 1126},  // 1126.4 truncated
      {"1.9B", 1},
      {"007M", 7ULL << 20},
      {" 64M ", 64ULL << 20},
      {"8191.999999999999999999P", (8191ULL << 50) + (1ULL << 50) - 1},
      {"9223372036854775807", 9223372036854775807ULL},
  };
  for (const auto& [text, bytes] : cases) {
    auto got = parse_size(text);
    ASSERT_TRUE(got.ok()) << text << ": " << got.error().what();
    EXPECT_EQ(*got, bytes) << text;
  }
}

// Anything else is refused with a message that quotes it.
TEST(BpmSize, RefusedSpellings) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "expected a size like 1G or 256M, got \"\""},
      {"G", "expected a size like 1G or 256M, got \"G\""},
      {"lots", "expected a size like 1G or 256M, got \"lots\""},
      {"1X", "expected a size like 1G or 256M, got \"1X\""},
      {"1GG", "expected a size like 1G or 256M, got \"1GG\""},
      {"1 G", "expected a size like 1G or 256M, got \"1 G\""},
      {"1BB", "expected a size like 1G or 256M, got \"1BB\""},
      {"1KIBB", "expected a size like 1G or 256M, got \"1KIBB\""},
      {"-1G", "expected a size like 1G or 256M, got \"-1G\""},
      {"+1G", "expected a size like 1G or 256M, got \"+1G\""},
      {"1.5", "expected a size like 1G or 256M, got \"1.5\""},
      {"1..5G", "expected a size like 1G or 256M, got \"1..5G\""},
      {".G", "expected a size like 1G or 256M, got \".G\""},
      {"1e3G", "expected a size like 1G or 256M, got \"1e3G\""},
      {"0x10M", "expected a size like 1G or 256M, got \"0x10M\""},
      {"0", "expected a size above zero, got \"0\""},
      {"0G", "expected a size above zero, got \"0G\""},
      {"0.1B", "expected a size above zero, got \"0.1B\""},
      {"8E", "\"8E\" is too large (at most 8E - 1 bytes)"},
      {"8192P", "\"8192P\" is too large (at most 8E - 1 bytes)"},
      {"9223372036854775808", "\"9223372036854775808\" is too large (at most 8E - 1 bytes)"},
      {"99999999999999999999999G",
       "\"99999999999999999999999G\" is too large (at most 8E - 1 bytes)"},
  };
  for (const auto& [text, message] : cases) {
    auto got = parse_size(text);
    ASSERT_FALSE(got.ok()) << text << " gave " << *got;
    EXPECT_EQ(got.error().message(), message) << text;
  }
}

}  // namespace
}  // namespace tarmac::bpm
