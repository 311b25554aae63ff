// SPDX-License-Identifier: MIT
#include "node_client.hpp"

#include <poll.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "ntm/common/clock.hpp"

namespace ntm::sim {

namespace {

wire::ChannelConfig channel_config(const Credentials& c) {
  wire::ChannelConfig cfg;
  cfg.domain = wire::KeyDomain::node_dc;
  cfg.tx_role = wire::Role::node;
  cfg.rx_role = wire::Role::dc;
  cfg.tx_id = cfg.rx_id = c.id.bytes;
  cfg.key_epoch = c.key_epoch;
  cfg.instance = wire::new_instance();
  cfg.first_counter = wire::initial_counter(common::wall_ns());
  return cfg;
}

constexpr std::uint64_t kRetryMs = 400;

wire::Endpoint loopback_any() {
  wire::Endpoint e;
  e.addr = wire::IpAddr::v4(0x7f000001);
  return e;
}

}  // namespace

Credentials parse_credentials(const std::string& text) {
  Credentials c;
  std::istringstream in(text);
  std::string line;
  bool have_id = false, have_key = false;
  bool in_party = false;
  bool in_dc = false;
  while (std::getline(in, line)) {
    if (line == "[node]" || line == "[relay]") {
      in_party = true;
      c.relay = line == "[relay]";
      continue;
    }
    const bool dc_section = line == "[dc]";
    if (!line.empty() && line[0] == '[') in_party = false;
    if (dc_section) in_dc = true;
    else if (!line.empty() && line[0] == '[') in_dc = false;
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    const std::string k = line.substr(0, eq), v = line.substr(eq + 3);
    if (in_dc && k == "endpoint") common::parse_endpoint(v, c.dc);
    if (!in_party) continue;
    if (k == "id") have_id = wire::NodeId::from_hex(v, c.id);
    if (k == "fqdn" || k == "name") c.name = v;
    if (k == "key") have_key = wire::SecretKey::from_hex(v, c.key);
    if (k == "key_epoch") {
      const int e = std::atoi(v.c_str());
      if (e < 0 || e > 255 || v.empty()) throw std::runtime_error("bad key_epoch: " + v);
      c.key_epoch = static_cast<std::uint8_t>(e);
    }
  }
  if (!have_id || !have_key || c.name.empty())
    throw std::runtime_error("not a node config:\n" + text);
  return c;
}

Credentials load_credentials(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_credentials(ss.str());
}

NodeClient::NodeClient(const Credentials& creds, const wire::Endpoint& dc,
                       const wire::Endpoint& bind)
    : creds_(creds),
      dc_(dc),
      sock_(bind.empty() ? loopback_any() : bind),
      channel_(creds.key, channel_config(creds)) {}

std::uint32_t NodeClient::send(const wire::Body& body, std::uint32_t txid) {
  if (!txid) txid = next_txid_++;
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  wire::Error err = wire::Error::ok;
  const std::size_t n = channel_.seal(body, txid, common::wall_ms(), out, err);
  if (err != wire::Error::ok)
    throw std::runtime_error(std::string("seal failed: ") + std::string(wire::to_string(err)));
  out.resize(n);
  last_ = out;
  sock_.send(out, dc_);
  return txid;
}

void NodeClient::send_raw(const std::vector<std::uint8_t>& datagram) { sock_.send(datagram, dc_); }

std::optional<wire::Received> NodeClient::receive(int timeout_ms) {
  const auto deadline = common::mono_ms() + static_cast<std::uint64_t>(timeout_ms);
  std::vector<std::uint8_t> buf(NTM_MAX_CONTROL + 1);
  for (;;) {
    wire::Endpoint from;
    const long n = sock_.receive(buf, from);
    if (n >= 0) {
      wire::Received r;
      const auto size = std::min<std::size_t>(static_cast<std::size_t>(n), buf.size());
      if (channel_.open({buf.data(), size}, common::wall_ms(), r) == wire::Error::ok) return r;
      ++dropped_;
      continue;
    }
    const auto now = common::mono_ms();
    if (now >= deadline) return std::nullopt;
    pollfd p{sock_.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(deadline - now));
  }
}

std::optional<wire::Received> NodeClient::request(const wire::Body& body, int timeout_ms) {
  // Like a real node: the same request (same txid, freshly sealed) again
  // every 400 ms until an answer or the timeout.
  const std::uint32_t txid = send(body);
  const auto deadline = common::mono_ms() + static_cast<std::uint64_t>(timeout_ms);
  auto next_retry = common::mono_ms() + kRetryMs;
  for (;;) {
    const auto now = common::mono_ms();
    if (now >= deadline) return std::nullopt;
    if (now >= next_retry) {
      send(body, txid);
      next_retry = now + kRetryMs;
    }
    auto r = receive(static_cast<int>(std::min(deadline, next_retry) - now));
    if (!r) continue;
    if (r->header.txid == txid) return r;
    backlog_.push_back(std::move(*r));
  }
}

std::optional<wire::RegistrationResponse> NodeClient::register_at(std::vector<wire::Endpoint> local,
                                                                 wire::RegistrationReason reason) {
  if (local.empty()) local.push_back(sock_.local());
  wire::RegistrationRequest req{creds_.relay ? wire::PartyKind::relay : wire::PartyKind::node,
                                reason, wire::Fqdn{creds_.name}, local};
  auto r = request(req);
  if (!r) return std::nullopt;
  if (auto* resp = std::get_if<wire::RegistrationResponse>(&r->body)) return *resp;
  return std::nullopt;
}

void NodeClient::move() { sock_ = common::UdpSocket(loopback_any()); }

wire::SecretKey NodeClient::open_key(const wire::SealedKey& k, const wire::PathId& path,
                                     std::uint8_t epoch, wire::SealedKind kind) {
  wire::KeyWrapper w(creds_.key, wire::KeyDomain::node_dc, creds_.key_epoch, creds_.id.bytes);
  wire::SecretKey out;
  if (w.open(k, path, epoch, kind, out) != wire::Error::ok)
    throw std::runtime_error("sealed key does not open");
  return out;
}

}  // namespace ntm::sim
