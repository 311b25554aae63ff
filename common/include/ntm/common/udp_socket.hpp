// SPDX-License-Identifier: MIT
// A non-blocking UDP socket bound to one local endpoint, speaking
// ntm::wire::Endpoint.  The protocol code never sees sockaddr.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <sys/socket.h>

#include "ntm/wire/types.hpp"

namespace ntm::common {

class UdpSocket {
 public:
  // Binds to the endpoint (port 0: any free port); throws std::system_error.
  explicit UdpSocket(const wire::Endpoint& local);
  ~UdpSocket();
  UdpSocket(UdpSocket&& o) noexcept;
  UdpSocket& operator=(UdpSocket&& o) noexcept;
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  int fd() const noexcept { return fd_; }
  wire::Endpoint local() const;

  // Returns the datagram size, or -1 with errno (EAGAIN when none waits).
  // A datagram larger than buf is reported truncated: size > buf.size().
  long receive(std::span<std::uint8_t> buf, wire::Endpoint& from) noexcept;
  // Returns true if the whole datagram was handed to the kernel.
  bool send(std::span<const std::uint8_t> data, const wire::Endpoint& to) noexcept;

 private:
  int fd_ = -1;
};

// Conversions for code that calls the socket API itself (batched I/O).
socklen_t to_sockaddr(const wire::Endpoint& e, sockaddr_storage& ss);
wire::Endpoint from_sockaddr(const sockaddr_storage& ss);

// Parses "a.b.c.d:port" or "[v6]:port".
bool parse_endpoint(std::string_view text, wire::Endpoint& out);

}  // namespace ntm::common
