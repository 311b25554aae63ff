// SPDX-License-Identifier: MIT
// CapsuleOpener::open (the data plane's only parser) on arbitrary bytes,
// under the fixed fuzz path key.  An opened capsule must re-encrypt to the
// same bytes and must not open twice.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "fuzz_fixture.hpp"
#include "ntm/wire/aead.hpp"
#include "ntm/wire/capsule.hpp"
#include "ntm/wire/header.hpp"
#include "ntm/wire/key_schedule.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ntm::wire;
  using namespace ntm::test;
  // open() decrypts in place: work on an exactly sized copy so that ASan
  // sees any access past the datagram.
  std::vector<std::uint8_t> frame(data, data + size);
  const SecretKey key = fuzz_key();
  CapsuleOpener opener(key, Role::initiator, fuzz_path(), kFuzzEpoch);
  std::span<std::uint8_t> payload;
  if (opener.open(frame, payload, kFuzzNowMs) != Error::ok) return 0;

  NTM_FUZZ_CHECK(size >= NTM_CAPSULE_OVERHEAD && size <= NTM_CAPSULE_OVERHEAD + NTM_MAX_INNER);
  NTM_FUZZ_CHECK(payload.size() == size - NTM_CAPSULE_OVERHEAD);
  NTM_FUZZ_CHECK(payload.empty() || payload.data() == frame.data() + NTM_HDR_LEN);

  // Encrypting the plaintext again under the header's nonce gives back the
  // ciphertext and tag that came in.
  Aead aead(derive_key(key, KeyDomain::path, Role::initiator, Purpose::capsule, kFuzzEpoch,
                       kFuzzId));
  std::array<std::uint8_t, NTM_TAG_LEN> tag{};
  NTM_FUZZ_CHECK(aead.seal(Nonce(frame.data() + NTM_NONCE_OFFSET, NTM_NONCE_LEN),
                           std::span<const std::uint8_t>(frame).first(NTM_HDR_LEN),
                           std::span<std::uint8_t>(frame).subspan(NTM_HDR_LEN, payload.size()),
                           tag) == Error::ok);
  NTM_FUZZ_CHECK(std::memcmp(frame.data(), data, NTM_HDR_LEN + payload.size()) == 0);
  NTM_FUZZ_CHECK(std::memcmp(tag.data(), data + NTM_HDR_LEN + payload.size(), NTM_TAG_LEN) == 0);

  std::vector<std::uint8_t> copy(data, data + size);
  std::span<std::uint8_t> p2;
  NTM_FUZZ_CHECK(opener.open(copy, p2, kFuzzNowMs) == Error::replayed);
  return 0;
}
