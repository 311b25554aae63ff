// SPDX-License-Identifier: MIT
// Every NTMobile control message body, defined once.
//
// Each struct lists its fields in wire order exactly once, in NTM_WIRE_FIELDS;
// the encoder and the decoder are both generated from that list (see
// messages.cpp), so the two can never disagree.  docs/protocol.md shows the
// byte layout of every body.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <tuple>
#include <variant>
#include <vector>

#include "ntm/wire/error.hpp"
#include "ntm/wire/types.hpp"

#define NTM_WIRE_FIELDS(...)                                   \
  auto tie() { return std::tie(__VA_ARGS__); }                 \
  auto tie() const { return std::tie(__VA_ARGS__); }           \
  bool operator==(const auto& o) const { return tie() == o.tie(); }

namespace ntm::wire {

// Endpoint lists (a node's local addresses) hold at most this many entries.
inline constexpr std::size_t kMaxEndpoints = 8;
using EndpointList = std::vector<Endpoint>;

// One end of a path as the DC describes it (the paper's MN/CN field group:
// node ID, FQDN, virtual IP, real IP, NAT IP, DC IP).  For a general host
// node_id is zero, vip is the VIP the DC gave it, nat and dc are empty.
struct NodeInfo {
  NodeId node_id;
  Fqdn fqdn;
  Vip vip;
  Endpoint real;  // as the node reported it
  Endpoint nat;   // as the DC observed it; empty when not behind NAT
  Endpoint dc;    // the node's DC control endpoint
  NTM_WIRE_FIELDS(node_id, fqdn, vip, real, nat, dc)
};

// 1: node or RS -> its DC.  "Here I am."
struct RegistrationRequest {
  static constexpr MsgType kType = MsgType::registration_request;
  PartyKind kind = PartyKind::node;
  RegistrationReason reason = RegistrationReason::start;
  Fqdn fqdn;
  EndpointList local;  // the addresses the sender believes it has (its "real" addresses)
  NTM_WIRE_FIELDS(kind, reason, fqdn, local)
};

// 2: DC -> node or RS.  Sent only after the registration is committed.
struct RegistrationResponse {
  static constexpr MsgType kType = MsgType::registration_response;
  Vip vip;
  std::uint8_t vip_prefix_len = 0;  // the virtual range to route into the tunnel
  Endpoint observed;                // source address:port the DC saw
  bool behind_nat = false;
  std::uint16_t keepalive_s = 0;    // send a Keepalive this often
  std::uint16_t lifetime_s = 0;     // silent longer than this: offline
  NTM_WIRE_FIELDS(vip, vip_prefix_len, observed, behind_nat, keepalive_s, lifetime_s)
};

// 3: MN -> its DC.  "Build me a path to this name."
struct DirectionRequest {
  static constexpr MsgType kType = MsgType::direction_request;
  PathId path_id;          // chosen by the MN, random
  Fqdn peer;               // the correspondent's FQDN
  bool redirect = false;   // re-decide the route of this existing path
  NTM_WIRE_FIELDS(path_id, peer, redirect)
};

// 5: DC -> one end of a path (responder first, then initiator).
struct RouteDirection {
  static constexpr MsgType kType = MsgType::route_direction;
  PathId path_id;
  std::uint8_t key_epoch = 0;
  PathEnd you_are = PathEnd::initiator;
  RouteType route = RouteType::direct;
  FirstSender first = FirstSender::initiator;
  NodeInfo initiator;
  NodeInfo responder;
  Vip peer_view;                        // the address this end uses for its peer (clash substitute)
  Endpoint relay;                       // RS endpoint: relayed routes, or a direct route's fallback
  SealedKey path_key;                   // K_path sealed to this recipient
  std::optional<SealedKey> relay_key;   // K_rp sealed to this recipient, when a relay is named
  NTM_WIRE_FIELDS(path_id, key_epoch, you_are, route, first, initiator, responder, peer_view,
                  relay, path_key, relay_key)
};

// 6: node -> DC.  Acknowledges a Route Direction.
struct RouteDirectionAck {
  static constexpr MsgType kType = MsgType::route_direction_ack;
  PathId path_id;
  std::uint8_t key_epoch = 0;
  Status status = Status::ok;
  Endpoint local;  // the socket address the node will use for this path
  NTM_WIRE_FIELDS(path_id, key_epoch, status, local)
};

// 7: DC -> RS.  "Carry this path."
struct RelayDirection {
  static constexpr MsgType kType = MsgType::relay_direction;
  PathId path_id;
  std::uint8_t key_epoch = 0;
  RelayMode mode = RelayMode::forward;
  NodeInfo initiator;
  NodeInfo responder;        // the general host for mode translate
  SealedKey relay_key;       // K_rp (forward) or the general-path key (translate), sealed to the RS
  std::uint16_t idle_timeout_s = 0;
  NTM_WIRE_FIELDS(path_id, key_epoch, mode, initiator, responder, relay_key, idle_timeout_s)
};

// 8: RS -> DC.
struct RelayResponse {
  static constexpr MsgType kType = MsgType::relay_response;
  PathId path_id;
  std::uint8_t key_epoch = 0;
  Status status = Status::ok;
  Endpoint relay_endpoint;  // where both ends send for this path
  NTM_WIRE_FIELDS(path_id, key_epoch, status, relay_endpoint)
};

// 9: the first sender -> its peer or the RS (header id = path ID).
struct TunnelRequest {
  static constexpr MsgType kType = MsgType::tunnel_request;
  NodeId sender;
  NodeId receiver;   // zero when sent to the RS
  Vip sender_vip;
  Vip receiver_vip;
  Endpoint sender_real;
  Endpoint sender_nat;
  NTM_WIRE_FIELDS(sender, receiver, sender_vip, receiver_vip, sender_real, sender_nat)
};

// 10: answer to a Tunnel Request.
struct TunnelResponse {
  static constexpr MsgType kType = MsgType::tunnel_response;
  Status status = Status::ok;
  NodeId sender;
  Endpoint observed;  // the requester's source address:port as seen here
  NTM_WIRE_FIELDS(status, sender, observed)
};

// 12: moved node -> peer or RS.
struct UpdateRequest {
  static constexpr MsgType kType = MsgType::update_request;
  NodeId sender;
  std::uint32_t update_seq = 0;  // per path and sender; only a higher one moves the endpoint
  Endpoint new_real;
  Endpoint new_nat;
  NTM_WIRE_FIELDS(sender, update_seq, new_real, new_nat)
};

// 13: answer to an NTM Update Request.
struct UpdateResponse {
  static constexpr MsgType kType = MsgType::update_response;
  Status status = Status::ok;
  std::uint32_t update_seq = 0;
  Endpoint observed;
  NTM_WIRE_FIELDS(status, update_seq, observed)
};

// 14: liveness and NAT binding refresh (node/RS <-> DC, DC <-> DC).
struct Keepalive {
  static constexpr MsgType kType = MsgType::keepalive;
  std::uint32_t active_paths = 0;   // relays report their load; nodes send 0
  std::uint16_t load_permille = 0;  // 0..1000
  NTM_WIRE_FIELDS(active_paths, load_permille)
};

// 15: answer to a Keepalive.
struct KeepaliveAck {
  static constexpr MsgType kType = MsgType::keepalive_ack;
  Endpoint observed;           // a change means a silent NAT rebinding
  bool reregister = false;     // the DC lost or refused the registration: register again
  NTM_WIRE_FIELDS(observed, reregister)
};

// 16: an error reply to a request that authenticated (never to one that did not).
struct ErrorReply {
  static constexpr MsgType kType = MsgType::error;
  ErrorCode code = ErrorCode::internal;
  MsgType ref_type = MsgType::error;  // the type of the request that failed
  Text reason;
  NTM_WIRE_FIELDS(code, ref_type, reason)
};

// 17: DC_MN -> DC_CN.  "Tell me about this node."
struct NodeInfoRequest {
  static constexpr MsgType kType = MsgType::node_info_request;
  Fqdn target;
  Fqdn requester;  // the MN's FQDN, for the answering DC's policy and logs
  NTM_WIRE_FIELDS(target, requester)
};

// What DC_CN tells about one of its nodes.
struct PeerNode {
  NodeInfo info;
  bool online = false;
  EndpointList local;
  NTM_WIRE_FIELDS(info, online, local)
};

// 18: DC_CN -> DC_MN.
struct NodeInfoResponse {
  static constexpr MsgType kType = MsgType::node_info_response;
  Fqdn target;
  std::optional<PeerNode> node;  // absent: no such NTMobile node
  NTM_WIRE_FIELDS(target, node)
};

// 19: DC_MN -> DC_CN.  A Route Direction for CN; its path_key is sealed to
// DC_CN (peer wrap key), which re-seals it to CN's node key.
struct RouteForward {
  static constexpr MsgType kType = MsgType::route_forward;
  NodeId target;
  RouteDirection direction;
  NTM_WIRE_FIELDS(target, direction)
};

// 20: DC_CN -> DC_MN, after CN acknowledged (or did not).
struct RouteForwardAck {
  static constexpr MsgType kType = MsgType::route_forward_ack;
  PathId path_id;
  std::uint8_t key_epoch = 0;
  Status status = Status::ok;
  Endpoint local;
  NTM_WIRE_FIELDS(path_id, key_epoch, status, local)
};

// 21: DC_CN -> DC_MN.  The responder of this federated path, our node,
// moved (or asked for a re-direction): only DC_MN may re-direct the path,
// so it is asked to reconsider it.
struct PathMoved {
  static constexpr MsgType kType = MsgType::path_moved;
  PathId path_id;
  Fqdn responder;         // CN's FQDN, as the path names it at DC_MN
  bool redirect = false;  // CN asked: re-direct even if the route would stay
  NTM_WIRE_FIELDS(path_id, responder, redirect)
};

// 22: DC_MN -> DC_CN.  Taken: DC_MN reconsiders the path (a Route Forward
// follows if the route changes).  Refusals are Error replies.
struct PathMovedAck {
  static constexpr MsgType kType = MsgType::path_moved_ack;
  PathId path_id;
  NTM_WIRE_FIELDS(path_id)
};

// 23: node -> DC.  An end of the path let it go: nothing but keepalives
// went either way for its idle time (docs/node.md, "Idle paths").  The DC
// forgets the path, so that no re-key or move re-directs it again; the
// other end lets it go on its own idle timer, the relay on its own.
struct PathRelease {
  static constexpr MsgType kType = MsgType::path_release;
  PathId path_id;
  NTM_WIRE_FIELDS(path_id)
};

// 24: DC -> node.  The path is gone at the DC (also when it was already
// gone: a retransmitted release is answered again).  Refusals (not an end
// of the path) are Error replies.
struct PathReleaseAck {
  static constexpr MsgType kType = MsgType::path_release_ack;
  PathId path_id;
  NTM_WIRE_FIELDS(path_id)
};

using Body = std::variant<RegistrationRequest, RegistrationResponse, DirectionRequest,
                          RouteDirection, RouteDirectionAck, RelayDirection, RelayResponse,
                          TunnelRequest, TunnelResponse, UpdateRequest, UpdateResponse, Keepalive,
                          KeepaliveAck, ErrorReply, NodeInfoRequest, NodeInfoResponse,
                          RouteForward, RouteForwardAck, PathMoved, PathMovedAck, PathRelease,
                          PathReleaseAck>;

MsgType type_of(const Body& b) noexcept;

// Whether a message of this type may be sent in this key domain by this
// role (docs/protocol.md, "Who sends what").  Capsulated Packet included.
bool allowed(MsgType t, KeyDomain d, Role r) noexcept;

// Encodes a body into out; returns the size written, or sets err.
std::size_t encode_body(const Body& b, std::span<std::uint8_t> out, Error& err) noexcept;

// Decodes exactly the given bytes as a body of type t.  Every length is
// checked; trailing bytes, unknown enum values, bad FQDNs ... are errors.
Error decode_body(MsgType t, std::span<const std::uint8_t> in, Body& out);

}  // namespace ntm::wire
