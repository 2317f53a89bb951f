#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "common/result.h"

namespace tarmac {

// Removes what a destroy gave up, in the background. The destroy moves it out of the way
// first (one rename: from then on it is gone for every caller) and returns; unlinking every
// file of it, the slow part, happens here, one path at a time. What is still queued when the
// remover goes is removed before it does, so a clean stop leaves nothing; after a crash the
// owner sweeps the directory it moves things into when it starts again.
class BackgroundRemover {
 public:
  // `remove` takes one path and reports its own failures (the remover has no caller to tell).
  explicit BackgroundRemover(std::function<void(const std::string&)> remove);
  ~BackgroundRemover();
  BackgroundRemover(const BackgroundRemover&) = delete;
  BackgroundRemover& operator=(const BackgroundRemover&) = delete;

  void add(std::string path);
  // Moves `path` into `dir` as `name`.<uuid> (unique: the same name may come again before the
  // first is removed) and queues it there: gone for every caller with one rename. The
  // rename's error (ENOENT when there is nothing at `path`) if it fails.
  Status take(const std::string& path, const std::string& dir, const std::string& name);
  // Queues everything `dir` holds: what a stop or a crash left there.
  void sweep(const std::string& dir);
  // Until everything added so far is removed.
  void drain();

 private:
  void run();

  std::function<void(const std::string&)> remove_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tarmac
