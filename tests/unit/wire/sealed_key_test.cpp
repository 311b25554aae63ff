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
