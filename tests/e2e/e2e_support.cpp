// SPDX-License-Identifier: MIT
#include "e2e_support.hpp"

namespace ntm::test {

std::vector<std::uint8_t> udp_packet(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                                     std::uint16_t dport, const std::string& payload) {
  const std::size_t total = 20 + 8 + payload.size();
  std::vector<std::uint8_t> p(total, 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(total >> 8);
  p[3] = static_cast<std::uint8_t>(total);
  p[8] = 64;
  p[9] = 17;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  std::uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += (std::uint32_t{p[i]} << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  p[10] = static_cast<std::uint8_t>(~sum >> 8);
  p[11] = static_cast<std::uint8_t>(~sum);
  p[20] = static_cast<std::uint8_t>(sport >> 8);
  p[21] = static_cast<std::uint8_t>(sport);
  p[22] = static_cast<std::uint8_t>(dport >> 8);
  p[23] = static_cast<std::uint8_t>(dport);
  p[24] = static_cast<std::uint8_t>((8 + payload.size()) >> 8);
  p[25] = static_cast<std::uint8_t>(8 + payload.size());
  std::copy(payload.begin(), payload.end(), p.begin() + 28);
  return p;
}

std::uint32_t vip_of(const TestNode& n) { return n.agent.status().vip; }

bool registered(const TestNode& n) { return n.agent.status().registered; }

void exchange(boost::asio::io_context& io, TestNode& a, TestNode& b) {
  // inject() is false for a packet that is not sent now: dropped, or held
  // while its path is being re-directed (node/datapath/tunnel_table.cpp),
  // to be sent when the new direction is up.  Delivery is what counts; a
  // dropped packet never arrives.
  const auto out = udp_packet(vip_of(a), vip_of(b), 40000, 7, "ping over the tunnel");
  const auto before = b.dp.delivered().size();
  a.dp.inject(out);
  REQUIRE(run_until(io, [&] { return b.dp.delivered().size() > before; }));
  CHECK(b.dp.delivered().back() == out);
  const auto back = udp_packet(vip_of(b), vip_of(a), 7, 40000, "and the answer");
  const auto before_a = a.dp.delivered().size();
  b.dp.inject(back);
  REQUIRE(run_until(io, [&] { return a.dp.delivered().size() > before_a; }));
  CHECK(a.dp.delivered().back() == back);
}

std::optional<node::Resolution> resolve(boost::asio::io_context& io, TestNode& n,
                                        const std::string& name, int timeout_ms) {
  std::optional<node::Resolution> out;
  n.agent.resolve(name, [&out](const node::Resolution& r) { out = r; });
  run_until(io, [&] { return out.has_value(); }, timeout_ms);
  return out;
}

std::optional<node::PathInfo> path_to(const TestNode& n, const std::string& peer) {
  for (const auto& [p, c] : n.agent.status().paths)
    if (p.peer.fqdn.name == peer) return p;
  return std::nullopt;
}

bool path_up(boost::asio::io_context& io, const TestNode& n, const std::string& peer,
             int timeout_ms) {
  return run_until(
      io,
      [&] {
        const auto p = path_to(n, peer);
        return p && p->state == node::PathState::up;
      },
      timeout_ms);
}

}  // namespace ntm::test
