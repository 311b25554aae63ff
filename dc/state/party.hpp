// SPDX-License-Identifier: MIT
// What the DC holds in memory for each party that shares a key with it:
// nodes (keyed by node ID, named by FQDN) and relay servers.  Owned by the
// View on the DC's I/O thread; nothing here is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ntm/wire/messages.hpp"
#include "ntm/wire/replay_window.hpp"
#include "ntm/wire/secret_key.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::dc::state {

enum class PartyKind : std::uint8_t { node = 1, relay = 2 };

// A token bucket: at most `rate` control messages per second per party,
// with a burst of 2 s worth.  Flooding from a party with a valid key is
// dropped and counted, like any other bad input.
class RateLimiter {
 public:
  bool allow(std::uint64_t now_ms, unsigned rate_per_s) noexcept;

 private:
  double tokens_ = -1;  // < 0: not started
  std::uint64_t last_ms_ = 0;
};

struct Party {
  PartyKind kind = PartyKind::node;
  wire::NodeId id;
  std::string name;  // the FQDN of a node, the name of a relay
  int zone_id = 0;   // nodes only
  wire::SecretKey key;
  std::uint8_t key_epoch = 0;
  wire::SecretKey rx_key;  // derived: party -> DC control messages
  wire::SecretKey tx_key;  // derived: DC -> party control messages
  wire::Vip vip;           // nodes only

  // Where the party is, from its last registration.
  wire::EndpointList local;
  wire::Endpoint observed;        // source address:port of its last message
  wire::Endpoint probe_observed;  // as seen on the DC's probe port, if any
  bool behind_nat = false;
  bool symmetric_nat = false;
  bool online = false;
  std::uint64_t last_seen_ms = 0;  // wall clock
  std::uint64_t last_persisted_seen_ms = 0;
  std::uint64_t last_prompt_ms = 0;  // monotonic; Keepalive sent after a DNS lookup
  bool prompt_unanswered = false;    // prompted, and nothing heard from it since
  // Moves (nodes): the DC's placement sequence number of its last
  // registration that changed its local or observed endpoints (0: none
  // since the DC started), and whether the DC still has to reconsider its
  // paths for that move (set at once, done after the registration's commit).
  std::uint64_t moved_seq = 0;
  bool move_pending = false;

  // DC cluster (docs/operations.md "DC cluster").  home_here: this process
  // took the party's last registration (or nobody else has since it loaded
  // the party), so it alone answers for its location: it asks for
  // re-registration, writes liveness and expiry.  binding: where this
  // process last heard the party from when its home is another member: a
  // node keeps a NAT binding towards every member, and this is the one to
  // send to from here.  Memory only.
  bool home_here = true;
  wire::Endpoint binding;
  // Where this process sends to reach the party.
  const wire::Endpoint& reach() const noexcept {
    return !home_here && !binding.empty() ? binding : observed;
  }

  // Relays only.
  std::uint32_t active_paths = 0;
  std::uint16_t load_permille = 0;
  std::uint32_t missed_directions = 0;  // consecutive Relay Directions left unanswered
  std::uint64_t last_missed_ms = 0;     // monotonic

  // The sender instance of the party's last `start` registration this
  // member acted on (0: none): its retransmissions carry the same reason
  // and instance and must not direct its paths twice; a new process has a
  // new instance.  restarted_seq: the placement sequence when it was acted
  // on (a direction begun after it reaches the new process).
  std::uint32_t restart_instance = 0;
  std::uint64_t restarted_seq = 0;

  wire::CompactReplayGuard replay;
  RateLimiter rate;

  // A re-key with a grace period (docs/dc.md §11, migration 0007): the key
  // it replaced, good under the epoch before key_epoch until until_ms (wall
  // clock).  Null outside a grace period, so it costs 8 bytes per party.
  struct PreviousKey {
    wire::SecretKey key;
    std::uint8_t epoch = 0;
    std::uint64_t until_ms = 0;
    wire::SecretKey rx_key, tx_key;
    std::optional<wire::SecretKey> wrap_key;
  };
  std::unique_ptr<PreviousKey> prev;
  // The party's last authentic message was under the previous key: the DC
  // answers, and seals path keys to it, under that key too, since the
  // party's daemon has not taken the new one yet.
  bool speaks_prev = false;

  // Derives rx_key and tx_key from key; call after key or key_epoch change.
  void derive_keys();
  // The key its messages under `epoch` are opened with, if that epoch is
  // the current one or the previous one's grace has not ended at now_ms.
  const wire::SecretKey* rx_key_for(std::uint8_t epoch, std::uint64_t now_ms) const noexcept;
  // What the DC seals its messages to the party under.
  std::uint8_t sending_epoch() const noexcept {
    return speaks_prev && prev ? prev->epoch : key_epoch;
  }
  const wire::SecretKey& sending_key() const noexcept {
    return speaks_prev && prev ? prev->tx_key : tx_key;
  }
  // Keeps `old_key` (the key before key_epoch) until until_ms, or drops the
  // previous key if there is none or its time has passed.
  void keep_previous(const std::optional<wire::SecretKey>& old_key, std::uint64_t until_ms,
                     std::uint64_t now_ms);
  // Whether a row's previous key is this party's current key: the row is
  // a re-key with a grace period of the key this view holds.
  bool rekeyed_from_here(const std::optional<wire::SecretKey>& row_prev,
                         std::uint8_t row_epoch) const noexcept {
    return row_prev && row_prev->equals(key) &&
           static_cast<std::uint8_t>(key_epoch + 1) == row_epoch;
  }
  // The key the DC seals path keys to this party under, derived on first
  // use and kept: one HKDF per party rather than one per Route Direction
  // (it was a fifth of the I/O thread's time at 5,000 directions/s), and
  // none at start-up for parties never directed to.  The previous key's
  // while the party speaks under it.
  const wire::SecretKey& wrap_key();
  std::optional<wire::SecretKey> wrap_key_cache;  // reset by derive_keys()
  wire::NodeInfo info(const wire::Endpoint& dc_endpoint) const;
};

}  // namespace ntm::dc::state

template <class Tag>
struct std::hash<ntm::wire::Id<Tag>> {
  std::size_t operator()(const ntm::wire::Id<Tag>& id) const noexcept {
    // IDs are random: their first 8 bytes are already a good hash.
    std::size_t h = 0;
    for (std::size_t i = 0; i < sizeof h; ++i) h = (h << 8) | id.bytes[i];
    return h;
  }
};
