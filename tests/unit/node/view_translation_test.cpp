// SPDX-License-Identifier: MIT
// ntmd's view translation (a peer's substitute address <-> its VIP): every
// checksum is verified by recomputing it from scratch after the
// incremental update; then the same through two tunnel tables.
#include "datapath/view_translation.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <random>
#include <vector>

#include "datapath/offload.hpp"
#include "datapath/tunnel_table.hpp"
#include "ntm/wire.h"
#include "wire/alloc_counter.hpp"

namespace ntm::node {

namespace {

constexpr std::uint32_t kMe = 0x64400002;    // 100.64.0.2, this node
constexpr std::uint32_t kPeer = 0x64400002;  // the peer's VIP: the same (another DC's pool)
constexpr std::uint32_t kView = 0x647e0001;  // 100.126.0.1, its substitute here
constexpr std::uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;

using Bytes = std::vector<std::uint8_t>;

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// From scratch: the one's complement sum over a header with its checksum
// in place is 0xffff when the checksum is right.
bool ip_ok(const Bytes& p, std::size_t at = 0) {
  const std::size_t ihl = (p[at] & 0x0f) * 4u;
  return checksum_fold(checksum_add({p.data() + at, ihl}, 0)) == 0xffff;
}
// The pseudo-header's sum (addresses from the IPv4 header at ip, protocol,
// length), seeded into checksum_add's wide accumulator: a 32-bit "+" after
// it could wrap and lose a carry.
std::uint32_t pseudo_sum(const std::uint8_t* ip, std::size_t len) {
  return checksum_add({ip + 12, 8}, ip[9] + static_cast<std::uint32_t>(len));
}
// Transport checksum over the pseudo-header and l4[0, len).
bool l4_ok(const std::uint8_t* ip, const std::uint8_t* l4, std::size_t len) {
  return checksum_fold(checksum_add({l4, len}, pseudo_sum(ip, len))) == 0xffff;
}
bool icmp_ok(const std::uint8_t* l4, std::size_t len) {
  return checksum_fold(checksum_add({l4, len}, 0)) == 0xffff;
}

void set_ip_checksum(Bytes& p, std::size_t at = 0) {
  const std::size_t ihl = (p[at] & 0x0f) * 4u;
  put16(&p[at + 10], 0);
  put16(&p[at + 10],
        static_cast<std::uint16_t>(~checksum_fold(checksum_add({p.data() + at, ihl}, 0))));
}
void set_l4_checksum(std::uint8_t* ip, std::uint8_t* l4, std::size_t len, std::size_t off) {
  put16(l4 + off, 0);
  std::uint16_t c =
      static_cast<std::uint16_t>(~checksum_fold(checksum_add({l4, len}, pseudo_sum(ip, len))));
  if (c == 0 && ip[9] == kUdp) c = 0xffff;
  put16(l4 + off, c);
}

// An IPv4 header (20 bytes, or 24 with an option) and l4 bytes.
Bytes ipv4(std::uint32_t src, std::uint32_t dst, std::uint8_t proto, const Bytes& l4,
           bool option = false) {
  const std::size_t ihl = option ? 24 : 20;
  Bytes p(ihl + l4.size(), 0);
  p[0] = static_cast<std::uint8_t>(0x40 | (ihl / 4));
  put16(&p[2], static_cast<std::uint16_t>(p.size()));
  put16(&p[4], 0x1234);
  p[8] = 64;
  p[9] = proto;
  put32(&p[12], src);
  put32(&p[16], dst);
  if (option) p[20] = 1, p[21] = 1, p[22] = 1, p[23] = 0;  // NOPs, end of list
  if (!l4.empty()) std::memcpy(p.data() + ihl, l4.data(), l4.size());
  set_ip_checksum(p);
  return p;
}

Bytes payload(std::size_t n, unsigned long seed) {
  std::mt19937 g(static_cast<std::uint32_t>(seed));
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(g());
  return b;
}

Bytes tcp(std::uint32_t src, std::uint32_t dst, std::size_t n, bool option = false) {
  Bytes l4(20 + n, 0);
  put16(&l4[0], 40000);
  put16(&l4[2], 80);
  put32(&l4[4], 0x01020304);
  l4[12] = 0x50;
  l4[13] = 0x18;
  put16(&l4[14], 65535);
  const Bytes d = payload(n, 7);
  if (n) std::memcpy(l4.data() + 20, d.data(), n);
  Bytes p = ipv4(src, dst, kTcp, l4, option);
  const std::size_t ihl = option ? 24 : 20;
  set_l4_checksum(p.data(), p.data() + ihl, l4.size(), 16);
  return p;
}

Bytes udp(std::uint32_t src, std::uint32_t dst, const Bytes& data, bool with_checksum = true) {
  Bytes l4(8 + data.size(), 0);
  put16(&l4[0], 5353);
  put16(&l4[2], 53);
  put16(&l4[4], static_cast<std::uint16_t>(l4.size()));
  if (!data.empty()) std::memcpy(l4.data() + 8, data.data(), data.size());
  Bytes p = ipv4(src, dst, kUdp, l4);
  if (with_checksum) set_l4_checksum(p.data(), p.data() + 20, l4.size(), 6);
  return p;
}

Bytes icmp_echo(std::uint32_t src, std::uint32_t dst) {
  Bytes l4(8 + 32, 0);
  l4[0] = 8;
  put16(&l4[4], 77);
  put16(&l4[6], 1);
  const Bytes d = payload(32, 3);
  std::memcpy(l4.data() + 8, d.data(), d.size());
  put16(&l4[2], static_cast<std::uint16_t>(~checksum_fold(checksum_add(l4, 0))));
  return ipv4(src, dst, kIcmp, l4);
}

// An ICMP error (port unreachable) from src to dst quoting `quoted` whole.
Bytes icmp_error(std::uint32_t src, std::uint32_t dst, const Bytes& quoted) {
  Bytes l4(8 + quoted.size(), 0);
  l4[0] = 3;
  l4[1] = 3;
  std::memcpy(l4.data() + 8, quoted.data(), quoted.size());
  put16(&l4[2], static_cast<std::uint16_t>(~checksum_fold(checksum_add(l4, 0))));
  return ipv4(src, dst, kIcmp, l4);
}

}  // namespace

TEST_CASE("view translation: TCP destination out, source in, checksums from scratch") {
  for (bool option : {false, true}) {
    // Outgoing: the application wrote to the substitute.
    Bytes p = tcp(kMe, kView, 1000, option);
    const Bytes orig = p;
    const std::size_t ihl = option ? 24 : 20;
    REQUIRE(translate_address(p, false, kPeer));
    CHECK(get32(&p[16]) == kPeer);
    CHECK(get32(&p[12]) == kMe);
    CHECK(ip_ok(p));
    CHECK(l4_ok(p.data(), p.data() + ihl, p.size() - ihl));
    // Back again gives the very bytes.
    REQUIRE(translate_address(p, false, kView));
    CHECK(p == orig);
    // Incoming: the peer sent from its VIP.
    Bytes in = tcp(kPeer, kMe, 333, option);
    REQUIRE(translate_address(in, true, kView));
    CHECK(get32(&in[12]) == kView);
    CHECK(ip_ok(in));
    CHECK(l4_ok(in.data(), in.data() + ihl, in.size() - ihl));
  }
}

TEST_CASE("view translation: UDP, with and without a checksum, a zero result is 0xffff") {
  Bytes p = udp(kMe, kView, payload(200, 11));
  REQUIRE(translate_address(p, false, kPeer));
  CHECK(ip_ok(p));
  CHECK(l4_ok(p.data(), p.data() + 20, p.size() - 20));
  // Sent without a checksum: stays without.
  Bytes z = udp(kMe, kView, payload(64, 12), false);
  CHECK(get16(&z[26]) == 0);
  REQUIRE(translate_address(z, false, kPeer));
  CHECK(get16(&z[26]) == 0);
  CHECK(ip_ok(z));
  // A datagram whose translated checksum computes to 0 must carry 0xffff
  // (0 would mean "no checksum"): two payload bytes are chosen so.
  Bytes data = payload(10, 13);
  data[0] = data[1] = 0;
  Bytes after = udp(kMe, kPeer, data, false);  // as it must look after translation
  const std::uint32_t s = pseudo_sum(after.data(), after.size() - 20);
  const std::uint16_t f = checksum_fold(checksum_add({after.data() + 20, after.size() - 20}, s));
  put16(&data[0], static_cast<std::uint16_t>(0xffff - f));
  Bytes q = udp(kMe, kView, data);
  REQUIRE(translate_address(q, false, kPeer));
  CHECK(get16(&q[26]) == 0xffff);
  CHECK(l4_ok(q.data(), q.data() + 20, q.size() - 20));
}

TEST_CASE("view translation: ICMP echo changes only the IPv4 header") {
  Bytes p = icmp_echo(kMe, kView);
  const Bytes orig = p;
  REQUIRE(translate_address(p, false, kPeer));
  CHECK(ip_ok(p));
  CHECK(std::equal(p.begin() + 20, p.end(), orig.begin() + 20));  // no pseudo-header
  CHECK(icmp_ok(p.data() + 20, p.size() - 20));
}

TEST_CASE("view translation: an ICMP error's quoted packet is translated too") {
  // Incoming: the peer's host says our UDP datagram to its VIP was not
  // wanted; the quote names it as the destination, our kernel knows it as
  // the substitute.
  const Bytes ours = udp(kMe, kPeer, payload(40, 21));
  Bytes err = icmp_error(kPeer, kMe, ours);
  REQUIRE(translate_address(err, true, kView));
  CHECK(get32(&err[12]) == kView);
  CHECK(ip_ok(err));
  CHECK(icmp_ok(err.data() + 20, err.size() - 20));
  const std::size_t q = 28;
  CHECK(get32(&err[q + 16]) == kView);  // quoted destination
  CHECK(get32(&err[q + 12]) == kMe);
  CHECK(ip_ok(err, q));
  CHECK(l4_ok(&err[q], &err[q + 20], ours.size() - 20));
  // Outgoing: our host answers the peer's TCP segment (sent from its VIP,
  // seen here from the substitute) with an error; the quote's source goes
  // back to the VIP.
  const Bytes theirs = tcp(kView, kMe, 16);
  Bytes out = icmp_error(kMe, kView, theirs);
  REQUIRE(translate_address(out, false, kPeer));
  CHECK(get32(&out[16]) == kPeer);
  CHECK(get32(&out[q + 12]) == kPeer);
  CHECK(ip_ok(out));
  CHECK(ip_ok(out, q));
  CHECK(icmp_ok(out.data() + 20, out.size() - 20));
  CHECK(l4_ok(&out[q], &out[q + 20], theirs.size() - 20));
  // A quote of only the header and 8 bytes (RFC 792's minimum): the
  // addresses and ICMP checksum still right, the TCP checksum not there.
  Bytes shortq(theirs.begin(), theirs.begin() + 28);
  Bytes out2 = icmp_error(kMe, kView, shortq);
  REQUIRE(translate_address(out2, false, kPeer));
  CHECK(get32(&out2[q + 12]) == kPeer);
  CHECK(ip_ok(out2, q));
  CHECK(icmp_ok(out2.data() + 20, out2.size() - 20));
  // A quote about somebody else is left alone.
  const Bytes other = udp(kMe, 0x64400063, payload(8, 1));
  Bytes err3 = icmp_error(kPeer, kMe, other);
  REQUIRE(translate_address(err3, true, kView));
  CHECK(get32(&err3[q + 16]) == 0x64400063);
  CHECK(icmp_ok(err3.data() + 20, err3.size() - 20));
}

TEST_CASE("view translation: fragments, the first carries the transport checksum") {
  // A UDP datagram of 1000 bytes split in two; translated fragment by
  // fragment, reassembled, it checks out.
  const Bytes whole = udp(kMe, kView, payload(992, 31));
  const std::size_t cut = 20 + 504;  // a multiple of 8 bytes of payload
  Bytes f1(whole.begin(), whole.begin() + static_cast<long>(cut));
  Bytes f2(20, 0);
  std::memcpy(f2.data(), whole.data(), 20);
  f2.insert(f2.end(), whole.begin() + static_cast<long>(cut), whole.end());
  put16(&f1[2], static_cast<std::uint16_t>(f1.size()));
  put16(&f1[6], 0x2000);  // MF
  set_ip_checksum(f1);
  put16(&f2[2], static_cast<std::uint16_t>(f2.size()));
  put16(&f2[6], static_cast<std::uint16_t>(504 / 8));  // offset, no MF
  set_ip_checksum(f2);
  const Bytes f2_orig = f2;
  REQUIRE(translate_address(f1, false, kPeer));
  REQUIRE(translate_address(f2, false, kPeer));
  CHECK(ip_ok(f1));
  CHECK(ip_ok(f2));
  CHECK(get32(&f2[16]) == kPeer);
  // The later fragment's data is untouched (no transport header there).
  CHECK(std::equal(f2.begin() + 20, f2.end(), f2_orig.begin() + 20));
  Bytes re(f1.begin(), f1.end());
  re.insert(re.end(), f2.begin() + 20, f2.end());
  put16(&re[2], static_cast<std::uint16_t>(re.size()));
  CHECK(l4_ok(re.data(), re.data() + 20, re.size() - 20));
  // A later fragment whose bytes look like a TCP header is not "fixed".
  Bytes t = tcp(kMe, kView, 40);
  put16(&t[6], 3);
  set_ip_checksum(t);
  const Bytes t_orig = t;
  REQUIRE(translate_address(t, false, kPeer));
  CHECK(std::equal(t.begin() + 20, t.end(), t_orig.begin() + 20));
}

TEST_CASE("view translation: truncated and garbage packets are refused unchanged, never a crash") {
  // A first fragment that ends before the TCP checksum (a tiny fragment).
  Bytes tiny = tcp(kMe, kView, 0);
  tiny.resize(20 + 12);
  put16(&tiny[2], 32);
  put16(&tiny[6], 0x2000);
  set_ip_checksum(tiny);
  Bytes before = tiny;
  CHECK_FALSE(translate_address(tiny, false, kPeer));
  CHECK(tiny == before);
  // UDP shorter than its header, ICMP shorter than its header.
  Bytes u = udp(kMe, kView, {});
  u.resize(26);
  put16(&u[2], 26);
  before = u;
  CHECK_FALSE(translate_address(u, false, kPeer));
  CHECK(u == before);
  Bytes ic = icmp_echo(kMe, kView);
  ic.resize(24);
  put16(&ic[2], 24);
  CHECK_FALSE(translate_address(ic, false, kPeer));
  // Total length beyond the buffer, IHL below 5, IPv6, empty.
  Bytes p = tcp(kMe, kView, 10);
  put16(&p[2], static_cast<std::uint16_t>(p.size() + 1));
  CHECK_FALSE(translate_address(p, false, kPeer));
  p = tcp(kMe, kView, 10);
  p[0] = 0x44;
  CHECK_FALSE(translate_address(p, false, kPeer));
  p[0] = 0x65;
  CHECK_FALSE(translate_address(p, false, kPeer));
  CHECK_FALSE(translate_address({}, false, kPeer));
  // Random bytes of every length, and random mutations of good packets: no
  // crash (ASan/UBSan in the sanitizer tier), and a refusal changes nothing.
  std::mt19937 g(99);
  for (int i = 0; i < 20000; ++i) {
    Bytes r = i % 2 ? payload(static_cast<std::size_t>(g() % 120), g())
                    : icmp_error(kPeer, kMe, udp(kMe, kPeer, payload(g() % 40, g())));
    if (i % 2 == 0)
      for (int k = 0; k < 3; ++k) r[g() % r.size()] = static_cast<std::uint8_t>(g());
    if (!r.empty() && i % 4 == 1) r[0] = static_cast<std::uint8_t>(0x40 | (r[0] & 0x0f));
    const Bytes copy = r;
    if (!translate_address(r, (i & 4) != 0, kView)) CHECK(r == copy);
  }
}

TEST_CASE("view translation: no allocation per packet") {
  Bytes a = tcp(kMe, kView, 500), b = udp(kMe, kView, payload(100, 1));
  Bytes c = icmp_error(kPeer, kMe, udp(kMe, kPeer, payload(20, 2)));
  test::AllocCounter count;
  for (int i = 0; i < 100; ++i) {
    translate_address(a, false, (i & 1) ? kView : kPeer);
    translate_address(b, false, (i & 1) ? kView : kPeer);
    translate_address(c, true, (i & 1) ? kPeer : kView);
  }
  CHECK(count.allocations() == 0);
}

// --- through the tunnel tables --------------------------------------------

namespace {

wire::Endpoint ep(std::uint32_t a, std::uint16_t port) {
  return {wire::IpAddr::v4(a), port};
}

// Two nodes with the same VIP (two DCs' pools overlap): each knows the
// other by the substitute 100.126.0.1.
struct ClashPair {
  ClashPair() {
    wire::random_bytes(path.bytes);
    key = wire::SecretKey::random();
    TunnelConfig m{path, 1, wire::Role::initiator, key, kMe, kPeer, ep(0x0a000002, 4520), kView};
    TunnelConfig c{path, 1, wire::Role::responder, key, kPeer, kMe, ep(0x0a000001, 4520), kView};
    mn.install(m);
    mn.set_address(kMe);
    cn.install(c);
    cn.set_address(kPeer);
  }
  Bytes seal(TunnelTable& from, const Bytes& pkt) {
    std::array<std::uint8_t, 2048> frame{};
    std::memcpy(frame.data() + NTM_HDR_LEN, pkt.data(), pkt.size());
    wire::Endpoint to;
    TunnelTable::Reader r(from);
    const auto n = r.seal_outgoing(frame, pkt.size(), to);
    return {frame.begin(), frame.begin() + static_cast<long>(n)};
  }
  Opened open(TunnelTable& at, Bytes& d, const wire::Endpoint& from, Bytes& inner) {
    std::span<std::uint8_t> payload;
    bool roamed = false;
    wire::PathId p;
    TunnelTable::Reader reader(at);
    const auto o = reader.open_incoming(d, from, payload, roamed, p);
    inner.assign(payload.begin(), payload.end());
    return o;
  }
  wire::PathId path;
  wire::SecretKey key;
  TunnelTable mn, cn;
};

}  // namespace

TEST_CASE("tunnel table: a peer known by a substitute, both ways, addresses and checksums") {
  ClashPair t;
  // MN's application writes to the substitute; CN's application sees MN's
  // datagram come from the substitute too, to its own VIP.
  auto d = t.seal(t.mn, tcp(kMe, kView, 300));
  REQUIRE(!d.empty());
  Bytes inner;
  REQUIRE(t.open(t.cn, d, ep(0x0a000001, 4520), inner) == Opened::packet);
  CHECK(get32(&inner[12]) == kView);
  CHECK(get32(&inner[16]) == kPeer);
  CHECK(ip_ok(inner));
  CHECK(l4_ok(inner.data(), inner.data() + 20, inner.size() - 20));
  auto back = t.seal(t.cn, udp(kPeer, kView, payload(50, 5)));
  REQUIRE(!back.empty());
  REQUIRE(t.open(t.mn, back, ep(0x0a000002, 4520), inner) == Opened::packet);
  CHECK(get32(&inner[12]) == kView);
  CHECK(get32(&inner[16]) == kMe);
  CHECK(l4_ok(inner.data(), inner.data() + 20, inner.size() - 20));
  // The VIP itself is not this peer's address here: nothing is sealed.
  CHECK(t.seal(t.mn, tcp(kMe, kPeer, 10)).empty());
  // A tiny first fragment is refused and counted.
  const auto bad_before = t.mn.totals().bad_packet;
  Bytes tiny = tcp(kMe, kView, 0);
  tiny.resize(28);
  put16(&tiny[2], 28);
  put16(&tiny[6], 0x2000);
  CHECK(t.seal(t.mn, tiny).empty());
  CHECK(t.mn.totals().bad_packet == bad_before + 1);
}

TEST_CASE("tunnel table: the inner source is checked on the real VIP, before translation") {
  ClashPair t;
  // A peer that sends from the substitute (our view's address, not its VIP)
  // is dropped: it may only send from its VIP.  Sealed by hand at CN
  // (whose own tunnel checks only its own source).
  TunnelTable rogue;
  TunnelConfig c{t.path, 1, wire::Role::responder, t.key, kView, kMe, ep(0x0a000001, 4520), 0};
  rogue.install(c);
  rogue.set_address(kView);
  auto d = t.seal(rogue, udp(kView, kMe, payload(20, 9)));
  REQUIRE(!d.empty());
  Bytes inner;
  CHECK(t.open(t.mn, d, ep(0x0a000002, 4520), inner) == Opened::dropped);
  CHECK(t.mn.find(t.path)->counters().drops == 1);
  // A truncated transport header from the real VIP: dropped and counted,
  // after authentication.  Sealed by a CN that does not translate (a
  // translating one refuses it before sealing); a fresh pair, since the
  // rogue used CN's counters.
  ClashPair t2;
  TunnelTable plain;
  TunnelConfig pc{t2.path, 1, wire::Role::responder, t2.key, kPeer, kMe, ep(0x0a000001, 4520), 0};
  plain.install(pc);
  plain.set_address(kPeer);
  Bytes tiny = udp(kPeer, kMe, {});
  tiny.resize(24);
  put16(&tiny[2], 24);
  auto d2 = t2.seal(plain, tiny);
  REQUIRE(!d2.empty());
  CHECK(t2.open(t2.mn, d2, ep(0x0a000002, 4520), inner) == Opened::dropped);
  CHECK(t2.mn.find(t2.path)->counters().drops == 1);
  // The next good packet still opens (the drop was not the replay
  // window's), translated.
  auto d3 = t2.seal(plain, udp(kPeer, kMe, payload(8, 4)));
  REQUIRE(t2.open(t2.mn, d3, ep(0x0a000002, 4520), inner) == Opened::packet);
  CHECK(get32(&inner[12]) == kView);
}

}  // namespace ntm::node
