// SPDX-License-Identifier: MIT
#include "datapath/memory_data_path.hpp"

#include <unistd.h>

#include <array>
#include <boost/asio/post.hpp>
#include <cstring>

#include "ntm/wire.h"

namespace ntm::node {

MemoryDataPath::MemoryDataPath(boost::asio::io_context& io, const wire::Endpoint& listen)
    : sock_(listen), watch_(io, ::dup(sock_.fd())) {}

MemoryDataPath::~MemoryDataPath() { stop(); }

void MemoryDataPath::set_miss_handler(MissHandler on_miss) {
  table_.set_miss_hook([this, h = std::move(on_miss)](std::uint32_t dst,
                                                      std::span<const std::uint8_t> packet) {
    boost::asio::post(watch_.get_executor(), [h, dst, copy = std::vector<std::uint8_t>(packet.begin(), packet.end())]() mutable {
      h(dst, std::move(copy));
    });
  });
}

void MemoryDataPath::start(ControlHandler on_control, RoamHandler on_roam) {
  on_control_ = std::move(on_control);
  on_roam_ = std::move(on_roam);
  running_ = true;
  wait_readable();
}

void MemoryDataPath::stop() {
  if (!running_) return;
  running_ = false;
  boost::system::error_code ec;
  watch_.cancel(ec);
}

void MemoryDataPath::wait_readable() {
  watch_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                    [this](const boost::system::error_code& ec) {
                      if (ec || !running_) return;
                      drain_socket();
                      wait_readable();
                    });
}

void MemoryDataPath::drain_socket() {
  std::array<std::uint8_t, 2048> buf;
  for (;;) {
    wire::Endpoint from;
    const long n = sock_.receive(buf, from);
    if (n < 0) return;
    if (lose_from && lose_from(from)) continue;
    if (static_cast<std::size_t>(n) > buf.size()) {
      table_.bad_packet++;
      continue;
    }
    std::span<std::uint8_t> datagram(buf.data(), static_cast<std::size_t>(n));
    std::span<std::uint8_t> payload;
    bool roamed = false;
    wire::PathId path;
    Opened what;
    {
      TunnelTable::Reader reader(table_);
      what = reader.open_incoming(datagram, from, payload, roamed, path);
    }
    if (what == Opened::packet) delivered_.emplace_back(payload.begin(), payload.end());
    if (what == Opened::control && on_control_) on_control_(datagram, from);
    if (roamed && on_roam_) on_roam_(path, from);
  }
}

void MemoryDataPath::rebind(const wire::Endpoint& listen) {
  boost::system::error_code ec;
  watch_.cancel(ec);
  watch_.close(ec);
  sock_ = common::UdpSocket(listen);
  watch_.assign(::dup(sock_.fd()));
  if (running_) wait_readable();
}

void MemoryDataPath::send_control(std::span<const std::uint8_t> d, const wire::Endpoint& to) {
  if (control_tap) control_tap(d, to);
  if (!sock_.send(d, to)) table_.send_errors++;
}

void MemoryDataPath::set_address(std::uint32_t vip, std::uint8_t) {
  vip_ = vip;
  table_.set_address(vip);
}

std::optional<wire::IpAddr> MemoryDataPath::source_for(const wire::Endpoint& to) const {
  RouteCheck round;
  if (!routable(to, round)) return std::nullopt;
  return sock_.local().addr;
}

bool MemoryDataPath::inject(std::span<const std::uint8_t> pkt) {
  TunnelTable::Frame frame;
  wire::Endpoint to;
  const std::size_t n = table_.seal_packet(pkt, frame, to);
  if (n == 0) {
    // Kept for a blackout, perhaps the first one after the new network:
    // as TunDataPath's interface thread does after its batch.  True when
    // it went out now (with what was kept before it).
    return table_.route_check_due() &&
           table_.end_route_waits([this](const wire::Endpoint& e) { return source_for(e); },
                                  [this](std::span<const std::uint8_t> d, const wire::Endpoint& e) {
                                    send_capsule(d, e);
                                  }) > 0;
  }
  if (tap) tap(std::span(frame.data(), n), to);
  return sock_.send(std::span(frame.data(), n), to);
}

std::size_t MemoryDataPath::release(const wire::PathId& p) {
  return table_.release(p, [&](std::span<const std::uint8_t> d, const wire::Endpoint& to) {
    send_capsule(d, to);
  });
}

void MemoryDataPath::send_capsule(std::span<const std::uint8_t> d, const wire::Endpoint& to) {
  if (tap) tap(d, to);
  sock_.send(d, to);
}

void MemoryDataPath::send_keepalive(const wire::PathId& p) {
  auto t = table_.find(p);
  if (!t) return;
  std::array<std::uint8_t, NTM_HDR_LEN + NTM_TAG_LEN> frame{};
  wire::Endpoint to;
  if (const auto n = t->seal(frame, 0, to)) sock_.send(std::span(frame.data(), n), to);
}

std::optional<TunnelCounters> MemoryDataPath::counters(const wire::PathId& p) const {
  auto t = table_.find(p);
  if (!t) return std::nullopt;
  return t->counters();
}

}  // namespace ntm::node
