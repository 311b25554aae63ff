// SPDX-License-Identifier: MIT
// The translate rewrite: addresses replaced, every checksum still right
// when recomputed from scratch; packets a node may not send refused.
#include <doctest/doctest.h>

#include "packets.hpp"
#include "translator.hpp"

using namespace ntm::relay;
using namespace ntm::test;

namespace {
constexpr std::uint32_t kMnVip = 0x64400007;    // 100.64.0.7
constexpr std::uint32_t kHostVip = 0x64400101;  // 100.64.1.1
constexpr std::uint32_t kHostReal = 0xc6336409; // 198.51.100.9
}  // namespace

TEST_CASE("translator: RFC 1624 adjust equals a recomputation") {
  std::vector<std::uint8_t> d{0x45, 0x00, 0x12, 0x34, 0xab, 0xcd, 0xff, 0xff, 0x00, 0x01};
  const std::uint16_t before = internet_checksum(d);
  // Change word 2 (0xabcd -> 0x0000) and compare.
  const std::uint16_t adjusted = checksum_adjust(before, 0xabcd, 0x0000);
  d[4] = d[5] = 0;
  CHECK(adjusted == internet_checksum(d));
  // A change to 0xffff and back again.
  CHECK(checksum_adjust(checksum_adjust(before, 0xabcd, 0xffff), 0xffff, 0xabcd) == before);
}

TEST_CASE("translator: TCP, UDP and ICMP echo, destination then source, checksums from scratch") {
  for (std::uint8_t proto : {kProtoTcp, kProtoUdp, kProtoIcmp}) {
    for (std::size_t payload : {0u, 1u, 12u, 1001u}) {
      CAPTURE(int(proto));
      CAPTURE(payload);
      auto p = make_packet(proto, kMnVip, kHostVip, payload);
      REQUIRE(ip_checksum_ok(p));
      REQUIRE(l4_checksum_ok(p));
      Ipv4Packet ip;
      REQUIRE(parse_ipv4(p, true, ip));
      CHECK(ip.src == kMnVip);
      CHECK(ip.dst == kHostVip);
      CHECK(ip.total_len == p.size());
      rewrite_address(p, ip, false, kHostReal);
      CHECK(get32(p, 16) == kHostReal);
      CHECK(ip_checksum_ok(p));
      CHECK(l4_checksum_ok(p));
      // The reply direction: the source becomes the host's VIP again.
      auto r = make_packet(proto, kHostReal, kMnVip, payload, true, 0);
      REQUIRE(parse_ipv4(r, false, ip));
      rewrite_address(r, ip, true, kHostVip);
      CHECK(get32(r, 12) == kHostVip);
      CHECK(ip_checksum_ok(r));
      CHECK(l4_checksum_ok(r));
    }
  }
}

TEST_CASE("translator: UDP without a checksum stays without, a result of 0 is sent as 0xffff") {
  auto p = make_packet(kProtoUdp, kMnVip, kHostVip, 12, false);
  Ipv4Packet ip;
  REQUIRE(parse_ipv4(p, true, ip));
  rewrite_address(p, ip, false, kHostReal);
  CHECK(get16(p, 26) == 0);
  CHECK(ip_checksum_ok(p));
  // Search for a destination whose checksum comes out as 0 by rewriting:
  // whatever comes out must never be 0 and must verify.
  auto q = make_packet(kProtoUdp, kMnVip, kHostVip, 12);
  for (std::uint32_t a = 1; a < 70000; a += 1) {
    auto c = q;
    REQUIRE(parse_ipv4(c, true, ip));
    rewrite_address(c, ip, false, a);
    REQUIRE(get16(c, 26) != 0);
    if (!l4_checksum_ok(c)) FAIL("bad UDP checksum after rewrite to " << a);
  }
}

TEST_CASE("translator: a non-first fragment has only its IPv4 header rewritten") {
  auto p = make_packet(kProtoUdp, kMnVip, kHostVip, 40, true, 8, 0x0005);  // offset 40 bytes
  Ipv4Packet ip;
  REQUIRE(parse_ipv4(p, true, ip));
  CHECK_FALSE(ip.first_fragment);
  const auto l4_before = std::vector<std::uint8_t>(p.begin() + 20, p.end());
  rewrite_address(p, ip, false, kHostReal);
  CHECK(ip_checksum_ok(p));
  CHECK(std::vector<std::uint8_t>(p.begin() + 20, p.end()) == l4_before);
}

TEST_CASE("translator: packets that are refused") {
  Ipv4Packet ip;
  auto good = make_packet(kProtoUdp, kMnVip, kHostVip);
  REQUIRE(parse_ipv4(good, true, ip));
  // Too short, IPv6, IHL < 5, total length over the buffer or under the header.
  CHECK_FALSE(parse_ipv4(std::span(good).first(19), true, ip));
  auto v6 = good;
  v6[0] = 0x65;
  CHECK_FALSE(parse_ipv4(v6, true, ip));
  auto ihl = good;
  ihl[0] = 0x44;
  CHECK_FALSE(parse_ipv4(ihl, true, ip));
  auto longer = good;
  put16(longer, 2, static_cast<std::uint16_t>(good.size() + 1));
  CHECK_FALSE(parse_ipv4(longer, true, ip));
  auto shorter = good;
  put16(shorter, 2, 19);
  CHECK_FALSE(parse_ipv4(shorter, true, ip));
  // Truncated L4 headers.
  auto tcp = make_packet(kProtoTcp, kMnVip, kHostVip, 0);
  put16(tcp, 2, 39);
  CHECK_FALSE(parse_ipv4(tcp, true, ip));
  auto udp = make_packet(kProtoUdp, kMnVip, kHostVip, 0);
  put16(udp, 2, 27);
  CHECK_FALSE(parse_ipv4(udp, true, ip));
  // Other protocols (GRE), and ICMP other than echo request from a node.
  auto gre = good;
  gre[9] = 47;
  CHECK_FALSE(parse_ipv4(gre, true, ip));
  auto unreach = make_packet(kProtoIcmp, kMnVip, kHostVip, 8, true, 3);
  CHECK_FALSE(parse_ipv4(unreach, true, ip));
  CHECK(parse_ipv4(unreach, false, ip));  // replies from the host side may be errors
  auto reply = make_packet(kProtoIcmp, kMnVip, kHostVip, 8, true, 0);
  CHECK_FALSE(parse_ipv4(reply, true, ip));
  // A buffer longer than the packet is fine: total length rules.
  auto padded = good;
  padded.push_back(0);
  REQUIRE(parse_ipv4(padded, true, ip));
  CHECK(ip.total_len == good.size());
}
