// SPDX-License-Identifier: MIT
// Splitting what a TUN with offloads hands over (TCP super-packets, partial
// checksums) into ordinary IPv4 packets.
#include <doctest/doctest.h>

#include <array>
#include <algorithm>
#include <memory>
#include <vector>

#include "datapath/offload.hpp"

namespace ntm::node {

namespace {

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// A TCP/IPv4 packet with payload bytes 0, 1, 2 ... and the given flags.
std::vector<std::uint8_t> tcp_packet(std::size_t payload, std::uint8_t flags) {
  std::vector<std::uint8_t> p(20 + 20 + payload);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size());
  p[4] = 0x12;
  p[5] = 0x34;  // id
  p[8] = 64;
  p[9] = 6;
  const std::uint8_t addrs[8] = {100, 64, 0, 1, 100, 64, 0, 2};
  std::copy(addrs, addrs + 8, p.begin() + 12);
  std::uint8_t* t = p.data() + 20;
  t[0] = 0x9c;
  t[1] = 0x40;
  t[3] = 80;
  t[4] = 0x10;  // seq 0x10000000
  t[12] = 5 << 4;
  t[13] = flags;
  t[14] = 0xff;
  for (std::size_t i = 0; i < payload; ++i) p[40 + i] = static_cast<std::uint8_t>(i);
  return p;
}

// RFC 1071 written out plainly, independent of the code under test: the
// one's complement sum of 16-bit big-endian words, odd byte padded.
std::uint16_t ones_sum(const std::vector<std::uint8_t>& d) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i < d.size(); i += 2)
    s += (std::uint32_t{d[i]} << 8) | (i + 1 < d.size() ? d[i + 1] : 0u);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(s);
}

// True if the IPv4 header checksum and the TCP checksum both verify.
bool checksums_ok(const std::uint8_t* p, std::size_t len) {
  if (ones_sum(std::vector<std::uint8_t>(p, p + 20)) != 0xffff) return false;
  std::vector<std::uint8_t> pseudo(p + 12, p + 20);  // addresses
  const std::size_t l4 = len - 20;
  pseudo.insert(pseudo.end(), {0, p[9], static_cast<std::uint8_t>(l4 >> 8),
                               static_cast<std::uint8_t>(l4)});
  pseudo.insert(pseudo.end(), p + 20, p + len);
  return ones_sum(pseudo) == 0xffff;
}

// The one's complement sum of the TCP pseudo-header (addresses, protocol,
// length), which a packet handed over for checksum offload carries.
std::uint16_t pseudo_header_sum(const std::uint8_t* p, std::size_t len) {
  std::vector<std::uint8_t> pseudo(p + 12, p + 20);
  const std::size_t l4 = len - 20;
  pseudo.insert(pseudo.end(), {0, p[9], static_cast<std::uint8_t>(l4 >> 8),
                               static_cast<std::uint8_t>(l4)});
  return ones_sum(pseudo);
}

void set_ip_checksum(std::uint8_t* p) {
  p[10] = p[11] = 0;
  const std::uint16_t c = static_cast<std::uint16_t>(~ones_sum(std::vector<std::uint8_t>(p, p + 20)));
  p[10] = static_cast<std::uint8_t>(c >> 8);
  p[11] = static_cast<std::uint8_t>(c);
}

struct Out {
  Out() {
    for (std::size_t i = 0; i < segs.size(); ++i) segs[i] = {bufs[i].data(), 0};
  }
  std::array<std::array<std::uint8_t, 1500>, 8> bufs{};
  std::array<Segment, 8> segs{};
};

}  // namespace

TEST_CASE("offload: a TCP super-packet becomes MSS-sized segments with correct headers") {
  const std::size_t payload = 3 * 1360 + 100;
  const auto pkt = tcp_packet(payload, 0x18 | 0x01 | 0x80);  // PSH ACK FIN CWR
  VnetHdr h;
  h.flags = VnetHdr::kNeedsCsum;
  h.gso_type = VnetHdr::kGsoTcpV4;
  h.hdr_len = 40;
  h.gso_size = 1360;
  h.csum_start = 20;
  h.csum_offset = 16;
  Out o;
  const auto n = split_offloaded(h, pkt, o.segs, 1400);
  REQUIRE(n == 4);
  std::size_t carried = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* s = o.segs[i].data;
    const std::size_t len = o.segs[i].len;
    const std::size_t seg_payload = i < 3 ? 1360 : 100;
    CHECK(len == 40 + seg_payload);
    CHECK(be16(s + 2) == len);
    CHECK(be16(s + 4) == 0x1234 + i);
    CHECK(be32(s + 24) == 0x10000000 + i * 1360);
    const std::uint8_t flags = s[33];
    CHECK(((flags & 0x01) != 0) == (i == 3));  // FIN last
    CHECK(((flags & 0x08) != 0) == (i == 3));  // PSH last
    CHECK(((flags & 0x80) != 0) == (i == 0));  // CWR first
    CHECK((flags & 0x10) != 0);                // ACK on all
    CHECK(checksums_ok(s, len));
    for (std::size_t b = 0; b < seg_payload; ++b)
      REQUIRE(s[40 + b] == static_cast<std::uint8_t>(carried + b));
    carried += seg_payload;
  }
  CHECK(carried == payload);
}

