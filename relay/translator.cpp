// SPDX-License-Identifier: MIT
#include "translator.hpp"

namespace ntm::relay {

namespace {

std::uint16_t get16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
void put16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
std::uint32_t get32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}
void put32(std::uint8_t* p, std::uint32_t v) noexcept {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}

// Both 16-bit halves of a changed 32-bit address.
std::uint16_t adjust32(std::uint16_t hc, std::uint32_t old_v, std::uint32_t new_v) noexcept {
  hc = checksum_adjust(hc, static_cast<std::uint16_t>(old_v >> 16),
                       static_cast<std::uint16_t>(new_v >> 16));
  return checksum_adjust(hc, static_cast<std::uint16_t>(old_v), static_cast<std::uint16_t>(new_v));
}

constexpr std::uint8_t kIcmpEchoRequest = 8;

}  // namespace

std::uint16_t internet_checksum(std::span<const std::uint8_t> data, std::uint32_t sum) noexcept {
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += get16(data.data() + i);
  if (i < data.size()) sum += std::uint32_t{data[i]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

bool parse_ipv4(std::span<const std::uint8_t> pkt, bool from_node, Ipv4Packet& out) noexcept {
  if (pkt.size() < 20) return false;
  const std::uint8_t* p = pkt.data();
  if ((p[0] >> 4) != 4) return false;
  const std::size_t ihl = std::size_t{p[0] & 0x0fu} * 4;
  const std::size_t total = get16(p + 2);
  if (ihl < 20 || total < ihl || total > pkt.size()) return false;
  out.header_len = ihl;
  out.total_len = total;
  out.protocol = p[9];
  out.src = get32(p + 12);
  out.dst = get32(p + 16);
  out.first_fragment = (get16(p + 6) & 0x1fff) == 0;
  const std::size_t l4 = total - ihl;
  switch (out.protocol) {
    case kProtoTcp:
      return !out.first_fragment || l4 >= 20;
    case kProtoUdp:
      return !out.first_fragment || l4 >= 8;
    case kProtoIcmp:
      if (!out.first_fragment) return true;
      if (l4 < 8) return false;
      return !from_node || p[ihl] == kIcmpEchoRequest;
    default:
      return false;
  }
}

void rewrite_address(std::span<std::uint8_t> pkt, const Ipv4Packet& info, bool source,
                     std::uint32_t new_addr) noexcept {
  std::uint8_t* p = pkt.data();
  std::uint8_t* field = p + (source ? 12 : 16);
  const std::uint32_t old_addr = get32(field);
  if (old_addr == new_addr) return;
  put32(field, new_addr);
  put16(p + 10, adjust32(get16(p + 10), old_addr, new_addr));
  if (!info.first_fragment) return;  // no L4 header in this fragment
  std::uint8_t* l4 = p + info.header_len;
  if (info.protocol == kProtoTcp) {
    put16(l4 + 16, adjust32(get16(l4 + 16), old_addr, new_addr));
  } else if (info.protocol == kProtoUdp) {
    const std::uint16_t c = get16(l4 + 6);
    if (c == 0) return;  // sent without a checksum: stays without
    const std::uint16_t n = adjust32(c, old_addr, new_addr);
    put16(l4 + 6, n == 0 ? 0xffff : n);  // 0 means "none" in UDP
  }
}

}  // namespace ntm::relay
