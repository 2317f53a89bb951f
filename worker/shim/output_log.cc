#include "worker/shim/output_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/fs.h"

namespace tarmac::shim {
namespace {

constexpr uint8_t kMagic = 0xA5;
constexpr size_t kHeaderSize = 8;

// magic, stream, two reserved bytes, payload length (little endian).
struct Header {
  uint8_t magic = 0;
  uint8_t stream = 0;
  uint32_t length = 0;
};

void encode(const Header& h, unsigned char out[kHeaderSize]) {
  std::memset(out, 0, kHeaderSize);
  out[0] = h.magic;
  out[1] = h.stream;
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<unsigned char>(h.length >> (8 * i));
}

Header decode(const unsigned char in[kHeaderSize]) {
  Header h;
  h.magic = in[0];
  h.stream = in[1];
  for (int i = 0; i < 4; ++i) h.length |= static_cast<uint32_t>(in[4 + i]) << (8 * i);
  return h;
}

Result<UniqueFd> open_dir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!fd) return sys_error("open output dir " + dir);
  return fd;
}

// Reads exactly n bytes at off, or fewer at the end of the file.
Result<size_t> pread_full(int fd, void* buf, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, static_cast<char*>(buf) + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return sys_error("read output log");
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

Result<uint64_t> read_start(int dir) {
  UniqueFd fd(::openat(dir, kOutputStartFile, O_RDONLY | O_CLOEXEC));
  if (!fd) return errno == ENOENT ? Result<uint64_t>(0) : sys_error("open output.start");
  char buf[32] = {};
  auto n = pread_full(fd.get(), buf, sizeof buf - 1, 0);
  if (!n) return std::move(n).error();
  char* end = nullptr;
  unsigned long long v = std::strtoull(buf, &end, 10);
  if (end == buf)
    return Error("output.start: expected an offset, got \"" + std::string(buf) + "\"");
  return static_cast<uint64_t>(v);
}

Status write_start(int dir, uint64_t start) {
  std::string text = std::to_string(start) + "\n";
  UniqueFd fd(::openat(dir, "output.start.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return sys_error("create output.start.tmp");
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return sys_error("write output.start.tmp");
  if (::renameat(dir, "output.start.tmp", dir, kOutputStartFile) != 0)
    return sys_error("rename output.start");
  return {};
}

}  // namespace

Result<OutputLogWriter> OutputLogWriter::create(const std::string& dir, uint64_t retain_bytes) {
  auto d = open_dir(dir);
  if (!d) return std::move(d).error();
  UniqueFd file(::openat(d->get(), kOutputFile, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!file) return sys_error("create output log in " + dir);
  // No output.start until the first trim: a missing one reads as 0, and every inode made on
  // the disk filesystem costs a process start (see worker/README.md).
  // At least one whole frame always fits.
  uint64_t retain = std::max<uint64_t>(retain_bytes, 2 * (kHeaderSize + kMaxFramePayload));
  return OutputLogWriter(std::move(*d), std::move(file), retain);
}

Status OutputLogWriter::append(Stream stream, std::string_view data) {
  while (!data.empty()) {
    size_t n = std::min(data.size(), kMaxFramePayload);
    unsigned char header[kHeaderSize];
    encode({kMagic, static_cast<uint8_t>(stream), static_cast<uint32_t>(n)}, header);
    // Header and payload in one buffer and (almost always) one write: a reader never sees a
    // header whose payload is missing except while that write is in progress.
    frame_.assign(reinterpret_cast<char*>(header), kHeaderSize);
    frame_.append(data.data(), n);
    TARMAC_RETURN_IF_ERROR(fs::pwrite_all(file_.get(), frame_, static_cast<off_t>(end_)),
                           "append to output log");
    end_ += frame_.size();
    data.remove_prefix(n);
  }
  if (end_ - start_ > retain_) return trim();
  return {};
}

// Drops whole frames from the front until about half the retained size is left, so the
// cost of a trim is paid once per retain/2 bytes written.
Status OutputLogWriter::trim() {
  uint64_t target = end_ - retain_ / 2;
  uint64_t pos = start_;
  while (pos < target) {
    unsigned char buf[kHeaderSize];
    auto n = pread_full(file_.get(), buf, kHeaderSize, pos);
    if (!n) return std::move(n).error().wrap("trim output log");
    Header h = decode(buf);
    if (*n != kHeaderSize || h.magic != kMagic)
      return Error("trim output log: no frame at offset " + std::to_string(pos));
    pos += kHeaderSize + h.length;
  }
  if (::fallocate(file_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  static_cast<off_t>(start_), static_cast<off_t>(pos - start_)) != 0)
    return sys_error("trim output log: punch hole");
  // Readers learn the new start only after the hole exists; one that reads zeros before then
  // comes back for the start and skips ahead.
  TARMAC_RETURN_IF_ERROR(write_start(dir_.get(), pos), "trim output log");
  start_ = pos;
  return {};
}

Result<OutputLogReader> OutputLogReader::open(const std::string& dir, uint64_t from) {
  auto d = open_dir(dir);
  if (!d) return std::move(d).error();
  UniqueFd file(::openat(d->get(), kOutputFile, O_RDONLY | O_CLOEXEC));
  if (!file) return sys_error("open output log in " + dir);
  return OutputLogReader(std::move(*d), std::move(file), from);
}

Result<OutputBatch> OutputLogReader::read(size_t max_bytes) {
  OutputBatch batch;
  auto skip_to_start = [&]() -> Result<bool> {
    auto start = read_start(dir_.get());
    if (!start) return std::move(start).error();
    if (*start <= offset_) return false;
    batch.dropped += *start - offset_;
    offset_ = *start;
    return true;
  };
  auto skipped = skip_to_start();
  if (!skipped) return std::move(skipped).error();

  const uint64_t batch_begin = offset_;
  size_t total = 0;
  while (total < max_bytes) {
    unsigned char buf[kHeaderSize];
    auto n = pread_full(file_.get(), buf, kHeaderSize, offset_);
    if (!n) return std::move(n).error();
    if (*n < kHeaderSize) break;  // nothing more yet
    Header h = decode(buf);
    if (h.magic != kMagic || h.length > kMaxFramePayload || (h.stream != 1 && h.stream != 2)) {
      // Zeros where a trim punched a hole: skip to the new start. Anything else is damage.
      auto moved = skip_to_start();
      if (!moved) return std::move(moved).error();
      if (*moved) continue;
      return Error("output log: no frame at offset " + std::to_string(offset_));
    }
    OutputChunk chunk;
    chunk.stream = static_cast<Stream>(h.stream);
    chunk.data.resize(h.length);
    auto got = pread_full(file_.get(), chunk.data.data(), h.length, offset_ + kHeaderSize);
    if (!got) return std::move(got).error();
    if (*got < h.length) break;  // the frame is still being written
    offset_ += kHeaderSize + h.length;
    chunk.end_offset = offset_;
    total += h.length;
    batch.chunks.push_back(std::move(chunk));
  }
  // A trim may have punched frames while we read them: looked at once per batch, and the
  // frames before the new start (always a frame boundary) are dropped as never read.
  auto start = read_start(dir_.get());
  if (!start) return std::move(start).error();
  if (*start > batch_begin) {
    std::erase_if(batch.chunks, [&](const OutputChunk& c) {
      return c.end_offset - kHeaderSize - c.data.size() < *start;
    });
    batch.dropped += *start - batch_begin;
    offset_ = std::max(offset_, *start);
  }
  batch.next_offset = offset_;
  return batch;
}

}  // namespace tarmac::shim
