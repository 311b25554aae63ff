// SPDX-License-Identifier: MIT
#include "control/batch_io.hpp"

#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "ntm/common/udp_socket.hpp"

namespace ntm::dc::control {

std::size_t InBatch::read(int fd) noexcept {
  for (std::size_t i = 0; i < kBatch; ++i) {
    iov_[i] = {buf_.data() + i * kSlot, kSlot};
    std::memset(&msgs_[i], 0, sizeof msgs_[i]);
    msgs_[i].msg_hdr.msg_name = &from_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof from_[i];
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
  }
  int n;
  do {
    n = ::recvmmsg(fd, msgs_.data(), kBatch, MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? 0 : static_cast<std::size_t>(n);
}

std::span<const std::uint8_t> InBatch::data(std::size_t i) const noexcept {
  return {buf_.data() + i * kSlot, std::min<std::size_t>(msgs_[i].msg_len, kSlot)};
}

std::size_t InBatch::size(std::size_t i) const noexcept {
  if (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) return kSlot + 1;
  return msgs_[i].msg_len;
}

wire::Endpoint InBatch::from(std::size_t i) const noexcept {
  wire::Endpoint e = common::from_sockaddr(from_[i]);
  // A dual-stack socket reports IPv4 sources as v4-mapped: the DC keeps
  // them as plain IPv4, as nodes report their own addresses.
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (e.addr.family == wire::Family::v6 &&
      std::memcmp(e.addr.bytes.data(), kMapped, sizeof kMapped) == 0) {
    wire::IpAddr v4;
    v4.family = wire::Family::v4;
    std::memcpy(v4.bytes.data(), e.addr.bytes.data() + 12, 4);
    e.addr = v4;
  }
  return e;
}

std::span<std::uint8_t> OutBatch::slot(std::size_t& failed) noexcept {
  failed = n_ == kBatch ? flush() : 0;
  return buf_[n_];
}

void OutBatch::commit(std::size_t n, const wire::Endpoint& to) noexcept {
  sockaddr_storage& ss = to_[n_];
  socklen_t len;
  if (v6_ && to.addr.family == wire::Family::v4) {
    std::memset(&ss, 0, sizeof ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(to.port);
    s6->sin6_addr.s6_addr[10] = 0xff;
    s6->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&s6->sin6_addr.s6_addr[12], to.addr.bytes.data(), 4);
    len = sizeof *s6;
  } else {
    len = common::to_sockaddr(to, ss);
  }
  iov_[n_] = {buf_[n_].data(), n};
  std::memset(&msgs_[n_], 0, sizeof msgs_[n_]);
  msgs_[n_].msg_hdr.msg_name = &ss;
  msgs_[n_].msg_hdr.msg_namelen = len;
  msgs_[n_].msg_hdr.msg_iov = &iov_[n_];
  msgs_[n_].msg_hdr.msg_iovlen = 1;
  ++n_;
}

std::size_t OutBatch::add(std::span<const std::uint8_t> datagram, const wire::Endpoint& to) noexcept {
  if (datagram.size() > NTM_MAX_CONTROL) return 1;  // never sent whole: not at all
  std::size_t failed = 0;
  auto s = slot(failed);
  std::memcpy(s.data(), datagram.data(), datagram.size());
  commit(datagram.size(), to);
  return failed;
}

std::size_t OutBatch::flush() noexcept {
  std::size_t done = 0, failed = 0;
  while (done < n_) {
    const int r = ::sendmmsg(fd_, &msgs_[done], static_cast<unsigned>(n_ - done), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      ++failed;  // the first of the rest failed: skip it, send the others
      ++done;
      continue;
    }
    done += static_cast<std::size_t>(r);
  }
  n_ = 0;
  return failed;
}

}  // namespace ntm::dc::control
