// SPDX-License-Identifier: MIT
#include "wire/sample_messages.hpp"

#include <string>

namespace ntm::test {

using namespace ntm::wire;

NodeId node_id(std::uint8_t seed) {
  NodeId id;
  for (std::size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<std::uint8_t>(seed + i);
  return id;
}

PathId path_id(std::uint8_t seed) {
  PathId id;
  for (std::size_t i = 0; i < id.bytes.size(); ++i)
    id.bytes[i] = static_cast<std::uint8_t>(seed * 3 + i);
  return id;
}

Endpoint ep4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  Endpoint e;
  e.addr = IpAddr::v4((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d);
  e.port = port;
  return e;
}

Endpoint ep6(std::uint8_t last, std::uint16_t port) {
  Endpoint e;
  e.addr.family = Family::v6;
  e.addr.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
  e.port = port;
  return e;
}

NodeInfo node_info(std::uint8_t seed, const char* fqdn) {
  NodeInfo n;
  n.node_id = node_id(seed);
  n.fqdn.name = fqdn;
  n.vip.addr = 0x64400000u + seed;  // 100.64.0.x
  n.real = ep4(192, 168, 1, seed, 4512);
  n.nat = ep4(198, 51, 100, seed, 40000);
  n.dc = ep4(203, 0, 113, 10, NTM_PORT_DC);
  return n;
}

namespace {

SealedKey sealed(std::uint8_t seed) {
  SealedKey k;
  for (std::size_t i = 0; i < k.bytes.size(); ++i) k.bytes[i] = static_cast<std::uint8_t>(seed ^ i);
  return k;
}

RouteDirection route_direction() {
  RouteDirection r;
  r.path_id = path_id(7);
  r.key_epoch = 1;
  r.you_are = PathEnd::responder;
  r.route = RouteType::relay;
  r.first = FirstSender::both;
  r.initiator = node_info(1, "mn.ntm.example");
  r.responder = node_info(2, "cn.ntm.example");
  r.peer_view.addr = 0x64400001u;
  r.relay = ep4(203, 0, 113, 20, NTM_PORT_RELAY);
  r.path_key = sealed(1);
  r.relay_key = sealed(2);
  return r;
}

}  // namespace

std::vector<Body> sample_bodies() {
  std::vector<Body> v;
  v.push_back(RegistrationRequest{PartyKind::node, RegistrationReason::move,
                                  Fqdn{"laptop.ntm.example"},
                                  {ep4(192, 168, 1, 2, 4512), ep6(2, 4512)}});
  v.push_back(RegistrationResponse{Vip{0x64400002u}, 10, ep4(198, 51, 100, 2, 4512), true, 15, 60});
  v.push_back(DirectionRequest{path_id(1), Fqdn{"cn.ntm.example"}, true});
  v.push_back(route_direction());
  v.push_back(RouteDirectionAck{path_id(1), 1, Status::ok, ep4(192, 168, 1, 2, 4512)});
  v.push_back(RelayDirection{path_id(2), 0, RelayMode::translate, node_info(1, "mn.ntm.example"),
                             node_info(9, "www.example.org"), sealed(3), 120});
  v.push_back(RelayResponse{path_id(2), 0, Status::ok, ep4(203, 0, 113, 20, 50001)});
  v.push_back(TunnelRequest{node_id(1), node_id(2), Vip{0x64400001u}, Vip{0x64400002u},
                            ep4(192, 168, 1, 2, 4512), ep4(198, 51, 100, 2, 4512)});
  v.push_back(TunnelResponse{Status::ok, node_id(2), ep4(198, 51, 100, 2, 4512)});
  v.push_back(UpdateRequest{node_id(1), 42, ep4(10, 0, 0, 2, 4512), ep4(198, 51, 100, 6, 4512)});
  v.push_back(UpdateResponse{Status::stale_update, 41, ep4(198, 51, 100, 6, 4512)});
  v.push_back(Keepalive{12, 345});
  v.push_back(KeepaliveAck{ep4(198, 51, 100, 2, 4512), true});
  v.push_back(ErrorReply{ErrorCode::no_such_name, MsgType::direction_request,
                         Text{"no NTMobile node named cn.ntm.example"}});
  v.push_back(NodeInfoRequest{Fqdn{"cn.other.example"}, Fqdn{"mn.ntm.example"}});
  v.push_back(NodeInfoResponse{
      Fqdn{"cn.other.example"},
      PeerNode{node_info(3, "cn.other.example"), true, {ep4(192, 168, 7, 3, 4512)}}});
  v.push_back(RouteForward{node_id(3), route_direction()});
  v.push_back(RouteForwardAck{path_id(7), 1, Status::ok, ep4(192, 168, 7, 3, 4512)});
  v.push_back(PathMoved{path_id(7), Fqdn{"cn.other.example"}, true});
  v.push_back(PathMovedAck{path_id(7)});
  v.push_back(PathRelease{path_id(8)});
  v.push_back(PathReleaseAck{path_id(8)});
  return v;
}

RouteDirection largest_route_direction() {
  std::string label(63, 'a');
  std::string name = label + "." + label + "." + label + "." + std::string(61, 'b');  // 253
  RouteDirection r = route_direction();
  r.initiator.fqdn.name = name;
  r.responder.fqdn.name = name;
  for (NodeInfo* n : {&r.initiator, &r.responder}) {
    n->real = ep6(1, 1);
    n->nat = ep6(2, 2);
    n->dc = ep6(3, 3);
  }
  r.relay = ep6(4, 4);
  return r;
}

}  // namespace ntm::test
