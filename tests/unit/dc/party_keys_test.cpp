// SPDX-License-Identifier: MIT
// A party's derived keys follow its base key: the wrap key the DC caches
// for sealing path keys must not outlive a key change.
#include <doctest/doctest.h>

#include "ntm/wire/sealed_key.hpp"
#include "state/party.hpp"

using namespace ntm;

TEST_CASE("party: the wrap key is derived from the current base key and epoch") {
  dc::state::Party p;
  p.id.bytes.fill(0x11);
  p.key = wire::SecretKey::random();
  p.derive_keys();
  CHECK_FALSE(p.wrap_key_cache.has_value());  // nothing derived until asked
  const wire::SecretKey first = p.wrap_key();
  CHECK(first.equals(wire::derive_wrap_key(p.key, wire::KeyDomain::node_dc, 0, p.id.bytes)));
  CHECK(p.wrap_key().equals(first));  // kept

  p.key = wire::SecretKey::random();  // re-keyed, as View::upsert does on a key change
  p.derive_keys();
  CHECK_FALSE(p.wrap_key().equals(first));
  CHECK(p.wrap_key().equals(wire::derive_wrap_key(p.key, wire::KeyDomain::node_dc, 0, p.id.bytes)));

  const wire::SecretKey before_epoch = p.wrap_key();
  p.key_epoch = 1;
  p.derive_keys();
  CHECK_FALSE(p.wrap_key().equals(before_epoch));
}
