// SPDX-License-Identifier: MIT
#include "mobility/route_check.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "ntm/common/udp_socket.hpp"

namespace ntm::node {

bool has_route(const wire::Endpoint& to) noexcept {
  if (to.empty()) return false;
  sockaddr_storage ss{};
  const socklen_t len = common::to_sockaddr(to, ss);
  if (len == 0) return false;
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  // No socket (out of descriptors): say yes, so that nothing is held for a
  // reason that has nothing to do with routes.
  if (fd < 0) return true;
  // UDP connect() is the route lookup and the choice of a source address,
  // nothing more: ENETUNREACH without a route, EADDRNOTAVAIL (or EINVAL)
  // without an address to send from.
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) == 0;
  ::close(fd);
  return ok;
}

}  // namespace ntm::node
