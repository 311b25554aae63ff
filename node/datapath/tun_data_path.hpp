// SPDX-License-Identifier: MIT
// The TUN data path: the node's VIP lives on a TUN device; two threads move
// packets, one from the device into tunnels (read, seal, sendmmsg in
// batches), one from the socket to the device (recvmmsg in batches, open,
// write).  Control datagrams are copied to the control thread.  No heap
// allocation per packet: frames are preallocated per thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "datapath/data_path.hpp"
#include "datapath/tunnel_table.hpp"
#include "mobility/route_check.hpp"
#include "ntm/common/tun_device.hpp"
#include "ntm/common/udp_socket.hpp"

namespace ntm::node {

class TunDataPath final : public DataPath {
 public:
  // Creates the device and binds the socket; throws std::system_error.
  // offload: read TCP super-packets from the device (TSO) and split them
  // here, when the kernel offers it.
  TunDataPath(boost::asio::io_context& io, const wire::Endpoint& listen, const std::string& tun,
              int mtu, bool offload = true);
  ~TunDataPath() override;

  void start(ControlHandler on_control, RoamHandler on_roam) override;
  void set_miss_handler(MissHandler on_miss) override;
  void stop() override;
  wire::Endpoint local() const override { return sock_.local(); }
  void send_control(std::span<const std::uint8_t> d, const wire::Endpoint& to) override;
  void set_address(std::uint32_t vip, std::uint8_t prefix_len) override;
  void install(const TunnelConfig& t) override { table_.install(t); }
  void set_peer(const wire::PathId& p, const wire::Endpoint& e) override { table_.set_peer(p, e); }
  void remove(const wire::PathId& p) override { table_.remove(p); }
  void send_keepalive(const wire::PathId& p) override;
  bool send_packet(std::span<const std::uint8_t> pkt) override;
  void hold(const wire::PathId& p) override { table_.hold(p); }
  std::size_t release(const wire::PathId& p) override;
  bool routable(const wire::Endpoint& to, RouteCheck& round) const override {
    return round.has_route(to);
  }
  void hold_until_route(const wire::PathId& p, RouteReturn r) override {
    table_.hold_until_route(p, std::move(r));
  }
  std::optional<TunnelCounters> counters(const wire::PathId& p) const override;
  DataPathCounters totals() const override { return table_.totals(); }

  const std::string& device_name() const { return tun_.name(); }
  bool offloading() const { return tso_; }

 private:
  void outbound_loop();  // device -> socket
  void inbound_loop();   // socket -> device

  boost::asio::io_context& io_;
  common::UdpSocket sock_;
  common::TunDevice tun_;
  int mtu_;
  bool tso_ = false;
  bool udp_gso_ = true;  // outbound thread only; off after the kernel refused it once
  int stop_fd_ = -1;  // eventfd: wakes both threads
  TunnelTable table_;
  ControlHandler on_control_;
  RoamHandler on_roam_;
  std::thread out_, in_;
  std::atomic<bool> running_{false};
  std::uint32_t vip_ = 0;
  std::uint8_t prefix_len_ = 0;
};

}  // namespace ntm::node
