// SPDX-License-Identifier: MIT
// KeyWrapper::open on arbitrary sealed keys.  Input: 60 bytes of sealed
// key, then optional bytes for the path epoch, the kind (any byte, not
// only the known kinds) and the wrapping domain.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_fixture.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace {

ntm::wire::KeyWrapper& wrapper(std::uint8_t domain) {
  using namespace ntm::wire;
  // open() keeps no state between calls, so one wrapper per domain serves
  // every input.
  static std::array<KeyWrapper, 4> w = {
      KeyWrapper(ntm::test::fuzz_key(), KeyDomain::node_dc, ntm::test::kFuzzEpoch,
                 ntm::test::kFuzzId),
      KeyWrapper(ntm::test::fuzz_key(), KeyDomain::path, ntm::test::kFuzzEpoch,
                 ntm::test::kFuzzId),
      KeyWrapper(ntm::test::fuzz_key(), KeyDomain::relay_path, ntm::test::kFuzzEpoch,
                 ntm::test::kFuzzId),
      KeyWrapper(ntm::test::fuzz_key(), KeyDomain::dc_peer, ntm::test::kFuzzEpoch,
                 ntm::test::kFuzzId),
  };
  return w[domain & 3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::wire;
  using namespace ntm::test;
  if (size < SealedKey::kSize) return 0;
  SealedKey sealed;
  std::memcpy(sealed.bytes.data(), data, SealedKey::kSize);
  const std::uint8_t* extra = data + SealedKey::kSize;
  const std::size_t n = size - SealedKey::kSize;
  const std::uint8_t epoch = n > 0 ? extra[0] : kFuzzEpoch;
  const auto kind = static_cast<SealedKind>(n > 1 ? extra[1] : 1);
  KeyWrapper& kw = wrapper(n > 2 ? extra[2] : 0);

  SecretKey out;
  const Error e = kw.open(sealed, fuzz_path(), epoch, kind, out);
  NTM_FUZZ_CHECK(e == Error::ok || e == Error::auth_failed);
  if (e != Error::ok) return 0;

  // Opening is a pure function of its inputs...
  SecretKey out2;
  NTM_FUZZ_CHECK(kw.open(sealed, fuzz_path(), epoch, kind, out2) == Error::ok);
  NTM_FUZZ_CHECK(out2.equals(out));
  // ...and every bit of it is authenticated: a flipped tag bit, or the
  // key presented as another kind, must fail.
  SealedKey flipped = sealed;
  flipped.bytes[SealedKey::kSize - 1] ^= 1;
  NTM_FUZZ_CHECK(kw.open(flipped, fuzz_path(), epoch, kind, out2) == Error::auth_failed);
  const auto other = static_cast<SealedKind>(static_cast<std::uint8_t>(kind) ^ 0x80);
  NTM_FUZZ_CHECK(kw.open(sealed, fuzz_path(), epoch, other, out2) == Error::auth_failed);
  return 0;
}
