// SPDX-License-Identifier: MIT
// A party's derived keys follow its base key: the wrap key the DC caches
// for sealing path keys must not outlive a key change.
#include <doctest/doctest.h>

#include "ntm/wire/key_schedule.hpp"
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

// A re-key with a grace period (docs/dc.md §11): the replaced key opens
// messages under its own epoch until its time is up, and the DC answers
// under whichever key the party last spoke.
TEST_CASE("party: a previous key is taken under its epoch until its grace period ends") {
  dc::state::Party p;
  p.id.bytes.fill(0x22);
  const wire::SecretKey old_key = wire::SecretKey::random();
  p.key = wire::SecretKey::random();
  p.key_epoch = 0;  // the epoch before it is 255
  p.derive_keys();
  const std::uint64_t now = 1'000'000;
  CHECK(p.rx_key_for(0, now) == &p.rx_key);
  CHECK(p.rx_key_for(255, now) == nullptr);  // no previous key

  p.keep_previous(old_key, now + 5000, now);
  REQUIRE(p.prev);
  CHECK(p.prev->epoch == 255);
  const wire::SecretKey* under_old = p.rx_key_for(255, now);
  REQUIRE(under_old);
  CHECK(under_old->equals(wire::derive_key(old_key, wire::KeyDomain::node_dc, wire::Role::node,
                                           wire::Purpose::control, 255, p.id.bytes)));
  CHECK(p.rx_key_for(255, now + 4999) == under_old);
  CHECK(p.rx_key_for(255, now + 5000) == nullptr);  // the grace period is over
  CHECK(p.rx_key_for(254, now) == nullptr);         // two epochs back: never
  CHECK(p.rx_key_for(0, now + 5000) == &p.rx_key);

  // Answers and sealed path keys follow the key the party speaks.
  CHECK(p.sending_epoch() == 0);
  CHECK(&p.sending_key() == &p.tx_key);
  const wire::SecretKey new_wrap = p.wrap_key();
  p.speaks_prev = true;
  CHECK(p.sending_epoch() == 255);
  CHECK(p.sending_key().equals(wire::derive_key(old_key, wire::KeyDomain::node_dc, wire::Role::dc,
                                                wire::Purpose::control, 255, p.id.bytes)));
  CHECK(p.wrap_key().equals(wire::derive_wrap_key(old_key, wire::KeyDomain::node_dc, 255, p.id.bytes)));
  p.speaks_prev = false;
  CHECK(p.wrap_key().equals(new_wrap));

  // The same previous key again (another member's reload) keeps what the
  // party speaks; a row without one, or past its time, drops it.
  p.speaks_prev = true;
  p.keep_previous(old_key, now + 9000, now);
  REQUIRE(p.prev);
  CHECK(p.speaks_prev);
  CHECK(p.prev->until_ms == now + 9000);
  p.keep_previous(std::nullopt, 0, now);
  CHECK_FALSE(p.prev);
  CHECK_FALSE(p.speaks_prev);
  CHECK(p.sending_epoch() == 0);
  p.keep_previous(old_key, now, now);  // until == now: already over
  CHECK_FALSE(p.prev);
}

TEST_CASE("party: a row's previous key tells a re-key from here from any other") {
  dc::state::Party p;
  p.key = wire::SecretKey::random();
  p.key_epoch = 4;
  CHECK(p.rekeyed_from_here(p.key, 5));
  CHECK_FALSE(p.rekeyed_from_here(p.key, 6));  // re-keyed twice meanwhile
  CHECK_FALSE(p.rekeyed_from_here(wire::SecretKey::random(), 5));
  CHECK_FALSE(p.rekeyed_from_here(std::nullopt, 5));
  p.key_epoch = 255;
  CHECK(p.rekeyed_from_here(p.key, 0));  // epochs wrap at 256
}
