#include "baggageclaim/tar/file_writers.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <thread>

#include "common/fs.h"

namespace tarmac::baggageclaim::tar {

struct FileWriters::File {
  UniqueFd fd;
  std::string name;
  int64_t end = 0;  // past the last byte written
  size_t writer = 0;
  std::list<File>::iterator self;
};

namespace {

struct Job {
  FileWriters::File* file = nullptr;
  std::string data;  // with `offset`, or empty and `close` set
  int64_t offset = 0;
  std::optional<FileAttributes> close;
};

Status apply(FileWriters::File& f, const FileAttributes& a) {
  std::string what = "entry \"" + f.name + "\"";
  // A write or a chown removes security.capability (chown also setuid and setgid): the
  // xattrs come after both, the mode after the chown.
  if (f.end != a.size && ::ftruncate(f.fd.get(), a.size) != 0)
    return sys_error(what + ": set size");
  if (a.chown && ::fchown(f.fd.get(), a.uid, a.gid) != 0) return sys_error(what + ": chown");
  for (const auto& [key, value] : a.xattrs)
    if (::fsetxattr(f.fd.get(), key.c_str(), value.data(), value.size(), 0) != 0 &&
        errno != ENOTSUP)
      return sys_error(what + ": set xattr \"" + key + "\"");
  if (::fchmod(f.fd.get(), a.mode & 07777) != 0) return sys_error(what + ": chmod");
  struct timespec times[2] = {a.mtime, a.mtime};
  if (::futimens(f.fd.get(), times) != 0) return sys_error(what + ": utimes");
  return ok_status();
}

}  // namespace

struct FileWriters::Impl {
  struct Writer {
    std::deque<Job> queue;
    size_t queued_bytes = 0;
    std::condition_variable wake;
    std::thread thread;
  };

  explicit Impl(const FileWritersOptions& o) : options(o), writers(std::max(o.threads, 1)) {}

  FileWritersOptions options;
  std::mutex mu;
  std::condition_variable room;  // bytes or files freed, or everything done
  std::vector<Writer> writers;
  // Every file handed over and not yet closed: what an abandoned stream never closed is
  // closed with the writers.
  std::list<File> files;
  size_t buffered = 0;
  size_t pending = 0;  // jobs queued or running
  std::optional<Error> error;
  bool stopping = false;
  // Used copies' buffers, for the next: a fresh buffer's pages cost a fault each (on a VM,
  // much more). Small ones come cheap from the heap.
  static constexpr size_t kSpareMin = 64 << 10, kSpareMax = 2 << 20, kSpares = 32;
  std::vector<std::string> spare;

  Status failed() const { return error ? Status(*error) : ok_status(); }

  void run(Writer& w) {
    std::unique_lock lock(mu);
    for (;;) {
      w.wake.wait(lock, [&] { return stopping || !w.queue.empty(); });
      if (w.queue.empty()) return;
      Job job = std::move(w.queue.front());
      w.queue.pop_front();
      bool skip = error.has_value() || stopping;
      lock.unlock();
      Status s = skip ? ok_status() : execute(job);
      File* closed = job.close ? job.file : nullptr;
      if (closed) closed->fd.reset();
      lock.lock();
      if (closed) files.erase(closed->self);
      if (!s.ok() && !error) error = s.error();
      w.queued_bytes -= job.data.size();
      buffered -= job.data.size();
      if (job.data.capacity() >= kSpareMin && job.data.capacity() <= kSpareMax &&
          spare.size() < kSpares) {
        job.data.clear();
        spare.push_back(std::move(job.data));
      }
      --pending;
      room.notify_all();
    }
  }

  static Status execute(Job& job) {
    File& f = *job.file;
    if (job.close) return apply(f, *job.close);
    TARMAC_RETURN_IF_ERROR(fs::pwrite_all(f.fd.get(), job.data, job.offset),
                           "entry \"" + f.name + "\"");
    f.end = std::max<int64_t>(f.end, job.offset + static_cast<int64_t>(job.data.size()));
    return ok_status();
  }

  // Under `mu`.
  void push(Job job) {
    Writer& w = writers[job.file->writer];
    w.queued_bytes += job.data.size();
    buffered += job.data.size();
    ++pending;
    w.queue.push_back(std::move(job));
    w.wake.notify_one();
  }

  void stop() {
    {
      std::lock_guard lock(mu);
      stopping = true;
      for (auto& w : writers) w.wake.notify_one();
    }
    for (auto& w : writers)
      if (w.thread.joinable()) w.thread.join();
  }
};

Result<std::unique_ptr<FileWriters>> FileWriters::start(const FileWritersOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  // A thread is cloned with its creator's credentials: the writers get the caller's fsuid,
  // fsgid and capabilities without asking.
  for (auto& w : impl->writers) {
    try {
      w.thread = std::thread([raw = impl.get(), &w] { raw->run(w); });
    } catch (const std::system_error& e) {
      impl->stop();
      return Error(std::string("start file writers: ") + e.what(), e.code().value());
    }
  }
  return std::unique_ptr<FileWriters>(new FileWriters(std::move(impl)));
}

FileWriters::FileWriters(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FileWriters::~FileWriters() { impl_->stop(); }

Result<FileWriters::File*> FileWriters::add(UniqueFd fd, std::string name) {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  s.room.wait(lock, [&] { return s.error || s.files.size() < s.options.max_open_files; });
  TARMAC_TRY(s.failed());
  File* file = &s.files.emplace_back();
  file->self = std::prev(s.files.end());
  file->fd = std::move(fd);
  file->name = std::move(name);
  // The writer with the least content queued: a large file does not hold up the small ones
  // behind it.
  auto least =
      std::min_element(s.writers.begin(), s.writers.end(), [](const auto& a, const auto& b) {
        return std::pair(a.queued_bytes, a.queue.size()) <
               std::pair(b.queued_bytes, b.queue.size());
      });
  file->writer = static_cast<size_t>(least - s.writers.begin());
  return file;
}

Status FileWriters::write(File* file, std::string_view data, int64_t offset) {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  s.room.wait(lock, [&] {
    return s.error || s.buffered == 0 || s.buffered + data.size() <= s.options.max_buffered_bytes;
  });
  TARMAC_TRY(s.failed());
  Job job;
  job.file = file;
  job.offset = offset;
  if (!s.spare.empty()) {
    job.data = std::move(s.spare.back());
    s.spare.pop_back();
  }
  lock.unlock();
  job.data.assign(data);
  lock.lock();
  s.push(std::move(job));
  return ok_status();
}

Status FileWriters::close(File* file, FileAttributes attributes) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mu);
  Job job;
  job.file = file;
  job.close = std::move(attributes);
  // Even after an error: the writer closes the file.
  s.push(std::move(job));
  return s.failed();
}

Status FileWriters::finish() {
  Impl& s = *impl_;
  std::unique_lock lock(s.mu);
  s.room.wait(lock, [&] { return s.pending == 0; });
  return s.failed();
}

}  // namespace tarmac::baggageclaim::tar
