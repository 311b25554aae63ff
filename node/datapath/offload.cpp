// SPDX-License-Identifier: MIT
#include "datapath/offload.hpp"

#include <cstring>

namespace ntm::node {

namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}

void ipv4_header_checksum(std::uint8_t* ip, std::size_t ihl) {
  ip[10] = ip[11] = 0;
  put16(ip + 10, static_cast<std::uint16_t>(~checksum_fold(checksum_add({ip, ihl}, 0))));
}

// The unfolded sum of the TCP/UDP pseudo-header (addresses, protocol,
// length).  Protocol and length seed checksum_add, whose wide accumulator
// keeps every carry: the folded sum of two addresses can come close to
// 2^32, and adding to it in 32 bits would drop one.
std::uint32_t pseudo_header_sum(const std::uint8_t* ip, std::size_t l4_len) {
  return checksum_add({ip + 12, 8}, ip[9] + static_cast<std::uint32_t>(l4_len));
}

// TCP or UDP checksum over the pseudo-header and the segment at l4.
void transport_checksum(std::uint8_t* ip, std::uint8_t* l4, std::size_t l4_len,
                        std::size_t csum_offset) {
  l4[csum_offset] = l4[csum_offset + 1] = 0;
  const std::uint32_t sum = checksum_add({l4, l4_len}, pseudo_header_sum(ip, l4_len));
  std::uint16_t c = static_cast<std::uint16_t>(~checksum_fold(sum));
  if (c == 0 && ip[9] == 17) c = 0xffff;  // UDP: zero means "no checksum"
  put16(l4 + csum_offset, c);
}

}  // namespace

VnetHdr VnetHdr::parse(const std::uint8_t* p) noexcept {
  VnetHdr h;
  h.flags = p[0];
  h.gso_type = p[1];
  h.hdr_len = le16(p + 2);
  h.gso_size = le16(p + 4);
  h.csum_start = le16(p + 6);
  h.csum_offset = le16(p + 8);
  return h;
}

std::uint32_t checksum_add(std::span<const std::uint8_t> d, std::uint32_t sum) noexcept {
  // 32-bit big-endian words into a 64-bit accumulator: the one's
  // complement sum of 16-bit words folds out of it (RFC 1071 §2(B)).
  std::uint64_t s = sum;
  std::size_t i = 0;
  for (; i + 4 <= d.size(); i += 4) s += be32(d.data() + i);
  for (; i + 1 < d.size(); i += 2) s += (std::uint32_t{d[i]} << 8) | d[i + 1];
  if (i < d.size()) s += std::uint32_t{d[i]} << 8;
  while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
  return static_cast<std::uint32_t>(s);
}

std::uint16_t checksum_fold(std::uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::size_t split_offloaded(const VnetHdr& h, std::span<const std::uint8_t> pkt,
                            std::span<Segment> out, std::size_t cap) noexcept {
  if (pkt.size() < 20 || (pkt[0] >> 4) != 4 || out.empty()) return 0;
  const std::size_t ihl = (pkt[0] & 0x0f) * 4u;
  const std::size_t total = be16(pkt.data() + 2);
  if (ihl < 20 || total < ihl || total != pkt.size()) return 0;

  if (h.gso_type == VnetHdr::kGsoNone) {
    if (pkt.size() > cap) return 0;
    std::memcpy(out[0].data, pkt.data(), pkt.size());
    out[0].len = pkt.size();
    if (h.flags & VnetHdr::kNeedsCsum) {
      if (h.csum_start != ihl || std::size_t{h.csum_start} + h.csum_offset + 2 > pkt.size())
        return 0;
      transport_checksum(out[0].data, out[0].data + ihl, pkt.size() - ihl, h.csum_offset);
    }
    return 1;
  }
  if (h.gso_type != VnetHdr::kGsoTcpV4 || pkt[9] != 6 || h.gso_size == 0) return 0;
  if (pkt.size() < ihl + 20) return 0;
  const std::size_t thl = (pkt[ihl + 12] >> 4) * 4u;
  const std::size_t hdrs = ihl + thl;
  if (thl < 20 || hdrs > pkt.size()) return 0;
  const std::size_t payload = pkt.size() - hdrs;
  const std::size_t mss = h.gso_size;
  const std::size_t count = payload == 0 ? 1 : (payload + mss - 1) / mss;
  if (count > out.size() || hdrs + std::min(mss, payload) > cap) return 0;

  const std::uint16_t id = be16(pkt.data() + 4);
  const std::uint32_t seq = be32(pkt.data() + ihl + 4);
  const std::uint8_t flags = pkt[ihl + 13];
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t off = i * mss;
    const std::size_t len = std::min(mss, payload - off);
    std::uint8_t* p = out[i].data;
    std::memcpy(p, pkt.data(), hdrs);
    std::memcpy(p + hdrs, pkt.data() + hdrs + off, len);
    out[i].len = hdrs + len;
    put16(p + 2, static_cast<std::uint16_t>(hdrs + len));
    put16(p + 4, static_cast<std::uint16_t>(id + i));
    ipv4_header_checksum(p, ihl);
    std::uint8_t* tcp = p + ihl;
    put32(tcp + 4, static_cast<std::uint32_t>(seq + off));
    std::uint8_t f = flags;
    if (i + 1 < count) f &= static_cast<std::uint8_t>(~0x09);  // FIN, PSH only on the last
    if (i > 0) f &= static_cast<std::uint8_t>(~0x80);          // CWR only on the first
    tcp[13] = f;
    transport_checksum(p, tcp, thl + len, 16);
  }
  return count;
}

