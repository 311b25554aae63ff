// SPDX-License-Identifier: MIT
// One control body decoder, chosen at compile time with
// -DNTM_FUZZ_TYPE=<MsgType enumerator>.  Whatever decodes must re-encode to
// the very same bytes (the encoding is canonical: one message, one byte
// string) and decode again to an equal body.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_fixture.hpp"
#include "ntm/wire/messages.hpp"

#ifndef NTM_FUZZ_TYPE
#error "build with -DNTM_FUZZ_TYPE=<MsgType enumerator>"
#endif

namespace {

constexpr ntm::wire::MsgType kType = ntm::wire::MsgType::NTM_FUZZ_TYPE;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::wire;
  const std::span<const std::uint8_t> in(data, size);
  Body body;
  if (decode_body(kType, in, body) != Error::ok) return 0;
  NTM_FUZZ_CHECK(type_of(body) == kType);

  // Exactly the input's size: a longer encoding fails with too_large, and
  // an encoder writing past its buffer trips ASan.
  std::vector<std::uint8_t> out(size);
  Error err = Error::ok;
  const std::size_t n = encode_body(body, out, err);
  NTM_FUZZ_CHECK(err == Error::ok);
  NTM_FUZZ_CHECK(n == size);
  NTM_FUZZ_CHECK(size == 0 || std::memcmp(out.data(), data, size) == 0);

  Body again;
  NTM_FUZZ_CHECK(decode_body(kType, out, again) == Error::ok);
  NTM_FUZZ_CHECK(again == body);

  // One byte short must be refused cleanly, not written past.
  if (size > 0) {
    std::vector<std::uint8_t> small(size - 1);
    Error e2 = Error::ok;
    NTM_FUZZ_CHECK(encode_body(body, small, e2) == 0);
    NTM_FUZZ_CHECK(e2 == Error::too_large);
  }
  return 0;
}
