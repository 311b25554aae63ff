// SPDX-License-Identifier: MIT
// ntm-dc's federation lookup reads DNS answers from the network: the TXT
// response parser (dc/federation/txt_message.hpp) and the marker parser
// behind it.  Never crashes, never leaks; besides:
//   - the answer is taken for the name cn.b.test and the message's own id
//     (its first two bytes), so that seeds reach past the matching;
//   - ok has at least one text; nxdomain, nodata and the failures none;
//   - no TTL above the cap; parsing is deterministic;
//   - a marker found in a text has a non-zero port.
// Seeds: tests/fuzz/corpus/txt_response, written by txt_response_seeds.py.
#include <cstddef>
#include <cstdint>
#include <span>

#include "federation/marker.hpp"
#include "federation/txt_message.hpp"
#include "fuzz_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::dc::federation;
  const std::span<const std::uint8_t> in(data, size);
  const std::uint16_t id = size >= 2 ? static_cast<std::uint16_t>(data[0] << 8 | data[1]) : 0;
  const TxtAnswer a = parse_txt_response(in, "cn.b.test", id, 600);
  NTM_FUZZ_CHECK(a.ttl_s <= 600);
  if (a.status == TxtStatus::ok) {
    NTM_FUZZ_CHECK(!a.texts.empty());
  } else {
    NTM_FUZZ_CHECK(a.texts.empty());
  }
  const TxtAnswer again = parse_txt_response(in, "cn.b.test", id, 600);
  NTM_FUZZ_CHECK(again.status == a.status && again.texts == a.texts && again.ttl_s == a.ttl_s);
  for (const auto& t : a.texts)
    if (auto m = parse_marker(t)) NTM_FUZZ_CHECK(m->port != 0);
  return 0;
}
