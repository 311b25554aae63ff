// SPDX-License-Identifier: MIT
// Bringing a path up: Tunnel Request/Response with the peer (PATH, K_path),
// with the relay (RELAY_PATH, K_rp), or with the relay standing in for a
// general host (PATH, general-path key).  docs/data-plane.md §2, §3.
#include <spdlog/spdlog.h>

#include "agent/agent_internal.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::node {

namespace {

bool first_sender(const PathInfo& i) {
  return i.first == wire::FirstSender::both ||
         (i.first == wire::FirstSender::initiator && i.end == wire::PathEnd::initiator) ||
         (i.first == wire::FirstSender::responder && i.end == wire::PathEnd::responder);
}

}  // namespace

// Whether the path can carry traffic now.
static bool ready(const PathInfo& i, bool peer_answered) {
  switch (i.route) {
    case wire::RouteType::direct: return peer_answered;
    case wire::RouteType::direct_private: return peer_answered || (i.via_relay && i.relay_up);
    case wire::RouteType::relay: return i.relay_up;
    case wire::RouteType::relay_general: return peer_answered;
  }
  return false;
}

void Agent::begin_tunnel(Path& p) {
  p.tunnel_txid = next_txid_++;
  send_tunnel_requests(p);
}

void Agent::send_tunnel_requests(Path& p) {
  const auto now = common::mono_ms();
  PathInfo& i = p.info;
  // relay_general: the RS stands in for the host, so the MN's PATH
  // Tunnel Request goes to the RS (via_relay is always set there).
  const bool peer_leg = !p.peer_answered &&
                        (i.route == wire::RouteType::relay_general ||
                         ((i.route == wire::RouteType::direct ||
                           i.route == wire::RouteType::direct_private) &&
                          first_sender(i) && !i.via_relay));
  const bool relay_leg = p.relay_chan && !i.relay_up;
  if (i.state == PathState::setting_up && now - p.started_ms >= cfg_.tunnel_wait_ms) {
    i.state = PathState::failed;
    spdlog::warn("path {} to {}: no tunnel within {} ms", i.id.to_hex().substr(0, 8),
                 i.peer.fqdn.name, cfg_.tunnel_wait_ms);
    finish_waiters(p, {Resolution::Kind::servfail, 0});
    return;
  }
  if (i.state != PathState::setting_up && !relay_leg) return;
  if (now - p.started_ms >= cfg_.tunnel_wait_ms) return;  // up; the relay leg gave up

  wire::TunnelRequest req = tunnel_request(p);
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
  wire::Error err = wire::Error::ok;
  if (peer_leg) {
    req.receiver = i.route == wire::RouteType::relay_general ? wire::NodeId{} : i.peer.node_id;
    if (const auto n = p.peer_chan->seal(req, p.tunnel_txid, common::wall_ms(), buf, err))
      dp_.send_control(std::span(buf.data(), n), p.target);
  }
  if (relay_leg) {
    req.receiver = wire::NodeId{};
    if (const auto n = p.relay_chan->seal(req, p.tunnel_txid, common::wall_ms(), buf, err))
      dp_.send_control(std::span(buf.data(), n), i.relay);
  }
  // direct_private: no answer on the private path within the bound: the relay.
  if (i.route == wire::RouteType::direct_private && !p.peer_answered && !i.via_relay &&
      p.relay_chan && now - p.started_ms >= kPrivateFallbackMs)
    fall_back_to_relay(p);
  if (!peer_leg && !relay_leg && i.state != PathState::setting_up) return;
  p.retry.expires_after(std::chrono::milliseconds(p.retry_ms));
  p.retry_ms = std::min(p.retry_ms * 2, kTunnelRetryMaxMs);
  p.retry.async_wait([this, id = i.id, alive = std::weak_ptr<bool>(alive_)](
                         const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    if (auto it = paths_.find(id); it != paths_.end()) send_tunnel_requests(*it->second);
  });
}

wire::TunnelRequest Agent::tunnel_request(const Path& p) const {
  wire::TunnelRequest req;
  req.sender = cfg_.id;
  req.sender_vip = reg_.vip;
  req.receiver_vip = p.info.peer.vip;
  req.sender_real = reported_.empty() ? dp_.local() : reported_.front();
  if (reg_.behind_nat) req.sender_nat = reg_.observed;
  return req;
}

void Agent::keep_relay_leg(Path& p) {
  // Only a relay leg standing by: a path on the relay keeps it busy (and
  // alive) with its own capsules and keepalives.  A leg that went silent is
  // still refreshed: an answer brings it back (a lost datagram or two).
  if (!p.relay_chan || !p.relay_answered_ms || p.info.via_relay || p.info.relay.empty()) return;
  wire::TunnelRequest req = tunnel_request(p);
  req.receiver = wire::NodeId{};
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
  wire::Error err = wire::Error::ok;
  if (const auto n = p.relay_chan->seal(req, p.tunnel_txid, common::wall_ms(), buf, err))
    dp_.send_control(std::span(buf.data(), n), p.info.relay);
}

void Agent::check_relay_leg(Path& p, std::uint64_t now) {
  if (!p.info.relay_up || p.info.via_relay || !p.relay_answered_ms || now <= p.relay_answered_ms ||
      now - p.relay_answered_ms <= kRelayLegSilentMs)
    return;
  p.info.relay_up = false;
  ++p.info.moves.standby_lost;
  spdlog::warn("path {} to {}: its stand-by relay leg at {} has not answered for {} s; a move "
               "waits for the DC instead",
               p.info.id.to_hex().substr(0, 8), p.info.peer.fqdn.name, p.info.relay.to_string(),
               (now - p.relay_answered_ms) / 1000);
}

