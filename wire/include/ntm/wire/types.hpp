// SPDX-License-Identifier: MIT
// Value types that appear in NTMobile messages, with their validation rules.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "ntm/wire.h"

namespace ntm::wire {

// 128-bit identifier: node ID, relay ID, path ID or DC ID.  Tagged so that a
// path ID cannot be passed where a node ID is expected.
template <class Tag>
struct Id {
  std::array<std::uint8_t, NTM_ID_LEN> bytes{};
  auto operator<=>(const Id&) const = default;
  bool is_zero() const noexcept {
    for (auto b : bytes)
      if (b) return false;
    return true;
  }
  std::string to_hex() const;
  // Parses exactly 32 hex digits; false on anything else.
  static bool from_hex(std::string_view s, Id& out);
};
struct NodeTag {};
struct PathTag {};
struct DcTag {};
using NodeId = Id<NodeTag>;  // also used for relay servers
using PathId = Id<PathTag>;
using DcId = Id<DcTag>;

enum class Family : std::uint8_t { none = 0, v4 = 4, v6 = 6 };

// An IPv4 or IPv6 address (or none), bytes in network order.
struct IpAddr {
  Family family = Family::none;
  std::array<std::uint8_t, 16> bytes{};  // v4 uses the first 4
  auto operator<=>(const IpAddr&) const = default;

