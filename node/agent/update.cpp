// SPDX-License-Identifier: MIT
// Moves: what ntmd does when its network changes, and what it does when its
// peer's did (docs/mobility.md).
//
//   the host's addresses, links or default route changed (rtnetlink), or
//   the DC sees us at a new address (a silent NAT rebinding):
//     - register again (reason move): the DC re-decides every path whose
//       route must change and directs it again under the same path ID;
//     - send an NTM Update Request on every live path: to the peer on a
//       direct route, to the RS on a relayed one; retransmit with backoff;
//     - unanswered after a few tries (the peer sits behind a NAT that
//       filters our new address, or moved too): ask the DC to re-direct.
//   an authenticated NTM Update Request from the peer, with a higher
//   sequence number: send to its datagram's source from now on, answer.
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "agent/agent_internal.hpp"
#include "mobility/route_check.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::node {

namespace {

std::string short_id(const wire::PathId& id) { return id.to_hex().substr(0, 8); }

bool relayed(const PathInfo& i) {
  return i.via_relay || i.route == wire::RouteType::relay ||
         i.route == wire::RouteType::relay_general;
}

// A path whose update reaches the one who keeps our end of it: the RS on a
// relayed route, a peer that does not wait for us to send first (it answers
// from where it is).  A held path, or one over private addresses (we may
// have left that network), needs the DC's re-direction.
bool goes_on_without_dc(const PathInfo& i) {
  if (relayed(i)) return true;
  return i.route == wire::RouteType::direct && !peer_sends_first(i);
}

// A path whose peer follows our first authentic capsule from a new source
// (its data path switches to it): what was kept in a blackout may go before
// the NTM Update, as soon as the route is back.  Not through an RS (it
// learns our new source from the update only), nor to a peer that sends
// first (its NAT filters us until the DC re-directs), nor over private
// addresses (we have most likely left that network).
bool follows_capsules(const PathInfo& i) {
  return i.route == wire::RouteType::direct && !i.via_relay && !peer_sends_first(i);
}

}  // namespace

void Agent::network_changed(std::string_view why, bool link_only) {
  // One change is several events (link, address, route, a few ms apart
  // when a tool configures them one by one).  Those already read are
  // handled together; a later one starts its own round, and the round after
  // the default route's arrival is the one that gets through.  No waiting:
  // the gap of every path runs from now.
  if (move_why_.empty()) move_why_ = std::string(why);
  if (!link_only) move_readdressed_ = true;
  if (move_armed_) return;
  move_armed_ = true;
  move_timer_.expires_after(std::chrono::milliseconds(kMoveSettleMs));
  move_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    move_armed_ = false;
    const std::string what = std::exchange(move_why_, std::string());
    // Addresses or routes changed while paths were held for want of one:
    // what comes back now is the new network (checked below), not the old
    // link returning.
    if (std::exchange(move_readdressed_, false) && !blackout_paths_.empty())
      blackout_readdressed_ = true;
    // No address yet (the link came up, DHCP has not answered): nothing can
    // leave; the address event that follows starts the round.
    auto local = local_endpoints();
    if (local.empty()) {
      // What the paths send until an address and a route are back would
      // be refused by the kernel: keep it (docs/mobility.md, "Blackout").
      const auto now = common::mono_ms();
      RouteCheck no_lookups;  // no address: nothing to look up
      blackout_grace_timer_.cancel();
      for (auto& [id, p] : paths_)
        if (p->info.state == PathState::up) follow_blackout(*p, now, true, reported_, no_lookups);
      spdlog::debug("network changed ({}): no address yet; {} path(s) held", what,
                    blackout_paths_.size());
      return;
    }
    start_move_round(what, std::move(local));
  });
}