TEST_CASE("offload: a plain packet is copied, its partial checksum completed") {
  auto pkt = tcp_packet(300, 0x18);
  VnetHdr h;
  Out o;
  REQUIRE(split_offloaded(h, pkt, o.segs, 1400) == 1);
  CHECK(o.segs[0].len == pkt.size());
  h.flags = VnetHdr::kNeedsCsum;
  h.csum_start = 20;
  h.csum_offset = 16;
  REQUIRE(split_offloaded(h, pkt, o.segs, 1400) == 1);
  CHECK(checksums_ok(o.segs[0].data, o.segs[0].len) == false);  // IP header checksum never set here
  // With a valid IP header checksum the whole packet verifies.
  std::uint8_t* p = pkt.data();
  p[10] = p[11] = 0;
  const std::uint16_t c = static_cast<std::uint16_t>(~checksum_fold(checksum_add({p, 20}, 0)));
  p[10] = static_cast<std::uint8_t>(c >> 8);
  p[11] = static_cast<std::uint8_t>(c);
  REQUIRE(split_offloaded(h, pkt, o.segs, 1400) == 1);
  CHECK(checksums_ok(o.segs[0].data, o.segs[0].len));
}

TEST_CASE("offload: what cannot be split is refused, not guessed") {
  VnetHdr h;
  h.gso_type = VnetHdr::kGsoTcpV4;
  h.gso_size = 100;
  Out o;
  auto pkt = tcp_packet(1000, 0x10);  // 10 segments: more than the 8 buffers
  CHECK(split_offloaded(h, pkt, o.segs, 1400) == 0);
  h.gso_size = 1400;  // segments larger than the buffers allow
  CHECK(split_offloaded(h, tcp_packet(3000, 0x10), o.segs, 1000) == 0);
  auto lying = tcp_packet(100, 0x10);
  lying[3] = 0xff;  // total length beyond the data
  CHECK(split_offloaded(h, lying, o.segs, 1400) == 0);
  auto udp = tcp_packet(100, 0x10);
  udp[9] = 17;  // GSO TCPv4 on a UDP packet
  CHECK(split_offloaded(h, udp, o.segs, 1400) == 0);
  h.gso_type = 5;  // an unknown GSO type
  CHECK(split_offloaded(h, tcp_packet(100, 0x10), o.segs, 1400) == 0);
  std::vector<std::uint8_t> v6(60, 0);
  v6[0] = 0x60;
  h.gso_type = VnetHdr::kGsoNone;
  CHECK(split_offloaded(h, v6, o.segs, 1400) == 0);
  h.flags = VnetHdr::kNeedsCsum;
  h.csum_start = 20;
  h.csum_offset = 200;  // beyond the packet
  CHECK(split_offloaded(h, tcp_packet(10, 0x10), o.segs, 1400) == 0);
}

}  // namespace ntm::node

