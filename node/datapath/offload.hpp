// SPDX-License-Identifier: MIT
// TUN offloads (IFF_VNET_HDR + TUNSETOFFLOAD TUN_F_CSUM | TUN_F_TSO4): the
// kernel hands ntmd a TCP "super-packet" of up to 64 KB with one read
// instead of one read per segment, and may leave the transport checksum to
// us.  This file turns such a read back into ordinary IPv4 packets of at
// most one MSS of payload each, written straight into the frames that are
// then sealed in place, so the TCP stack and the TUN pay per 64 KB while
// the tunnel still carries MTU-sized packets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace ntm::node {

// struct virtio_net_hdr, little-endian on x86 (TUN's default).
struct VnetHdr {
  static constexpr std::size_t kSize = 10;
  static constexpr std::uint8_t kNeedsCsum = 1;
  static constexpr std::uint8_t kGsoNone = 0, kGsoTcpV4 = 1;
  std::uint8_t flags = 0;
  std::uint8_t gso_type = kGsoNone;
  std::uint16_t hdr_len = 0, gso_size = 0, csum_start = 0, csum_offset = 0;
  static VnetHdr parse(const std::uint8_t* p) noexcept;
};

// One segment written by split_offloaded.
struct Segment {
  std::uint8_t* data;
  std::size_t len;
};

// Splits pkt (the IPv4 packet after the vnet header) into packets written at
// out[i].data, each buffer having room for cap bytes; returns how many, or
// 0 if the packet cannot be handled (not IPv4, inconsistent lengths, more
// segments than out has, a segment larger than cap): the caller drops it.
// A packet without GSO is copied as it is (its checksum completed if the
// kernel asked for that).
std::size_t split_offloaded(const VnetHdr& h, std::span<const std::uint8_t> pkt,
                            std::span<Segment> out, std::size_t cap) noexcept;

// The Internet checksum (RFC 1071) of data, added to sum (not complemented).
std::uint32_t checksum_add(std::span<const std::uint8_t> data, std::uint32_t sum) noexcept;
std::uint16_t checksum_fold(std::uint32_t sum) noexcept;

}  // namespace ntm::node
