#include "fly/sse.h"

namespace tarmac::fly {

bool SseParser::feed(const std::string& chunk) {
  buffer_ += chunk;
  size_t nl;
  while ((nl = buffer_.find('\n')) != std::string::npos) {
    std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      // A blank line ends an event; comments and empty events are skipped.
      bool any = !current_.name.empty() || !current_.data.empty();
      SseEvent e = std::move(current_);
      current_ = {};
      if (any && !on_event_(e)) return false;
      continue;
    }
    if (line[0] == ':') continue;
    size_t colon = line.find(':');
    std::string field = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    if (field == "id")
      current_.id = value;
    else if (field == "event")
      current_.name = value;
    else if (field == "data")
      current_.data += (current_.data.empty() ? "" : "\n") + value;
  }
  return true;
}

}  // namespace tarmac::fly
