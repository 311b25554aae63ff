// SPDX-License-Identifier: MIT
#include "datapath/tun_data_path.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <utility>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <system_error>
#include <vector>

#include "datapath/offload.hpp"
#include "ntm/wire.h"

namespace ntm::node {

namespace {

constexpr int kBatch = 32;     // reads from the TUN per wake-up
constexpr int kInBatch = 64;   // datagrams per recvmmsg: room for coalescing
constexpr std::size_t kFrame = 2048;  // header + the largest inner packet + tag, with room

// Waits until fd is readable or the stop eventfd fires; false on stop.
bool wait_readable(int fd, int stop_fd) {
  pollfd p[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  for (;;) {
    const int r = ::poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return false;
    if (p[1].revents) return false;
    if (p[0].revents) return true;
  }
}

}  // namespace

TunDataPath::TunDataPath(boost::asio::io_context& io, const wire::Endpoint& listen,
                         const std::string& tun, int mtu, bool offload)
    : io_(io), sock_(listen), tun_(tun, offload), mtu_(mtu) {
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  // A burst from the TUN (a 64 KB super-packet is ~48 datagrams) or from
  // the network must not overflow the default socket buffers (~200 KB):
  // every drop there is a TCP retransmission inside the tunnel.  Root may
  // exceed net.core.[rw]mem_max (the FORCE variants).
  const int bytes = 4 << 20;
  for (auto [force, plain] : {std::pair{SO_RCVBUFFORCE, SO_RCVBUF}, std::pair{SO_SNDBUFFORCE, SO_SNDBUF}})
    if (::setsockopt(sock_.fd(), SOL_SOCKET, force, &bytes, sizeof bytes) != 0)
      (void)::setsockopt(sock_.fd(), SOL_SOCKET, plain, &bytes, sizeof bytes);
  tun_.set_nonblocking(true);
  tun_.disable_ipv6();
  tun_.set_mtu(mtu_);
  if (offload) {
    tso_ = tun_.enable_tso4();
    spdlog::info("tun {}: TCP segmentation offload {}", tun_.name(),
                 tso_ ? "on" : "refused by the kernel");
  }
}

TunDataPath::~TunDataPath() {
  stop();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void TunDataPath::set_miss_handler(MissHandler on_miss) {
  table_.set_miss_hook([this, h = std::move(on_miss)](std::uint32_t dst,
                                                      std::span<const std::uint8_t> packet) {
    boost::asio::post(io_, [h, dst, copy = std::vector<std::uint8_t>(packet.begin(), packet.end())]() mutable {
      h(dst, std::move(copy));
    });
  });
}

void TunDataPath::start(ControlHandler on_control, RoamHandler on_roam) {
  on_control_ = std::move(on_control);
  on_roam_ = std::move(on_roam);
  running_ = true;
  out_ = std::thread([this] { outbound_loop(); });
  in_ = std::thread([this] { inbound_loop(); });
}

void TunDataPath::stop() {
  if (!running_.exchange(false)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
  if (out_.joinable()) out_.join();
  if (in_.joinable()) in_.join();
}

void TunDataPath::send_control(std::span<const std::uint8_t> d, const wire::Endpoint& to) {
  if (!sock_.send(d, to)) table_.send_errors.fetch_add(1, std::memory_order_relaxed);
}

void TunDataPath::set_address(std::uint32_t vip, std::uint8_t prefix_len) {
  if (vip == vip_ && prefix_len == prefix_len_) return;
  // The connected route of vip/prefix_len sends the whole virtual range
  // into the device.
  tun_.add_address(vip, prefix_len);
  tun_.up();
  vip_ = vip;
  prefix_len_ = prefix_len;
  table_.set_address(vip);
}

std::size_t TunDataPath::release(const wire::PathId& p) {
  return table_.release(p, [&](std::span<const std::uint8_t> d, const wire::Endpoint& to) {
    if (!sock_.send(d, to)) table_.send_errors.fetch_add(1, std::memory_order_relaxed);
  });
}

void TunDataPath::send_keepalive(const wire::PathId& p) {
  auto t = table_.find(p);
  if (!t) return;
  std::array<std::uint8_t, NTM_HDR_LEN + NTM_TAG_LEN> frame{};
  wire::Endpoint to;
  if (const auto n = t->seal(frame, 0, to))
    if (!sock_.send(std::span(frame.data(), n), to))
      table_.send_errors.fetch_add(1, std::memory_order_relaxed);
}

bool TunDataPath::send_packet(std::span<const std::uint8_t> pkt) {
  TunnelTable::Frame frame;
  wire::Endpoint to;
  const std::size_t n = table_.seal_packet(pkt, frame, to);
  if (n == 0) return false;
  if (!sock_.send(std::span(frame.data(), n), to)) {
    table_.send_errors.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

std::optional<TunnelCounters> TunDataPath::counters(const wire::PathId& p) const {
  auto t = table_.find(p);
  if (!t) return std::nullopt;
  return t->counters();
}

void TunDataPath::outbound_loop() {
  // With offloads one read may be a 64 KB TCP super-packet that becomes up
  // to ~48 capsules, so the batch has room for more than one of them.
  constexpr std::size_t kOut = 128;
  std::vector<std::array<std::uint8_t, kFrame>> frames(kOut);
  std::vector<mmsghdr> msgs(kOut);
  std::vector<iovec> iov(kOut);
  std::vector<sockaddr_storage> addrs(kOut);
  std::vector<std::uint8_t> big(tun_.vnet_hdr() ? 65536 + VnetHdr::kSize : 0);
  std::array<Segment, 64> segs;
  const std::size_t max_inner = std::min<std::size_t>(static_cast<std::size_t>(mtu_), NTM_MAX_INNER);
  std::vector<socklen_t> alen(kOut);
  std::vector<std::array<char, CMSG_SPACE(sizeof(std::uint16_t))>> cmsg(kOut);
  std::size_t n = 0;
  // Sends what is queued.  Consecutive capsules to one destination that
  // are equal in size (the last may be shorter) go as one UDP GSO send
  // (UDP_SEGMENT): the kernel, and the routers on the way, handle the
  // burst as one buffer and cut it into datagrams as late as they can.
  auto flush = [&] {
    std::size_t m = 0;
    for (std::size_t i = 0; i < n;) {
      std::size_t j = i + 1, total = iov[i].iov_len;
      while (udp_gso_ && j < n && j - i < 64 && iov[j].iov_len <= iov[i].iov_len &&
             total + iov[j].iov_len <= 65000 && alen[j] == alen[i] &&
             std::memcmp(&addrs[j], &addrs[i], alen[i]) == 0) {
        total += iov[j].iov_len;
        ++j;
        if (iov[j - 1].iov_len < iov[i].iov_len) break;  // a shorter one ends the burst
      }
      auto& h = msgs[m].msg_hdr;
      h = {};
      h.msg_name = &addrs[i];
      h.msg_namelen = alen[i];
      h.msg_iov = &iov[i];
      h.msg_iovlen = j - i;
      if (j - i > 1) {
        h.msg_control = cmsg[m].data();
        h.msg_controllen = cmsg[m].size();
        cmsghdr* c = CMSG_FIRSTHDR(&h);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
        const auto seg = static_cast<std::uint16_t>(iov[i].iov_len);
        std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
      }
      ++m;
      i = j;
    }
    std::size_t sent = 0;
    while (sent < m) {
      const int r = ::sendmmsg(sock_.fd(), msgs.data() + sent, static_cast<unsigned>(m - sent), 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          pollfd p{sock_.fd(), POLLOUT, 0};
          ::poll(&p, 1, 10);
          continue;
        }
        auto& h = msgs[sent].msg_hdr;
        if (h.msg_iovlen > 1 && (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
          // No UDP GSO on this path: send the burst one by one, and stop
          // trying.
          udp_gso_ = false;
          for (std::size_t k = 0; k < h.msg_iovlen; ++k)
            if (::sendto(sock_.fd(), h.msg_iov[k].iov_base, h.msg_iov[k].iov_len, 0,
                         static_cast<sockaddr*>(h.msg_name), h.msg_namelen) < 0)
              table_.send_errors.fetch_add(1, std::memory_order_relaxed);
        } else {
          // One bad destination must not stall the rest: skip it.
          table_.send_errors.fetch_add(1, std::memory_order_relaxed);
        }
        ++sent;
        continue;
      }
      sent += static_cast<std::size_t>(r);
    }
    n = 0;
  };
  // Seals frames[n] holding len inner bytes and queues it.
  auto queue = [&](const TunnelTable::Reader& reader, std::size_t len) {
    auto& f = frames[n];
    wire::Endpoint to;
    const std::size_t out = reader.seal_outgoing(f, len, to);
    if (out == 0) return;
    iov[n] = {f.data(), out};
    alen[n] = common::to_sockaddr(to, addrs[n]);
    ++n;
  };
  while (running_) {
    if (!wait_readable(tun_.fd(), stop_fd_)) break;
    {
      TunnelTable::Reader reader(table_);
      for (int reads = 0; reads < kBatch; ++reads) {
        if (!tun_.vnet_hdr()) {
          const ssize_t r = ::read(tun_.fd(), frames[n].data() + NTM_HDR_LEN, max_inner);
          if (r <= 0) break;
          queue(reader, static_cast<std::size_t>(r));
          if (n == kOut) flush();
          continue;
        }
        const ssize_t r = ::read(tun_.fd(), big.data(), big.size());
        if (r <= static_cast<ssize_t>(VnetHdr::kSize)) break;
        if (kOut - n < segs.size()) flush();
        for (std::size_t i = 0; i < segs.size(); ++i)
          segs[i] = {frames[n + i].data() + NTM_HDR_LEN, 0};
        const auto h = VnetHdr::parse(big.data());
        const std::size_t count = split_offloaded(
            h, std::span<const std::uint8_t>(big.data() + VnetHdr::kSize,
                                             static_cast<std::size_t>(r) - VnetHdr::kSize),
            segs, max_inner);
        if (count == 0) {
          table_.bad_packet.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        // Segments were written in place; queue() compacts over any that
        // are refused, so the next one may need moving down.
        for (std::size_t i = 0; i < count; ++i) {
          std::uint8_t* dst = frames[n].data() + NTM_HDR_LEN;
          if (segs[i].data != dst) std::memmove(dst, segs[i].data, segs[i].len);
          queue(reader, segs[i].len);
        }
      }
    }
    flush();
    // A packet of this batch was kept for a blackout: if the new network
    // is there, what was kept goes now, ahead of the next read.
    if (table_.route_check_due())
      table_.end_route_waits(route_source, [&](std::span<const std::uint8_t> d, const wire::Endpoint& to) {
        if (!sock_.send(d, to)) table_.send_errors.fetch_add(1, std::memory_order_relaxed);
      });
  }
}

void TunDataPath::inbound_loop() {
  auto gro = std::make_unique<TcpCoalescer>();
  auto flush_group = [&] {
    if (gro->empty()) return;
    const auto out = gro->finish();
    if (::write(tun_.fd(), out.data(), out.size()) < 0)
      table_.send_errors.fetch_add(1, std::memory_order_relaxed);
  };
  std::vector<std::array<std::uint8_t, kFrame>> frames(kInBatch);
  std::array<mmsghdr, kInBatch> msgs{};
  std::array<iovec, kInBatch> iov{};
  std::array<sockaddr_storage, kInBatch> addrs{};
  while (running_) {
    if (!wait_readable(sock_.fd(), stop_fd_)) break;
    for (int i = 0; i < kInBatch; ++i) {
      auto k = static_cast<std::size_t>(i);
      iov[k] = {frames[k].data(), kFrame};
      msgs[k].msg_hdr = {};
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
      msgs[k].msg_hdr.msg_name = &addrs[k];
      msgs[k].msg_hdr.msg_namelen = sizeof addrs[k];
    }
    const int n = ::recvmmsg(sock_.fd(), msgs.data(), kInBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    TunnelTable::Reader reader(table_);
    for (int i = 0; i < n; ++i) {
      auto k = static_cast<std::size_t>(i);
      if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) {
        table_.bad_packet.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const auto from = common::from_sockaddr(addrs[k]);
      std::span<std::uint8_t> datagram(frames[k].data(), msgs[k].msg_len);
      std::span<std::uint8_t> payload;
      bool roamed = false;
      wire::PathId path;
      switch (reader.open_incoming(datagram, from, payload, roamed, path)) {
        case Opened::packet:
          if (tso_) {
            // Segments of one TCP flow in this batch become one write.
            if (gro->append(payload)) break;
            flush_group();
            if (gro->start(payload)) break;
          }
          if (tun_.vnet_hdr()) {
            // The capsule header in front of the payload is spent: an
            // all-zero virtio_net_hdr (no offload) goes there.
            std::uint8_t* start = payload.data() - VnetHdr::kSize;
            std::memset(start, 0, VnetHdr::kSize);
            if (::write(tun_.fd(), start, payload.size() + VnetHdr::kSize) < 0)
              table_.send_errors.fetch_add(1, std::memory_order_relaxed);
          } else if (::write(tun_.fd(), payload.data(), payload.size()) < 0) {
            table_.send_errors.fetch_add(1, std::memory_order_relaxed);
          }
          break;
        case Opened::control:
          // Control traffic is rare: a copy per message is fine.
          boost::asio::post(io_, [this, d = std::vector<std::uint8_t>(datagram.begin(), datagram.end()),
                                  from] { on_control_(d, from); });
          break;
        case Opened::keepalive:
        case Opened::dropped:
          break;
      }
      if (roamed) boost::asio::post(io_, [this, path, from] { on_roam_(path, from); });
    }
    flush_group();  // a group never waits past the batch it came in (latency)
  }
}

}  // namespace ntm::node
