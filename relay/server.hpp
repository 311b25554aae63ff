// SPDX-License-Identifier: MIT
// ntm-rs's I/O loop: one thread, poll() over the UDP socket (recvmmsg /
// sendmmsg in batches of kBatch, buffers allocated once), the TUN, a
// signalfd (SIGINT, SIGTERM: clean exit) and the status socket.
#pragma once

#include "config.hpp"

namespace ntm::relay {

// Runs until SIGINT or SIGTERM; returns the exit code.  Throws
// std::exception when set-up fails (socket, TUN, nftables).
int run_server(const Config& cfg);

}  // namespace ntm::relay
