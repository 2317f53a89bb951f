#include "atc/engine/events.h"

#include <ctime>

namespace tarmac::atc::engine {
namespace {

nlohmann::json origin(const std::string& id) { return {{"id", id}}; }

}  // namespace

Status EventWriter::write(const std::string& type, const std::string& version, nlohmann::json data,
                          const std::string& container, uint64_t offset) {
  data["time"] = static_cast<int64_t>(std::time(nullptr));
  // Output that is not UTF-8 is shown with U+FFFD rather than lost (or throwing).
  std::string payload = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto r =
      builds_.append_event(build_, type, version, payload, container, static_cast<int64_t>(offset));
  if (!r) return std::move(r).error();
  return ok_status();
}

Status EventWriter::waiting_for_worker(const std::string& o) {
  return write("waiting-for-worker", "1.0", {{"origin", origin(o)}});
}

Status EventWriter::selected_worker(const std::string& o, const std::string& worker) {
  return write("selected-worker", "1.0", {{"origin", origin(o)}, {"selected_worker", worker}});
}

Status EventWriter::initialize_task(const std::string& o, const nlohmann::json& config) {
  return write("initialize-task", "4.0", {{"origin", origin(o)}, {"config", config}});
}

Status EventWriter::start_task(const std::string& o) {
  return write("start-task", "5.0", {{"origin", origin(o)}});
}

Status EventWriter::log(const std::string& o, bool is_stderr, const std::string& payload) {
  return output(o, is_stderr, payload, "", 0);  // no process offset to keep
}

Status EventWriter::output(const std::string& o, bool is_stderr, const std::string& payload,
                           const std::string& container, uint64_t next_offset) {
  nlohmann::json from = origin(o);
  from["source"] = is_stderr ? "stderr" : "stdout";
  return write("log", "5.1", {{"origin", from}, {"payload", payload}}, container, next_offset);
}

Status EventWriter::finish_task(const std::string& o, int exit_status) {
  return write("finish-task", "4.0", {{"origin", origin(o)}, {"exit_status", exit_status}});
}

Status EventWriter::error(const std::string& o, const std::string& message) {
  return write("error", "4.1", {{"origin", origin(o)}, {"message", message}});
}

Status EventWriter::status(const std::string& s) { return write("status", "1.0", {{"status", s}}); }

}  // namespace tarmac::atc::engine
