// SPDX-License-Identifier: MIT
// The data plane: sealing and opening Capsulated Packets in place.
//
// A frame buffer is laid out as the datagram will be:
//   [0, 32)               struct ntm_hdr, written by seal()
//   [32, 32 + n)          the inner IPv4 datagram, encrypted in place
//   [32 + n, 32 + n + 16) the GCM tag
// so a TUN read into frame + NTM_HDR_LEN is sent without a copy.  Neither
// seal() nor open() allocates.
#pragma once

#include <cstdint>
#include <span>

#include "ntm/wire/aead.hpp"
#include "ntm/wire/header.hpp"
#include "ntm/wire/key_schedule.hpp"
#include "ntm/wire/replay_window.hpp"

namespace ntm::wire {

// Sending half of one path direction.
class CapsuleSealer {
 public:
  // role: our end of the path (initiator or responder).
  CapsuleSealer(const SecretKey& path_key, Role role, const PathId& path, std::uint8_t key_epoch,
                std::uint32_t instance = 0);

  // Seals payload_len bytes at frame[NTM_HDR_LEN]; returns the datagram
  // length or 0 with err (too_large, counter_exhausted).
  std::size_t seal(std::span<std::uint8_t> frame, std::size_t payload_len, Error& err) noexcept;

  std::uint64_t next_counter() const noexcept { return next_counter_; }

 private:
  Aead aead_;
  Header header_;
  std::uint64_t next_counter_ = 0;
};

// Receiving half of one path direction.
class CapsuleOpener {
 public:
  // peer_role: the sender's end of the path.
  CapsuleOpener(const SecretKey& path_key, Role peer_role, const PathId& path,
                std::uint8_t key_epoch);

  // Authenticates and decrypts in place; on ok, payload views the inner
  // datagram inside the frame (empty for a keepalive).
  Error open(std::span<std::uint8_t> datagram, std::span<std::uint8_t>& payload,
             std::uint64_t now_ms = 0) noexcept;

 private:
  Aead aead_;
  Role peer_role_;
  PathId path_;
  std::uint8_t key_epoch_;
  ReplayGuard guard_;
};

}  // namespace ntm::wire
