// SPDX-License-Identifier: MIT
// Path control at the RS: the ends' Tunnel and Update Requests.  On a
// forward path each end speaks RELAY_PATH under K_rp (the RS answers as
// rs_to_initiator / rs_to_responder); on a translate path the MN speaks
// PATH under the general-path key and the RS answers as the responder.
// An authenticated request records its end's endpoint = the datagram's
// source: behind a NAT that is the address that reaches the end.
#include <spdlog/spdlog.h>

#include "forwarder.hpp"

namespace ntm::relay {

namespace {

void reply(wire::ControlChannel& ch, const wire::Body& body, std::uint32_t txid,
           const wire::Endpoint& to, Sink& sink, Now now) {
  auto buf = sink.buffer();
  wire::Error err = wire::Error::ok;
  const std::size_t n = ch.seal(body, txid, now.wall_ms, buf, err);
  if (n) sink.send(buf.first(n), to);
}

}  // namespace

void Forwarder::on_path_control(const wire::Header& h, std::span<const std::uint8_t> datagram,
                                const wire::Endpoint& from, Sink& sink, Now now) {
  RelayPath* p = paths_.find(wire::PathId{h.id});
  const bool forward = h.domain == wire::KeyDomain::relay_path;
  // RELAY_PATH belongs to forward paths; PATH control only to translate
  // paths, and only from the MN (the RS is the responder there).
  if (!p || (p->mode == wire::RelayMode::forward) != forward ||
      (!forward && h.role != wire::Role::initiator))
    return void(++drops_.unknown_path);
  const int end = h.role == wire::Role::initiator ? kInitiator : kResponder;
  wire::ControlChannel& ch = *p->channel[end];
  wire::Received r;
  if (const wire::Error err = ch.open(datagram, now.wall_ms, r); err != wire::Error::ok) {
    ++p->drops;
    ++drops_.auth_failed;
    spdlog::debug("relay: path {} dropped a request: {}", p->id.to_hex(), wire::to_string(err));
    return;
  }
  p->last_active_ms = now.mono_ms;
  const char* who = end == kInitiator ? "initiator" : "responder";
  if (std::get_if<wire::TunnelRequest>(&r.body)) {
    if (!p->endpoint[end] || *p->endpoint[end] != from)
      spdlog::info("relay: path {} {} at {}", p->id.to_hex(), who, from.to_string());
    p->endpoint[end] = from;
    return reply(ch, wire::TunnelResponse{wire::Status::ok, wire::NodeId{}, from},
                 r.header.txid, from, sink, now);
  }
  if (auto* u = std::get_if<wire::UpdateRequest>(&r.body)) {
    if (u->update_seq <= p->update_seq[end])
      return reply(ch, wire::UpdateResponse{wire::Status::stale_update, u->update_seq, from},
                   r.header.txid, from, sink, now);
    p->update_seq[end] = u->update_seq;
    spdlog::info("relay: path {} {} moved to {} (update {})", p->id.to_hex(), who,
                 from.to_string(), u->update_seq);
    p->endpoint[end] = from;
    return reply(ch, wire::UpdateResponse{wire::Status::ok, u->update_seq, from}, r.header.txid,
                 from, sink, now);
  }
  ++drops_.malformed;  // authentic, but nothing an end sends the RS
}

}  // namespace ntm::relay
