// SPDX-License-Identifier: MIT
#include "forwarder.hpp"

#include <spdlog/spdlog.h>

#include "translator.hpp"

namespace ntm::relay {

void Forwarder::on_datagram(std::span<std::uint8_t> datagram, const wire::Endpoint& from,
                            Sink& sink, Now now) noexcept {
  wire::Header h;
  if (wire::peek_header(datagram, h) != wire::Error::ok) return void(++drops_.malformed);
  try {
    switch (h.domain) {
      case wire::KeyDomain::node_dc:
        // Only our DC (any member of its cluster) talks to us in NODE_DC,
        // and only as the DC.
        if (h.role != wire::Role::dc || h.id != cfg_.id.bytes) return void(++drops_.malformed);
        return dc_.on_datagram(datagram, from, sink, now);
      case wire::KeyDomain::relay_path:
        // The ends send requests; the rs_to_* roles are the RS's own.
        if (h.role != wire::Role::initiator && h.role != wire::Role::responder)
          return void(++drops_.malformed);
        return on_path_control(h, datagram, from, sink, now);
      case wire::KeyDomain::path:
        if (h.type == wire::MsgType::capsulated_packet)
          return on_capsule(h, datagram, from, sink, now);
        return on_path_control(h, datagram, from, sink, now);
      default:
        return void(++drops_.malformed);
    }
  } catch (const std::exception& e) {
    // Allocation failure while decoding a control body: drop, carry on.
    ++drops_.malformed;
    spdlog::error("relay: dropped a datagram: {}", e.what());
  }
}

void Forwarder::on_capsule(const wire::Header& h, std::span<std::uint8_t> datagram,
                           const wire::Endpoint& from, Sink& sink, Now now) noexcept {
  if (datagram.size() < NTM_CAPSULE_OVERHEAD ||
      datagram.size() > NTM_CAPSULE_OVERHEAD + NTM_MAX_INNER)
    return void(++drops_.malformed);
  RelayPath* p = paths_.find(wire::PathId{h.id});
  // The current epoch, or the previous one while a re-direction's switch
  // lasts (an end that has not switched yet keeps being carried).
  PathKeys* keys = p ? p->keys_for(h.key_epoch, now.mono_ms) : nullptr;
  if (!keys) return void(++drops_.unknown_path);
  if (p->mode == wire::RelayMode::translate)
    return translate(*p, *keys, h, datagram, from, sink, now);
  const int end = h.role == wire::Role::initiator ? kInitiator : kResponder;
  const int other = 1 - end;
  if (!p->endpoint[end] || *p->endpoint[end] != from) {
    ++p->drops;
    ++drops_.foreign_source;
    // An end we already carry, at a new source: most likely it is moving
    // and its Update Request is a moment behind.  Kept, not forwarded,
    // until that update proves the source (held_capsules.hpp).
    if (p->endpoint[end] && held_.hold(p->id, end, from, datagram, now.mono_ms))
      ++paths_.mobility().held;
    return;
  }
  if (!p->endpoint[other]) {
    ++p->drops;
    return void(++drops_.peer_unknown);
  }
  ++p->forwarded;
  p->bytes += datagram.size();
  p->last_active_ms = now.mono_ms;
  sink.send(datagram, *p->endpoint[other]);
}

void Forwarder::translate(RelayPath& p, PathKeys& keys, const wire::Header& h,
                          std::span<std::uint8_t> datagram, const wire::Endpoint& from,
                          Sink& sink, Now now) noexcept {
  std::span<std::uint8_t> inner;
  if (keys.opener->open(datagram, inner, now.wall_ms) != wire::Error::ok) {
    ++p.drops;
    return void(++drops_.auth_failed);
  }
  p.last_active_ms = now.mono_ms;
  // An authentic capsule from a new source is the MN roaming, if it is the
  // newest capsule so far: a late one from the old place (reordered, still
  // inside the replay window) does not move the MN back.
  const bool newest = !keys.top_counter || h.counter > *keys.top_counter;
  if (newest) keys.top_counter = h.counter;
  if (!keys.heard[kInitiator]) {
    keys.heard[kInitiator] = true;
    if (&keys == &p.keys) p.retire_previous_if_switched();
  }
  if (!p.endpoint[kInitiator]) {
    p.endpoint[kInitiator] = from;
  } else if (*p.endpoint[kInitiator] != from && newest) {
    spdlog::info("relay: path {} initiator roamed to {}", p.id.to_hex(), from.to_string());
    p.endpoint[kInitiator] = from;
    ++p.moves;
    ++paths_.mobility().roams;
  }
  if (inner.empty()) return;  // the path keepalive
  Ipv4Packet ip;
  if (!parse_ipv4(inner, true, ip) || ip.src != p.initiator.vip.addr ||
      ip.dst != p.responder.vip.addr) {
    ++p.drops;
    return void(++drops_.bad_inner);
  }
  rewrite_address(inner, ip, false, host_address(p));
  ++p.forwarded;
  p.bytes += ip.total_len;
  sink.write_tun(inner.first(ip.total_len));
}

void Forwarder::on_tun_packet(std::span<std::uint8_t> frame, std::size_t len, Sink& sink,
                              Now now) noexcept {
  if (frame.size() < NTM_CAPSULE_OVERHEAD + len) return void(++drops_.bad_inner);
  auto pkt = frame.subspan(NTM_HDR_LEN, len);
  Ipv4Packet ip;
  if (!parse_ipv4(pkt, false, ip) || ip.total_len > NTM_MAX_INNER)
    return void(++drops_.bad_inner);
  RelayPath* p = paths_.find_translate(ip.dst, ip.src);
  if (!p) return void(++drops_.unknown_path);
  if (!p->endpoint[kInitiator]) {
    ++p->drops;
    return void(++drops_.peer_unknown);
  }
  rewrite_address(pkt, ip, true, p->responder.vip.addr);
  // During a re-direction's switch the MN may not hold the new key yet:
  // the previous one until the MN has spoken under the new epoch.
  PathKeys* keys = &p->keys;
  if (p->previous && !p->keys.heard[kInitiator]) {
    if (PathKeys* old = p->keys_for(p->previous->epoch, now.mono_ms)) keys = old;
  }
  wire::Error err = wire::Error::ok;
  const std::size_t n = keys->sealer->seal(frame, ip.total_len, err);
  if (!n) {
    ++p->drops;
    return void(++drops_.send_failed);
  }
  ++p->forwarded;
  p->bytes += ip.total_len;
  p->last_active_ms = now.mono_ms;
  sink.send(frame.first(n), *p->endpoint[kInitiator]);
}

}  // namespace ntm::relay
