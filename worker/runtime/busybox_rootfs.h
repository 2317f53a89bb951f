#pragma once

#include <string>

#include "common/result.h"

namespace tarmac::runtime {

// Lays out a minimal root filesystem in `dir` (created if missing): a static busybox with a
// symlink per applet in /bin, /etc/passwd and /etc/group (root, nobody, vcap), and empty
// /proc, /dev, /sys, /tmp (1777), /root. Offline: it needs only the busybox binary.
Status make_busybox_rootfs(const std::string& dir, const std::string& busybox = "/bin/busybox");

}  // namespace tarmac::runtime
