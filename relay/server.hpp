// SPDX-License-Identifier: MIT
// ntm-rs's I/O loop: one thread, poll() over the UDP socket (recvmmsg /
// sendmmsg in batches of kBatch, buffers allocated once), the TUN, a
// signalfd (SIGINT, SIGTERM: clean exit; SIGHUP: the relay key read again
// from config_file) and the status socket.
#pragma once

#include <filesystem>

#include "config.hpp"

namespace ntm::relay {

// Runs until SIGINT or SIGTERM; returns the exit code.  Throws
// std::exception when set-up fails (socket, TUN, nftables).  config_file:
// where cfg came from, read again on SIGHUP (empty: SIGHUP is ignored).
int run_server(const Config& cfg, const std::filesystem::path& config_file = {});

}  // namespace ntm::relay
