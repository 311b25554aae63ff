// SPDX-License-Identifier: MIT
// Fixed keys, ids and clocks shared by the fuzz targets and the seed
// generator: seeds sealed with these open in the targets, so the fuzzer
// starts from datagrams that authenticate instead of bouncing off the tag.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <variant>

#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/messages.hpp"
#include "ntm/wire/secret_key.hpp"

// A failed invariant must crash so that libFuzzer saves the input; plain
// assert() would vanish under NDEBUG.
#define NTM_FUZZ_CHECK(cond)                                                            \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace ntm::test {

inline constexpr std::uint8_t kFuzzKeyByte = 0x42;
inline constexpr std::uint8_t kFuzzEpoch = 1;
inline constexpr std::uint64_t kFuzzNowMs = 1'700'000'000'000ull;
inline constexpr std::uint32_t kFuzzInstance = 0x0a0b0c0d;
inline constexpr std::uint64_t kFuzzFirstCounter = 1000;
inline constexpr std::uint32_t kFuzzTxid = 7;
// One id for every domain: node, path or DC id as the domain reads it.
inline constexpr wire::IdBytes kFuzzId = {0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                          0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

// Every base key (K_node, K_path, K_rs ...) in the fuzz world.
inline wire::SecretKey fuzz_key() {
  std::array<std::uint8_t, wire::SecretKey::kSize> b{};
  b.fill(kFuzzKeyByte);
  return wire::SecretKey(b);
}

inline wire::PathId fuzz_path() {
  wire::PathId p;
  p.bytes = kFuzzId;
  return p;
}

struct Sender {
  wire::KeyDomain domain = wire::KeyDomain::node_dc;
  wire::Role role = wire::Role::node;
};

// Every valid (domain, sender role) pair, i.e. every control key there is.
inline constexpr std::array<Sender, 9> kSenders = {{
    {wire::KeyDomain::node_dc, wire::Role::node},
    {wire::KeyDomain::node_dc, wire::Role::dc},
    {wire::KeyDomain::path, wire::Role::initiator},
    {wire::KeyDomain::path, wire::Role::responder},
    {wire::KeyDomain::relay_path, wire::Role::initiator},
    {wire::KeyDomain::relay_path, wire::Role::responder},
    {wire::KeyDomain::relay_path, wire::Role::rs_to_initiator},
    {wire::KeyDomain::relay_path, wire::Role::rs_to_responder},
    {wire::KeyDomain::dc_peer, wire::Role::peer_dc},
}};

struct SenderSet {
  std::array<Sender, kSenders.size()> at{};
  std::size_t count = 0;
};

// The senders allowed to send type t, in kSenders order.
inline SenderSet senders_of(wire::MsgType t) {
  SenderSet set;
  for (const Sender& s : kSenders)
    if (wire::allowed(t, s.domain, s.role)) set.at[set.count++] = s;
  return set;
}

// The n-th sender allowed to send type t (n wraps), or false if none is.
inline bool pick_sender(wire::MsgType t, std::size_t n, Sender& out) {
  const SenderSet set = senders_of(t);
  if (set.count == 0) return false;
  out = set.at[n % set.count];
  return true;
}

inline wire::ChannelConfig sender_config(Sender s, std::uint64_t first_counter = kFuzzFirstCounter,
                                         std::uint32_t instance = kFuzzInstance) {
  wire::ChannelConfig c;
  c.domain = s.domain;
  c.key_epoch = kFuzzEpoch;
  c.tx_role = s.role;
  c.tx_id = kFuzzId;
  c.rx_role = s.role;  // a sender in the fuzz world never receives
  c.rx_id = kFuzzId;
  c.instance = instance;
  c.first_counter = first_counter;
  return c;
}

// The channel that accepts what sender s sends.
inline wire::ChannelConfig receiver_config(Sender s) {
  wire::ChannelConfig c = sender_config(s);
  c.instance = kFuzzInstance + 1;
  return c;
}

// MsgType of each Body alternative, in variant order: derived from the
// variant itself so that a new body type cannot be forgotten here.
inline std::array<wire::MsgType, std::variant_size_v<wire::Body>> body_types() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<wire::MsgType, sizeof...(I)>{
        wire::type_of(wire::Body(std::in_place_index<I>))...};
  }(std::make_index_sequence<std::variant_size_v<wire::Body>>{});
}

}  // namespace ntm::test
