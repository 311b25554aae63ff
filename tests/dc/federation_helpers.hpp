// SPDX-License-Identifier: MIT
// What the federation dc tests share: a UDP server on loopback standing for
// DNS (or a peer DC), the zone DNS that publishes markers, and the DC
// configuration helpers.
#pragma once

#include <doctest/doctest.h>
#include <poll.h>

#include <array>
#include <boost/asio.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../unit/dc/dns_bytes.hpp"
#include "dc_helpers.hpp"
#include "dc_process.hpp"
#include "federation/peer.hpp"
#include "ntm/common/udp_socket.hpp"
#include "ntm/wire/secret_key.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::test {

inline std::string random_key_hex() {
  return wire::SecretKey::random().to_hex();
}

// The [dc] id the DcProcess wrote into its configuration.
inline std::string dc_id_of(const DcProcess& dc) {
  std::ifstream in(dc.config_path());
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("id = ")) return line.substr(5);
  FAIL("no id in the configuration");
  return {};
}

inline void append(const DcProcess& dc, const std::string& text) {
  std::ofstream(dc.config_path(), std::ios::app) << text;
}

// A UDP server on loopback, on its own thread, that hands every datagram to
// a handler returning what to send back (DNS answers, fake peer DCs).
class UdpServer {
 public:
  using Handler =
      std::function<std::vector<std::vector<std::uint8_t>>(const std::vector<std::uint8_t>&)>;
  UdpServer()
      : sock_(io_, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    receive();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~UdpServer() {
    io_.stop();
    thread_.join();
  }
  void set_handler(Handler h) {
    std::lock_guard lock(mu_);
    handler_ = std::move(h);
  }
  wire::Endpoint endpoint() const {
    wire::Endpoint e;
    (void)wire::IpAddr::parse("127.0.0.1", e.addr);
    e.port = sock_.local_endpoint().port();
    return e;
  }
  std::size_t received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  void receive() {
    sock_.async_receive_from(boost::asio::buffer(buf_), from_,
                             [this](const boost::system::error_code& ec, std::size_t n) {
                               if (ec) return;
                               std::vector<std::uint8_t> in(buf_.begin(),
                                                            buf_.begin() + static_cast<long>(n));
                               Handler h;
                               {
                                 std::lock_guard lock(mu_);
                                 received_++;
                                 h = handler_;
                               }
                               if (h)
                                 for (const auto& d : h(in)) {
                                   boost::system::error_code e2;
                                   sock_.send_to(boost::asio::buffer(d), from_, 0, e2);
                                 }
                               receive();
                             });
  }
  boost::asio::io_context io_;
  boost::asio::ip::udp::socket sock_;
  std::array<std::uint8_t, 4096> buf_{};
  boost::asio::ip::udp::endpoint from_;
  mutable std::mutex mu_;
  Handler handler_;
  std::size_t received_ = 0;
  std::thread thread_;
};

// DNS for the test: names under b.test and c.test carry a marker for the
// DC given per zone; everything else is NXDOMAIN.
inline UdpServer::Handler zone_dns(std::map<std::string, wire::Endpoint> markers) {
  return [markers](const std::vector<std::uint8_t>& q) {
    const std::string name = ntm::test::dns::query_name(q);
    for (const auto& [zone, dc] : markers)
      if (name.ends_with("." + zone))
        return std::vector<std::vector<std::uint8_t>>{ntm::test::dns::response(
            ntm::test::dns::query_id(q), name, 0,
            {ntm::test::dns::txt(name, {"v=ntm1 dc=" + dc.to_string()}, 0)})};
    return std::vector<std::vector<std::uint8_t>>{ntm::test::dns::response(
        ntm::test::dns::query_id(q), name, 3, {}, {ntm::test::dns::soa("test", 0, 0)})};
  };
}

// The test speaking as a DC over the DC_PEER channel.
inline dc::federation::Peer fake_dc(const std::string& self_hex, const std::string& peer_hex,
                                    const std::string& key_hex, const std::string& zone) {
  dc::config::Config::Peer p;
  p.name = "test";
  REQUIRE(wire::DcId::from_hex(peer_hex, p.dc_id));
  REQUIRE(wire::SecretKey::from_hex(key_hex, p.key));
  p.zones = {zone};
  wire::DcId self;
  REQUIRE(wire::DcId::from_hex(self_hex, self));
  return dc::federation::Peer(p, self, wire::new_instance(), 60'000);
}

// One datagram exchange on a fresh socket: send, and the answer (if any).
inline std::optional<std::vector<std::uint8_t>> exchange(const wire::Endpoint& to,
                                                         const std::vector<std::uint8_t>& d,
                                                         int timeout_ms = 700) {
  common::UdpSocket s(wire::Endpoint{wire::IpAddr::v4(0x7f000001), 0});
  REQUIRE(s.send(d, to));
  pollfd p{s.fd(), POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
  std::array<std::uint8_t, 2048> buf{};
  wire::Endpoint from;
  const long n = s.receive(buf, from);
  if (n <= 0) return std::nullopt;
  return std::vector<std::uint8_t>(buf.begin(), buf.begin() + n);
}

// A path's re-direction under key epoch `epoch`: CN's Route Direction
// (older copies skipped), then MN's, both acknowledged; both open one K_path.
struct NextEpoch {
  wire::RouteDirection to_cn, to_mn;
};
inline NextEpoch accept_next_epoch(NodeClient& cn, NodeClient& mn, const wire::PathId& path,
                                   std::uint8_t epoch = 1) {
  std::optional<wire::RouteDirection> to_cn;
  for (int i = 0; i < 10 && !(to_cn && to_cn->key_epoch == epoch); ++i)
    to_cn = accept_direction(cn);
  REQUIRE(to_cn);
  REQUIRE(to_cn->key_epoch == epoch);
  auto to_mn = accept_direction(mn);
  REQUIRE(to_mn);
  CHECK(to_mn->key_epoch == epoch);
  CHECK(mn.open_key(to_mn->path_key, path, epoch, wire::SealedKind::path_key)
            .equals(cn.open_key(to_cn->path_key, path, epoch, wire::SealedKind::path_key)));
  return {*to_cn, *to_mn};
}

}  // namespace ntm::test
