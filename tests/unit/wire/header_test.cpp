// SPDX-License-Identifier: MIT
#include "ntm/wire/header.hpp"

#include <doctest/doctest.h>

#include <array>

using namespace ntm::wire;

namespace {

std::array<std::uint8_t, NTM_CTL_HDR_LEN> sample() {
  ControlHeader h;
  h.common = {MsgType::registration_request, KeyDomain::node_dc, Role::node, 3, 0x11223344,
              0x0102030405060708ull, {}};
  for (std::size_t i = 0; i < 16; ++i) h.common.id[i] = static_cast<std::uint8_t>(0xa0 + i);
  h.timestamp_ms = 1'700'000'000'000ull;
  h.txid = 0xcafef00d;
  std::array<std::uint8_t, NTM_CTL_HDR_LEN> buf{};
  Writer w(buf);
  encode(h, w);
  REQUIRE(w.ok());
  REQUIRE(w.size() == NTM_CTL_HDR_LEN);
  return buf;
}

}  // namespace

TEST_CASE("control header round trip and exact bytes") {
  const auto buf = sample();
  CHECK(buf[0] == NTM_VERSION);
  CHECK(buf[1] == NTM_T_REGISTRATION_REQUEST);
  CHECK(buf[2] == 0x00);  // domain node_dc, role node
  CHECK(buf[3] == 3);
  CHECK(buf[4] == 0x11);
  CHECK(buf[7] == 0x44);
  CHECK(buf[8] == 0x01);
  CHECK(buf[15] == 0x08);
  CHECK(buf[16] == 0xa0);
  CHECK(buf[44] == 0);  // reserved
  ControlHeader h;
  REQUIRE(peek_control_header(buf, h) == Error::ok);
  CHECK(h.common.instance == 0x11223344);
  CHECK(h.common.counter == 0x0102030405060708ull);
  CHECK(h.txid == 0xcafef00d);
  CHECK(h.timestamp_ms == 1'700'000'000'000ull);
}

TEST_CASE("header rejections") {
  const auto good = sample();
  ControlHeader h;
  for (std::size_t n = 0; n < good.size(); ++n)
    CHECK(peek_control_header(std::span(good).first(n), h) == Error::truncated);

  auto b = good;
  b[0] = 2;
  CHECK(peek_control_header(b, h) == Error::bad_version);
  b = good;
  b[0] = 0;
  CHECK(peek_control_header(b, h) == Error::bad_version);
  for (int t : {0, 4, 26, 255}) {
    b = good;
    b[1] = static_cast<std::uint8_t>(t);
    CHECK(peek_control_header(b, h) == Error::bad_type);
  }
  b = good;
  b[2] = 0x10;  // a reserved flag bit
  CHECK(peek_control_header(b, h) == Error::bad_flags);
  b = good;
  b[2] = 0x03 | 0x04;  // dc_peer has only role 0
  CHECK(peek_control_header(b, h) == Error::bad_flags);
  b = good;
  b[2] = 0x01;  // Registration Request is not a path message
  CHECK(peek_control_header(b, h) == Error::bad_domain);
  b = good;
  b[2] = 0x04;  // ... nor sent by the DC
  CHECK(peek_control_header(b, h) == Error::bad_domain);
  b = good;
  b[44] = 1;
  CHECK(peek_control_header(b, h) == Error::bad_reserved);
  b = good;
  b[1] = NTM_T_CAPSULATED_PACKET;
  b[2] = 0x01;
  CHECK(peek_control_header(b, h) == Error::bad_type);  // a capsule is not a control message
  Header common;
  CHECK(peek_header(b, common) == Error::ok);
  b = good;
  for (int i = 8; i < 16; ++i) b[i] = 0xff;
  CHECK(peek_control_header(b, h) == Error::counter_exhausted);
}
