#pragma once

#include <functional>
#include <string>

namespace tarmac::fly {

// One Server-Sent Event.
struct SseEvent {
  std::string id, name, data;
};

// Splits a byte stream into events as it arrives; `on_event` gets each complete one and
// returns false to stop.
class SseParser {
 public:
  explicit SseParser(std::function<bool(const SseEvent&)> on_event)
      : on_event_(std::move(on_event)) {}
  // False once `on_event` asked to stop.
  bool feed(const std::string& chunk);

 private:
  std::function<bool(const SseEvent&)> on_event_;
  std::string buffer_;
  SseEvent current_;
};

}  // namespace tarmac::fly
