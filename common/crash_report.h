#pragma once

namespace tarmac {

// For daemons: a crash (a fatal signal, or std::terminate with the exception that caused it)
// writes what happened and a backtrace to stderr — the daemon's log — before the process
// dies as it would have, so a crash on a machine nobody watches still says where it was.
// Also ignores SIGPIPE: a peer that went away is an error of the write, never the end of
// the daemon. Call once, early in main, before other threads start.
void install_crash_report(const char* program);

}  // namespace tarmac
