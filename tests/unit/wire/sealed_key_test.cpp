// SPDX-License-Identifier: MIT
#include "ntm/wire/sealed_key.hpp"

#include <doctest/doctest.h>

#include "wire/sample_messages.hpp"

using namespace ntm::wire;

TEST_CASE("a sealed path key opens only for its recipient, path, epoch and kind") {
  const SecretKey k_node = SecretKey::random();
  const NodeId node = ntm::test::node_id(1);
  const PathId path = ntm::test::path_id(1);
  const SecretKey k_path = SecretKey::random();
  KeyWrapper dc_side(k_node, KeyDomain::node_dc, 0, node.bytes);
  const SealedKey s = dc_side.seal(k_path, path, 2, SealedKind::path_key);

  KeyWrapper node_side(k_node, KeyDomain::node_dc, 0, node.bytes);
  SecretKey out;
  REQUIRE(node_side.open(s, path, 2, SealedKind::path_key, out) == Error::ok);
  CHECK(out.equals(k_path));

  SecretKey none;
  CHECK(node_side.open(s, ntm::test::path_id(2), 2, SealedKind::path_key, none) == Error::auth_failed);
  CHECK(node_side.open(s, path, 3, SealedKind::path_key, none) == Error::auth_failed);
  CHECK(node_side.open(s, path, 2, SealedKind::relay_key, none) == Error::auth_failed);
  KeyWrapper other_node(k_node, KeyDomain::node_dc, 0, ntm::test::node_id(2).bytes);
  CHECK(other_node.open(s, path, 2, SealedKind::path_key, none) == Error::auth_failed);
  KeyWrapper other_key(SecretKey::random(), KeyDomain::node_dc, 0, node.bytes);
  CHECK(other_key.open(s, path, 2, SealedKind::path_key, none) == Error::auth_failed);
  auto flipped = s;
  flipped.bytes[20] ^= 4;
  CHECK(node_side.open(flipped, path, 2, SealedKind::path_key, none) == Error::auth_failed);
  CHECK(none.equals(SecretKey{}));  // a failed open leaves the output untouched

  // Two seals of the same key differ (fresh nonce), both open.
  const SealedKey s2 = dc_side.seal(k_path, path, 2, SealedKind::path_key);
  CHECK(s2.bytes != s.bytes);
  REQUIRE(node_side.open(s2, path, 2, SealedKind::path_key, out) == Error::ok);
  CHECK(out.equals(k_path));
}

TEST_CASE("one wrapper rekeyed with derived wrap keys seals as a wrapper per recipient does") {
  const SecretKey k_a = SecretKey::random(), k_b = SecretKey::random();
  const NodeId a = ntm::test::node_id(1), b = ntm::test::node_id(2);
  const PathId path = ntm::test::path_id(7);
  const SecretKey k_path = SecretKey::random();
  KeyWrapper shared = KeyWrapper::with_wrap_key(SecretKey::random());

  REQUIRE(shared.rekey(derive_wrap_key(k_a, KeyDomain::node_dc, 0, a.bytes)) == Error::ok);
  const SealedKey to_a = shared.seal(k_path, path, 1, SealedKind::path_key);
  REQUIRE(shared.rekey(derive_wrap_key(k_b, KeyDomain::node_dc, 3, b.bytes)) == Error::ok);
  const SealedKey to_b = shared.seal(k_path, path, 1, SealedKind::path_key);

  KeyWrapper at_a(k_a, KeyDomain::node_dc, 0, a.bytes), at_b(k_b, KeyDomain::node_dc, 3, b.bytes);
  SecretKey out;
  REQUIRE(at_a.open(to_a, path, 1, SealedKind::path_key, out) == Error::ok);
  CHECK(out.equals(k_path));
  REQUIRE(at_b.open(to_b, path, 1, SealedKind::path_key, out) == Error::ok);
  CHECK(out.equals(k_path));
  // Each copy is bound to its recipient: the rekey really changed the key.
  SecretKey none;
  CHECK(at_b.open(to_a, path, 1, SealedKind::path_key, none) == Error::auth_failed);
  CHECK(at_a.open(to_b, path, 1, SealedKind::path_key, none) == Error::auth_failed);
  // The wrap key depends on the base key's epoch.
  KeyWrapper b_epoch0(k_b, KeyDomain::node_dc, 0, b.bytes);
  CHECK(b_epoch0.open(to_b, path, 1, SealedKind::path_key, none) == Error::auth_failed);
}
