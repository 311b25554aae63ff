// SPDX-License-Identifier: MIT
// Where the RS's logic puts what it sends: the I/O loop batches UDP sends
// (sendmmsg) and writes the TUN; tests and the fuzzer record or discard.
// A datagram handed to send() must stay valid until the sink flushes: the
// forwarded ones live in the receive batch, replies in buffer()s.
#pragma once

#include <cstdint>
#include <span>

#include "ntm/wire/types.hpp"

namespace ntm::relay {

// Monotonic time for timers and idle expiry, wall clock for control
// message freshness.
struct Now {
  std::uint64_t mono_ms = 0;
  std::uint64_t wall_ms = 0;
};

// Size of one reply buffer (the largest control datagram, and then some).
inline constexpr std::size_t kReplyBufferSize = 2048;

class Sink {
 public:
  virtual ~Sink() = default;
  // A scratch buffer of kReplyBufferSize bytes, valid until the next flush.
  virtual std::span<std::uint8_t> buffer() = 0;
  virtual void send(std::span<const std::uint8_t> datagram, const wire::Endpoint& to) = 0;
  virtual void write_tun(std::span<const std::uint8_t> packet) = 0;
};

}  // namespace ntm::relay
