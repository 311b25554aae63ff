// SPDX-License-Identifier: MIT
// Address translation between a node's view and the real VIPs.  When the DC
// gave a path a substitute address for the peer (Route Direction peer_view
// differs from the peer's VIP: the VIP clashes in this node's view,
// docs/dc.md "Virtual address clashes"), applications use the substitute
// and the tunnel carries the real VIP:
//   outgoing (TUN -> tunnel): destination substitute -> peer VIP;
//   incoming (tunnel -> TUN): source peer VIP -> substitute.
// One address of an inner IPv4 packet is replaced in place, with the IPv4
// header checksum and the TCP/UDP (and UDP-Lite, DCCP) checksum fixed
// incrementally (RFC 1624, eqn. 3).  An ICMP error's quoted packet carries
// the same address on the other side: it is translated too, with the quoted
// header's checksums and the ICMP checksum.  Non-first fragments carry no
// transport header: only the IPv4 header changes.  No allocation, no throw.
// Shared by every DataPath through TunnelTable (and the model for the
// kernel module's data path, docs/data-plane.md §7).
#pragma once

#include <cstdint>
#include <span>

#include "ntm/common/inet_checksum.hpp"

namespace ntm::node {

// Replaces the source (source = true) or destination address of the IPv4
// packet pkt[0, total length) with to (host order), and the same address on
// the other side of the packet an ICMP error quotes.  False, with pkt
// unchanged, when the packet is not a whole IPv4 packet or a first fragment
// too short to hold the transport checksum it must fix (the caller drops
// and counts it).
bool translate_address(std::span<std::uint8_t> pkt, bool source, std::uint32_t to) noexcept;

using common::checksum_adjust;  // RFC 1624, shared with ntm-rs's NAPT

}  // namespace ntm::node
