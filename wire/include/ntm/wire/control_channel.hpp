// SPDX-License-Identifier: MIT
// One authenticated control channel between two parties under one base key:
// node <-> DC (K_node), RS <-> DC (K_rs), end <-> end (K_path), end <-> RS
// (K_rp) or DC <-> DC.  It seals outgoing messages (header as AAD, body
// encrypted, per-sender counter as nonce) and opens incoming ones, checking
// in order: header, key epoch and id, tag, freshness, replay window, body.
#pragma once

#include <cstdint>
#include <span>

#include "ntm/wire/aead.hpp"
#include "ntm/wire/header.hpp"
#include "ntm/wire/key_schedule.hpp"
#include "ntm/wire/messages.hpp"
#include "ntm/wire/replay_window.hpp"

namespace ntm::wire {

struct ChannelConfig {
  KeyDomain domain = KeyDomain::node_dc;
  std::uint8_t key_epoch = 0;
  Role tx_role = Role::node;   // our role on what we send
  IdBytes tx_id{};             // header id on what we send (also binds our key)
  Role rx_role = Role::dc;     // the peer's role on what we accept
  IdBytes rx_id{};             // header id we accept (node_dc and path: same as tx_id)
  std::uint32_t instance = 0;  // our sender instance; pick with new_instance()
  std::uint64_t first_counter = 0;  // pick with initial_counter()
  std::uint64_t max_skew_ms = 60'000;  // accepted |timestamp - now|
};

// A random non-zero sender instance for a process start.
std::uint32_t new_instance();
// A counter start that never repeats one used before under the same key,
// even across restarts: the wall clock in nanoseconds (a sender never sends
// faster than one message per nanosecond), for control channels.
std::uint64_t initial_counter(std::uint64_t now_ns);

// Everything the receiver learns from an opened control message.
struct Received {
  ControlHeader header;
  Body body;
};

// Stateless framing, for receivers that keep keys and replay state their
// own way (the DC holds one record per node, not one channel).
//
// Seals body under key with header h (h.common.type must match the body);
// returns the datagram length or 0 with err.
std::size_t seal_control(Aead& key, const ControlHeader& h, const Body& body,
                         std::span<std::uint8_t> out, Error& err) noexcept;
// Authenticates datagram (whose header h was already peeked and checked by
// the caller) and decodes its body.  No replay or freshness check: the
// caller does those, after this returned ok.
Error open_control(Aead& key, std::span<const std::uint8_t> datagram, const ControlHeader& h,
                   Body& body);
// |timestamp - now| <= max_skew?
bool fresh(std::uint64_t timestamp_ms, std::uint64_t now_ms, std::uint64_t max_skew_ms) noexcept;

class ControlChannel {
 public:
  ControlChannel(const SecretKey& base, const ChannelConfig& cfg);

  // Seals body into out; returns the datagram length, or 0 with err set
  // (too_large, counter_exhausted, bad_fqdn ...).
  std::size_t seal(const Body& body, std::uint32_t txid, std::uint64_t now_ms,
                   std::span<std::uint8_t> out, Error& err) noexcept;

  // Opens a datagram.  Nothing about the message is trusted unless this
  // returns ok; the replay state changes only for authentic messages.
  Error open(std::span<const std::uint8_t> datagram, std::uint64_t now_ms, Received& out);

  const ChannelConfig& config() const noexcept { return cfg_; }
  std::uint64_t next_counter() const noexcept { return next_counter_; }

 private:
  ChannelConfig cfg_;
  Aead tx_;
  Aead rx_;
  std::uint64_t next_counter_;
  ReplayGuard guard_;
};

}  // namespace ntm::wire
