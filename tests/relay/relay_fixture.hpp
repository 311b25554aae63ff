// SPDX-License-Identifier: MIT
// The RS's logic in-process: a config, a path table, the DC link and the
// forwarder, a sink that records what would go out, and the ends' side of
// a path (their channels, sealers and openers).
#pragma once

#include <doctest/doctest.h>

#include <vector>

#include "dc_link.hpp"
#include "forwarder.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/capsule.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace ntm::test {

struct Sent {
  std::vector<std::uint8_t> data;
  wire::Endpoint to;
  bool tun = false;
};

class RecordingSink final : public relay::Sink {
 public:
  std::span<std::uint8_t> buffer() override {
    bufs_.emplace_back(relay::kReplyBufferSize);
    return bufs_.back();
  }
  void send(std::span<const std::uint8_t> d, const wire::Endpoint& to) override {
    out.push_back({{d.begin(), d.end()}, to, false});
  }
  void write_tun(std::span<const std::uint8_t> p) override {
    out.push_back({{p.begin(), p.end()}, {}, true});
  }
  std::vector<Sent> out;

 private:
  std::vector<std::vector<std::uint8_t>> bufs_;
};

inline wire::Endpoint endpoint(const char* a, std::uint16_t port) {
  wire::Endpoint e;
  REQUIRE(wire::IpAddr::parse(a, e.addr));
  e.port = port;
  return e;
}

inline relay::Config test_config() {
  relay::Config c;
  wire::random_bytes(c.id.bytes);
  c.name = "relay.test.example";
  c.key = wire::SecretKey::random();
  c.dc = endpoint("127.0.0.1", 4510);
  c.listen = c.advertise = endpoint("127.0.0.1", 4530);
  c.max_paths = 4;
  return c;
}

struct RelayUnderTest {
  explicit RelayUnderTest(relay::Config c = test_config())
      : cfg(std::move(c)), paths(cfg.max_paths), dc(cfg, paths, drops), fwd(cfg, paths, dc, drops) {}
  relay::Now now() const { return {common::mono_ms() + clock_offset_ms, common::wall_ms()}; }
  void receive(std::vector<std::uint8_t> d, const wire::Endpoint& from) {
    fwd.on_datagram(d, from, sink, now());
  }
  // What a Relay Direction would install.
  wire::Status direct(const wire::PathId& path, std::uint8_t epoch, wire::RelayMode mode,
                      const wire::SecretKey& key, std::uint16_t idle_s = 30,
                      wire::NodeInfo init = {}, wire::NodeInfo resp = {}) {
    wire::KeyWrapper w(wrap_key, wire::KeyDomain::node_dc, wrap_epoch, cfg.id.bytes);
    wire::RelayDirection d;
    d.path_id = path;
    d.key_epoch = epoch;
    d.mode = mode;
    d.initiator = init;
    d.responder = resp;
    d.relay_key = w.seal(key, path, epoch,
                         mode == wire::RelayMode::forward ? wire::SealedKind::relay_key
                                                          : wire::SealedKind::general_key);
    d.idle_timeout_s = idle_s;
    return dc.install(d, now());
  }
  relay::Config cfg;
  relay::PathTable paths;
  relay::Drops drops;
  relay::DcLink dc;
  relay::Forwarder fwd;
  RecordingSink sink;
  std::uint64_t clock_offset_ms = 0;
  // The relay key the DC seals Relay Directions with (direct()).
  wire::SecretKey wrap_key = cfg.key;
  std::uint8_t wrap_epoch = cfg.key_epoch;
};

// One end of a relayed path: its RELAY_PATH channel to the RS (K_rp) and
// its capsule sealer under K_path.
struct End {
  End(const wire::SecretKey& k_rp, const wire::SecretKey& k_path, const wire::PathId& path,
      std::uint8_t epoch, bool initiator)
      : channel(k_rp, cfg(path, epoch, initiator)),
        sealer(k_path, initiator ? wire::Role::initiator : wire::Role::responder, path, epoch) {}
  static wire::ChannelConfig cfg(const wire::PathId& path, std::uint8_t epoch, bool initiator) {
    wire::ChannelConfig c;
    c.domain = wire::KeyDomain::relay_path;
    c.key_epoch = epoch;
    c.tx_role = initiator ? wire::Role::initiator : wire::Role::responder;
    c.rx_role = initiator ? wire::Role::rs_to_initiator : wire::Role::rs_to_responder;
    c.tx_id = c.rx_id = path.bytes;
    c.instance = wire::new_instance();
    c.first_counter = wire::initial_counter(common::wall_ns());
    return c;
  }
  std::vector<std::uint8_t> seal(const wire::Body& b, std::uint32_t txid = 7) {
    std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
    wire::Error err = wire::Error::ok;
    const std::size_t n = channel.seal(b, txid, common::wall_ms(), out, err);
    REQUIRE(n);
    out.resize(n);
    return out;
  }
  std::vector<std::uint8_t> capsule(std::size_t payload_len) {
    std::vector<std::uint8_t> f(NTM_CAPSULE_OVERHEAD + payload_len);
    auto payload = std::span(f).subspan(NTM_HDR_LEN, payload_len);
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::uint8_t>(i);
    wire::Error err = wire::Error::ok;
    REQUIRE(sealer.seal(f, payload_len, err) == f.size());
    return f;
  }
  wire::ControlChannel channel;
  wire::CapsuleSealer sealer;
};

inline wire::TunnelRequest tunnel_request() {
  wire::TunnelRequest t;
  wire::random_bytes(t.sender.bytes);
  return t;
}

}  // namespace ntm::test
