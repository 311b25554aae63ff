// SPDX-License-Identifier: MIT
// The relay path table: one entry per path the DC directed to this RS.
// A forward path holds one RELAY_PATH control channel per end (K_rp) and
// the two ends' endpoints, each learned only from that end's authenticated
// Tunnel or Update Request.  A translate path holds the general-path key's
// control channel and capsule opener/sealer (the RS is the responder).
// A Relay Direction with a newer key epoch for a carried path re-keys it in
// place: the ends, endpoints, update_seqs and counters stay, the previous
// epoch's keys stay usable until every end has spoken under the new one
// (or kSwitchGraceMs), so traffic keeps flowing during the switch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "ntm/wire/capsule.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/messages.hpp"
#include "stats.hpp"

namespace ntm::relay {

struct PathIdHash {
  std::size_t operator()(const wire::PathId& p) const noexcept {
    std::size_t h = 0;
    for (std::size_t i = 0; i < sizeof h; ++i) h = (h << 8) | p.bytes[i];
    return h;  // path IDs are random: any 8 bytes are a good hash
  }
};

// Index of an end: 0 initiator (MN), 1 responder (CN).
enum End : int { kInitiator = 0, kResponder = 1 };

// Update Requests per end: a token bucket of kUpdateBurst, refilled with
// kUpdatesPerSecond (docs/relay.md, "Mobility", says why these values).
inline constexpr std::uint32_t kUpdateBurst = 10;
inline constexpr std::uint32_t kUpdatesPerSecond = 5;
// How long the previous epoch's keys stay usable after a re-direction when
// an end does not speak under the new epoch.
inline constexpr std::uint64_t kSwitchGraceMs = 60'000;

class TokenBucket {
 public:
  // Takes one token if there is one (refilling for the time since the last
  // call first).
  bool take(std::uint64_t now_ms) noexcept {
    if (!started_) {
      started_ = true;
      last_ms_ = now_ms;
    }
    if (now_ms > last_ms_) {
      const std::uint64_t add = (now_ms - last_ms_) * kUpdatesPerSecond;  // in milli-tokens
      milli_ = std::min<std::uint64_t>(milli_ + add, kUpdateBurst * 1000ull);
      last_ms_ = now_ms;
    }
    if (milli_ < 1000) return false;
    milli_ -= 1000;
    return true;
  }

 private:
  std::uint64_t milli_ = kUpdateBurst * 1000ull;
  std::uint64_t last_ms_ = 0;
  bool started_ = false;
};

// The keys of one epoch of a path.
struct PathKeys {
  std::uint8_t epoch = 0;
  // Forward: channel[end] speaks RELAY_PATH with that end.  Translate:
  // channel[kInitiator] speaks PATH with the MN as responder.
  std::unique_ptr<wire::ControlChannel> channel[2];
  std::unique_ptr<wire::CapsuleOpener> opener;  // translate
  std::unique_ptr<wire::CapsuleSealer> sealer;  // translate
  // An end authenticated under these keys (a request; translate: also a
  // capsule).
  bool heard[2] = {false, false};
  // Translate: the highest capsule counter opened from the MN; only a newer
  // capsule from a new source moves the MN (a late one from the old place
  // does not move it back).
  std::optional<std::uint64_t> top_counter;
};

struct RelayPath {
  wire::PathId id;
  std::uint8_t key_epoch = 0;  // = keys.epoch
  wire::RelayMode mode = wire::RelayMode::forward;
  wire::NodeInfo initiator;
  wire::NodeInfo responder;
  std::uint64_t idle_timeout_ms = 0;
  std::uint64_t last_active_ms = 0;  // monotonic

  // Forward: the ends' endpoints and the update_seq in force; translate:
  // only [kInitiator] (the MN) is used.  Both survive a re-direction.
  std::optional<wire::Endpoint> endpoint[2];
  std::uint32_t update_seq[2] = {0, 0};
  TokenBucket update_budget[2];

  PathKeys keys;                       // the current epoch
  // The current epoch's key as the DC sealed it: a Relay Direction of the
  // same epoch is a retransmission only if it carries this key.
  wire::SecretKey key;
  std::unique_ptr<PathKeys> previous;  // the epoch before a re-direction, during the switch
  std::uint64_t previous_until_ms = 0;  // monotonic