void Agent::fall_back_to_relay(Path& p) {
  p.info.via_relay = true;
  dp_.set_peer(p.info.id, p.info.relay);
  spdlog::info("path {} to {}: no answer on the private path; falling back to the relay {}",
               p.info.id.to_hex().substr(0, 8), p.info.peer.fqdn.name, p.info.relay.to_string());
  if (p.info.state == PathState::setting_up && ready(p.info, p.peer_answered)) mark_up(p);
}

void Agent::mark_up(Path& p) {
  if (p.info.state == PathState::up) return;
  p.info.state = PathState::up;
  p.last_keepalive_ms = common::mono_ms();
  // A re-direction after a move: what the application sent meanwhile goes
  // out through the new tunnel now.
  release_path(p.info.id, "the path is up again");
  spdlog::info("path {} to {} up: route {}, {} {} ({} ms)", p.info.id.to_hex().substr(0, 8),
               p.info.peer.fqdn.name, wire::to_string(p.info.route),
               p.info.via_relay ? "via relay" : "direct to",
               (p.info.via_relay ? p.info.relay : p.target).to_string(),
               common::mono_ms() - p.started_ms);
  finish_waiters(p, {Resolution::Kind::address, p.info.peer_view});
}

void Agent::on_path_message(std::span<const std::uint8_t> d, const wire::Endpoint& from,
                            const wire::ControlHeader& h) {
  wire::PathId id;
  std::copy(h.common.id.begin(), h.common.id.end(), id.bytes.begin());
  auto it = paths_.find(id);
  // A path message under a newer key epoch than ours: the DC re-directed
  // the path and told the peer first; ours is on its way.  Kept like one
  // for an unknown path.
  const bool newer = it != paths_.end() &&
                     static_cast<std::int8_t>(h.common.key_epoch - it->second->info.key_epoch) > 0;
  if (it == paths_.end() || newer) {
    // No key for it yet: it may be the peer's first Tunnel Request racing
    // our own Route Direction (the DC directs the responder first).  Keep a
    // few for a second, unopened; a Route Direction for the path replays
    // them, which saves the peer's retransmission interval.
    const auto now = common::mono_ms();
    std::erase_if(early_, [now](const Early& e) { return now - e.at_ms > 1000; });
    if (early_.size() < kMaxEarly) early_.push_back({id, {d.begin(), d.end()}, from, now});
    else ++dropped_control_;
    return;
  }
  Path& p = *it->second;
  const bool relay_domain = h.common.domain == wire::KeyDomain::relay_path;
  auto& chan = relay_domain ? p.relay_chan : p.peer_chan;
  wire::Received rx;
  if (!chan || chan->open(d, common::wall_ms(), rx) != wire::Error::ok) {
    ++dropped_control_;
    return;
  }
  if (relay_domain) {
    // Only the RS speaks RELAY_PATH to us.
    if (const auto* r = std::get_if<wire::TunnelResponse>(&rx.body); r && from == p.info.relay) {
      if (r->status == wire::Status::ok) {
        if (!p.info.relay_up) {
          p.info.relay_up = true;
          if (p.relay_answered_ms)
            spdlog::info("path {}: its stand-by relay leg answers again",
                         id.to_hex().substr(0, 8));
          else
            spdlog::debug("path {}: the relay carries it", id.to_hex().substr(0, 8));
        }
        p.relay_answered_ms = common::mono_ms();
      }
    } else if (const auto* u = std::get_if<wire::UpdateResponse>(&rx.body);
               u && from == p.info.relay) {
      on_update_response(p, *u, from);
      return;
    } else {
      ++dropped_control_;
    }
  } else if (std::holds_alternative<wire::TunnelRequest>(rx.body)) {
    // The peer opened its side: answer where it really is (behind NAT the
    // datagram's source, not the endpoint the DC named).
    if (p.info.route == wire::RouteType::relay_general) {
      ++dropped_control_;
      return;
    }
    p.target = from;
    if (!p.info.via_relay) dp_.set_peer(id, from);
    std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
    wire::Error err = wire::Error::ok;
    if (const auto n = p.peer_chan->seal(wire::TunnelResponse{wire::Status::ok, cfg_.id, from},
                                         rx.header.txid, common::wall_ms(), buf, err))
      dp_.send_control(std::span(buf.data(), n), from);
    p.peer_answered = true;
  } else if (const auto* resp = std::get_if<wire::TunnelResponse>(&rx.body)) {
    if (resp->status != wire::Status::ok) {
      spdlog::warn("path {}: peer refused the tunnel", id.to_hex().substr(0, 8));
      return;
    }
    if (!p.peer_answered) {
      p.peer_answered = true;
      if (p.info.route != wire::RouteType::relay_general && !p.info.via_relay) {
        p.target = from;
        dp_.set_peer(id, from);
      }
    }
  } else if (const auto* e = std::get_if<wire::ErrorReply>(&rx.body)) {
    spdlog::info("path {}: peer error {}: {}", id.to_hex().substr(0, 8), wire::to_string(e->code),
                 e->reason.value);
    return;
  } else if (const auto* u = std::get_if<wire::UpdateRequest>(&rx.body)) {
    on_update_request(p, *u, rx.header.txid, from);
    return;
  } else if (const auto* ur = std::get_if<wire::UpdateResponse>(&rx.body)) {
    // From the peer on a direct route, from the RS on relay_general.
    const bool expected = p.info.route == wire::RouteType::relay_general ? from == p.info.relay
                                                                         : !p.info.via_relay;
    if (expected) on_update_response(p, *ur, from);
    else ++dropped_control_;
    return;
  } else {
    ++dropped_control_;
    return;
  }
  if (p.info.state == PathState::setting_up && ready(p.info, p.peer_answered)) mark_up(p);
}

}  // namespace ntm::node
