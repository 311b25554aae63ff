// SPDX-License-Identifier: MIT
// Data plane: Capsulated Packets sealed and opened in place, known answer
// against the Python reference, rejections, and no heap allocation.
#include "ntm/wire/capsule.hpp"

#include <doctest/doctest.h>
#include <openssl/crypto.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "wire/alloc_counter.hpp"
#include "wire/hex.hpp"
#include "wire/sample_messages.hpp"

using namespace ntm::wire;
using ntm::test::unhex;

namespace {

SecretKey counting_key() {
  std::array<std::uint8_t, 32> b;
  for (std::size_t i = 0; i < 32; ++i) b[i] = static_cast<std::uint8_t>(i);
  return SecretKey(std::span<const std::uint8_t, 32>(b));
}

PathId ref_path() {
  PathId p;
  for (std::size_t i = 0; i < 16; ++i) p.bytes[i] = static_cast<std::uint8_t>(0x10 + i);
  return p;
}

std::vector<std::uint8_t> ref_payload() {
  auto p = unhex("4500001c00004000401100006440000164400002");
  const char* s = "NTMobile";
  p.insert(p.end(), s, s + 8);
  return p;
}

std::vector<std::uint8_t> seal_one(CapsuleSealer& s, std::vector<std::uint8_t> payload) {
  std::vector<std::uint8_t> frame(NTM_CAPSULE_OVERHEAD + payload.size());
  if (!payload.empty()) std::memcpy(frame.data() + NTM_HDR_LEN, payload.data(), payload.size());
  Error err = Error::ok;
  const std::size_t n = s.seal(frame, payload.size(), err);
  REQUIRE(err == Error::ok);
  REQUIRE(n == frame.size());
  return frame;
}

}  // namespace

TEST_CASE("known answer: capsule bytes match the Python reference") {
  CapsuleSealer s(counting_key(), Role::initiator, ref_path(), 1);
  std::vector<std::uint8_t> last;
  for (int i = 0; i <= 7; ++i) last = seal_one(s, ref_payload());  // counter 7
  CHECK(last == unhex("010b0101000000000000000000000007101112131415161718191a1b1c1d1e1fd09c065a15f6"
                      "3f5fca70383216029592522d8fc29a3651a79ba808ae995e54ef3b5fda2019eaf30abf671e74"));
  CapsuleSealer r(counting_key(), Role::responder, ref_path(), 1);
  CHECK(seal_one(r, {}) == unhex("010b0501000000000000000000000000101112131415161718191a1b1c1d1e1f"
                                 "d3348e1b870ccd1d450cae20152a0dd4"));
}

TEST_CASE("capsule round trip in both directions, keepalive included") {
  const SecretKey k = SecretKey::random();
  const PathId path = ntm::test::path_id(3);
  CapsuleSealer mn_tx(k, Role::initiator, path, 0);
  CapsuleOpener cn_rx(k, Role::initiator, path, 0);
  CapsuleSealer cn_tx(k, Role::responder, path, 0);
  CapsuleOpener mn_rx(k, Role::responder, path, 0);
  for (std::size_t len : {0ul, 1ul, 20ul, 1400ul, static_cast<std::size_t>(NTM_MAX_INNER)}) {
    std::vector<std::uint8_t> payload(len);
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<std::uint8_t>(i * 31);
    auto d1 = seal_one(mn_tx, payload);
    std::span<std::uint8_t> out;
    REQUIRE(cn_rx.open(d1, out) == Error::ok);
    CHECK(std::vector<std::uint8_t>(out.begin(), out.end()) == payload);
    auto d2 = seal_one(cn_tx, payload);
    REQUIRE(mn_rx.open(d2, out) == Error::ok);
    CHECK(std::vector<std::uint8_t>(out.begin(), out.end()) == payload);
    // The two directions use different keys: same plaintext, same counter,
    // different ciphertext.
    CHECK(std::memcmp(d1.data() + NTM_HDR_LEN, d2.data() + NTM_HDR_LEN, len + 16) != 0);
  }
}

TEST_CASE("capsule rejections") {
  const SecretKey k = SecretKey::random();
  const PathId path = ntm::test::path_id(3);
  CapsuleSealer tx(k, Role::initiator, path, 0);
  const auto good = seal_one(tx, ref_payload());
  std::span<std::uint8_t> out;
  for (std::size_t i = 0; i < good.size(); ++i) {
    auto bad = good;
    bad[i] ^= 0x01;
    CapsuleOpener rx(k, Role::initiator, path, 0);
    CAPTURE(i);
    CHECK(rx.open(bad, out) != Error::ok);
  }
  CapsuleOpener rx(k, Role::initiator, path, 0);
  for (std::size_t n = 0; n < NTM_CAPSULE_OVERHEAD; ++n) {
    auto cut = std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<long>(n));
    CHECK(rx.open(cut, out) == Error::truncated);
  }
  // Another path's opener, the wrong direction, another key, another epoch.
  auto copy = good;
  CapsuleOpener other_path(k, Role::initiator, ntm::test::path_id(4), 0);
  CHECK(other_path.open(copy, out) == Error::unknown_key);
  copy = good;
  CapsuleOpener wrong_dir(k, Role::responder, path, 0);
  CHECK(wrong_dir.open(copy, out) == Error::bad_domain);
  copy = good;
  CapsuleOpener wrong_key(SecretKey::random(), Role::initiator, path, 0);
  CHECK(wrong_key.open(copy, out) == Error::auth_failed);
  copy = good;
  CapsuleOpener epoch1(k, Role::initiator, path, 1);
  CHECK(epoch1.open(copy, out) == Error::unknown_key);
  // Replay.
  copy = good;
  REQUIRE(rx.open(copy, out) == Error::ok);
  copy = good;
  CHECK(rx.open(copy, out) == Error::replayed);
  // Oversized inner datagram.
  std::vector<std::uint8_t> frame(NTM_CAPSULE_OVERHEAD + NTM_MAX_INNER + 1);
  Error err = Error::ok;
  CHECK(tx.seal(frame, NTM_MAX_INNER + 1, err) == 0);
  CHECK(err == Error::too_large);
  std::vector<std::uint8_t> small(NTM_CAPSULE_OVERHEAD + 9);
  CHECK(tx.seal(small, 10, err) == 0);
  CHECK(err == Error::too_large);
}

TEST_CASE("sealing and opening a capsule allocate nothing") {
  const SecretKey k = SecretKey::random();
  const PathId path = ntm::test::path_id(3);
  CapsuleSealer tx(k, Role::initiator, path, 0);
  CapsuleOpener rx(k, Role::initiator, path, 0);
  std::array<std::uint8_t, NTM_CAPSULE_OVERHEAD + 1400> frame{};
  std::span<std::uint8_t> out;
  Error err = Error::ok;
  // Warm up once (OpenSSL may set up lazily on first use).
  tx.seal(frame, 1400, err);
  REQUIRE(rx.open(frame, out) == Error::ok);
  ntm::test::AllocCounter counter;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE(tx.seal(frame, 1400, err) == frame.size());
    REQUIRE(rx.open(frame, out) == Error::ok);
  }
  CHECK(counter.allocations() == 0);
}
