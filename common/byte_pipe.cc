#include "common/byte_pipe.h"

namespace tarmac {

void BytePipe::changed(std::unique_lock<std::mutex>& lock) {
  changed_.notify_all();
  auto waker = waker_;
  lock.unlock();
  if (waker) (*waker)();
}

void BytePipe::set_waker(std::function<void()> waker) {
  std::lock_guard lock(mu_);
  waker_ = waker ? std::make_shared<const std::function<void()>>(std::move(waker)) : nullptr;
}

Result<bool> BytePipe::try_write(std::string_view data) {
  std::unique_lock lock(mu_);
  if (abandoned_) return *abandoned_;
  if (data.empty()) return true;
  if (size_ > 0 && size_ + data.size() > capacity_) return false;
  chunks_.emplace_back(data);
  size_ += data.size();
  changed(lock);
  return true;
}

Status BytePipe::write(std::string_view data) {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return abandoned_ || size_ == 0 || size_ + data.size() <= capacity_; });
  if (abandoned_) return *abandoned_;
  if (data.empty()) return ok_status();
  chunks_.emplace_back(data);
  size_ += data.size();
  changed(lock);
  return ok_status();
}

void BytePipe::close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  changed(lock);
}

void BytePipe::fail(Error why) {
  std::unique_lock lock(mu_);
  if (closed_) return;  // a stream that ended whole stays whole
  failed_ = std::move(why);
  closed_ = true;
  changed(lock);
}

Result<std::string> BytePipe::read() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !chunks_.empty() || closed_; });
  // A failure wins over what is still buffered: the stream is broken either way.
  if (failed_) return *failed_;
  if (chunks_.empty()) return std::string();
  std::string out = std::move(chunks_.front());
  chunks_.pop_front();
  size_ -= out.size();
  changed(lock);
  return out;
}

Result<BytePipe::Poll> BytePipe::try_read(std::string& out) {
  std::unique_lock lock(mu_);
  if (failed_) return *failed_;
  if (chunks_.empty()) return closed_ ? Poll::kEnd : Poll::kEmpty;
  while (!chunks_.empty()) {
    out += chunks_.front();
    size_ -= chunks_.front().size();
    chunks_.pop_front();
  }
  changed(lock);
  return Poll::kData;
}

void BytePipe::abandon(Error why) {
  std::unique_lock lock(mu_);
  if (!abandoned_) abandoned_ = std::move(why);
  chunks_.clear();
  size_ = 0;
  changed(lock);
}

}  // namespace tarmac
