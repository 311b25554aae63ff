// SPDX-License-Identifier: MIT
// The unauthenticated header peeks: the first code every datagram meets.
// A header that passes must be the canonical encoding of what was decoded,
// and the control view must agree with the common view.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "fuzz_fixture.hpp"
#include "ntm/wire/bytes.hpp"
#include "ntm/wire/header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::wire;
  const std::span<const std::uint8_t> in(data, size);

  Header h;
  const Error eh = peek_header(in, h);
  if (eh == Error::ok) {
    NTM_FUZZ_CHECK(size >= NTM_HDR_LEN);
    NTM_FUZZ_CHECK(is_known(h.type));
    NTM_FUZZ_CHECK(role_valid(h.domain, h.role));
    NTM_FUZZ_CHECK(allowed(h.type, h.domain, h.role));
    NTM_FUZZ_CHECK(h.counter < NTM_COUNTER_REJECT_AFTER);
    std::array<std::uint8_t, NTM_HDR_LEN> buf{};
    Writer w(buf);
    encode(h, w);
    NTM_FUZZ_CHECK(w.ok() && w.size() == NTM_HDR_LEN);
    NTM_FUZZ_CHECK(std::memcmp(buf.data(), data, NTM_HDR_LEN) == 0);
  }

  ControlHeader c;
  const Error ec = peek_control_header(in, c);
  if (ec == Error::ok) {
    NTM_FUZZ_CHECK(eh == Error::ok);
    NTM_FUZZ_CHECK(c.common == h);
    NTM_FUZZ_CHECK(c.common.type != MsgType::capsulated_packet);
    NTM_FUZZ_CHECK(size >= NTM_CTL_HDR_LEN);
    std::array<std::uint8_t, NTM_CTL_HDR_LEN> buf{};
    Writer w(buf);
    encode(c, w);
    NTM_FUZZ_CHECK(w.ok() && w.size() == NTM_CTL_HDR_LEN);
    NTM_FUZZ_CHECK(std::memcmp(buf.data(), data, NTM_CTL_HDR_LEN) == 0);
  } else if (eh != Error::ok) {
    // The control decoder starts with the common one: same first failure.
    NTM_FUZZ_CHECK(ec == eh);
  }
  return 0;
}
