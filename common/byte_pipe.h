#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tarmac {

// A bounded byte stream between a producer and a consumer that may live on different
// threads. Either side may be a thread that blocks or an event loop that polls (the try_
// calls never block), so an HTTP server's I/O threads can feed a gRPC stream run by a
// handler thread without either holding the other up for long.
//
// The producer ends the stream with close() or fail(); the consumer gives up with
// abandon(), after which writes fail with the reason, so the producer stops its work.
class BytePipe {
 public:
  explicit BytePipe(size_t capacity = 4u << 20) : capacity_(capacity) {}

  // Producer side. Blocks while the pipe is full; an error once the consumer abandoned.
  Status write(std::string_view data);
  // Takes the data only if it fits now (a chunk larger than the capacity fits an empty
  // pipe); false = try later. An error once the consumer abandoned.
  Result<bool> try_write(std::string_view data);
  void close();
  // Ends the stream as broken; no effect once closed.
  void fail(Error why);

  // Consumer side. The next chunk; "" at the end; the producer's error if it failed.
  Result<std::string> read();
  enum class Poll { kData, kEmpty, kEnd };
  // Moves what is there into `out` (appending) without blocking.
  Result<Poll> try_read(std::string& out);
  void abandon(Error why);

  // Called after every change of state (data in or out, end, failure, abandon), on the
  // changing thread and without the pipe's lock: an event loop that polls with the try_
  // calls waits for this instead of a timer. Empty: none.
  void set_waker(std::function<void()> waker);

 private:
  // Wakes blocked readers and writers, then the waker, the lock released first.
  void changed(std::unique_lock<std::mutex>& lock);

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::string> chunks_;
  size_t size_ = 0;
  bool closed_ = false;
  std::optional<Error> failed_;     // the producer's
  std::optional<Error> abandoned_;  // the consumer's
  std::shared_ptr<const std::function<void()>> waker_;
};

}  // namespace tarmac
