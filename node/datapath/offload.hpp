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

// Receive coalescing (the reverse of split_offloaded): consecutive TCP
// segments of one flow that arrive in one batch are written to the TUN as
// one super-packet with a virtio_net_hdr asking the kernel for GSO, so the
// receiving stack pays per 64 KB as the sender's did.  Only segments that
// differ in nothing but their sequence number, IP id and checksums (and PSH
// on the last) are joined, as Linux's own GRO does.
class TcpCoalescer {
 public:
  static constexpr std::size_t kMax = 65535;
  // Starts a group with pkt, or returns false if pkt is not a TCP/IPv4
  // packet that can lead one (then write it alone).
  bool start(std::span<const std::uint8_t> pkt) noexcept;
  // Appends pkt if it continues the group; false otherwise (the group is
  // unchanged).
  bool append(std::span<const std::uint8_t> pkt) noexcept;
  bool empty() const noexcept { return count_ == 0; }
  std::size_t count() const noexcept { return count_; }
  // The group as vnet header + packet, ready for one write; the group is
  // then empty.  A group of one is written as a plain packet.
  std::span<const std::uint8_t> finish() noexcept;

 private:
  std::uint8_t buf_[VnetHdr::kSize + kMax];
  std::size_t len_ = 0;  // packet bytes after the vnet header
  std::size_t hdrs_ = 0, ihl_ = 0, mss_ = 0, count_ = 0;
  std::uint32_t next_seq_ = 0;
  bool closed_ = false;  // the last segment was shorter than mss, or had PSH
};

// The Internet checksum (RFC 1071) of data, added to sum (not complemented).
std::uint32_t checksum_add(std::span<const std::uint8_t> data, std::uint32_t sum) noexcept;
std::uint16_t checksum_fold(std::uint32_t sum) noexcept;

}  // namespace ntm::node