  std::uint64_t forwarded = 0;  // datagrams (capsules) carried, both ways
  std::uint64_t bytes = 0;
  // Kernel forwarding (kernel_forward.hpp): the kernel carries this path's
  // capsules now; how many of `forwarded` it carried (as last read).
  bool in_kernel = false;
  std::uint64_t kernel_forwarded = 0;
  std::uint64_t drops = 0;
  std::uint64_t moves = 0;  // accepted Update Requests and translate roams
  std::uint32_t redirections = 0;

  // The keys a datagram of this epoch is checked with: the current ones,
  // the previous ones while the switch lasts, or nullptr.
  PathKeys* keys_for(std::uint8_t epoch, std::uint64_t now_ms) noexcept;
  // Every end that speaks under the current keys has done so: the
  // previous epoch's keys go.
  void retire_previous_if_switched() noexcept;
};

// Builds a path with its channels under key (K_rp or the general-path key).
std::unique_ptr<RelayPath> make_path(const wire::RelayDirection& d, const wire::SecretKey& key,
                                     std::uint64_t now_ms);

// epoch a is newer than b (serial number arithmetic on 8 bits, RFC 1982:
// 0 follows 255; a difference of 128 is neither).
bool epoch_newer(std::uint8_t a, std::uint8_t b) noexcept;

class PathTable {
 public:
  explicit PathTable(std::size_t max_paths) : max_(max_paths) {}

  RelayPath* find(const wire::PathId& id) noexcept {
    auto it = paths_.find(id);
    return it == paths_.end() ? nullptr : it->second.get();
  }
  // The translate path that carries replies from host (real address) to
  // the MN's VIP, or nullptr.
  RelayPath* find_translate(std::uint32_t mn_vip, std::uint32_t host) noexcept;

  bool full() const noexcept { return paths_.size() >= max_; }
  std::size_t size() const noexcept { return paths_.size(); }
  std::size_t max() const noexcept { return max_; }
  // paths × 1000 / max, at most 1000.
  std::uint16_t load_permille() const noexcept;

  // Installs or replaces the path (everything about the old one is lost).
  RelayPath& put(std::unique_ptr<RelayPath> p);
  // Re-keys a carried path of the same mode for a direction with a newer
  // epoch: new keys and ends; endpoints, update_seqs, budgets and counters
  // kept; the old keys kept as `previous` for the switch.
  void redirect(RelayPath& p, const wire::RelayDirection& d, const wire::SecretKey& key,
                std::uint64_t now_ms);

  // Bumped by every change the kernel's forwarding rules follow (paths put,
  // re-directed, erased, expired; ends recorded or moved, epochs retired:
  // touch()), so KernelForward::sync knows when to look.
  std::uint64_t generation() const noexcept { return generation_; }
  void touch() noexcept { ++generation_; }

  Mobility& mobility() noexcept { return mobility_; }
  const Mobility& mobility() const noexcept { return mobility_; }
  void erase(const wire::PathId& id);
  // Removes paths silent for longer than their idle timeout; calls gone()
  // for each before it goes.  Returns how many went.
  std::size_t expire(std::uint64_t now_ms, const std::function<void(const RelayPath&)>& gone = {});

  template <class F>
  void for_each(F&& f) const {
    for (const auto& [id, p] : paths_) f(*p);
  }

 private:
  static std::uint64_t pair_key(std::uint32_t vip, std::uint32_t host) noexcept {
    return (std::uint64_t{vip} << 32) | host;
  }
  void unindex(const RelayPath& p);
  std::size_t max_;
  std::unordered_map<wire::PathId, std::unique_ptr<RelayPath>, PathIdHash> paths_;
  std::unordered_map<std::uint64_t, RelayPath*> translate_;
  Mobility mobility_;
  std::uint64_t generation_ = 0;
};

// The host's real IPv4 address of a translate path (responder.real), or 0.
std::uint32_t host_address(const RelayPath& p) noexcept;

}  // namespace ntm::relay
