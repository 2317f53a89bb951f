#include "fly/artifacts.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <set>
#include <thread>

#include "baggageclaim/tar/tar.h"
#include "common/byte_pipe.h"
#include "common/fs.h"
#include "common/unique_fd.h"

namespace tarmac::fly {
namespace {

namespace tar = baggageclaim::tar;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// NUL-separated paths from `git -C dir ls-files -z FLAGS`; nullopt if git fails.
std::optional<std::vector<std::string>> git_ls(const std::string& dir, const std::string& flags) {
  std::string cmd = "git -C " + shell_quote(dir) + " ls-files -z " + flags + " 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return std::nullopt;
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) return std::nullopt;
  std::vector<std::string> paths;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\0', start);
    if (end == std::string::npos) end = out.size();
    if (end > start) paths.push_back(out.substr(start, end - start));
    start = end + 1;
  }
  return paths;
}

}  // namespace

std::optional<std::vector<std::string>> git_files(const std::string& dir) {
  auto tracked = git_ls(dir, "");
  auto deleted = git_ls(dir, "--deleted");
  auto untracked = git_ls(dir, "--others --exclude-standard");
  if (!tracked || !deleted || !untracked) return std::nullopt;
  std::set<std::string> gone(deleted->begin(), deleted->end());
  std::vector<std::string> out;
  for (auto& f : *tracked)
    if (!gone.count(f)) out.push_back(std::move(f));
  for (auto& f : *untracked) out.push_back(std::move(f));
  return out;
}

std::function<bool(const std::string&, bool)> only(const std::vector<std::string>& files) {
  auto keep = std::make_shared<std::set<std::string>>();
  auto dirs = std::make_shared<std::set<std::string>>();
  for (const auto& f : files) {
    std::string name = "./" + f;
    keep->insert(name);
    for (size_t slash = name.rfind('/'); slash != std::string::npos && slash > 1;
         slash = name.rfind('/', slash - 1))
      dirs->insert(name.substr(0, slash));
  }
  return [keep, dirs](const std::string& name, bool is_dir) {
    if (keep->count(name) || (is_dir && dirs->count(name))) return true;
    // Inside a listed directory (a submodule is listed as one path).
    for (size_t slash = name.rfind('/'); slash != std::string::npos && slash > 1;
         slash = name.rfind('/', slash - 1))
      if (keep->count(name.substr(0, slash))) return true;
    return false;
  };
}

Result<int64_t> upload_input(Client& client, const Upload& upload) {
  UniqueFd dir(::open(upload.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return sys_error("input " + upload.dir);
  tar::ArchiveOptions options;
  options.encoding = tar::Encoding::kGzip;
  if (!upload.include_ignored) {
    if (auto files = git_files(upload.dir)) options.include = only(*files);
  }
  auto pipe = std::make_shared<BytePipe>();
  std::thread producer([&] {
    Status s = tar::stream_out(
        dir.get(), "", [&](std::string_view data) { return pipe->write(data); }, options);
    if (s.ok())
      pipe->close();
    else
      pipe->fail(std::move(s).error());
  });
  std::string query =
      "?platform=" + form_escape(upload.platform.empty() ? "linux" : upload.platform);
  for (const auto& t : upload.tags) query += "&tags=" + form_escape(t);
  auto reply =
      client.upload("/api/v1/teams/" + client.target().team + "/artifacts" + query,
                    {{"Content-Type", "application/octet-stream"}}, [&]() { return pipe->read(); });
  pipe->abandon(Error("the upload ended"));
  producer.join();
  if (!reply) return std::move(reply).error();
  if (reply->status != 201) return http_error("upload", *reply);
  auto j = nlohmann::json::parse(reply->body, nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_number_integer())
    return Error("upload: the answer has no artifact id", EIO);
  return j["id"].get<int64_t>();
}

Status download_output(Client& client, int64_t artifact_id, const std::string& dest) {
  TARMAC_TRY(fs::make_dirs(dest));
  UniqueFd dir(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return sys_error("output " + dest);
  auto pipe = std::make_shared<BytePipe>();
  Status extracted = ok_status();
  std::thread consumer([&] {
    tar::ExtractOptions options;
    options.encoding = tar::Encoding::kGzip;
    options.keep_owners = ::geteuid() == 0;
    std::string chunk;
    extracted = tar::stream_in(
        dir.get(), "",
        [&]() -> Result<std::string_view> {
          auto next = pipe->read();
          if (!next) return std::move(next).error();
          chunk = std::move(*next);
          return std::string_view(chunk);
        },
        options);
    pipe->abandon(Error("extraction ended"));
  });
  auto reply = client.download(
      "/api/v1/teams/" + client.target().team + "/artifacts/" + std::to_string(artifact_id),
      [&](const std::string& data) { return pipe->write(data).ok(); });
  if (!reply)
    pipe->fail(reply.error());
  else if (reply->status != 200)
    pipe->fail(http_error("download", *reply));
  else
    pipe->close();
  consumer.join();
  if (!reply) return std::move(reply).error();
  if (reply->status != 200) return http_error("download", *reply);
  return extracted;
}

}  // namespace tarmac::fly