namespace {

// ihl, thl and payload length of a TCP/IPv4 packet that may join a group:
// no IP options, not a fragment, only ACK (and PSH) among the flags.
bool tcp_segment(std::span<const std::uint8_t> p, std::size_t& ihl, std::size_t& thl) {
  if (p.size() < 40 || p[0] != 0x45 || p[9] != 6) return false;
  if (be16(p.data() + 2) != p.size()) return false;
  if ((be16(p.data() + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
  ihl = 20;
  thl = (p[20 + 12] >> 4) * 4u;
  if (thl < 20 || 20 + thl > p.size()) return false;
  const std::uint8_t flags = p[20 + 13];
  return (flags & ~0x18) == 0 && (flags & 0x10);  // ACK, maybe PSH; nothing else
}

}  // namespace

bool TcpCoalescer::start(std::span<const std::uint8_t> pkt) noexcept {
  count_ = 0;
  std::size_t ihl = 0, thl = 0;
  if (!tcp_segment(pkt, ihl, thl) || pkt.size() == ihl + thl) return false;
  ihl_ = ihl;
  hdrs_ = ihl + thl;
  mss_ = pkt.size() - hdrs_;
  std::memcpy(buf_ + VnetHdr::kSize, pkt.data(), pkt.size());
  len_ = pkt.size();
  next_seq_ = be32(pkt.data() + ihl + 4) + static_cast<std::uint32_t>(mss_);
  closed_ = (pkt[ihl + 13] & 0x08) != 0;
  count_ = 1;
  return true;
}

bool TcpCoalescer::append(std::span<const std::uint8_t> pkt) noexcept {
  if (count_ == 0 || closed_) return false;
  std::size_t ihl = 0, thl = 0;
  if (!tcp_segment(pkt, ihl, thl) || ihl + thl != hdrs_) return false;
  const std::size_t payload = pkt.size() - hdrs_;
  if (payload == 0 || payload > mss_ || len_ + payload > kMax) return false;
  const std::uint8_t* g = buf_ + VnetHdr::kSize;
  // IP: version ... TOS, flags/TTL/protocol, addresses equal (not length,
  // id, checksum).
  if (std::memcmp(g, pkt.data(), 2) != 0 || std::memcmp(g + 6, pkt.data() + 6, 4) != 0 ||
      std::memcmp(g + 12, pkt.data() + 12, 8) != 0)
    return false;
  const std::uint8_t* t = pkt.data() + ihl;
  const std::uint8_t* gt = g + ihl_;
  // TCP: ports, ack, data offset, window, urgent pointer and options equal;
  // sequence contiguous; flags equal but for PSH.
  if (std::memcmp(gt, t, 4) != 0 || std::memcmp(gt + 8, t + 8, 5) != 0 ||
      std::memcmp(gt + 14, t + 14, 2) != 0 || std::memcmp(gt + 18, t + 18, thl - 18) != 0 ||
      ((gt[13] ^ t[13]) & ~0x08) != 0 || be32(t + 4) != next_seq_)
    return false;
  std::memcpy(buf_ + VnetHdr::kSize + len_, pkt.data() + hdrs_, payload);
  len_ += payload;
  next_seq_ += static_cast<std::uint32_t>(payload);
  ++count_;
  if (payload < mss_ || (t[13] & 0x08)) {
    closed_ = true;
    buf_[VnetHdr::kSize + ihl_ + 13] |= static_cast<std::uint8_t>(t[13] & 0x08);
  }
  return true;
}

std::span<const std::uint8_t> TcpCoalescer::finish() noexcept {
  std::uint8_t* p = buf_ + VnetHdr::kSize;
  std::memset(buf_, 0, VnetHdr::kSize);
  const std::size_t n = count_;
  count_ = 0;
  if (n <= 1) return {buf_, VnetHdr::kSize + len_};  // one packet, unchanged: no offload
  put16(p + 2, static_cast<std::uint16_t>(len_));
  ipv4_header_checksum(p, ihl_);
  // The kernel finishes the TCP checksum: we leave it the pseudo-header's
  // sum, as a device with checksum offload would receive it.
  put16(p + ihl_ + 16, checksum_fold(pseudo_header_sum(p, len_ - ihl_)));
  buf_[0] = VnetHdr::kNeedsCsum;
  buf_[1] = VnetHdr::kGsoTcpV4;
  const auto le = [&](std::size_t at, std::size_t v) {
    buf_[at] = static_cast<std::uint8_t>(v);
    buf_[at + 1] = static_cast<std::uint8_t>(v >> 8);
  };
  le(2, hdrs_);
  le(4, mss_);
  le(6, ihl_);
  le(8, 16);
  return {buf_, VnetHdr::kSize + len_};
}

}  // namespace ntm::node
