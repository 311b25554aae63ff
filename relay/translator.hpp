// SPDX-License-Identifier: MIT
// The translate mode's packet rewrite: one IPv4 address of an inner packet
// replaced in place, with the IPv4 header checksum and the TCP or UDP
// checksum (whose pseudo-header holds the addresses) updated incrementally
// (RFC 1624, eqn. 3).  ICMP has no pseudo-header: only the IPv4 header
// changes.  Nothing here allocates or throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "ntm/common/inet_checksum.hpp"

namespace ntm::relay {

inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;

struct Ipv4Packet {
  std::uint32_t src = 0;  // host byte order
  std::uint32_t dst = 0;
  std::uint8_t protocol = 0;
  std::size_t header_len = 0;  // IHL × 4
  std::size_t total_len = 0;   // the IPv4 total length (≤ the buffer)
  bool first_fragment = true;  // fragment offset 0: the L4 header is here
};

// Checks that pkt starts with a well-formed IPv4 header (version 4, IHL ≥ 5,
// header and total length inside pkt) and that it carries TCP, UDP or
// ICMP with a complete L4 header in a first fragment.  from_node: the
// stricter rule for packets a node sends towards a general host (ICMP only
// as echo request).
bool parse_ipv4(std::span<const std::uint8_t> pkt, bool from_node, Ipv4Packet& out) noexcept;

// Replaces the source (source = true) or destination address of a packet
// that parse_ipv4 accepted, and updates its checksums.
void rewrite_address(std::span<std::uint8_t> pkt, const Ipv4Packet& info, bool source,
                     std::uint32_t new_addr) noexcept;

using common::checksum_adjust;  // RFC 1624, shared with ntmd's view translation

// The Internet checksum (RFC 1071) of data, seeded with sum (for tests and
// for pseudo-headers).
std::uint16_t internet_checksum(std::span<const std::uint8_t> data, std::uint32_t sum = 0) noexcept;

}  // namespace ntm::relay