void Agent::start_move_round(std::string_view why,
                             std::optional<std::vector<wire::Endpoint>> local) {
  ++moves_;
  const auto now = common::mono_ms();
  // Read once (each read is a netlink dump, 20-50 us): the registration
  // and every update of the round use it, and the log line after them.
  // An empty list must not be indexed.
  const auto before = reported_;
  const auto now_local = local ? std::move(*local) : local_endpoints();
  // Registration answers quickly or was lost in the move (sent before the
  // route existed): retry as soon as an update would, not as at start.
  registered_ = false;
  reg_backoff_ms_ = kUpdateRetryFirstMs;
  // The updates carry what the round registers with (send_update).
  reported_ = now_local;
  blackout_grace_timer_.cancel();  // this round decides again
  RouteCheck routes;
  std::size_t live = 0;
  bool needs_dc = false;
  for (auto& [id, p] : paths_) {
    if (p->info.state != PathState::up) continue;
    ++live;
    p->update_started_ms = now;
    const bool private_route = p->info.route == wire::RouteType::direct_private;
    if (switch_to_standby(*p)) {
      // Whether we are still in the peer's network only the DC can say.
      needs_dc = needs_dc || private_route;
    } else {
      hold_path(*p, now);
      needs_dc = needs_dc || !goes_on_without_dc(p->info);
    }
    begin_update(*p);
    // After the update: for a relayed path the RS must know our new source
    // before what we kept reaches it.
    follow_blackout(*p, now, false, before, routes);
  }
  // A path still being set up, or a name being directed, waits for the DC
  // too (it resends a Route Direction in flight to where we register from).
  const bool register_at_once = needs_dc || live == 0 || live != paths_.size() || !lookups_.empty();
  register_after_move(register_at_once);
  // Logged after the datagrams are out: every microsecond before them is
  // part of every path's gap.
  spdlog::info("network changed ({}): local {} -> {}; updated {} path(s), {}", why,
               before.empty() ? std::string("-") : before.front().to_string(),
               now_local.empty() ? std::string("-") : now_local.front().to_string(), live,
               register_at_once ? "registered again" : "registering again after them");
}

void Agent::register_after_move(bool now) {
  move_reg_timer_.cancel();
  if (now) {
    register_now(wire::RegistrationReason::move, reported_);
    return;
  }
  // Every path goes on by its NTM Update alone.  The registration (its
  // commit, and the re-direction of our paths it sets off at the DC and
  // the RS) waits a little, so that it does not take the CPU from the first
  // packets on the new address where DC, RS and node share one
  // (docs/mobility.md §2, §4).  A later round in the window restarts the
  // wait and registers what it found.
  reg_timer_.cancel();
  ++deferred_registrations_;
  move_reg_timer_.expires_after(std::chrono::milliseconds(kMoveRegisterDeferMs));
  move_reg_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    // The addresses as they are now, not as the round read them: the round
    // may have begun on the link event, before the old address went, and
    // this datagram leaves from the new one.  The DC would take the pair
    // for a NAT (the old address behind the new) and decide every path on
    // it.  The change that came meanwhile starts its own round.
    auto local = local_endpoints();
    if (local.empty()) return;  // between two addresses: the next one's round registers
    register_now(wire::RegistrationReason::move, std::move(local));
  });
}

bool Agent::standby_ready(const Path& p) const {
  const bool private_route =
      p.info.route == wire::RouteType::direct_private && !p.info.via_relay;
  return (peer_sends_first(p.info) || private_route) && p.relay_chan && p.info.relay_up &&
         !p.info.relay.empty();
}

bool Agent::switch_to_standby(Path& p) {
  // Which paths the relay carries at once:
  //  - the peer sends first: its NAT filters our new address until the DC
  //    has directed the path again (the peer then sends first to it);
  //  - over private addresses: we have most likely left the peer's network
  //    (a node that stays gets a new address seldom), and from outside its
  //    private address is no address at all.  The node cannot tell (the
  //    same private prefix is everywhere); the DC re-directs every such
  //    path after a move (route::redirect_after_move), so a node that
  //    stayed is back on the private route a few ms later.
  if (!standby_ready(p)) return false;
  // The relay leg is open.  The NTM Update goes to the RS (send_update:
  // via_relay), which moves our end and forwards; the peer follows our first
  // capsule from the relay (on_roam).  The DC's re-direction brings the path
  // back to its route.
  p.info.via_relay = true;
  dp_.set_peer(p.info.id, p.info.relay);
  ++p.info.moves.standby_switches;
  return true;
}

