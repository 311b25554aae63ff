// SPDX-License-Identifier: MIT
// ntmd's view translation (node/datapath/view_translation) on arbitrary
// bytes.  Byte 0: bit 0 chooses the field (1 source, as on receive; 0
// destination, as on send).  The rest is the packet, in an exact-size
// buffer so that ASan sees any overread.  Besides "no crash": a refused
// packet is unchanged; an accepted one carries the new address, and every
// checksum that verified before (IPv4 header; TCP/UDP/ICMP of a packet
// that is not fragmented) verifies after.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "datapath/offload.hpp"
#include "datapath/view_translation.hpp"
#include "fuzz_fixture.hpp"

namespace {

constexpr std::uint32_t kTo = 0x647e0001;  // 100.126.0.1

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

bool header_ok(const std::vector<std::uint8_t>& p, std::size_t ihl) {
  return ntm::node::checksum_fold(ntm::node::checksum_add({p.data(), ihl}, 0)) == 0xffff;
}

// The transport (or ICMP) checksum of an unfragmented packet verifies.
bool l4_ok(const std::vector<std::uint8_t>& p, std::size_t ihl, std::size_t total) {
  const std::uint8_t proto = p[9];
  const std::span<const std::uint8_t> l4(p.data() + ihl, total - ihl);
  if (proto == 1) return ntm::node::checksum_fold(ntm::node::checksum_add(l4, 0)) == 0xffff;
  // The pseudo-header's protocol and length go in as the seed: a 32-bit "+"
  // after checksum_add could wrap and lose a carry.
  const std::uint32_t s =
      ntm::node::checksum_add({p.data() + 12, 8}, proto + static_cast<std::uint32_t>(l4.size()));
  return ntm::node::checksum_fold(ntm::node::checksum_add(l4, s)) == 0xffff;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const bool source = data[0] & 1;
  std::vector<std::uint8_t> p(data + 1, data + size);
  const std::vector<std::uint8_t> before = p;
  if (!ntm::node::translate_address(p, source, kTo)) {
    NTM_FUZZ_CHECK(p == before);
    return 0;
  }
  // Accepted: a whole IPv4 packet.
  NTM_FUZZ_CHECK(p.size() >= 20 && (p[0] >> 4) == 4);
  const std::size_t ihl = (p[0] & 0x0f) * 4u;
  const std::size_t total = (std::size_t{p[2]} << 8) | p[3];
  NTM_FUZZ_CHECK(ihl >= 20 && total >= ihl && total <= p.size());
  NTM_FUZZ_CHECK(be32(p.data() + (source ? 12 : 16)) == kTo);
  // Only the packet changed, nothing after its total length.
  for (std::size_t i = total; i < p.size(); ++i) NTM_FUZZ_CHECK(p[i] == before[i]);
  if (header_ok(before, ihl)) NTM_FUZZ_CHECK(header_ok(p, ihl));
  const bool whole = (before[6] & 0x3f) == 0 && before[7] == 0;  // no MF, offset 0
  const std::uint8_t proto = p[9];
  if (whole && (proto == 1 || proto == 6 || proto == 17)) {
    // UDP without a checksum (0) stays without.
    const bool udp_none =
        proto == 17 && total >= ihl + 8 && before[ihl + 6] == 0 && before[ihl + 7] == 0;
    if (udp_none) {
      NTM_FUZZ_CHECK(p[ihl + 6] == 0 && p[ihl + 7] == 0);
    } else if (l4_ok(before, ihl, total)) {
      NTM_FUZZ_CHECK(l4_ok(p, ihl, total));
    }
  }
  return 0;
}
