// SPDX-License-Identifier: MIT
// The DC's control receiver: classifies every datagram that reaches the
// control port.  A datagram that is oversized, malformed or sealed under a
// key the DC does not hold is dropped silently and counted by reason; no
// error reply is ever sent to an unauthenticated sender (no oracle, no
// reflection).  Authenticated handling arrives with the node store.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "ntm/wire/error.hpp"
#include "ntm/wire/header.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::dc::control {

struct ReceiverStats {
  std::uint64_t received = 0;
  std::uint64_t oversized = 0;
  // Drops by the wire error that caused them, indexed by wire::Error.
  std::array<std::uint64_t, 32> dropped{};
  std::uint64_t total_dropped() const noexcept;
};

// Looks up the base key for a header; returns false when the DC holds none.
class KeyDirectory {
 public:
  virtual ~KeyDirectory() = default;
  virtual bool has_key(const wire::Header& h) const = 0;
};

class Receiver {
 public:
  explicit Receiver(const KeyDirectory& keys) : keys_(keys) {}

  // Classifies one datagram (size may exceed the buffer when truncated).
  // Returns ok when the datagram should go on to authentication.
  wire::Error classify(std::span<const std::uint8_t> datagram, std::size_t real_size);

  const ReceiverStats& stats() const noexcept { return stats_; }

 private:
  const KeyDirectory& keys_;
  ReceiverStats stats_;
};

}  // namespace ntm::dc::control
