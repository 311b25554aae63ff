// SPDX-License-Identifier: MIT
#include "ntm/common/udp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <utility>

namespace ntm::common {

socklen_t to_sockaddr(const wire::Endpoint& e, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (e.addr.family == wire::Family::v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(e.port);
    std::memcpy(&s6->sin6_addr, e.addr.bytes.data(), 16);
    return sizeof *s6;
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(e.port);
  std::memcpy(&s4->sin_addr, e.addr.bytes.data(), 4);
  return sizeof *s4;
}

wire::Endpoint from_sockaddr(const sockaddr_storage& ss) {
  wire::Endpoint e;
  if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    e.addr.family = wire::Family::v6;
    std::memcpy(e.addr.bytes.data(), &s6->sin6_addr, 16);
    e.port = ntohs(s6->sin6_port);
  } else if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    e.addr.family = wire::Family::v4;
    std::memcpy(e.addr.bytes.data(), &s4->sin_addr, 4);
    e.port = ntohs(s4->sin_port);
  }
  return e;
}

UdpSocket::UdpSocket(const wire::Endpoint& local) {
  const int family = local.addr.family == wire::Family::v6 ? AF_INET6 : AF_INET;
  fd_ = ::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(local, ss);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    const int err = errno;
    ::close(fd_);
    throw std::system_error(err, std::generic_category(), "bind " + local.to_string());
  }
}

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

UdpSocket::UdpSocket(UdpSocket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

UdpSocket& UdpSocket::operator=(UdpSocket&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

wire::Endpoint UdpSocket::local() const {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    throw std::system_error(errno, std::generic_category(), "getsockname");
  return from_sockaddr(ss);
}

long UdpSocket::receive(std::span<std::uint8_t> buf, wire::Endpoint& from) noexcept {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  // MSG_TRUNC: the return value is the real datagram size, so an oversized
  // datagram is recognised and dropped rather than parsed cut short.
  const ssize_t n = ::recvfrom(fd_, buf.data(), buf.size(), MSG_TRUNC,
                               reinterpret_cast<sockaddr*>(&ss), &len);
  if (n >= 0) from = from_sockaddr(ss);
  return static_cast<long>(n);
}

bool UdpSocket::send(std::span<const std::uint8_t> data, const wire::Endpoint& to) noexcept {
  sockaddr_storage ss;
  const socklen_t len = to_sockaddr(to, ss);
  const ssize_t n =
      ::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  return n == static_cast<ssize_t>(data.size());
}

bool parse_endpoint(std::string_view text, wire::Endpoint& out) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned p = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc() || ptr != port.data() + port.size() || p > 65535) return false;
  wire::Endpoint e;
  if (!wire::IpAddr::parse(host, e.addr)) return false;
  if (text.front() == '[' && e.addr.family != wire::Family::v6) return false;
  e.port = static_cast<std::uint16_t>(p);
  out = e;
  return true;
}

}  // namespace ntm::common
