// SPDX-License-Identifier: MIT
// Peer Hello (25): the one control message that is not sealed.  Two DCs
// that trust a common CA instead of a configured DC-to-DC key first
// exchange their certificates with it; each derives the pairwise key from
// its own X25519 key and the other's certificate, and everything after
// that is sealed under the key as usual (docs/federation.md §8,
// docs/protocol.md §7.23).  A Peer Hello proves nothing by itself: a
// certificate is public, and only the holder of its private key can use
// the key derived from it.
//
// Datagram: the 48-byte control header (type 25, domain DC_PEER, role
// PEER_DC, id = the sending DC's ID, key epoch 0), then
//   u8  flags         bit 0: reply (an answer to a hello); others zero
//   u16 cert_len      1..kMaxCertificate
//   cert_len bytes    the sender's certificate, DER
// and nothing after it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ntm/wire.h"
#include "ntm/wire/error.hpp"
#include "ntm/wire/header.hpp"

namespace ntm::wire {

inline constexpr std::size_t kMaxCertificate = NTM_MAX_CONTROL - NTM_CTL_HDR_LEN - 3;

struct PeerHello {
  bool reply = false;
  std::vector<std::uint8_t> certificate;  // DER
  bool operator==(const PeerHello&) const = default;
};

// Encodes a whole datagram.  The header's type must be peer_hello and its
// domain DC_PEER; 0 and err on failure.
std::size_t encode_peer_hello(const ControlHeader& h, const PeerHello& m,
                              std::span<std::uint8_t> out, Error& err) noexcept;

// Decodes a whole datagram: the header (strictly, as for any control
// message) and then the body; anything else than a Peer Hello is bad_type.
Error decode_peer_hello(std::span<const std::uint8_t> datagram, ControlHeader& h, PeerHello& out);

}  // namespace ntm::wire
