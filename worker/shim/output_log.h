#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace tarmac::shim {

// A process's output as one append-only file of frames, written by its shim and read by the
// worker, so output survives the worker (and every client) going away. Offsets are byte
// positions in that file and only grow; a client resumes from the offset it last saw.
//
// The file is bounded: past `retain_bytes` the oldest frames are punched out (the file keeps
// its offsets, the disk keeps only what is retained) and the first kept offset is recorded
// in output.start. A reader behind that point learns how many bytes it lost.
enum class Stream : uint8_t { kStdout = 1, kStderr = 2 };

inline constexpr const char* kOutputFile = "output";
inline constexpr const char* kOutputStartFile = "output.start";
inline constexpr size_t kMaxFramePayload = 64 * 1024;

class OutputLogWriter {
 public:
  // Creates the log in `dir` (which must exist); an error if one is already there.
  static Result<OutputLogWriter> create(const std::string& dir, uint64_t retain_bytes);

  Status append(Stream stream, std::string_view data);
  uint64_t end() const { return end_; }

 private:
  OutputLogWriter(UniqueFd dir, UniqueFd file, uint64_t retain)
      : dir_(std::move(dir)), file_(std::move(file)), retain_(retain) {}
  Status trim();

  UniqueFd dir_;
  UniqueFd file_;
  uint64_t retain_;
  uint64_t start_ = 0;
  uint64_t end_ = 0;
  std::string frame_;  // reused between appends
};

struct OutputChunk {
  Stream stream = Stream::kStdout;
  std::string data;
  uint64_t end_offset = 0;  // offset just past this chunk: resume from here
};

struct OutputBatch {
  uint64_t dropped = 0;  // bytes of the log skipped because they were no longer retained
  std::vector<OutputChunk> chunks;
  uint64_t next_offset = 0;  // where the next read starts
};

class OutputLogReader {
 public:
  static Result<OutputLogReader> open(const std::string& dir, uint64_t from);

  // The whole frames available now from the current offset, up to about `max_bytes` of
  // payload; empty when the writer has written nothing more yet.
  Result<OutputBatch> read(size_t max_bytes);
  uint64_t offset() const { return offset_; }

 private:
  OutputLogReader(UniqueFd dir, UniqueFd file, uint64_t from)
      : dir_(std::move(dir)), file_(std::move(file)), offset_(from) {}

  UniqueFd dir_;
  UniqueFd file_;
  uint64_t offset_;
};

}  // namespace tarmac::shim
