// SPDX-License-Identifier: MIT
// The Peer Hello decoder: the one control datagram read without a key
// (certificates between DCs).  What decodes must encode back to exactly
// the same bytes, and the certificate stays within its bound.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_fixture.hpp"
#include "ntm/wire/peer_hello.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::wire;
  ControlHeader h;
  PeerHello m;
  if (decode_peer_hello({data, size}, h, m) != Error::ok) return 0;
  NTM_FUZZ_CHECK(h.common.type == MsgType::peer_hello);
  NTM_FUZZ_CHECK(h.common.domain == KeyDomain::dc_peer);
  NTM_FUZZ_CHECK(!m.certificate.empty() && m.certificate.size() <= kMaxCertificate);
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = encode_peer_hello(h, m, out, err);
  NTM_FUZZ_CHECK(err == Error::ok && n == size);
  NTM_FUZZ_CHECK(std::memcmp(out.data(), data, size) == 0);
  return 0;
}
