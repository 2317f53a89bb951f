#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "worker/runtime/runtime.h"

namespace tarmac::shim {

// One process started by the worker lives in its own directory, kept by a tarmac-shim that
// outlives the worker:
//   process.json  what to run (ShimRequest), written by the worker
//   shim.sock     the shim's socket: stdin, resize and signals in, wake-ups out
//   output        stdout and stderr (see output_log.h): in the request's output_dir (here
//                 for processes started by a worker from before output_dir)
//   exit          how the process ended ("exited N" / "signaled N"), written last
inline constexpr const char* kRequestFile = "process.json";
inline constexpr const char* kSocketFile = "shim.sock";
inline constexpr const char* kExitFile = "exit";

struct ShimRequest {
  std::string container;  // the runtime's container id
  runtime::RuntimeOptions runtime;
  runtime::Process process;
  bool tty = false;
  uint16_t rows = 24;
  uint16_t columns = 80;
  uint64_t retain_bytes = 16 << 20;  // output kept for clients that are away
  // Where the output log goes (an absolute path, made by the worker): not the process's
  // directory, which the worker keeps on a tmpfs, while a process's output stays on disk.
  std::string output_dir;
};

std::string to_json(const ShimRequest& request);
// Errors name the field and what was expected.
Result<ShimRequest> parse_request(const std::string& json);

// Messages on shim.sock (SOCK_SEQPACKET), the first byte saying which.
enum class Message : char {
  // client -> shim
  kStdin = 'i',       // + bytes
  kCloseStdin = 'c',  //
  kResize = 'r',      // + rows, columns as two little-endian uint16
  kSignal = 's',      // + signal as little-endian int32
  // shim -> client
  kOutput = 'o',  // the output log grew
  kExited = 'x',  // the exit file is written; the shim is going away
};

}  // namespace tarmac::shim
