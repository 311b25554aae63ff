// SPDX-License-Identifier: MIT
#include "datapath/view_translation.hpp"

namespace ntm::node {

namespace {

constexpr std::uint8_t kIcmp = 1, kTcp = 6, kUdp = 17, kDccp = 33, kUdpLite = 136;

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

std::uint16_t adjust32(std::uint16_t hc, std::uint32_t old_v, std::uint32_t new_v) {
  hc = checksum_adjust(hc, static_cast<std::uint16_t>(old_v >> 16),
                       static_cast<std::uint16_t>(new_v >> 16));
  return checksum_adjust(hc, static_cast<std::uint16_t>(old_v), static_cast<std::uint16_t>(new_v));
}

// The offset of the checksum a transport header keeps over the
// pseudo-header (which holds the addresses), or 0 for none.
std::size_t pseudo_checksum_offset(std::uint8_t proto) {
  switch (proto) {
    case kTcp:
      return 16;
    case kUdp:
    case kDccp:
    case kUdpLite:
      return 6;
    default:
      return 0;
  }
}

// Fixes the transport checksum at l4[off] for an address change; UDP's 0
// ("no checksum") stays 0 and a result of 0 is sent as 0xffff (RFC 768).
// Returns the checksum word before and after, for a covering ICMP checksum.
void fix_transport(std::uint8_t proto, std::uint8_t* field, std::uint32_t from, std::uint32_t to,
                   std::uint16_t& before, std::uint16_t& after) {
  before = after = be16(field);
  if (proto == kUdp && before == 0) return;
  after = adjust32(before, from, to);
  if (proto == kUdp && after == 0) after = 0xffff;
  put16(field, after);
}

bool is_icmp_error(std::uint8_t type) {
  // Destination unreachable, source quench, redirect, time exceeded,
  // parameter problem: they quote the offending packet's header.
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

// In an ICMP error at icmp[0, len), the quoted packet went the other way:
// its address on the other side (quoted_source) is the one to translate.
// Only what is present is changed; the ICMP checksum follows each word.
void translate_quoted(std::uint8_t* icmp, std::size_t len, bool quoted_source, std::uint32_t from,
                      std::uint32_t to) {
  if (!is_icmp_error(icmp[0]) || len < 8 + 20) return;
  std::uint8_t* in = icmp + 8;
  const std::size_t avail = len - 8;
  if ((in[0] >> 4) != 4) return;
  const std::size_t ihl = (in[0] & 0x0f) * 4u;
  if (ihl < 20 || ihl > avail) return;
  std::uint8_t* addr = in + (quoted_source ? 12 : 16);
  if (be32(addr) != from) return;
  std::uint16_t icmp_c = be16(icmp + 2);
  put32(addr, to);
  icmp_c = adjust32(icmp_c, from, to);
  const std::uint16_t ip_old = be16(in + 10);
  const std::uint16_t ip_new = adjust32(ip_old, from, to);
  put16(in + 10, ip_new);
  icmp_c = checksum_adjust(icmp_c, ip_old, ip_new);
  const bool first = (((in[6] & 0x1f) << 8) | in[7]) == 0;
  const std::size_t off = pseudo_checksum_offset(in[9]);
  if (first && off != 0 && avail >= ihl + off + 2) {
    std::uint16_t before = 0, after = 0;
    fix_transport(in[9], in + ihl + off, from, to, before, after);
    icmp_c = checksum_adjust(icmp_c, before, after);
  }
  put16(icmp + 2, icmp_c);
}

}  // namespace

bool translate_address(std::span<std::uint8_t> pkt, bool source, std::uint32_t to) noexcept {
  if (pkt.size() < 20 || (pkt[0] >> 4) != 4) return false;
  const std::size_t ihl = (pkt[0] & 0x0f) * 4u;
  const std::size_t total = be16(pkt.data() + 2);
  if (ihl < 20 || total < ihl || total > pkt.size()) return false;
  std::uint8_t* ip = pkt.data();
  std::uint8_t* l4 = ip + ihl;
  const std::size_t l4_len = total - ihl;
  const std::uint8_t proto = ip[9];
  // Only a first fragment (offset 0) holds the transport header; later
  // fragments are the payload's continuation, and the checksum fixed in the
  // first covers them after reassembly.
  const bool first = (((ip[6] & 0x1f) << 8) | ip[7]) == 0;
  const std::size_t off = pseudo_checksum_offset(proto);
  // Checked before anything changes: a first fragment that cuts the
  // transport header before its checksum (RFC 1858's tiny fragments) is
  // dropped, not half translated.
  if (first && off != 0 && l4_len < off + 2) return false;
  if (first && proto == kIcmp && l4_len < 8) return false;
  std::uint8_t* field = ip + (source ? 12 : 16);
  const std::uint32_t from = be32(field);
  if (from == to) return true;
  put32(field, to);
  put16(ip + 10, adjust32(be16(ip + 10), from, to));
  if (!first) return true;
  if (off != 0) {
    std::uint16_t before = 0, after = 0;
    fix_transport(proto, l4 + off, from, to, before, after);
  } else if (proto == kIcmp) {
    // ICMP has no pseudo-header; an error's quoted packet names us on the
    // other side.
    translate_quoted(l4, l4_len, !source, from, to);
  }
  return true;
}

}  // namespace ntm::node
