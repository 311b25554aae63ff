// SPDX-License-Identifier: MIT
// Batched datagram I/O for the DC's control socket: recvmmsg to take up to
// kBatch datagrams per system call, sendmmsg to hand the answers of a batch
// to the kernel in one.  Under load most of the DC's I/O thread went to
// per-datagram system calls and wake-ups (docs/benchmarks.md, "The
// direction tail"); a batch amortises them.  Plain sockets API: Asio only
// tells the server when the socket is readable.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <span>

#include "ntm/wire.h"
#include "ntm/wire/types.hpp"

namespace ntm::dc::control {

// Received datagrams, filled by one recvmmsg.
class InBatch {
 public:
  static constexpr std::size_t kBatch = 32;
  // One byte more than any valid control datagram: a datagram that fills
  // its slot, or that the kernel marks truncated, is oversized.
  static constexpr std::size_t kSlot = NTM_MAX_CONTROL + 1;

  // Reads what is waiting on fd, at most kBatch; never blocks.  Returns
  // the number read (0: nothing waits, or an error, in errno).
  std::size_t read(int fd) noexcept;
  // Datagram i of the last read: its bytes (at most kSlot), its real size
  // (more than kSlot - 1 when oversized) and its source.
  std::span<const std::uint8_t> data(std::size_t i) const noexcept;
  std::size_t size(std::size_t i) const noexcept;
  wire::Endpoint from(std::size_t i) const noexcept;

 private:
  std::array<std::uint8_t, kBatch * kSlot> buf_{};
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<iovec, kBatch> iov_{};
  std::array<sockaddr_storage, kBatch> from_{};
};

// Datagrams waiting to be sent, copied in; flush() sends them in order.
class OutBatch {
 public:
  static constexpr std::size_t kBatch = 64;

  // fd: the socket; v6: it is an AF_INET6 socket, so IPv4 destinations are
  // sent as v4-mapped addresses.
  void bind(int fd, bool v6) noexcept {
    fd_ = fd;
    v6_ = v6;
  }
  // A slot to seal a datagram into; commit(n, to) queues its first n bytes.
  // Flushes first when every slot is taken.  Returns how many datagrams
  // that flush could not send.
  std::span<std::uint8_t> slot(std::size_t& failed) noexcept;
  void commit(std::size_t n, const wire::Endpoint& to) noexcept;
  // Copies datagram into the next slot and queues it.
  std::size_t add(std::span<const std::uint8_t> datagram, const wire::Endpoint& to) noexcept;
  // Sends what is queued.  Returns how many the kernel refused (each one
  // skipped: an unreachable destination, a full buffer).
  std::size_t flush() noexcept;
  bool empty() const noexcept { return n_ == 0; }

 private:
  int fd_ = -1;
  bool v6_ = false;
  std::size_t n_ = 0;
  std::array<std::array<std::uint8_t, NTM_MAX_CONTROL>, kBatch> buf_{};
  std::array<mmsghdr, kBatch> msgs_{};
  std::array<iovec, kBatch> iov_{};
  std::array<sockaddr_storage, kBatch> to_{};
};

}  // namespace ntm::dc::control
