// SPDX-License-Identifier: MIT
// Encoder and decoder of every control body, generated from the single
// field list of each message (NTM_WIRE_FIELDS in messages.hpp).
#include "ntm/wire/messages.hpp"

#include <type_traits>

#include "ntm/wire/bytes.hpp"

namespace ntm::wire {

namespace {

template <class T>
concept HasFields = requires(T& t) { t.tie(); };

template <class T>
concept WireEnum = std::is_enum_v<T> && requires(T v) {
  { is_known(v) } -> std::same_as<bool>;
};

// ---- encoding -------------------------------------------------------------

void put(Writer& w, std::uint8_t v) { w.u8(v); }
void put(Writer& w, std::uint16_t v) { w.u16(v); }
void put(Writer& w, std::uint32_t v) { w.u32(v); }
void put(Writer& w, bool v) { w.u8(v ? 1 : 0); }
template <WireEnum E>
void put(Writer& w, E v) {
  w.u8(static_cast<std::uint8_t>(v));
}
template <class Tag>
void put(Writer& w, const Id<Tag>& v) {
  w.bytes(v.bytes);
}
void put(Writer& w, const Vip& v) { w.u32(v.addr); }
void put(Writer& w, const SealedKey& v) { w.bytes(v.bytes); }
void put(Writer& w, const Endpoint& e) {
  w.u8(static_cast<std::uint8_t>(e.addr.family));
  switch (e.addr.family) {
    case Family::none: return;
    case Family::v4: w.bytes({e.addr.bytes.data(), 4}); break;
    case Family::v6: w.bytes(e.addr.bytes); break;
    default: w.fail(Error::bad_address); return;
  }
  w.u16(e.port);
}
void put_string(Writer& w, const std::string& s, std::size_t max) {
  if (s.size() > max) return w.fail(Error::bad_length);
  w.u8(static_cast<std::uint8_t>(s.size()));
  w.bytes({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}
void put(Writer& w, const Fqdn& f) {
  if (!Fqdn::valid(f.name)) return w.fail(Error::bad_fqdn);
  put_string(w, f.name, Fqdn::kMaxLen);
}
void put(Writer& w, const Text& t) {
  if (!Text::valid(t.value)) return w.fail(Error::bad_text);
  put_string(w, t.value, Text::kMaxLen);
}
void put(Writer& w, const EndpointList& l) {
  if (l.size() > kMaxEndpoints) return w.fail(Error::bad_length);
  w.u8(static_cast<std::uint8_t>(l.size()));
  for (const auto& e : l) {
    if (e.empty()) return w.fail(Error::bad_address);
    put(w, e);
  }
}
template <HasFields T>
void put(Writer& w, const T& msg);
template <class T>
void put(Writer& w, const std::optional<T>& o) {
  w.u8(o ? 1 : 0);
  if (o) put(w, *o);
}
template <HasFields T>
void put(Writer& w, const T& msg) {
  std::apply([&w](const auto&... f) { (put(w, f), ...); }, msg.tie());
}

// ---- decoding -------------------------------------------------------------

bool get(Reader& r, std::uint8_t& v) { return r.u8(v); }
bool get(Reader& r, std::uint16_t& v) { return r.u16(v); }
bool get(Reader& r, std::uint32_t& v) { return r.u32(v); }
bool get(Reader& r, bool& v) {
  std::uint8_t b = 0;
  if (!r.u8(b)) return false;
  if (b > 1) return r.fail(Error::bad_enum);
  v = b == 1;
  return true;
}
template <WireEnum E>
bool get(Reader& r, E& v) {
  std::uint8_t b = 0;
  if (!r.u8(b)) return false;
  v = static_cast<E>(b);
  if (!is_known(v)) return r.fail(Error::bad_enum);
  return true;
}
template <class Tag>
bool get(Reader& r, Id<Tag>& v) {
  return r.bytes(v.bytes);
}
bool get(Reader& r, Vip& v) { return r.u32(v.addr); }
bool get(Reader& r, SealedKey& v) { return r.bytes(v.bytes); }
bool get(Reader& r, Endpoint& e) {
  std::uint8_t fam = 0;
  if (!r.u8(fam)) return false;
  e = Endpoint{};
  switch (fam) {
    case 0: return true;
    case 4:
      e.addr.family = Family::v4;
      if (!r.bytes({e.addr.bytes.data(), 4})) return false;
      break;
    case 6:
      e.addr.family = Family::v6;
      if (!r.bytes(e.addr.bytes)) return false;
      break;
    default: return r.fail(Error::bad_address);
  }
  return r.u16(e.port);
}
bool get_string(Reader& r, std::string& s, std::size_t max) {
  std::uint8_t len = 0;
  if (!r.u8(len)) return false;
  if (len > max) return r.fail(Error::bad_length);
  std::span<const std::uint8_t> v;
  if (!r.view(len, v)) return false;
  s.assign(reinterpret_cast<const char*>(v.data()), v.size());
  return true;
}
bool get(Reader& r, Fqdn& f) {
  if (!get_string(r, f.name, Fqdn::kMaxLen)) return false;
  if (!Fqdn::valid(f.name)) return r.fail(Error::bad_fqdn);
  return true;
}
bool get(Reader& r, Text& t) {
  if (!get_string(r, t.value, Text::kMaxLen)) return false;
  if (!Text::valid(t.value)) return r.fail(Error::bad_text);
  return true;
}
bool get(Reader& r, EndpointList& l) {
  std::uint8_t n = 0;
  if (!r.u8(n)) return false;
  if (n > kMaxEndpoints) return r.fail(Error::bad_length);
  l.assign(n, Endpoint{});
  for (auto& e : l) {
    if (!get(r, e)) return false;
    if (e.empty()) return r.fail(Error::bad_address);
  }
  return true;
}
template <HasFields T>
bool get(Reader& r, T& msg);
template <class T>
bool get(Reader& r, std::optional<T>& o) {
  bool present = false;
  if (!get(r, present)) return false;
  if (!present) {
    o.reset();
    return true;
  }
  return get(r, o.emplace());
}
template <HasFields T>
bool get(Reader& r, T& msg) {
  return std::apply([&r](auto&... f) { return (get(r, f) && ...); }, msg.tie());
}

// ---- type table -----------------------------------------------------------

// Bit per (domain, role): bit = domain * 4 + role.
constexpr std::uint16_t bit(KeyDomain d, Role r) {
  return static_cast<std::uint16_t>(1u << (static_cast<unsigned>(d) * 4 + static_cast<unsigned>(r)));
}
constexpr std::uint16_t kNodeUp = bit(KeyDomain::node_dc, Role::node);
constexpr std::uint16_t kDcDown = bit(KeyDomain::node_dc, Role::dc);
constexpr std::uint16_t kPathEnds =
    bit(KeyDomain::path, Role::initiator) | bit(KeyDomain::path, Role::responder);
constexpr std::uint16_t kToRelay =
    bit(KeyDomain::relay_path, Role::initiator) | bit(KeyDomain::relay_path, Role::responder);
constexpr std::uint16_t kFromRelay = bit(KeyDomain::relay_path, Role::rs_to_initiator) |
                                     bit(KeyDomain::relay_path, Role::rs_to_responder);
constexpr std::uint16_t kDcPeer = bit(KeyDomain::dc_peer, Role::peer_dc);

constexpr std::uint16_t allowed_mask(MsgType t) {
  switch (t) {
    case MsgType::registration_request:
    case MsgType::direction_request:
    case MsgType::route_direction_ack:
    case MsgType::relay_response: return kNodeUp;
    // An end releases a path at its DC; the DC tells the other end, or for
    // a federated path the other end's DC (which tells its end).
    case MsgType::path_release:
    case MsgType::path_release_ack: return kNodeUp | kDcDown | kDcPeer;
    case MsgType::registration_response:
    case MsgType::route_direction:
    case MsgType::relay_direction: return kDcDown;
    case MsgType::tunnel_request:
    case MsgType::update_request: return kPathEnds | kToRelay;
    case MsgType::tunnel_response:
    case MsgType::update_response: return kPathEnds | kFromRelay;
    case MsgType::capsulated_packet: return kPathEnds;
    case MsgType::keepalive:
    case MsgType::keepalive_ack: return kNodeUp | kDcDown | kDcPeer;
    case MsgType::error: return 0xffff;
    case MsgType::node_info_request:
    case MsgType::node_info_response:
    case MsgType::route_forward:
    case MsgType::route_forward_ack:
    case MsgType::path_moved:
    case MsgType::path_moved_ack:
    // Not sealed: the certificates two DCs exchange before they share a
    // key (peer_hello.hpp).
    case MsgType::peer_hello: return kDcPeer;
  }
  return 0;
}

// Rules that span fields or narrow a field's range, checked after the
// fields decoded (and before encoding, so both sides agree).
Error check(const RegistrationResponse& m) {
  return m.vip_prefix_len <= 32 ? Error::ok : Error::bad_length;
}
Error check(const Keepalive& m) { return m.load_permille <= 1000 ? Error::ok : Error::bad_length; }
Error check(const ErrorReply& m) {
  return m.ref_type == MsgType::capsulated_packet ? Error::bad_enum : Error::ok;
}
Error check(const RouteDirection& m) {
  const bool relayed = m.route == RouteType::relay || m.route == RouteType::relay_general;
  // A relayed route names its relay; a relay key comes with a relay; the
  // key between two nodes through a relay (K_rp) must be there.
  if (relayed && m.relay.empty()) return Error::bad_address;
  if (m.relay_key && m.relay.empty()) return Error::bad_address;
  if (m.route == RouteType::relay && !m.relay_key) return Error::bad_enum;
  if (m.route == RouteType::relay_general && m.relay_key) return Error::bad_enum;
  return Error::ok;
}
Error check(const RouteForward& m) { return check(m.direction); }
Error check(const auto&) { return Error::ok; }

template <class T>
Error decode_as(std::span<const std::uint8_t> in, Body& out) {
  Reader r(in);
  T& msg = out.emplace<T>();
  get(r, msg);
  if (Error e = r.finish(); e != Error::ok) return e;
  return check(msg);
}

}  // namespace

MsgType type_of(const Body& b) noexcept {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, b);
}

bool allowed(MsgType t, KeyDomain d, Role r) noexcept {
  if (!role_valid(d, r)) return false;
  return (allowed_mask(t) & bit(d, r)) != 0;
}

std::size_t encode_body(const Body& b, std::span<std::uint8_t> out, Error& err) noexcept {
  err = std::visit([](const auto& m) { return check(m); }, b);
  if (err != Error::ok) return 0;
  Writer w(out);
  std::visit([&w](const auto& m) { put(w, m); }, b);
  err = w.error();
  return err == Error::ok ? w.size() : 0;
}

Error decode_body(MsgType t, std::span<const std::uint8_t> in, Body& out) {
  switch (t) {
    case MsgType::registration_request: return decode_as<RegistrationRequest>(in, out);
    case MsgType::registration_response: return decode_as<RegistrationResponse>(in, out);
    case MsgType::direction_request: return decode_as<DirectionRequest>(in, out);
    case MsgType::route_direction: return decode_as<RouteDirection>(in, out);
    case MsgType::route_direction_ack: return decode_as<RouteDirectionAck>(in, out);
    case MsgType::relay_direction: return decode_as<RelayDirection>(in, out);
    case MsgType::relay_response: return decode_as<RelayResponse>(in, out);
    case MsgType::tunnel_request: return decode_as<TunnelRequest>(in, out);
    case MsgType::tunnel_response: return decode_as<TunnelResponse>(in, out);
    case MsgType::update_request: return decode_as<UpdateRequest>(in, out);
    case MsgType::update_response: return decode_as<UpdateResponse>(in, out);
    case MsgType::keepalive: return decode_as<Keepalive>(in, out);
    case MsgType::keepalive_ack: return decode_as<KeepaliveAck>(in, out);
    case MsgType::error: return decode_as<ErrorReply>(in, out);
    case MsgType::node_info_request: return decode_as<NodeInfoRequest>(in, out);
    case MsgType::node_info_response: return decode_as<NodeInfoResponse>(in, out);
    case MsgType::route_forward: return decode_as<RouteForward>(in, out);
    case MsgType::route_forward_ack: return decode_as<RouteForwardAck>(in, out);
    case MsgType::path_moved: return decode_as<PathMoved>(in, out);
    case MsgType::path_moved_ack: return decode_as<PathMovedAck>(in, out);
    case MsgType::path_release: return decode_as<PathRelease>(in, out);
    case MsgType::path_release_ack: return decode_as<PathReleaseAck>(in, out);
    case MsgType::capsulated_packet: break;  // has no control body
    case MsgType::peer_hello: break;         // not sealed: decode_peer_hello
  }
  return Error::bad_type;
}

}  // namespace ntm::wire
