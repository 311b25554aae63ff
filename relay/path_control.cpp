// SPDX-License-Identifier: MIT
// Path control at the RS: the ends' Tunnel and Update Requests.  On a
// forward path each end speaks RELAY_PATH under K_rp (the RS answers as
// rs_to_initiator / rs_to_responder); on a translate path the MN speaks
// PATH under the general-path key and the RS answers as the responder.
// An authenticated request records its end's endpoint = the datagram's
// source: behind a NAT that is the address that reaches the end.
//
// Update Requests (docs/relay.md, "Mobility"): the sender must be the node
// the Relay Direction named for that end; each end has a token bucket;
// a higher update_seq moves the end to the source and is answered ok; the
// same seq from the end's current endpoint (a retransmission whose answer
// was lost, sealed anew by the node) is answered ok again; anything else is
// answered stale_update and moves nothing.  Whatever does not authenticate
// (forged, replayed, stale clock), names the wrong sender or is over the
// budget is dropped, counted and never answered.
#include <algorithm>

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
  const bool update = h.type == wire::MsgType::update_request;
  Mobility& mob = paths_.mobility();
  // RELAY_PATH belongs to forward paths; PATH control only to translate
  // paths, and only from the MN (the RS is the responder there).
  if (!p || (p->mode == wire::RelayMode::forward) != forward ||
      (!forward && h.role != wire::Role::initiator)) {
    if (update) ++mob.refused;
    return void(++drops_.unknown_path);
  }
  const int end = h.role == wire::Role::initiator ? kInitiator : kResponder;
  // The current epoch's channel, or the previous one's while a
  // re-direction's switch lasts; any other epoch fails to open below.
  PathKeys* keys = p->keys_for(h.key_epoch, now.mono_ms);
  if (!keys) keys = &p->keys;
  wire::ControlChannel& ch = *keys->channel[end];
  wire::Received r;
  if (const wire::Error err = ch.open(datagram, now.wall_ms, r); err != wire::Error::ok) {
    ++p->drops;
    ++drops_.auth_failed;
    if (update) ++mob.refused;
    spdlog::debug("relay: path {} dropped a request: {}", p->id.to_hex(), wire::to_string(err));
    return;
  }
  const char* who = end == kInitiator ? "initiator" : "responder";
  if (std::get_if<wire::TunnelRequest>(&r.body)) {
    p->last_active_ms = now.mono_ms;
    if (!keys->heard[end]) {
      keys->heard[end] = true;
      if (keys == &p->keys) p->retire_previous_if_switched();
    }
    if (!p->endpoint[end] || *p->endpoint[end] != from)
      spdlog::info("relay: path {} {} at {} (epoch {})", p->id.to_hex(), who, from.to_string(),
                   keys->epoch);
    p->endpoint[end] = from;
    paths_.touch();  // the end's endpoint, or the previous epoch's retirement
    return reply(ch, wire::TunnelResponse{wire::Status::ok, wire::NodeId{}, from},
                 r.header.txid, from, sink, now);
  }
  if (auto* u = std::get_if<wire::UpdateRequest>(&r.body)) {
    const wire::NodeId& named = end == kInitiator ? p->initiator.node_id : p->responder.node_id;
    if (u->sender != named) {
      // K_rp authenticates the path, not the end: the sender field is the
      // end's claim, and it must be the node the DC named for that role.
      ++p->drops;
      ++drops_.wrong_sender;
      ++mob.refused;
      spdlog::debug("relay: path {} dropped an update from {}: sender {} is not the {}",
                    p->id.to_hex(), from.to_string(), u->sender.to_hex(), who);
      return;
    }
    p->last_active_ms = now.mono_ms;
    if (!keys->heard[end]) {
      keys->heard[end] = true;
      if (keys == &p->keys) p->retire_previous_if_switched();
      paths_.touch();
    }
    if (!p->update_budget[end].take(now.mono_ms)) {
      ++p->drops;
      ++drops_.rate_limited;
      ++mob.rate_limited;
      return;
    }
    if (u->update_seq > p->update_seq[end]) {
      p->update_seq[end] = u->update_seq;
      spdlog::info("relay: path {} {} moved to {} (update {})", p->id.to_hex(), who,
                   from.to_string(), u->update_seq);
      p->endpoint[end] = from;
      paths_.touch();
      ++p->moves;
      ++mob.accepted;
      reply(ch, wire::UpdateResponse{wire::Status::ok, u->update_seq, from}, r.header.txid, from,
            sink, now);
      // The capsules that raced this update from its source go on now, in
      // their order, ahead of any that follow it.
      const int other = 1 - end;
      if (p->endpoint[other]) {
        const std::size_t n = held_.release(
            p->id, end, from, now.mono_ms, [&](std::span<const std::uint8_t> d) {
              // Copied: the sink sends at its next flush, and a capsule
              // held before then may take the slot this one leaves.
              static_assert(HeldCapsules::kMaxDatagram <= kReplyBufferSize);
              auto out = sink.buffer();
              std::copy(d.begin(), d.end(), out.begin());
              ++p->forwarded;
              p->bytes += d.size();
              sink.send(out.first(d.size()), *p->endpoint[other]);
            });
        mob.held_released += n;
      }
      return;
    }
    if (u->update_seq == p->update_seq[end] && u->update_seq != 0 && p->endpoint[end] &&
        *p->endpoint[end] == from) {
      ++mob.repeated;
      return reply(ch, wire::UpdateResponse{wire::Status::ok, u->update_seq, from},
                   r.header.txid, from, sink, now);
    }
    ++mob.stale;
    return reply(ch, wire::UpdateResponse{wire::Status::stale_update, u->update_seq, from},
                 r.header.txid, from, sink, now);
  }
  ++drops_.malformed;  // authentic, but nothing an end sends the RS
}

}  // namespace ntm::relay