void Agent::hold_path(const Path& p, std::uint64_t now) {
  if (!peer_sends_first(p.info)) return;
  // A second move while held: the hold goes on from the first.
  if (held_paths_.try_emplace(p.info.id, now).second) dp_.hold(p.info.id);
  arm_hold_timer();
}

void Agent::release_path(const wire::PathId& id, std::string_view why) {
  auto it = held_paths_.find(id);
  if (it == held_paths_.end()) return;
  const auto held_ms = common::mono_ms() - it->second;
  held_paths_.erase(it);
  if (blackout_paths_.count(id)) {
    // No route yet: what is kept goes when the route is back.
    spdlog::debug("path {}: hold for the peer ended after {} ms ({}); no route yet", short_id(id),
                  held_ms, why);
    return;
  }
  const std::size_t n = dp_.release(id);
  spdlog::debug("path {}: {} packet(s) held for {} ms sent ({})", short_id(id), n, held_ms, why);
}

void Agent::follow_blackout(Path& p, std::uint64_t now, bool no_address,
                            const std::vector<wire::Endpoint>& left, RouteCheck& routes) {
  const auto& id = p.info.id;
  const auto c = dp_.counters(id);
  if (!c) return;
  // Where the path's capsules go now: the peer, the RS, the stand-by relay.
  if (!no_address && dp_.routable(c->peer, routes)) {
    if (!blackout_paths_.count(id)) return;
    // Addresses or routes changed since the blackout began: this network
    // is configured, send.  Only the link came back: into which network
    // is not known yet.
    if (blackout_readdressed_)
      end_blackout(id, "a route again");
    else
      arm_blackout_grace();
    return;
  }
  if (auto it = blackout_paths_.find(id); it != blackout_paths_.end()) {
    // Held since an earlier event, unless the data path ended that hold at
    // the route's return and this event took the route away again before
    // a round could see it back: a new blackout.
    if (c->route_ends == it->second.route_ends) return;
    blackout_paths_.erase(it);
  }
  blackout_paths_.emplace(id, Blackout{now, c->route_ends});
  // The kernel would refuse every capsule (ENETUNREACH): the data path
  // keeps the packets instead, as it does for a path held for its peer.
  // Where the peer follows our capsules, the data path sends them itself
  // at the first packet after the new network's route is there: the move
  // round runs only once this thread has read that event, a millisecond or
  // more later on a busy host, and a plain sender's packet would not wait.
  // Through a relay (its route, or the stand-by leg the round would move
  // it to), the relay must hear our NTM Update first: sealed now, sent by
  // the data path ahead of what it kept.
  RouteReturn r;
  for (const auto& e : left) r.left.push_back(e.addr);
  const bool onto_relay = !relayed(p.info) && standby_ready(p);
  if (held_paths_.count(id)) {
    dp_.hold(id);
  } else if (follows_capsules(p.info)) {
    dp_.hold_until_route(id, std::move(r));
  } else if ((relayed(p.info) || onto_relay) && seal_blackout_update(p, onto_relay, r)) {
    // The round that reads the route's event then switches the agent's
    // view too (switch_to_standby) and sends the next update.
    dp_.hold_until_route(id, std::move(r));
  } else {
    dp_.hold(id);
  }
  ++p.info.moves.blackout_holds;
  arm_hold_timer();
}

