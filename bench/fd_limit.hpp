// duplex bench — raising the open-file limit, for programs that hold thousands of sockets.
// SPDX-License-Identifier: MIT
#pragma once

#include <sys/resource.h>

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft limit now in force
/// (RLIM_INFINITY if unlimited, 0 if it cannot be read).
inline rlim_t raise_fd_limit() {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
}
