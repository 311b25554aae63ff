// SPDX-License-Identifier: MIT
#include "ntm/wire/peer_hello.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "ntm/wire/control_channel.hpp"

using namespace ntm::wire;

namespace {

ControlHeader hello_header() {
  ControlHeader h;
  h.common = {MsgType::peer_hello, KeyDomain::dc_peer, Role::peer_dc, 0, 9, 0, {}};
  h.common.id[15] = 0x0b;
  h.timestamp_ms = 1'700'000'000'000ull;
  h.txid = 0x01020304;
  return h;
}

std::vector<std::uint8_t> encoded(const ControlHeader& h, const PeerHello& m) {
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = encode_peer_hello(h, m, out, err);
  REQUIRE(err == Error::ok);
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("peer hello: round trip and exact layout") {
  const PeerHello m{true, {0x30, 0x82, 0x01, 0x02, 0xaa}};
  const auto d = encoded(hello_header(), m);
  REQUIRE(d.size() == NTM_CTL_HDR_LEN + 3 + 5);
  CHECK(d[1] == NTM_T_PEER_HELLO);
  CHECK(d[NTM_CTL_HDR_LEN] == 0x01);  // reply
  CHECK(d[NTM_CTL_HDR_LEN + 1] == 0);
  CHECK(d[NTM_CTL_HDR_LEN + 2] == 5);
  CHECK(d.back() == 0xaa);
  ControlHeader h;
  PeerHello back;
  REQUIRE(decode_peer_hello(d, h, back) == Error::ok);
  CHECK(h == hello_header());
  CHECK(back == m);
  // The header peek every receiver starts with takes it in DC_PEER only.
  ControlHeader peeked;
  CHECK(peek_control_header(d, peeked) == Error::ok);
}

TEST_CASE("peer hello: bad input is refused with the reason") {
  const auto good = encoded(hello_header(), PeerHello{false, std::vector<std::uint8_t>(300, 7)});
  ControlHeader h;
  PeerHello m;
  auto cut = good;
  cut.pop_back();
  CHECK(decode_peer_hello(cut, h, m) == Error::truncated);
  auto longer = good;
  longer.push_back(0);
  CHECK(decode_peer_hello(longer, h, m) == Error::trailing_bytes);
  auto flags = good;
  flags[NTM_CTL_HDR_LEN] = 0x02;
  CHECK(decode_peer_hello(flags, h, m) == Error::bad_flags);
  auto zero = good;
  zero[NTM_CTL_HDR_LEN + 1] = 0;
  zero[NTM_CTL_HDR_LEN + 2] = 0;
  CHECK(decode_peer_hello(zero, h, m) == Error::bad_length);
  auto huge = good;
  huge[NTM_CTL_HDR_LEN + 1] = 0xff;
  CHECK(decode_peer_hello(huge, h, m) == Error::bad_length);
  CHECK(decode_peer_hello(std::span<const std::uint8_t>(good.data(), 20), h, m) ==
        Error::truncated);
  // Another type under the same framing is not a hello.
  auto other = good;
  other[1] = NTM_T_NODE_INFO_REQUEST;
  CHECK(decode_peer_hello(other, h, m) == Error::bad_type);
  // Peer Hello exists only between DCs.
  auto node = good;
  node[2] = static_cast<std::uint8_t>(NTM_DOMAIN_NODE_DC);
  CHECK(decode_peer_hello(node, h, m) == Error::bad_domain);
}

TEST_CASE("peer hello: the encoder refuses what the decoder would") {
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  CHECK(encode_peer_hello(hello_header(), PeerHello{false, {}}, out, err) == 0);
  CHECK(err == Error::bad_length);
  CHECK(encode_peer_hello(hello_header(),
                          PeerHello{false, std::vector<std::uint8_t>(kMaxCertificate + 1, 1)}, out,
                          err) == 0);
  CHECK(err == Error::bad_length);
  ControlHeader wrong = hello_header();
  wrong.common.type = MsgType::keepalive;
  CHECK(encode_peer_hello(wrong, PeerHello{false, {1}}, out, err) == 0);
  CHECK(err == Error::bad_type);
  std::vector<std::uint8_t> small(NTM_CTL_HDR_LEN + 2);
  CHECK(encode_peer_hello(hello_header(), PeerHello{false, {1, 2}}, small, err) == 0);
  CHECK(err != Error::ok);
  // The largest certificate fits in a control datagram.
  CHECK(encode_peer_hello(hello_header(),
                          PeerHello{false, std::vector<std::uint8_t>(kMaxCertificate, 1)}, out,
                          err) == NTM_MAX_CONTROL);
}

TEST_CASE("peer hello: a sealed channel never takes one") {
  // A Peer Hello that reaches a DC_PEER channel (a peer already known) is
  // not a sealed body: the body decoder has no such type.
  Body b;
  CHECK(decode_body(MsgType::peer_hello, std::vector<std::uint8_t>{0, 0, 1, 0x30}, b) ==
        Error::bad_type);
}
