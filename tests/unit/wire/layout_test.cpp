// SPDX-License-Identifier: MIT
// The C view (wire.h compiled as C, in layout_c.c) and the C++ view (the
// codec) of the fixed headers must agree byte for byte.
#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstring>

#include "ntm/wire.h"
#include "ntm/wire/header.hpp"
#include "wire/layout_c.h"

using namespace ntm::wire;

TEST_CASE("C and C++ agree on sizes and offsets") {
  CHECK(ntm_c_layout.hdr_size == sizeof(ntm_hdr));
  CHECK(ntm_c_layout.ctl_hdr_size == sizeof(ntm_ctl_hdr));
  CHECK(ntm_c_layout.hdr_size == NTM_HDR_LEN);
  CHECK(ntm_c_layout.ctl_hdr_size == NTM_CTL_HDR_LEN);
  CHECK(ntm_c_layout.off_version == offsetof(ntm_hdr, version));
  CHECK(ntm_c_layout.off_type == offsetof(ntm_hdr, type));
  CHECK(ntm_c_layout.off_flags == offsetof(ntm_hdr, flags));
  CHECK(ntm_c_layout.off_key_epoch == offsetof(ntm_hdr, key_epoch));
  CHECK(ntm_c_layout.off_instance == offsetof(ntm_hdr, instance));
  CHECK(ntm_c_layout.off_counter == offsetof(ntm_hdr, counter));
  CHECK(ntm_c_layout.off_id == offsetof(ntm_hdr, id));
  CHECK(ntm_c_layout.off_timestamp == offsetof(ntm_ctl_hdr, timestamp_ms));
  CHECK(ntm_c_layout.off_txid == offsetof(ntm_ctl_hdr, txid));
  CHECK(ntm_c_layout.off_reserved == offsetof(ntm_ctl_hdr, reserved));
  CHECK(ntm_c_layout.hdr_align == alignof(ntm_hdr));
  CHECK(ntm_c_layout.off_instance == NTM_NONCE_OFFSET);
}

TEST_CASE("bytes written by the C++ codec read back through the C struct") {
  ControlHeader h;
  h.common = {MsgType::keepalive, KeyDomain::node_dc, Role::dc, 7, 0xdeadbeef,
              0x1122334455667788ull, {}};
  for (std::size_t i = 0; i < 16; ++i) h.common.id[i] = static_cast<std::uint8_t>(i * 7);
  h.timestamp_ms = 0x0000018bcfe56800ull;
  h.txid = 0x01020304;
  std::array<std::uint8_t, NTM_CTL_HDR_LEN> buf{};
  Writer w(buf);
  encode(h, w);
  REQUIRE(w.ok());
  ntm_c_fields f{};
  REQUIRE(ntm_c_read_hdr(buf.data(), buf.size(), &f) == 0);
  CHECK(f.version == NTM_VERSION);
  CHECK(f.type == NTM_T_KEEPALIVE);
  CHECK(f.flags == (NTM_DOMAIN_NODE_DC | (NTM_ROLE_DC << NTM_FLAG_ROLE_SHIFT)));
  CHECK(f.key_epoch == 7);
  CHECK(f.instance == 0xdeadbeef);
  CHECK(f.counter == 0x1122334455667788ull);
  CHECK(std::memcmp(f.id, h.common.id.data(), 16) == 0);
  CHECK(f.timestamp_ms == h.timestamp_ms);
  CHECK(f.txid == h.txid);
}
