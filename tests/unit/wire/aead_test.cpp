// SPDX-License-Identifier: MIT
#include "ntm/wire/aead.hpp"

#include <doctest/doctest.h>

#include "wire/hex.hpp"

using namespace ntm::wire;
using ntm::test::unhex;

// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16
// (AES-256, 96-bit IV, with AAD).
TEST_CASE("AES-256-GCM known answer (GCM spec test case 16)") {
  const auto key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = unhex("cafebabefacedbaddecaf888");
  const auto pt = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
      "b525b16aedf5aa0de657ba637b39");
  const auto aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const auto ct = unhex(
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10568"
      "28838c5f61e6393ba7a0abcc9f662");
  const auto tag = unhex("76fc6ece0f4e1768cddf8853bb2d551b");

  Aead aead(SecretKey(std::span<const std::uint8_t, 32>(key.data(), 32)));
  auto data = pt;
  std::array<std::uint8_t, 16> out_tag{};
  REQUIRE(aead.seal(Nonce(iv.data(), 12), aad, data, out_tag) == Error::ok);
  CHECK(data == ct);
  CHECK(std::vector<std::uint8_t>(out_tag.begin(), out_tag.end()) == tag);

  REQUIRE(aead.open(Nonce(iv.data(), 12), aad, data, ConstTag(tag.data(), 16)) == Error::ok);
  CHECK(data == pt);

  // Any change to the AAD, the ciphertext or the tag fails authentication.
  auto bad_aad = aad;
  bad_aad[0] ^= 1;
  data = ct;
  CHECK(aead.open(Nonce(iv.data(), 12), bad_aad, data, ConstTag(tag.data(), 16)) ==
        Error::auth_failed);
  data = ct;
  data[5] ^= 0x80;
  CHECK(aead.open(Nonce(iv.data(), 12), aad, data, ConstTag(tag.data(), 16)) == Error::auth_failed);
  auto bad_tag = tag;
  bad_tag[15] ^= 1;
  data = ct;
  CHECK(aead.open(Nonce(iv.data(), 12), aad, data, ConstTag(bad_tag.data(), 16)) ==
        Error::auth_failed);
}

TEST_CASE("secret keys: random, hex round trip, constant-time equality") {
  const SecretKey a = SecretKey::random();
  const SecretKey b = SecretKey::random();
  CHECK_FALSE(a.equals(b));
  SecretKey c;
  REQUIRE(SecretKey::from_hex(a.to_hex(), c));
  CHECK(c.equals(a));
  CHECK_FALSE(SecretKey::from_hex("00", c));
  CHECK_FALSE(SecretKey::from_hex(std::string(64, 'g'), c));
}

// Contexts are keyed lazily, one direction at a time: a rekey must reach
// the context that was keyed before it and the one that was not yet used.
TEST_CASE("rekey reaches both directions, whichever was used before it") {
  const SecretKey k1 = SecretKey::random();
  const SecretKey k2 = SecretKey::random();
  const std::array<std::uint8_t, 12> iv{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::vector<std::uint8_t> aad{0xaa, 0xbb};
  const std::vector<std::uint8_t> pt{1, 2, 3, 4, 5, 6, 7, 8, 9};
  // Seals pt under key with a fresh Aead: the reference.
  auto sealed = [&](const SecretKey& key, std::array<std::uint8_t, 16>& tag) {
    Aead a(key);
    auto d = pt;
    REQUIRE(a.seal(Nonce(iv), aad, d, tag) == Error::ok);
    return d;
  };
  std::array<std::uint8_t, 16> t1{}, t2{};
  const auto c1 = sealed(k1, t1);
  const auto c2 = sealed(k2, t2);
  REQUIRE(c1 != c2);

  Aead shared(k1);
  auto d = pt;
  std::array<std::uint8_t, 16> tag{};
  REQUIRE(shared.seal(Nonce(iv), aad, d, tag) == Error::ok);  // keys the sealing side with k1
  CHECK(d == c1);
  CHECK(tag == t1);
  REQUIRE(shared.rekey(k2) == Error::ok);
  d = c2;
  CHECK(shared.open(Nonce(iv), aad, d, ConstTag(t2)) == Error::ok);  // first use of opening side
  CHECK(d == pt);
  d = c1;
  CHECK(shared.open(Nonce(iv), aad, d, ConstTag(t1)) == Error::auth_failed);  // not k1 any more
  d = pt;
  REQUIRE(shared.seal(Nonce(iv), aad, d, tag) == Error::ok);  // sealing side now k2 too
  CHECK(d == c2);
  CHECK(tag == t2);
  REQUIRE(shared.rekey(k1) == Error::ok);
  d = c1;
  CHECK(shared.open(Nonce(iv), aad, d, ConstTag(t1)) == Error::ok);
  CHECK(d == pt);

  // A moved-to Aead keeps the key and the keyed contexts; the moved-from
  // one is empty and sets up new contexts if used again.
  Aead moved(std::move(shared));
  d = c1;
  CHECK(moved.open(Nonce(iv), aad, d, ConstTag(t1)) == Error::ok);
  Aead assigned(k2);
  assigned = std::move(moved);
  d = pt;
  REQUIRE(assigned.seal(Nonce(iv), aad, d, tag) == Error::ok);
  CHECK(d == c1);
}