void Agent::end_blackout(const wire::PathId& id, std::string_view why) {
  auto it = blackout_paths_.find(id);
  if (it == blackout_paths_.end()) return;
  const auto held_ms = common::mono_ms() - it->second.since_ms;
  blackout_paths_.erase(it);
  if (blackout_paths_.empty()) blackout_readdressed_ = false;
  // Held for its peer as well (the move round just held it): that hold's
  // end sends everything, through the re-directed tunnel.
  if (held_paths_.count(id)) return;
  // Nothing left when the data path ended the hold at a packet already
  // (hold_until_route).
  const std::size_t n = dp_.release(id);
  spdlog::debug("path {}: no route for {} ms ({}); {} kept packet(s) sent now", short_id(id),
                held_ms, why, n);
}

void Agent::arm_blackout_grace() {
  // Each path of a round arms it again (it cancels the wait before): the
  // 20 ms run from the round's last path, microseconds later.
  blackout_grace_timer_.expires_after(std::chrono::milliseconds(kBlackoutSameAddressMs));
  blackout_grace_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](
                                       const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    // No address event since the link came back: the same network.
    std::vector<wire::PathId> ready;
    RouteCheck routes;
    for (const auto& [id, b] : blackout_paths_) {
      const auto c = dp_.counters(id);
      if (c && dp_.routable(c->peer, routes)) ready.push_back(id);
    }
    for (const auto& id : ready) end_blackout(id, "the link is back, same address");
  });
}

void Agent::arm_hold_timer() {
  if (held_paths_.empty() && blackout_paths_.empty()) return;
  std::uint64_t first = UINT64_MAX;  // the earliest end of a hold
  for (const auto& [id, since] : held_paths_) first = std::min(first, since + kHoldMaxMs);
  for (const auto& [id, b] : blackout_paths_) first = std::min(first, b.since_ms + kBlackoutHoldMaxMs);
  const auto now = common::mono_ms();
  const auto due = first > now ? first - now : 0;
  hold_timer_.expires_after(std::chrono::milliseconds(due));
  hold_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](
                             const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    const auto fired = common::mono_ms();
    std::vector<wire::PathId> late;
    for (const auto& [id, since] : held_paths_)
      if (fired - since >= kHoldMaxMs) late.push_back(id);
    for (const auto& id : late) release_path(id, "no answer yet");
    late.clear();
    for (const auto& [id, b] : blackout_paths_)
      if (fired - b.since_ms >= kBlackoutHoldMaxMs) late.push_back(id);
    for (const auto& id : late) end_blackout(id, "still no route");
    arm_hold_timer();
  });
}

void Agent::begin_update(Path& p, bool may_redirect) {
  ++p.info.moves.update_seq;
  p.update_pending = true;
  p.update_may_redirect = may_redirect;
  p.update_sends = 0;
  p.update_retry_ms = kUpdateRetryFirstMs;
  if (p.update_started_ms == 0) p.update_started_ms = common::mono_ms();
  send_update(p);
}

void Agent::send_update(Path& p) {
  if (!p.update_pending) return;
  const auto now = common::mono_ms();
  if (now - p.update_started_ms > kUpdateGiveUpMs) {
    p.update_pending = false;
    spdlog::warn("path {} to {}: no answer to NTM Update within {} s", short_id(p.info.id),
                 p.info.peer.fqdn.name, kUpdateGiveUpMs / 1000);
    return;
  }
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
  wire::Endpoint to;
  const std::size_t n = seal_update(p, p.info.moves.update_seq, false, buf, to);
  if (n == 0 || to.empty()) {
    p.update_pending = false;
    return;
  }
  dp_.send_control(std::span(buf.data(), n), to);
  ++p.info.moves.updates_sent;
  ++p.update_sends;
  // The peer cannot be reached from here (its NAT filters our new address,
  // or it moved as well): only its DC can tell it where we are now.
  if (p.update_sends == kUpdateSendsBeforeRedirect && p.update_may_redirect &&
      p.info.route != wire::RouteType::relay_general)
    request_redirect(p, "no answer to NTM Update");
  p.update_timer.expires_after(std::chrono::milliseconds(p.update_retry_ms));
  p.update_retry_ms = std::min(p.update_retry_ms * 2, kUpdateRetryMaxMs);
  p.update_timer.async_wait([this, id = p.info.id, alive = std::weak_ptr<bool>(alive_)](
                                const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    if (auto it = paths_.find(id); it != paths_.end()) send_update(*it->second);
  });
}

