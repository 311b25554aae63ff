// SPDX-License-Identifier: MIT
// A data path whose virtual interface is in memory: for tests that run the
// whole protocol without root.  The UDP socket is real (the DC, the relay
// and the peers are real processes or objects on loopback); what the TUN
// device would carry is a queue: inject() is an application sending to a
// VIP, delivered() what the device would hand to applications.  Runs on the
// control thread's io_context, single-threaded.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <deque>
#include <vector>

#include "datapath/data_path.hpp"
#include "datapath/tunnel_table.hpp"
#include "mobility/route_check.hpp"
#include "ntm/common/udp_socket.hpp"

namespace ntm::node {

class MemoryDataPath final : public DataPath {
 public:
  MemoryDataPath(boost::asio::io_context& io, const wire::Endpoint& listen);
  ~MemoryDataPath() override;

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
  bool send_packet(std::span<const std::uint8_t> pkt) override { return inject(pkt); }
  void hold(const wire::PathId& p) override { table_.hold(p); }
  std::size_t release(const wire::PathId& p) override;
  bool routable(const wire::Endpoint& to, RouteCheck& round) const override {
    return !(no_route && no_route(to)) && round.has_route(to);
  }
  void hold_until_route(const wire::PathId& p, RouteReturn r) override {
    table_.hold_until_route(p, std::move(r));
  }
  bool holding(const wire::PathId& p) const { return table_.holding(p); }
  std::optional<TunnelCounters> counters(const wire::PathId& p) const override;
  DataPathCounters totals() const override { return table_.totals(); }

  // An application on this node sends an IPv4 packet; false if it was not
  // sent now: dropped (no tunnel for its destination, wrong source ...), or
  // held while its path is re-directed, and sent once the new one is up.
  bool inject(std::span<const std::uint8_t> ipv4_packet);
  // Packets the interface handed up, oldest first.
  std::deque<std::vector<std::uint8_t>>& delivered() { return delivered_; }
  std::uint32_t vip() const { return vip_; }
  // Sees every capsule this data path sends (tests capture them to replay
  // or tamper with); control_tap every control datagram.
  std::function<void(std::span<const std::uint8_t>, const wire::Endpoint&)> tap, control_tap;
  // A broken route: datagrams from a source for which this returns true
  // are lost on the way (tests of the dead-path fallback).
  std::function<bool(const wire::Endpoint&)> lose_from;
  // The host has no route to an endpoint for which this returns true
  // (a move's blackout, docs/mobility.md §2): routable() says so.  What is
  // sent there meanwhile is still sent (loopback has its route): a test
  // checks that the agent held it.
  std::function<bool(const wire::Endpoint&)> no_route;
  // The node moves: its socket is bound anew to another address (a loopback
  // address standing for a network).  The agent learns of it as ntmd would
  // from rtnetlink, through Agent::network_changed.
  void rebind(const wire::Endpoint& listen);

 private:
  void wait_readable();
  void drain_socket();
  // Where a datagram to `to` would leave from: this socket's address, when
  // routable(to).
  std::optional<wire::IpAddr> source_for(const wire::Endpoint& to) const;
  // A sealed datagram out of the socket, seen by tap first.
  void send_capsule(std::span<const std::uint8_t> d, const wire::Endpoint& to);

  common::UdpSocket sock_;
  boost::asio::posix::stream_descriptor watch_;  // readiness of sock_ (does not own it)
  TunnelTable table_;
  ControlHandler on_control_;
  RoamHandler on_roam_;
  std::deque<std::vector<std::uint8_t>> delivered_;
  std::uint32_t vip_ = 0;
  bool running_ = false;
};

}  // namespace ntm::node
