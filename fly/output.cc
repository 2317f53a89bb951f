#include "fly/output.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace tarmac::fly {

void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows, bool headers_shown) {
  std::vector<size_t> width(headers.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  };
  if (headers_shown) measure(headers);
  for (const auto& r : rows) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  if (headers_shown) print(headers);
  for (const auto& r : rows) print(r);
}

std::string show_time(int64_t t) {
  if (t <= 0) return "n/a";
  time_t tt = static_cast<time_t>(t);
  tm local{};
  localtime_r(&tt, &local);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d@%H:%M:%S%z", &local);
  return buf;
}

std::string show_duration(int64_t start, int64_t end) {
  if (start <= 0 || end <= 0 || end < start) return "n/a";
  int64_t s = end - start;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s >= 60) out += std::to_string((s % 3600) / 60) + "m";
  out += std::to_string(s % 60) + "s";
  return out;
}

int exit_code_for(const std::string& status) {
  if (status == "succeeded") return 0;
  if (status == "failed") return 1;
  if (status == "aborted") return 3;
  return 2;
}

}  // namespace tarmac::fly