std::size_t Agent::seal_update(Path& p, std::uint32_t seq, bool onto_relay,
                               std::span<std::uint8_t> buf, wire::Endpoint& to) {
  wire::UpdateRequest u;
  u.sender = cfg_.id;
  u.update_seq = seq;
  // What the round registered with (read when it began; a later change
  // starts a round of its own).
  u.new_real = reported_.empty() ? dp_.local() : reported_.front();
  if (reg_.behind_nat && registered_) u.new_nat = reg_.observed;
  wire::Error err = wire::Error::ok;
  // Who keeps our endpoint for this path: the peer on a direct route; the
  // RS on a relayed one or the stand-by leg (RELAY_PATH, K_rp), or the RS
  // standing in for a general host (PATH, general-path key).
  if (p.info.route == wire::RouteType::relay_general) {
    to = p.info.relay;
    return p.peer_chan->seal(u, p.tunnel_txid, common::wall_ms(), buf, err);
  }
  if ((relayed(p.info) || onto_relay) && p.relay_chan) {
    to = p.info.relay;
    return p.relay_chan->seal(u, p.tunnel_txid, common::wall_ms(), buf, err);
  }
  to = p.target;
  return p.peer_chan->seal(u, p.tunnel_txid, common::wall_ms(), buf, err);
}

bool Agent::seal_blackout_update(Path& p, bool onto_relay, RouteReturn& r) {
  // A number of its own: an update a round began may have reached the relay
  // from the old address before the route went (the relay takes a number
  // once per source), and its retransmissions carry this one from now on.
  const std::uint32_t seq = p.info.moves.update_seq + 1;
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
  wire::Endpoint to;
  const std::size_t n = seal_update(p, seq, onto_relay, buf, to);
  if (n == 0 || to.empty() || to != p.info.relay) return false;
  p.info.moves.update_seq = seq;
  ++p.info.moves.updates_sent;
  r.relay = to;
  r.update.assign(buf.begin(), buf.begin() + static_cast<long>(n));
  return true;
}

void Agent::request_redirect(Path& p, std::string_view why) {
  if (!registered_ && !dc_reachable_) return;  // the registration round will carry the news
  spdlog::info("path {} to {}: {}; asking the DC to direct it again", short_id(p.info.id),
               p.info.peer.fqdn.name, why);
  send_dc(wire::DirectionRequest{p.info.id, p.info.peer.fqdn, true});
}

