// SPDX-License-Identifier: MIT
// ntmd's packet logic (TunnelTable) on arbitrary bytes.  The first byte
// chooses the side: even, a datagram from the socket (open_incoming); odd,
// a packet from the TUN (seal_outgoing).  The table holds one tunnel under
// the fixed fuzz path key with this node as responder, so the capsule
// seeds (sealed by the initiator) authenticate.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "datapath/tunnel_table.hpp"
#include "fuzz_fixture.hpp"
#include "ntm/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm;
  if (size < 1) return 0;
  constexpr std::uint32_t kOurVip = 0x64400002, kPeerVip = 0x64400001;
  node::TunnelTable table;
  node::TunnelConfig c;
  c.path = test::fuzz_path();
  c.key_epoch = test::kFuzzEpoch;
  c.our_role = wire::Role::responder;
  c.capsule_key = test::fuzz_key();
  c.our_vip = kOurVip;
  c.peer_vip = kPeerVip;
  c.peer = wire::Endpoint{wire::IpAddr::v4(0x7f000001), 4520};
  table.install(c);
  table.set_address(kOurVip);
  const wire::Endpoint from{wire::IpAddr::v4(0x7f000002), 4521};

  if ((data[0] & 1) == 0) {
    std::vector<std::uint8_t> d(data + 1, data + size);  // exact size: ASan sees overreads
    std::span<std::uint8_t> payload;
    bool roamed = false;
    wire::PathId path;
    node::TunnelTable::Reader r(table);
    const auto what = r.open_incoming(d, from, payload, roamed, path);
    if (what == node::Opened::packet) {
      NTM_FUZZ_CHECK(!payload.empty());
      NTM_FUZZ_CHECK(payload.data() == d.data() + NTM_HDR_LEN);
      std::uint32_t src = 0, dst = 0;
      NTM_FUZZ_CHECK(node::ipv4_addresses(payload, src, dst));
      NTM_FUZZ_CHECK(src == kPeerVip && dst == kOurVip);
    }
    if (roamed) NTM_FUZZ_CHECK(table.find(c.path)->peer() == from);
    NTM_FUZZ_CHECK(what != node::Opened::control || d.size() >= NTM_HDR_LEN);
  } else {
    const std::size_t len = size - 1;
    if (len > NTM_MAX_INNER) return 0;
    std::vector<std::uint8_t> frame(NTM_HDR_LEN + len + NTM_TAG_LEN);
    std::memcpy(frame.data() + NTM_HDR_LEN, data + 1, len);
    wire::Endpoint to;
    node::TunnelTable::Reader r(table);
    const auto n = r.seal_outgoing(frame, len, to);
    if (n) {
      NTM_FUZZ_CHECK(n == len + NTM_CAPSULE_OVERHEAD);
      NTM_FUZZ_CHECK(to == c.peer);
    }
  }
  return 0;
}
