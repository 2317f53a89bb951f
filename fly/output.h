#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tarmac::fly {

// Columns padded to their widest cell, two spaces apart, as fly prints them; the header row
// only when asked (or on a terminal).
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows, bool headers_shown);

// Unix seconds as fly shows them ("2026-11-23@11:24:14+0000"); "n/a" for 0.
std::string show_time(int64_t unix_seconds);
// "1h2m3s", "45s"; "n/a" when either end is missing.
std::string show_duration(int64_t start, int64_t end);

// fly's exit code for a build status: succeeded 0, failed 1, errored 2, aborted 3.
int exit_code_for(const std::string& status);

}  // namespace tarmac::fly