void Agent::on_update_request(Path& p, const wire::UpdateRequest& u, std::uint32_t txid,
                              const wire::Endpoint& from) {
  const auto now = common::mono_ms();
  // A storm of (authentic) updates costs a seal and a send each: bounded.
  if (p.tokens_ms == 0) p.tokens_ms = now;
  p.update_tokens = std::min(kUpdateBurst, p.update_tokens + static_cast<double>(now - p.tokens_ms) * kUpdatePerSecond / 1000.0);
  p.tokens_ms = now;
  if (p.update_tokens < 1) {
    ++p.info.moves.updates_refused;
    ++dropped_control_;
    return;
  }
  p.update_tokens -= 1;
  auto answer = [&](wire::Status st) {
    std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
    wire::Error err = wire::Error::ok;
    if (const auto n = p.peer_chan->seal(wire::UpdateResponse{st, u.update_seq, from}, txid,
                                         common::wall_ms(), buf, err))
      dp_.send_control(std::span(buf.data(), n), from);
  };
  // Only the other end of this path moves its end of it (the key proves the
  // path, the ID the end; on a relayed route the RS keeps the endpoints).
  if (u.sender != p.info.peer.node_id || p.info.route == wire::RouteType::relay_general ||
      p.info.route == wire::RouteType::relay) {
    ++p.info.moves.updates_refused;
    answer(wire::Status::refused);
    return;
  }
  // Higher: a newer move.  Equal, from where the peer is now: our answer
  // was lost and it sealed the same update again.  Anything else is an
  // older move arriving late: refused, so that a node flapping between
  // networks ends where its last update says (the RS decides alike).
  if (u.update_seq == p.peer_update_seq && from == p.target && !p.info.via_relay) {
    answer(wire::Status::ok);
    return;
  }
  if (u.update_seq <= p.peer_update_seq) {
    ++p.info.moves.updates_refused;
    answer(wire::Status::stale_update);
    return;
  }
  p.peer_update_seq = u.update_seq;
  p.last_alive_ms = now;
  if (p.target != from || p.info.via_relay) {
    spdlog::info("path {} to {}: peer moved to {} (update {})", short_id(p.info.id),
                 p.info.peer.fqdn.name, from.to_string(), u.update_seq);
    ++p.info.moves.updates_accepted;
  }
  p.target = from;
  p.info.via_relay = false;  // it reached us directly: so can we
  dp_.set_peer(p.info.id, from);
  answer(wire::Status::ok);
}

void Agent::on_update_response(Path& p, const wire::UpdateResponse& u, const wire::Endpoint& from) {
  if (!p.update_pending || u.update_seq != p.info.moves.update_seq) return;  // an older round
  const auto now = common::mono_ms();
  p.last_alive_ms = now;
  if (u.status != wire::Status::ok) {
    // stale_update: the peer holds a newer sequence number than ours (it
    // cannot, unless it kept one from before we restarted the path): jump.
    if (u.status == wire::Status::stale_update) p.info.moves.update_seq += 1000;
    spdlog::info("path {}: NTM Update refused by {} (status {})", short_id(p.info.id),
                 from.to_string(), static_cast<int>(u.status));
    p.update_pending = false;
    p.update_timer.cancel();
    return;
  }
  p.update_pending = false;
  p.update_timer.cancel();
  release_path(p.info.id, "the peer answered the update");
  ++p.info.moves.updates_answered;
  p.info.moves.last_update_ms = static_cast<std::uint32_t>(now - p.update_started_ms);
  spdlog::info("path {} to {}: update {} confirmed by {} in {} ms", short_id(p.info.id),
               p.info.peer.fqdn.name, u.update_seq, from.to_string(), p.info.moves.last_update_ms);
  p.update_started_ms = 0;
}

// Called every housekeeping tick for a path that is up: a path we keep
// sending on that has heard nothing back for kDeadPathMs is probed with an
// NTM Update; if that goes unanswered too, request_redirect asks the DC
// (which, seeing no move, puts the path on the relay).
void Agent::check_liveness(Path& p, std::uint64_t now) {
  const auto c = dp_.counters(p.info.id);
  if (!c) return;
  const bool sending = c->tx_packets >= p.last_tx_packets + 2;  // data, not one keepalive
  p.last_tx_packets = c->tx_packets;
  const std::uint64_t heard = std::max({c->last_rx_ms, p.last_alive_ms, p.started_ms});
  if (!sending || p.update_pending || heard >= now || now - heard < kDeadPathMs ||
      now - p.last_probe_ms < kDeadPathMs)
    return;
  p.last_probe_ms = now;
  spdlog::info("path {} to {}: nothing back for {} ms while sending; probing", short_id(p.info.id),
               p.info.peer.fqdn.name, now - heard);
  p.update_started_ms = now;
  // Asked the DC lately: probe, but do not ask again yet.
  const bool may_redirect = now - p.last_dead_redirect_ms >= kDeadRedirectEveryMs;
  if (may_redirect) p.last_dead_redirect_ms = now;
  begin_update(p, may_redirect);
}

}  // namespace ntm::node
