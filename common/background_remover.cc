#include "common/background_remover.h"

#include <cstdio>

#include "common/fs.h"
#include "common/uuid.h"

namespace tarmac {

BackgroundRemover::BackgroundRemover(std::function<void(const std::string&)> remove)
    : remove_(std::move(remove)), thread_([this] { run(); }) {}

BackgroundRemover::~BackgroundRemover() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BackgroundRemover::add(std::string path) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(path));
  }
  cv_.notify_all();
}

Status BackgroundRemover::take(const std::string& path, const std::string& dir,
                               const std::string& name) {
  std::string moved = dir + "/" + name + "." + new_uuid();
  if (::rename(path.c_str(), moved.c_str()) != 0) return sys_error("move " + path + " to " + moved);
  add(std::move(moved));
  return {};
}

void BackgroundRemover::sweep(const std::string& dir) {
  if (auto names = fs::list_dir(dir); names)
    for (const std::string& name : *names) add(dir + "/" + name);
}

void BackgroundRemover::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void BackgroundRemover::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    std::string path = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    lock.unlock();
    remove_(path);
    lock.lock();
    busy_ = false;
    cv_.notify_all();
  }
}

}  // namespace tarmac