  static IpAddr v4(std::uint32_t host_order);
  // The first four bytes as one number in host order (meaningful for v4).
  std::uint32_t v4_host_order() const noexcept;
  static bool parse(std::string_view text, IpAddr& out);  // dotted quad or IPv6 text
  std::string to_string() const;
};

struct Endpoint {
  IpAddr addr;
  std::uint16_t port = 0;
  auto operator<=>(const Endpoint&) const = default;
  bool empty() const noexcept { return addr.family == Family::none; }
  std::string to_string() const;
};

// A virtual IPv4 address (VIP), host byte order in memory.
struct Vip {
  std::uint32_t addr = 0;
  auto operator<=>(const Vip&) const = default;
  std::string to_string() const;
};

// A fully qualified domain name in canonical form: lower case, no trailing
// dot, 1..253 characters, labels of 1..63 letters, digits or hyphens that do
// not start or end with a hyphen (RFC 1035 section 2.3.1, RFC 1123).
struct Fqdn {
  std::string name;
  auto operator<=>(const Fqdn&) const = default;
  static constexpr std::size_t kMaxLen = 253;
  static bool valid(std::string_view s) noexcept;
  // Lower-cases and strips one trailing dot, then validates.
  static bool canonicalize(std::string_view in, Fqdn& out);
};

// Short human-readable text (error reasons): printable ASCII, bounded.
struct Text {
  std::string value;
  auto operator<=>(const Text&) const = default;
  static constexpr std::size_t kMaxLen = 160;
  static bool valid(std::string_view s) noexcept;
};

// A 256-bit key sealed to one recipient (see sealed_key.hpp):
// nonce (12) || ciphertext (32) || tag (16).
struct SealedKey {
  static constexpr std::size_t kSize = NTM_NONCE_LEN + NTM_KEY_LEN + NTM_TAG_LEN;  // 60
  std::array<std::uint8_t, kSize> bytes{};
  auto operator<=>(const SealedKey&) const = default;
};

enum class MsgType : std::uint8_t {
  registration_request = NTM_T_REGISTRATION_REQUEST,
  registration_response = NTM_T_REGISTRATION_RESPONSE,
  direction_request = NTM_T_DIRECTION_REQUEST,
  route_direction = NTM_T_ROUTE_DIRECTION,
  route_direction_ack = NTM_T_ROUTE_DIRECTION_ACK,
  relay_direction = NTM_T_RELAY_DIRECTION,
  relay_response = NTM_T_RELAY_RESPONSE,
  tunnel_request = NTM_T_TUNNEL_REQUEST,
  tunnel_response = NTM_T_TUNNEL_RESPONSE,
  capsulated_packet = NTM_T_CAPSULATED_PACKET,
  update_request = NTM_T_UPDATE_REQUEST,
  update_response = NTM_T_UPDATE_RESPONSE,
  keepalive = NTM_T_KEEPALIVE,
  keepalive_ack = NTM_T_KEEPALIVE_ACK,
  error = NTM_T_ERROR,
  node_info_request = NTM_T_NODE_INFO_REQUEST,
  node_info_response = NTM_T_NODE_INFO_RESPONSE,
  route_forward = NTM_T_ROUTE_FORWARD,
  route_forward_ack = NTM_T_ROUTE_FORWARD_ACK,
  path_moved = NTM_T_PATH_MOVED,
  path_moved_ack = NTM_T_PATH_MOVED_ACK,
  path_release = NTM_T_PATH_RELEASE,
  path_release_ack = NTM_T_PATH_RELEASE_ACK,
  peer_hello = NTM_T_PEER_HELLO,
};
std::string_view to_string(MsgType t) noexcept;
bool is_known(MsgType t) noexcept;

enum class KeyDomain : std::uint8_t {
  node_dc = NTM_DOMAIN_NODE_DC,
  path = NTM_DOMAIN_PATH,
  relay_path = NTM_DOMAIN_RELAY_PATH,
  dc_peer = NTM_DOMAIN_DC_PEER,
};
std::string_view to_string(KeyDomain d) noexcept;

// Sender role inside a key domain (see wire.h, enum ntm_role).
enum class Role : std::uint8_t {
  node = NTM_ROLE_NODE,
  dc = NTM_ROLE_DC,
  initiator = NTM_ROLE_INITIATOR,
  responder = NTM_ROLE_RESPONDER,
  rs_to_initiator = NTM_ROLE_RS_TO_INITIATOR,
  rs_to_responder = NTM_ROLE_RS_TO_RESPONDER,
  peer_dc = NTM_ROLE_PEER_DC,
};
bool role_valid(KeyDomain d, Role r) noexcept;

// What kind of party registers (a node or a relay server).
enum class PartyKind : std::uint8_t { node = 1, relay = 2 };
// Why a Registration Request is sent.
enum class RegistrationReason : std::uint8_t { start = 1, move = 2, refresh = 3 };
// Which end of a path a Route Direction addresses.
enum class PathEnd : std::uint8_t { initiator = 1, responder = 2 };
// The tunnel route the DC chose (docs/protocol.md, "Route types").
enum class RouteType : std::uint8_t {
  direct = 1,          // end to end over real or NAT addresses
  direct_private = 2,  // end to end inside one private network (same NAT)
  relay = 3,           // via RS, opaque forwarding between two nodes
  relay_general = 4,   // via RS, which translates towards a general host
};
// Who sends the first Tunnel Request.
enum class FirstSender : std::uint8_t { initiator = 1, responder = 2, both = 3 };
// The RS's job on a relayed path.
enum class RelayMode : std::uint8_t { forward = 1, translate = 2 };
// Outcome codes in acknowledgements and responses.
enum class Status : std::uint8_t {
  ok = 0,
  refused = 1,      // the receiver will not take this path or update
  unknown_path = 2, // no such path at the receiver
  stale_update = 3, // an update older than the one in force
  busy = 4,         // try again later
};
// Error codes carried in the Error message.
enum class ErrorCode : std::uint8_t {
  bad_request = 1,       // decoded but semantically invalid
  not_registered = 2,    // register first (e.g. after a DC restart)
  no_such_name = 3,      // the FQDN is not known
  not_authorized = 4,    // the sender may not do this
  no_route = 5,          // no route can be built (e.g. no relay available)
  peer_unreachable = 6,  // the correspondent did not answer
  peer_dc_failed = 7,    // the correspondent's DC failed or timed out
  rate_limited = 8,      // too many requests
  internal = 9,          // the receiver failed; retry later
  unknown_path = 10,     // the path ID is not known
};
bool is_known(PartyKind) noexcept;
bool is_known(RegistrationReason) noexcept;
bool is_known(PathEnd) noexcept;
bool is_known(RouteType) noexcept;
bool is_known(FirstSender) noexcept;
bool is_known(RelayMode) noexcept;
bool is_known(Status) noexcept;
bool is_known(ErrorCode) noexcept;
std::string_view to_string(RouteType) noexcept;
std::string_view to_string(ErrorCode) noexcept;

}  // namespace ntm::wire
