#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "worker/beacon/holdings.h"

namespace tarmac::beacon {

// Destroys what the registry's heartbeat answers name, off the heartbeat's thread: containers
// `parallelism` at a time, then the batch's volumes (leaves first). A handle already queued
// or being destroyed is not queued twice. What is gone (or failed) is collected for the next
// beat.
class Reaper {
 public:
  Reaper(Holdings& holdings, int parallelism);
  ~Reaper();

  void enqueue(const std::vector<std::string>& containers, const std::vector<std::string>& volumes);

  struct Report {
    std::vector<std::string> destroyed_containers, destroyed_volumes, failed;
  };
  // What happened since the last call.
  Report take_report();
  // Blocks until nothing is queued or running (tests, drain).
  void wait_idle();

 private:
  void run();
  void destroy_containers(std::vector<std::string> handles);

  Holdings& holdings_;
  int parallelism_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<std::vector<std::string>, std::vector<std::string>>> batches_;
  std::set<std::string> pending_;  // queued or in progress, as "c:<h>" / "v:<h>"
  Report report_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tarmac::beacon
