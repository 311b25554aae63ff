// SPDX-License-Identifier: MIT
// IPv4 test packets built with checksums computed from scratch, and the
// from-scratch checks that a rewritten packet must pass.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "translator.hpp"

namespace ntm::test {

inline void put16(std::vector<std::uint8_t>& v, std::size_t at, std::uint16_t x) {
  v[at] = static_cast<std::uint8_t>(x >> 8);
  v[at + 1] = static_cast<std::uint8_t>(x);
}
inline void put32(std::vector<std::uint8_t>& v, std::size_t at, std::uint32_t x) {
  put16(v, at, static_cast<std::uint16_t>(x >> 16));
  put16(v, at + 2, static_cast<std::uint16_t>(x));
}
inline std::uint16_t get16(std::span<const std::uint8_t> v, std::size_t at) {
  return static_cast<std::uint16_t>((v[at] << 8) | v[at + 1]);
}
inline std::uint32_t get32(std::span<const std::uint8_t> v, std::size_t at) {
  return (std::uint32_t{get16(v, at)} << 16) | get16(v, at + 2);
}

inline std::uint32_t pseudo_sum(std::span<const std::uint8_t> pkt) {
  const std::size_t l4 = get16(pkt, 2) - 20u;
  return get16(pkt, 12) + get16(pkt, 14) + get16(pkt, 16) + get16(pkt, 18) + pkt[9] +
         static_cast<std::uint32_t>(l4);
}

// An IPv4 packet (IHL 5) with an L4 part of `payload` bytes after its
// header; checksums correct.  udp_checksum false: UDP checksum 0 (none).
inline std::vector<std::uint8_t> make_packet(std::uint8_t proto, std::uint32_t src,
                                             std::uint32_t dst, std::size_t payload = 12,
                                             bool udp_checksum = true, std::uint8_t icmp_type = 8,
                                             std::uint16_t frag = 0x4000) {
  const std::size_t l4h = proto == relay::kProtoTcp ? 20 : 8;
  std::vector<std::uint8_t> p(20 + l4h + payload);
  p[0] = 0x45;
  put16(p, 2, static_cast<std::uint16_t>(p.size()));
  put16(p, 4, 0x1234);
  put16(p, 6, frag);
  p[8] = 64;
  p[9] = proto;
  put32(p, 12, src);
  put32(p, 16, dst);
  for (std::size_t i = 20 + l4h; i < p.size(); ++i) p[i] = static_cast<std::uint8_t>(i * 7 + 1);
  if (proto == relay::kProtoTcp) {
    put16(p, 20, 40000);
    put16(p, 22, 80);
    put32(p, 24, 0x01020304);
    p[32] = 0x50;
    p[33] = 0x18;
    put16(p, 34, 65535);
    put16(p, 36, relay::internet_checksum(std::span(p).subspan(20), pseudo_sum(p)));
  } else if (proto == relay::kProtoUdp) {
    put16(p, 20, 40000);
    put16(p, 22, 53);
    put16(p, 24, static_cast<std::uint16_t>(p.size() - 20));
    if (udp_checksum) {
      std::uint16_t c = relay::internet_checksum(std::span(p).subspan(20), pseudo_sum(p));
      put16(p, 26, c == 0 ? 0xffff : c);
    }
  } else if (proto == relay::kProtoIcmp) {
    p[20] = icmp_type;
    put16(p, 24, 0x4242);
    put16(p, 26, 1);
    put16(p, 22, relay::internet_checksum(std::span(p).subspan(20)));
  }
  put16(p, 10, relay::internet_checksum(std::span(p).first(20)));
  return p;
}

inline bool ip_checksum_ok(std::span<const std::uint8_t> p) {
  return relay::internet_checksum(p.first(20)) == 0;
}
inline bool l4_checksum_ok(std::span<const std::uint8_t> p) {
  const std::uint8_t proto = p[9];
  auto l4 = p.subspan(20, get16(p, 2) - 20u);
  if (proto == relay::kProtoIcmp) return relay::internet_checksum(l4) == 0;
  if (proto == relay::kProtoUdp && get16(p, 26) == 0) return true;
  return relay::internet_checksum(l4, pseudo_sum(p)) == 0;
}

}  // namespace ntm::test
