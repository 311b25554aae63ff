// SPDX-License-Identifier: MIT
// ntm-sim: plays nodes and relays from their config files against a DC, for
// the demo and for operators checking a DC by hand.
//   ntm-sim register NODE.conf [--local ADDR:PORT]
//   ntm-sim direct MN.conf CN.conf [--relay RELAY.conf] [--cn-local ADDR:PORT] [--mn-local ADDR:PORT]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "node_client.hpp"
#include "ntm/common/udp_socket.hpp"

namespace {

using namespace ntm;
using sim::NodeClient;

std::vector<wire::Endpoint> locals(const std::string& text) {
  if (text.empty()) return {};
  wire::Endpoint e;
  if (!common::parse_endpoint(text, e)) throw std::runtime_error("not ADDR:PORT: " + text);
  return {e};
}

int do_register(const std::string& conf, const std::string& local, const std::string& bind) {
  const auto c = sim::load_credentials(conf);
  wire::Endpoint from;
  if (!bind.empty() && !wire::IpAddr::parse(bind, from.addr))
    throw std::runtime_error("--bind: not an IP address: " + bind);
  NodeClient n(c, c.dc, from);
  auto r = n.register_at(locals(local));
  if (!r) {
    std::fprintf(stderr, "ntm-sim: no registration answer from %s\n", c.dc.to_string().c_str());
    return 1;
  }
  std::printf("%s registered: vip %s, seen at %s, %s\n", c.name.c_str(), r->vip.to_string().c_str(),
              r->observed.to_string().c_str(), r->behind_nat ? "behind NAT" : "global");
  return 0;
}

// Answers Relay Directions for as long as the direction takes.
void serve_relay(NodeClient& relay, std::atomic<bool>& stop) {
  while (!stop) {
    wire::ControlHeader h;
    if (auto rd = relay.wait_for<wire::RelayDirection>(100, &h)) {
      wire::Endpoint ep = relay.local();
      ep.port = static_cast<std::uint16_t>(ep.port + 1);  // a relay endpoint for this path
      relay.send(wire::RelayResponse{rd->path_id, rd->key_epoch, wire::Status::ok, ep}, h.txid);
      std::printf("relay: directed for path %s (%s)\n", rd->path_id.to_hex().c_str(),
                  rd->mode == wire::RelayMode::forward ? "forwarding" : "translating");
    }
  }
}

int do_direct(const std::string& mn_conf, const std::string& cn_conf, const std::string& relay_conf,
              const std::string& mn_local, const std::string& cn_local) {
  const auto mc = sim::load_credentials(mn_conf);
  const auto cc = sim::load_credentials(cn_conf);
  NodeClient mn(mc, mc.dc), cn(cc, cc.dc);
  std::unique_ptr<NodeClient> relay;
  if (!relay_conf.empty()) {
    const auto rc = sim::load_credentials(relay_conf);
    relay = std::make_unique<NodeClient>(rc, rc.dc);
    if (!relay->register_at()) throw std::runtime_error("relay registration failed");
  }
  const auto rm = mn.register_at(locals(mn_local));
  const auto rcn = cn.register_at(locals(cn_local));
  if (!rm || !rcn) throw std::runtime_error("registration failed");
  std::printf("MN %s vip %s (%s), CN %s vip %s (%s)\n", mc.name.c_str(), rm->vip.to_string().c_str(),
              rm->behind_nat ? "behind NAT" : "global", cc.name.c_str(),
              rcn->vip.to_string().c_str(), rcn->behind_nat ? "behind NAT" : "global");
  std::atomic<bool> stop{false};
  std::thread relay_thread;
  if (relay) relay_thread = std::thread([&] { serve_relay(*relay, stop); });

  wire::PathId path;
  wire::random_bytes(path.bytes);
  mn.send(wire::DirectionRequest{path, wire::Fqdn{cc.name}, false});
  wire::ControlHeader h;
  auto to_cn = cn.wait_for<wire::RouteDirection>(5000, &h);
  int rc = 1;
  if (to_cn) {
    cn.send(wire::RouteDirectionAck{path, to_cn->key_epoch, wire::Status::ok, cn.local()}, h.txid);
    auto to_mn = mn.wait_for<wire::RouteDirection>(5000, &h);
    if (to_mn) {
      mn.send(wire::RouteDirectionAck{path, to_mn->key_epoch, wire::Status::ok, mn.local()}, h.txid);
      const auto k1 = mn.open_key(to_mn->path_key, path, to_mn->key_epoch,
                                  wire::SealedKind::path_key);
      const auto k2 = cn.open_key(to_cn->path_key, path, to_cn->key_epoch,
                                  wire::SealedKind::path_key);
      std::printf("path %s: route %s, first sender %s%s, common key %s at both ends\n",
                  path.to_hex().c_str(), std::string(wire::to_string(to_mn->route)).c_str(),
                  to_mn->first == wire::FirstSender::initiator   ? "MN"
                  : to_mn->first == wire::FirstSender::responder ? "CN"
                                                                 : "both",
                  to_mn->relay.empty() ? "" : (", relay " + to_mn->relay.to_string()).c_str(),
                  k1.equals(k2) ? "identical" : "DIFFERENT");
      rc = k1.equals(k2) ? 0 : 1;
    }
  }
  if (rc != 0) {
    auto err = mn.wait_for<wire::ErrorReply>(100);
    std::fprintf(stderr, "ntm-sim: direction failed%s%s\n", err ? ": " : "",
                 err ? err->reason.value.c_str() : "");
  }
  stop = true;
  if (relay_thread.joinable()) relay_thread.join();
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ntm-sim: play NTMobile nodes against a DC"};
  app.require_subcommand(1);
  std::string conf, local, bind, mn_conf, cn_conf, relay_conf, mn_local, cn_local;
  auto* reg = app.add_subcommand("register", "register one node and print the answer");
  reg->add_option("config", conf, "node config file")->required();
  reg->add_option("--local", local, "report this ADDR:PORT as the node's address (e.g. a private one)");
  reg->add_option("--bind", bind, "send from this local address (default 127.0.0.1)");
  auto* dir = app.add_subcommand("direct", "register two nodes and direct a path between them");
  dir->add_option("mn", mn_conf, "initiator's config file")->required();
  dir->add_option("cn", cn_conf, "responder's config file")->required();
  dir->add_option("--relay", relay_conf, "a relay's config file (played too)");
  dir->add_option("--mn-local", mn_local, "MN reports this ADDR:PORT (e.g. a private one)");
  dir->add_option("--cn-local", cn_local, "CN reports this ADDR:PORT (e.g. a private one)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (*reg) return do_register(conf, local, bind);
    if (*dir) return do_direct(mn_conf, cn_conf, relay_conf, mn_local, cn_local);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ntm-sim: %s\n", e.what());
    return 1;
  }
  return 0;
}