namespace ntm::node {

TEST_CASE("offload: segments split from a super-packet coalesce back into it") {
  const std::size_t payload = 5 * 1360 + 7;
  auto pkt = tcp_packet(payload, 0x18);  // ACK PSH
  VnetHdr h;
  h.gso_type = VnetHdr::kGsoTcpV4;
  h.gso_size = 1360;
  Out o;
  const auto n = split_offloaded(h, pkt, o.segs, 1400);
  REQUIRE(n == 6);
  auto gro = std::make_unique<TcpCoalescer>();
  REQUIRE(gro->start({o.segs[0].data, o.segs[0].len}));
  for (std::size_t i = 1; i < n; ++i) REQUIRE(gro->append({o.segs[i].data, o.segs[i].len}));
  CHECK(gro->count() == 6);
  const auto out = gro->finish();
  REQUIRE(out.size() == VnetHdr::kSize + pkt.size());
  const auto vh = VnetHdr::parse(out.data());
  CHECK(vh.gso_type == VnetHdr::kGsoTcpV4);
  CHECK(vh.flags == VnetHdr::kNeedsCsum);
  CHECK(vh.gso_size == 1360);
  CHECK(vh.hdr_len == 40);
  CHECK(vh.csum_start == 20);
  CHECK(vh.csum_offset == 16);
  const std::uint8_t* p = out.data() + VnetHdr::kSize;
  CHECK(be16(p + 2) == pkt.size());
  CHECK(checksum_fold(checksum_add({p, 20}, 0)) == 0xffff);  // IP header checksum
  CHECK(p[33] == 0x18);                                      // PSH from the last segment
  CHECK(std::equal(p + 40, p + pkt.size(), pkt.begin() + 40));
  // The kernel completes the TCP checksum from the pseudo-header sum left
  // in it: completing it here must verify.
  CHECK(pseudo_header_sum(p, pkt.size()) == be16(p + 36));
}

TEST_CASE("offload: the coalesced pseudo-header sum keeps its carries near 255.255.255.255") {
  auto pkt = tcp_packet(3 * 1000, 0x10);
  const std::uint8_t addrs[8] = {255, 255, 255, 255, 255, 255, 255, 254};
  std::copy(addrs, addrs + 8, pkt.begin() + 12);
  VnetHdr h;
  h.gso_type = VnetHdr::kGsoTcpV4;
  h.gso_size = 1000;
  Out o;
  REQUIRE(split_offloaded(h, pkt, o.segs, 1400) == 3);
  auto gro = std::make_unique<TcpCoalescer>();
  REQUIRE(gro->start({o.segs[0].data, o.segs[0].len}));
  REQUIRE(gro->append({o.segs[1].data, o.segs[1].len}));
  REQUIRE(gro->append({o.segs[2].data, o.segs[2].len}));
  const auto out = gro->finish();
  const std::uint8_t* p = out.data() + VnetHdr::kSize;
  CHECK(pseudo_header_sum(p, pkt.size()) == be16(p + 36));
}

TEST_CASE("offload: only true continuations join a group") {
  VnetHdr h;
  h.gso_type = VnetHdr::kGsoTcpV4;
  h.gso_size = 1000;
  Out o;
  REQUIRE(split_offloaded(h, tcp_packet(3000, 0x10), o.segs, 1400) == 3);
  auto gro = std::make_unique<TcpCoalescer>();
  std::span<const std::uint8_t> s0{o.segs[0].data, o.segs[0].len}, s1{o.segs[1].data, o.segs[1].len},
      s2{o.segs[2].data, o.segs[2].len};
  REQUIRE(gro->start(s0));
  CHECK_FALSE(gro->append(s2));  // a gap in the sequence
  std::vector<std::uint8_t> other(s1.begin(), s1.end());
  other[22] ^= 1;  // another source port
  CHECK_FALSE(gro->append(other));
  std::vector<std::uint8_t> acked(s1.begin(), s1.end());
  acked[29] ^= 1;  // another ack number
  CHECK_FALSE(gro->append(acked));
  std::vector<std::uint8_t> fin(s1.begin(), s1.end());
  fin[33] |= 0x01;  // FIN
  CHECK_FALSE(gro->append(fin));
  CHECK(gro->append(s1));
  CHECK(gro->count() == 2);
  // A lone segment comes out as it went in, with an empty vnet header.
  REQUIRE(gro->start(s2));
  const auto one = gro->finish();
  CHECK(VnetHdr::parse(one.data()).gso_type == VnetHdr::kGsoNone);
  CHECK(std::equal(one.begin() + VnetHdr::kSize, one.end(), s2.begin()));
  // Not TCP, a SYN, an empty ACK: never lead a group.
  auto udp = tcp_packet(100, 0x10);
  udp[9] = 17;
  CHECK_FALSE(gro->start(udp));
  CHECK_FALSE(gro->start(tcp_packet(100, 0x02)));
  CHECK_FALSE(gro->start(tcp_packet(0, 0x10)));
}

TEST_CASE("offload: the transport checksum keeps its carries with addresses near 255.255.255.255") {
  // The folded sum of these two addresses is 0xfffffffe: adding protocol
  // and length to it in 32 bits would wrap and lose a carry.
  for (const std::uint8_t last : {std::uint8_t{0xfe}, std::uint8_t{0xff}}) {
    auto pkt = tcp_packet(301, 0x18);
    const std::uint8_t addrs[8] = {255, 255, 255, 255, 255, 255, 255, last};
    std::copy(addrs, addrs + 8, pkt.begin() + 12);
    for (std::size_t i = 40; i < pkt.size(); ++i) pkt[i] = 0xff;
    set_ip_checksum(pkt.data());
    VnetHdr h;
    h.flags = VnetHdr::kNeedsCsum;
    h.csum_start = 20;
    h.csum_offset = 16;
    Out o;
    REQUIRE(split_offloaded(h, pkt, o.segs, 1400) == 1);
    CHECK(checksums_ok(o.segs[0].data, o.segs[0].len));
  }
}

}  // namespace ntm::node
