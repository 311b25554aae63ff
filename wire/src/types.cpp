// SPDX-License-Identifier: MIT
#include "ntm/wire/types.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace ntm::wire {

namespace {

constexpr char kHex[] = "0123456789abcdef";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ldh(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

}  // namespace

template <class Tag>
std::string Id<Tag>::to_hex() const {
  std::string s;
  s.reserve(2 * bytes.size());
  for (auto b : bytes) {
    s.push_back(kHex[b >> 4]);
    s.push_back(kHex[b & 15]);
  }
  return s;
}

template <class Tag>
bool Id<Tag>::from_hex(std::string_view s, Id& out) {
  if (s.size() != 2 * out.bytes.size()) return false;
  for (std::size_t i = 0; i < out.bytes.size(); ++i) {
    int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

template struct Id<NodeTag>;
template struct Id<PathTag>;
template struct Id<DcTag>;

std::uint32_t IpAddr::v4_host_order() const noexcept {
  return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
         std::uint32_t{bytes[2]} << 8 | std::uint32_t{bytes[3]};
}

IpAddr IpAddr::v4(std::uint32_t host_order) {
  IpAddr a;
  a.family = Family::v4;
  a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
  a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
  a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
  a.bytes[3] = static_cast<std::uint8_t>(host_order);
  return a;
}

bool IpAddr::parse(std::string_view text, IpAddr& out) {
  if (text.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  text.copy(buf, text.size());
  IpAddr a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = Family::v4;
  } else if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = Family::v6;
  } else {
    return false;
  }
  out = a;
  return true;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family) {
    case Family::v4:
      inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
      return buf;
    case Family::v6:
      inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
      return buf;
    case Family::none:
      break;
  }
  return "-";
}

std::string Endpoint::to_string() const {
  if (addr.family == Family::none) return "-";
  std::string a = addr.to_string();
  if (addr.family == Family::v6) a = "[" + a + "]";
  return a + ":" + std::to_string(port);
}

std::string Vip::to_string() const { return IpAddr::v4(addr).to_string(); }

bool Fqdn::valid(std::string_view s) noexcept {
  if (s.empty() || s.size() > kMaxLen) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else {
      if (!ldh(c)) return false;
      if (label == 0 && c == '-') return false;
      if (++label > 63) return false;
    }
    prev = c;
  }
  return label != 0 && prev != '-';
}

bool Fqdn::canonicalize(std::string_view in, Fqdn& out) {
  if (!in.empty() && in.back() == '.') in.remove_suffix(1);
  std::string s(in);
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (!valid(s)) return false;
  out.name = std::move(s);
  return true;
}

bool Text::valid(std::string_view s) noexcept {
  if (s.size() > kMaxLen) return false;
  for (char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

std::string_view to_string(MsgType t) noexcept {
  switch (t) {
    case MsgType::registration_request: return "registration_request";
    case MsgType::registration_response: return "registration_response";
    case MsgType::direction_request: return "direction_request";
    case MsgType::route_direction: return "route_direction";
    case MsgType::route_direction_ack: return "route_direction_ack";
    case MsgType::relay_direction: return "relay_direction";
    case MsgType::relay_response: return "relay_response";
    case MsgType::tunnel_request: return "tunnel_request";
    case MsgType::tunnel_response: return "tunnel_response";
    case MsgType::capsulated_packet: return "capsulated_packet";
    case MsgType::update_request: return "update_request";
    case MsgType::update_response: return "update_response";
    case MsgType::keepalive: return "keepalive";
    case MsgType::keepalive_ack: return "keepalive_ack";
    case MsgType::error: return "error";
    case MsgType::node_info_request: return "node_info_request";
    case MsgType::node_info_response: return "node_info_response";
    case MsgType::route_forward: return "route_forward";
    case MsgType::route_forward_ack: return "route_forward_ack";
    case MsgType::path_moved: return "path_moved";
    case MsgType::path_moved_ack: return "path_moved_ack";
    case MsgType::path_release: return "path_release";
    case MsgType::path_release_ack: return "path_release_ack";
    case MsgType::peer_hello: return "peer_hello";
  }
  return "unknown";
}

bool is_known(MsgType t) noexcept { return to_string(t) != "unknown"; }

std::string_view to_string(KeyDomain d) noexcept {
  switch (d) {
    case KeyDomain::node_dc: return "node_dc";
    case KeyDomain::path: return "path";
    case KeyDomain::relay_path: return "relay_path";
    case KeyDomain::dc_peer: return "dc_peer";
  }
  return "unknown";
}

bool role_valid(KeyDomain d, Role r) noexcept {
  const auto v = static_cast<std::uint8_t>(r);
  switch (d) {
    case KeyDomain::node_dc:
    case KeyDomain::path: return v <= 1;
    case KeyDomain::relay_path: return v <= 3;
    case KeyDomain::dc_peer: return v == 0;
  }
  return false;
}

bool is_known(PartyKind v) noexcept { return v == PartyKind::node || v == PartyKind::relay; }
bool is_known(RegistrationReason v) noexcept {
  return v >= RegistrationReason::start && v <= RegistrationReason::refresh;
}
bool is_known(PathEnd v) noexcept { return v == PathEnd::initiator || v == PathEnd::responder; }
bool is_known(RouteType v) noexcept {
  return v >= RouteType::direct && v <= RouteType::relay_general;
}
bool is_known(FirstSender v) noexcept {
  return v >= FirstSender::initiator && v <= FirstSender::both;
}
bool is_known(RelayMode v) noexcept { return v == RelayMode::forward || v == RelayMode::translate; }
bool is_known(Status v) noexcept { return v <= Status::busy; }
bool is_known(ErrorCode v) noexcept {
  return v >= ErrorCode::bad_request && v <= ErrorCode::unknown_path;
}

std::string_view to_string(RouteType r) noexcept {
  switch (r) {
    case RouteType::direct: return "direct";
    case RouteType::direct_private: return "direct_private";
    case RouteType::relay: return "relay";
    case RouteType::relay_general: return "relay_general";
  }
  return "unknown";
}

std::string_view to_string(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::bad_request: return "bad_request";
    case ErrorCode::not_registered: return "not_registered";
    case ErrorCode::no_such_name: return "no_such_name";
    case ErrorCode::not_authorized: return "not_authorized";
    case ErrorCode::no_route: return "no_route";
    case ErrorCode::peer_unreachable: return "peer_unreachable";
    case ErrorCode::peer_dc_failed: return "peer_dc_failed";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::internal: return "internal";
    case ErrorCode::unknown_path: return "unknown_path";
  }
  return "unknown";
}

}  // namespace ntm::wire
