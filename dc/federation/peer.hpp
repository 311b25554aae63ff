// SPDX-License-Identifier: MIT
// The configured peer DCs ([peer.NAME], docs/federation.md): per peer its
// DC-to-DC channel (domain DC_PEER, role PEER_DC, the sender's DC id in the
// header, one replay guard per peer with room for the instances of a DC
// cluster), the wrap keys for path keys sent to it and received from it,
// and the zones it may answer for.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/sealed_key.hpp"
#include "state/party.hpp"

namespace ntm::dc::federation {

// name == zone, or name lies under zone.
bool under_zone(std::string_view name, std::string_view zone) noexcept;
// One zone lies within the other: they cannot belong to different DCs.
bool zones_overlap(std::string_view a, std::string_view b) noexcept;

// Drops and refusals on the DC_PEER channels (unknown DC ids are counted
// by the receiver as unknown_key, before any peer is involved).
struct PeerStats {
  std::uint64_t received = 0;      // authentic, fresh, not replayed
  std::uint64_t auth_failed = 0;   // forged or corrupted
  std::uint64_t replayed = 0;      // replayed, or too many sender instances
  std::uint64_t stale = 0;         // outside the clock skew
  std::uint64_t bad = 0;           // any other decoding failure
  std::uint64_t refused = 0;       // authentic, but outside what the peer may say
  std::uint64_t unexpected = 0;    // authentic, answers nothing we asked
  std::uint64_t timeouts = 0;      // exchanges the peer did not answer in time
  std::uint64_t rate_limited = 0;  // authentic, over [limits] rate_per_peer
  std::uint64_t sent = 0;
};

class Peer {
 public:
  Peer(const config::Config::Peer& cfg, const wire::DcId& self, std::uint32_t instance,
       std::uint64_t max_skew_ms);

  const std::string& name() const noexcept { return cfg_.name; }
  const config::Config::Peer& config() const noexcept { return cfg_; }
  // Length of the longest of its zones that holds name; 0: none does.
  std::size_t zone_match(std::string_view name) const noexcept;
  bool serves(std::string_view name) const noexcept { return zone_match(name) != 0; }

  // Where to send: the first configured endpoint, else the one last seen
  // in a marker, else empty.
  wire::Endpoint endpoint() const noexcept;
  void learn(const wire::Endpoint& e) noexcept { learned_ = e; }
  // Where an authentic message from it came from last: a member of its
  // cluster that is up.  reach() is endpoint(), else that.
  void heard_from(const wire::Endpoint& e) noexcept { heard_ = e; }
  wire::Endpoint reach() const noexcept {
    const wire::Endpoint e = endpoint();
    return e.empty() ? heard_ : e;
  }

  // Seals a message for the peer; empty on failure (logged).
  std::vector<std::uint8_t> seal(const wire::Body& body, std::uint32_t txid);
  // Opens a datagram from the peer: authentication, freshness, replay.
  wire::Error open(std::span<const std::uint8_t> datagram, wire::Received& out);

  // A path key for the peer, and one the peer sealed for us.
  wire::SealedKey seal_key(const wire::SecretKey& key, const wire::PathId& path,
                           std::uint8_t epoch, wire::SealedKind kind);
  wire::Error open_key(const wire::SealedKey& sealed, const wire::PathId& path, std::uint8_t epoch,
                       wire::SealedKind kind, wire::SecretKey& out);

  // Known by certificate (docs/federation.md §8): its key was derived from
  // the certificate's, not configured.  The fingerprint is the key's
  // (as in _ntm-dc's fp=), not_before the certificate's.
  bool by_certificate() const noexcept { return !fingerprint_.empty(); }
  const std::string& fingerprint() const noexcept { return fingerprint_; }
  std::int64_t not_before() const noexcept { return not_before_; }
  void set_certificate(std::string fingerprint, std::int64_t not_before) {
    fingerprint_ = std::move(fingerprint);
    not_before_ = not_before;
  }
  // A renewed certificate: its key and zones, new channel and wrap keys
  // (the replay state goes with the old key).
  void rekey(const config::Config::Peer& cfg);

  PeerStats stats;
  // Authentic messages beyond [limits] rate_per_peer are dropped: a peer
  // is trusted for its zones, not for unbounded work (each Node Info
  // Request prompts a node, each Route Forward directs one).
  state::RateLimiter rate;

 private:
  struct Keys {
    wire::ControlChannel channel;
    wire::KeyWrapper to_peer;
    wire::KeyWrapper to_us;
  };
  std::unique_ptr<Keys> make_keys() const;

  config::Config::Peer cfg_;
  wire::DcId self_;
  std::uint32_t instance_;
  std::uint64_t max_skew_ms_;
  std::unique_ptr<Keys> keys_;
  std::string fingerprint_;
  std::int64_t not_before_ = 0;
  wire::Endpoint learned_;
  wire::Endpoint heard_;
};

class PeerTable {
 public:
  explicit PeerTable(const config::Config& cfg);

  // The peer a DC_PEER header names (sending DC id and key epoch), or null.
  Peer* by_header(const wire::Header& h) noexcept;
  // The peer whose zones hold name (the longest zone wins), or null.
  Peer* for_name(std::string_view name) noexcept;
  // A peer known by certificate; null when max peers are known already.
  Peer* add(const config::Config::Peer& cfg, std::size_t max);
  std::size_t by_certificate() const noexcept;
  std::vector<std::unique_ptr<Peer>>& all() noexcept { return peers_; }
  const std::vector<std::unique_ptr<Peer>>& all() const noexcept { return peers_; }

 private:
  std::vector<std::unique_ptr<Peer>> peers_;
  wire::DcId self_;
  std::uint32_t instance_ = 0;
  std::uint64_t max_skew_ms_ = 0;
};

}  // namespace ntm::dc::federation
