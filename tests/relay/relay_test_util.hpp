// SPDX-License-Identifier: MIT
// Small helpers the relay tests share.
#pragma once

#include <unistd.h>

namespace ntm::test {

// Why root-only network tests cannot run here, or nullptr when they can.
inline const char* netns_unavailable() {
  if (::geteuid() != 0) return "needs root (network namespaces, TUN, nftables)";
  if (::access("/dev/net/tun", R_OK | W_OK) != 0) return "/dev/net/tun is missing";
  return nullptr;
}

}  // namespace ntm::test
