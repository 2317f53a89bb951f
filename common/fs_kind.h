#pragma once

#include <string>

#include "common/result.h"

namespace tarmac {

// Whether `path` is on ext4 without a journal. Such an ext4 does not reuse an inode freed in
// the last minutes (one, or six while its inode table block is dirty) and scans past each of
// them every time it makes a file or directory in that group, so where many are made and
// removed (a worker's volumes, one container after another) each new one costs more the
// more were removed lately. False for every other filesystem; an error when the kernel's
// description of the device cannot be read.
Result<bool> on_ext4_without_journal(const std::string& path);

}  // namespace tarmac
