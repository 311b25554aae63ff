// SPDX-License-Identifier: MIT
#include "control/receiver.hpp"

#include "ntm/wire.h"

namespace ntm::dc::control {

std::uint64_t ReceiverStats::total_dropped() const noexcept {
  std::uint64_t n = oversized;
  for (auto v : dropped) n += v;
  return n;
}

wire::Error Receiver::classify(std::span<const std::uint8_t> datagram, std::size_t real_size) {
  ++stats_.received;
  if (real_size > NTM_MAX_CONTROL || real_size > datagram.size()) {
    ++stats_.oversized;
    return wire::Error::too_large;
  }
  wire::ControlHeader h;
  wire::Error e = wire::peek_control_header(datagram, h);
  if (e == wire::Error::ok && datagram.size() < NTM_CTL_HDR_LEN + NTM_TAG_LEN)
    e = wire::Error::truncated;
  // The DC only accepts what nodes, relays and peer DCs send it.
  if (e == wire::Error::ok && h.common.domain == wire::KeyDomain::node_dc &&
      h.common.role != wire::Role::node)
    e = wire::Error::bad_domain;
  if (e == wire::Error::ok && (h.common.domain == wire::KeyDomain::path ||
                               h.common.domain == wire::KeyDomain::relay_path))
    e = wire::Error::bad_domain;
  if (e == wire::Error::ok && !keys_.has_key(h.common)) e = wire::Error::unknown_key;
  if (e != wire::Error::ok) ++stats_.dropped[static_cast<std::size_t>(e)];
  return e;
}

}  // namespace ntm::dc::control
