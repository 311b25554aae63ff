// SPDX-License-Identifier: MIT
// The relay path table: one entry per path the DC directed to this RS.
// A forward path holds one RELAY_PATH control channel per end (K_rp) and
// the two ends' endpoints, each learned only from that end's authenticated
// Tunnel or Update Request.  A translate path holds the general-path key's
// control channel and capsule opener/sealer (the RS is the responder).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "ntm/wire/capsule.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/messages.hpp"

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

struct RelayPath {
  wire::PathId id;
  std::uint8_t key_epoch = 0;
  wire::RelayMode mode = wire::RelayMode::forward;
  wire::NodeInfo initiator;
  wire::NodeInfo responder;
  std::uint64_t idle_timeout_ms = 0;
  std::uint64_t last_active_ms = 0;  // monotonic

  // Forward: the ends' endpoints and the update_seq in force; translate:
  // only [kInitiator] (the MN) is used.
  std::optional<wire::Endpoint> endpoint[2];
  std::uint32_t update_seq[2] = {0, 0};

  // Forward: channel[end] speaks RELAY_PATH with that end.  Translate:
  // channel[kInitiator] speaks PATH with the MN as responder.
  std::unique_ptr<wire::ControlChannel> channel[2];
  std::unique_ptr<wire::CapsuleOpener> opener;  // translate
  std::unique_ptr<wire::CapsuleSealer> sealer;  // translate

  std::uint64_t forwarded = 0;  // datagrams (capsules) carried, both ways
  std::uint64_t bytes = 0;
  std::uint64_t drops = 0;
};

// Builds a path with its channels under key (K_rp or the general-path key).
std::unique_ptr<RelayPath> make_path(const wire::RelayDirection& d, const wire::SecretKey& key,
                                     std::uint64_t now_ms);

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

  // Installs or replaces (a new epoch) the path.
  RelayPath& put(std::unique_ptr<RelayPath> p);
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
};

// The host's real IPv4 address of a translate path (responder.real), or 0.
std::uint32_t host_address(const RelayPath& p) noexcept;

}  // namespace ntm::relay
