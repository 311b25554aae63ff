// SPDX-License-Identifier: MIT
// Direction: MN asks for a path to a name; the DC decides the route, makes
// the path's keys, directs the relay (if any), then the responder, then the
// initiator, each with retransmission and backoff.
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "control/directing.hpp"
#include "control/redirect_limits.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/sealed_key.hpp"
#include "state/end_view.hpp"

namespace ntm::dc::control {

namespace {

bool in_zones(const std::string& name, const std::vector<std::string>& zones) {
  for (const auto& z : zones)
    if (name == z || (name.size() > z.size() && name.ends_with(z) &&
                      name[name.size() - z.size() - 1] == '.'))
      return true;
  return false;
}

}  // namespace

route::Placement Server::placement(const state::Party& p) const {
  route::Placement pl;
  pl.ntmobile = true;
  pl.online = p.online;
  pl.local = p.local;
  pl.observed = p.observed;
  pl.behind_nat = p.behind_nat;
  pl.symmetric_nat = p.symmetric_nat;
  return pl;
}

void Server::on_direction_request(state::Party& mn, const wire::DirectionRequest& req,
                                  const wire::ControlHeader& h, const wire::Endpoint& from) {
  stats_.directions++;
  auto error = [&](wire::ErrorCode c, std::string_view why) {
    stats_.directions_failed++;
    send_error(mn, from, h.txid, c, wire::MsgType::direction_request, why);
  };
  if (req.path_id.is_zero()) return error(wire::ErrorCode::bad_request, "path ID is zero");
  if (!mn.online) return error(wire::ErrorCode::not_registered, "register first");
  auto is_end = [&](const state::Path& p) {
    return p.initiator == mn.id || (p.responder && *p.responder == mn.id);
  };
  if (auto it = directing_.find(req.path_id); it != directing_.end()) {
    Directing& d = *it->second;
    // A retransmitted request (the path is already being directed), or a
    // redirect asked for while it is directed anyway: the running direction
    // covers it.  The request is remembered, so that its retransmissions
    // after the direction ended are known for duplicates.
    if (d.path.initiator == mn.id || (req.redirect && is_end(d.path))) {
      if (req.redirect && d.path.responder) {
        note_asked(d.path, mn.id, h.txid);
        if (d.previous) note_asked(*d.previous, mn.id, h.txid);
      }
      return;
    }
    return error(wire::ErrorCode::not_authorized, "path ID in use");
  }
  // Being looked up or asked of a peer DC (federation.cpp): a retransmission.
  if (asking_.count(req.path_id)) return;
  if (state::Path* existing = view_.find_path(req.path_id)) {
    // Only an end of a path may re-direct it (no path hijacking), and only
    // its initiator may ask for it without `redirect`.
    const bool initiator = existing->initiator == mn.id;
    if (!initiator && !(req.redirect && is_end(*existing)))
      return error(wire::ErrorCode::not_authorized, "path ID in use");
    // A retransmission that arrives after the path was directed (and the
    // initiator acknowledged it) changes nothing.  A path left half-directed
    // (no direction runs for it: the DC restarted or dropped it midway) is
    // directed afresh, or its initiator could never complete it.
    const bool orphan = existing->state != state::PathState::established;
    if (!req.redirect && !orphan) return;
    // Another member's direction under way: a second one here would send
    // the ends two key epochs at once.  Its end learns the outcome from it;
    // this request is asked again and finds the path directed, or orphaned.
    if (directed_elsewhere(*existing, cfg_.cluster.size() > 1, cfg_.direction_timeout_ms,
                           common::wall_ms())) {
      stats_.directing_elsewhere++;
      spdlog::debug("direction: path {}: being directed by another member; {} asks again",
                    existing->id.to_hex(), mn.name);
      return;
    }
    state::Party* ini = view_.find(existing->initiator);
    // Another DC's initiator (a federated path at the CN's DC) is named by
    // the path itself.
    const std::string& other =
        initiator ? existing->responder_fqdn : (ini ? ini->name : existing->initiator_fqdn);
    if (req.peer.name != other)
      return error(wire::ErrorCode::bad_request, "peer is not the other end of this path");
    if (!existing->responder) {
      // A general host's path: re-directed through the resolver, as made.
      if (!orphan) {
        if (was_asked(*existing, mn.id, h.txid)) return;
        note_asked(*existing, mn.id, h.txid);
        stats_.redirects_requested++;
      }
      return direct_general(mn, req, h, from);
    }
    if (existing->remote) {
      // A federated path: asked of the peer DC again (federation.cpp).  At
      // the CN's DC (CN asks), only the MN's DC may re-direct it: it is
      // told (Path Moved), and its Route Forward answers CN.
      if (!initiator) {
        if (orphan) return error(wire::ErrorCode::not_authorized, "not the path's initiator");
        if (was_asked(*existing, mn.id, h.txid)) return;
        const bool moved = existing->directed_seq == 0 || mn.moved_seq > existing->directed_seq;
        if (!moved && existing->directed_mono_ms != 0 &&
            common::mono_ms() - existing->directed_mono_ms < kRedirectHoldoffMs)
          return;  // not noted: its retransmission is served
        if (!tell_peer_of_move(*existing, true, &mn, h.txid, from))
          return error(wire::ErrorCode::not_authorized,
                       "the initiator's DC re-directs this path, and it is not known here");
        note_asked(*existing, mn.id, h.txid);
        stats_.redirects_requested++;
        return;
      }
      if (!orphan) {
        if (was_asked(*existing, mn.id, h.txid)) return;
        note_asked(*existing, mn.id, h.txid);
        stats_.redirects_requested++;
      }
      return direct_remote(mn, req, h, from, existing);
    }
    state::Party* resp = view_.find(*existing->responder);
    if (!ini || !resp) return;  // being removed
    bool route_failed = false;
    if (!orphan) {
      if (was_asked(*existing, mn.id, h.txid)) return;  // a duplicate of one already taken
      // Unknown (loaded at start) counts as moved: no conclusion is drawn.
      const bool moved = existing->directed_seq == 0 || ini->moved_seq > existing->directed_seq ||
                         resp->moved_seq > existing->directed_seq;
      if (!moved && existing->directed_mono_ms != 0 &&
          common::mono_ms() - existing->directed_mono_ms < kRedirectHoldoffMs) {
        spdlog::debug("direction: path {}: redirect from {} within {} ms of its direction: "
                      "not yet",
                      existing->id.to_hex(), mn.name, kRedirectHoldoffMs);
        return;  // not noted: its retransmission is served
      }
      route_failed = !moved;
      note_asked(*existing, mn.id, h.txid);
    }
    if (orphan) {
      // Half-directed: directed afresh, with nothing to put back on failure.
      auto d = std::make_unique<Directing>(io_);
      d->path.id = existing->id;
      d->path.initiator = existing->initiator;
      d->path.responder = existing->responder;
      d->path.responder_fqdn = existing->responder_fqdn;
      d->path.key_epoch = static_cast<std::uint8_t>(existing->key_epoch + 1);
      d->mn_id = existing->initiator;
      d->requester = mn.id;
      d->req_txid = h.txid;
      d->req_from = from;
      return begin_direction(std::move(d), resp, placement(*resp));
    }
    stats_.redirects_requested++;
    return redirect_path(*existing, &mn, h.txid, from, route_failed);
  }
  if (req.peer.name == mn.name) return error(wire::ErrorCode::bad_request, "cannot direct to self");

  state::Party* cn = view_.find_node(req.peer.name);
  if (!cn) {
    if (in_zones(req.peer.name, cfg_.zones))
      return error(wire::ErrorCode::no_such_name, "no NTMobile node of that name");
    // Another DC's node or a general host: DNS tells (federation.cpp).
    if (peers_) return direct_remote(mn, req, h, from, nullptr);
    return direct_general(mn, req, h, from);
  }
  const route::Placement cn_pl = placement(*cn);
  auto d = std::make_unique<Directing>(io_);
  d->path.id = req.path_id;
  d->path.initiator = mn.id;
  d->path.responder = cn->id;
  d->path.responder_fqdn = cn->name;
  d->path.key_epoch = fresh_epoch(req.path_id);
  d->mn_id = mn.id;
  d->requester = mn.id;
  d->req_txid = h.txid;
  d->req_from = from;
  begin_direction(std::move(d), cn, cn_pl);
}

void Server::redirect_path(const state::Path& existing, state::Party* requester,
                           std::uint32_t txid, const wire::Endpoint& from, bool route_failed,
                           bool rekey) {
  state::Party* cn = existing.responder ? view_.find(*existing.responder) : nullptr;
  if (!cn) return;
  auto d = std::make_unique<Directing>(io_);
  d->path.id = existing.id;
  d->path.initiator = existing.initiator;
  d->path.responder = existing.responder;
  d->path.responder_fqdn = existing.responder_fqdn;
  // The DC keeps no path keys, so a re-direction issues a new key epoch.
  d->path.key_epoch = static_cast<std::uint8_t>(existing.key_epoch + 1);
  d->path.created_ms = existing.created_ms;
  d->path.asked[0] = existing.asked[0];
  d->path.asked[1] = existing.asked[1];
  d->previous = existing;  // put back if the re-direction fails
  d->mn_id = existing.initiator;
  if (requester) {
    d->requester = requester->id;
    d->req_txid = txid;
    d->req_from = from;
  }
  d->route_failed = route_failed;
  d->rekey = rekey;
  begin_direction(std::move(d), cn, placement(*cn));
}

void Server::reconsider_paths_of(const state::Party& mover) {
  if (mover.kind != state::PartyKind::node) return;
  std::vector<std::pair<wire::PathId, bool>> mine;  // path, mover is its initiator
  for (const state::Path* p : view_.paths_of(mover.id)) {
    if (p->initiator == mover.id) mine.emplace_back(p->id, true);
    else if (p->responder && *p->responder == mover.id) mine.emplace_back(p->id, false);
  }
  for (const auto& [id, is_ini] : mine) reconsider(id, is_ini, !is_ini);
}

void Server::resend_to_moved(const state::Party& mover) {
  for (auto& [id, d] : directing_) {
    Directing& dd = *d;
    if (dd.to != mover.id || dd.step == Directing::Step::relay) continue;
    state::Party* to = view_.find(dd.to);
    if (!to) continue;
    // Only DC_CN re-sends a forwarded Route Direction; at DC_MN the mover
    // is the initiator of a federated path and gets its own.
    dd.body = dd.remote && dd.remote->forwarded ? forwarded_direction(dd, *to)
                        : route_direction_for(dd, *to, dd.step == Directing::Step::initiator
                                                           ? wire::PathEnd::initiator
                                                           : wire::PathEnd::responder);
    stats_.retransmissions++;
    send(*to, to->reach(), dd.body, dd.txid);
    spdlog::debug("direction: path {}: Route Direction sent again to {} at its new address {}",
                  id.to_hex(), to->name, to->reach().to_string());
    dd.backoff_ms = cfg_.retransmit_initial_ms;
    arm_retransmit(dd);
  }
}

void Server::reconsider(const wire::PathId& id, bool initiator_moved, bool responder_moved) {
  if (stopped_ || draining_) return;
  if (auto it = directing_.find(id); it != directing_.end()) {
    // One direction per path at a time: this one ends first, then the path
    // is reconsidered once for wherever its ends are by then.
    it->second->again = true;
    return;
  }
  state::Path* p = view_.find_path(id);
  // Half-directed paths wait for their initiator; general hosts' paths run
  // through the relay, which the mover updates itself.
  if (!p || p->state != state::PathState::established || !p->responder) return;
  if (p->remote) {
    // Federated.  At DC_MN our node is the initiator: the peer is asked
    // about CN again.  At DC_CN our node is the responder, and only DC_MN
    // may re-direct: it is told (Path Moved) and decides.
    if (const state::Party* mn = view_.find(p->initiator)) {
      if (initiator_moved && mn->online && mn->moved_seq > p->directed_seq)
        reask(*p, /*initiator_moved=*/true, /*redirect=*/false);
    } else if (const state::Party* cn = view_.find(*p->responder)) {
      if (responder_moved && cn->online && cn->moved_seq > p->directed_seq)
        tell_peer_of_move(*p, false, nullptr, 0, {});
    }
    return;
  }
  state::Party* ini = view_.find(p->initiator);
  state::Party* resp = view_.find(*p->responder);
  if (!ini || !resp) return;
  // A direction begun after the move (a redirect request that came first)
  // already used the new placement.
  initiator_moved = initiator_moved && ini->moved_seq > p->directed_seq;
  responder_moved = responder_moved && resp->moved_seq > p->directed_seq;
  if (!initiator_moved && !responder_moved) return;
  if (!ini->online || !resp->online) {
    spdlog::debug("direction: path {} not re-decided after a move: an end is offline",
                  id.to_hex());
    return;
  }
  route::Policy policy;
  policy.same_network_prefix_len = cfg_.same_network_prefix_len;
  policy.relay_available = pick_relay({}) != nullptr;
  const route::Placement ip = placement(*ini), rp = placement(*resp);
  const route::Decision dec = route::decide(ip, rp, policy);
  if (!route::redirect_after_move(p->route, dec, ip, rp, initiator_moved, responder_moved)) {
    spdlog::debug("direction: path {} stays {} after a move ({}{})", id.to_hex(),
                  wire::to_string(p->route),
                  dec.outcome == route::Outcome::ok ? "the nodes update it: " : "no route: ",
                  dec.reason);
    return;
  }
  spdlog::info("direction: path {} {} -> {}: re-directed after a move of {}: {} -> {} ({})",
               id.to_hex(), ini->name, resp->name,
               initiator_moved && responder_moved ? "both ends"
               : initiator_moved                  ? ini->name
                                                  : resp->name,
               wire::to_string(p->route), wire::to_string(dec.route), dec.reason);
  stats_.redirects_on_move++;
  redirect_path(*p, nullptr, 0, {}, false);
}

void Server::follow_up(const Directing& d) {
  if (d.remote) moved_while_busy(d.path.id);
  if (!d.again || !d.path.responder) return;
  state::Party* ini = view_.find(d.path.initiator);
  state::Party* resp = view_.find(*d.path.responder);
  // A federated path has only our end in this view (the other is another
  // DC's); reconsider asks the peer again at DC_MN, tells it at DC_CN.
  if (!d.path.remote && (!ini || !resp)) return;
  const bool im = ini && ini->moved_seq > d.path.directed_seq;
  const bool rm = resp && resp->moved_seq > d.path.directed_seq;
  if (im || rm) reconsider(d.path.id, im, rm);
}

void Server::report_failure(const Directing& d, wire::ErrorCode code, std::string_view reason) {
  if (d.remote && d.remote->forwarded) {
    // DC_CN: the peer that forwarded the direction hears why it failed.
    send_to_peer(*d.remote->peer, d.remote->peer_from,
                 wire::ErrorReply{code, wire::MsgType::route_forward, wire::Text{std::string(reason)}},
                 d.remote->peer_txid);
    return;
  }
  if (d.requester) {
    if (state::Party* r = view_.find(*d.requester))
      send_error(*r, d.req_from, d.req_txid, code, wire::MsgType::direction_request, reason);
    return;
  }
  spdlog::warn("direction: re-direction of path {} after a move failed ({}): the path stays {}",
               d.path.id.to_hex(), reason,
               d.previous ? wire::to_string(d.previous->route) : std::string_view("-"));
}

void Server::begin_direction(std::unique_ptr<Directing> d, state::Party* cn,
                             const route::Placement& cn_placement) {
  state::Party* mn = view_.find(d->mn_id);
  if (!mn) return;
  auto fail = [&](wire::ErrorCode c, std::string_view why) {
    // Nothing has changed yet: a re-direction leaves the path as it is.
    stats_.directions_failed++;
    report_failure(*d, c, why);
  };
  // The initiator asked for a new path itself; a re-direction may find it gone.
  if (!mn->online) return fail(wire::ErrorCode::peer_unreachable, "peer is offline");
  route::Policy policy;
  policy.same_network_prefix_len = cfg_.same_network_prefix_len;
  policy.relay_available = pick_relay({}) != nullptr;
  route::Decision dec = route::decide(placement(*mn), cn_placement, policy);
  if (d->route_failed && d->previous) {
    const route::Decision was = dec;
    dec = route::after_route_failed(d->previous->route, dec, policy);
    if (dec.route != was.route) stats_.redirects_via_relay++;
  }
  switch (dec.outcome) {
    case route::Outcome::ok: break;
    case route::Outcome::peer_offline: return fail(wire::ErrorCode::peer_unreachable, "peer is offline");
    case route::Outcome::no_relay: return fail(wire::ErrorCode::no_route, "a relay is needed and none is available");
    case route::Outcome::no_common_family: return fail(wire::ErrorCode::no_route, "no common address family");
  }
  d->path.route = dec.route;
  d->path.first = dec.first;
  d->path.state = state::PathState::directing;
  d->path.updated_ms = common::wall_ms();
  if (d->path.created_ms == 0) d->path.created_ms = d->path.updated_ms;
  // The placements this direction is made for: an end whose moved_seq is
  // higher moved after this point.
  d->path.directed_seq = placement_seq_;
  d->path_key = wire::SecretKey::random();
  const bool relayed =
      dec.route == wire::RouteType::relay || dec.route == wire::RouteType::relay_general;
  // A general host's VIP was claimed before (general.cpp), a foreign node's
  // came with its Node Info.
  if (cn == nullptr && d->general.vip.addr == 0)
    return fail(wire::ErrorCode::internal, "the responder has no address");
  // Each end's address for the other: the peer's VIP, or a substitute where
  // it clashes in that end's view (docs/dc.md "Virtual address clashes").
  if (const std::string why = state::assign_peer_views(
          view_, d->path, cn ? cn->vip.addr : d->general.vip.addr, cfg_);
      !why.empty())
    return fail(wire::ErrorCode::no_route, why);
  spdlog::debug("direction: path {} {} -> {}: {} ({}), first sender {}, key epoch {}",
                d->path.id.to_hex(), mn->name, d->path.responder_fqdn, wire::to_string(dec.route),
                dec.reason, static_cast<int>(dec.first), static_cast<int>(d->path.key_epoch));
  // A direct route may get a relay named as its stand-by (when one is up):
  // two nodes sharing a private network, should that not answer; a NATed
  // first sender, for the other end's moves (route::standby_relay).
  state::Party* relay =
      relayed || route::standby_relay(dec, cfg_.standby_relay) ? pick_relay({}) : nullptr;
  // A re-key keeps the relay the path has while it serves: a new one would
  // move both ends' legs for nothing.
  if (relay && d->rekey && d->previous && d->previous->relay && *d->previous->relay != relay->id)
    if (state::Party* kept = view_.find(*d->previous->relay);
        kept && kept->kind == state::PartyKind::relay && relay_usable(*kept))
      relay = kept;
  if (relayed && !relay) return fail(wire::ErrorCode::no_route, "no relay available");
  if (relay) {
    if (dec.route != wire::RouteType::relay_general) d->relay_key = wire::SecretKey::random();
    d->path.relay = relay->id;
    d->step = Directing::Step::relay;
  } else {
    d->step = Directing::Step::responder;
  }
  d->deadline_ms = common::mono_ms() + cfg_.direction_timeout_ms;
  Directing& ref = *d;
  directing_[d->path.id] = std::move(d);
  view_.put_path(ref.path);
  writer_.submit(store::PathWrite{ref.path}, nullptr);
  advance(ref);
}

wire::KeyWrapper& Server::wrapper_for(state::Party& p) {
  if (wrapper_.rekey(p.wrap_key()) != wire::Error::ok)
    throw std::runtime_error("setting a wrap key failed");
  return wrapper_;
}

wire::RouteDirection Server::route_direction_for(Directing& d, state::Party& recipient,
                                                 wire::PathEnd end) {
  state::Party* mn = view_.find(d.mn_id);
  state::Party* cn = d.path.responder ? view_.find(*d.path.responder) : nullptr;
  wire::RouteDirection rd;
  rd.path_id = d.path.id;
  rd.key_epoch = d.path.key_epoch;
  rd.you_are = end;
  rd.route = d.path.route;
  rd.first = d.path.first;
  if (mn) rd.initiator = mn->info(cfg_.advertise);
  rd.responder = cn ? cn->info(cfg_.advertise) : d.general;
  rd.peer_view = end == wire::PathEnd::initiator ? rd.responder.vip : rd.initiator.vip;
  if (const auto v = d.path.peer_view[end == wire::PathEnd::initiator ? 0 : 1])
    rd.peer_view.addr = v;
  rd.relay = d.path.relay_endpoint;
  wire::KeyWrapper& wrap = wrapper_for(recipient);
  const auto kind = d.path.route == wire::RouteType::relay_general ? wire::SealedKind::general_key
                                                                   : wire::SealedKind::path_key;
  rd.path_key = wrap.seal(d.path_key, d.path.id, d.path.key_epoch, kind);
  if (d.path.relay && d.path.route != wire::RouteType::relay_general)
    rd.relay_key = wrap.seal(d.relay_key, d.path.id, d.path.key_epoch, wire::SealedKind::relay_key);
  return rd;
}

void Server::advance(Directing& d) {
  d.backoff_ms = cfg_.retransmit_initial_ms;
  d.txid = next_txid();
  switch (d.step) {
    case Directing::Step::relay:
      send_relay_direction(d);
      return;
    case Directing::Step::responder: {
      if (d.forwarding_to_peer()) return forward_to_peer(d);
      state::Party* cn = view_.find(*d.path.responder);
      if (!cn) return fail_direction(d.path.id, wire::ErrorCode::peer_unreachable, "peer removed");
      d.to = cn->id;
      d.body = d.remote && d.remote->forwarded
                   ? forwarded_direction(d, *cn)
                   : route_direction_for(d, *cn, wire::PathEnd::responder);
      break;
    }
    case Directing::Step::initiator: {
      state::Party* mn = view_.find(d.mn_id);
      if (!mn) return finish_direction(d.path.id);
      d.to = mn->id;
      d.body = route_direction_for(d, *mn, wire::PathEnd::initiator);
      break;
    }
  }
  state::Party* to = view_.find(d.to);
  send(*to, to->reach(), d.body, d.txid);
  arm_retransmit(d);
}

void Server::arm_retransmit(Directing& d) {
  d.timer.expires_after(std::chrono::milliseconds(d.backoff_ms));
  const wire::PathId id = d.path.id;
  d.timer.async_wait([this, id](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    auto it = directing_.find(id);
    if (it == directing_.end()) return;
    Directing& dd = *it->second;
    if (dd.forwarding_to_peer()) {
      // The Route Forward to the peer DC (federation.cpp).
      if (common::mono_ms() >= dd.deadline_ms) {
        dd.remote->peer->stats.timeouts++;
        return fail_direction(id, wire::ErrorCode::peer_dc_failed, "peer DC did not answer");
      }
      stats_.retransmissions++;
      send_forward(dd);
      dd.backoff_ms = std::min<unsigned>(dd.backoff_ms * 2, cfg_.direction_timeout_ms);
      return arm_retransmit(dd);
    }
    state::Party* to = view_.find(dd.to);
    if (common::mono_ms() >= dd.deadline_ms || !to) {
      switch (dd.step) {
        case Directing::Step::relay: {
          // This relay did not answer: skip it for a while, try another.
          if (state::Party* r = dd.path.relay ? view_.find(*dd.path.relay) : nullptr) {
            r->missed_directions++;
            r->last_missed_ms = common::mono_ms();
          }
          dd.tried_relays.push_back(*dd.path.relay);
          dd.deadline_ms = common::mono_ms() + cfg_.direction_timeout_ms;
          if (state::Party* next = pick_relay(dd.tried_relays)) {
            dd.path.relay = next->id;
            view_.put_path(dd.path);  // the view indexes the path under its relay
            return advance(dd);
          }
          return relay_unavailable(dd);
        }
        case Directing::Step::responder:
          return fail_direction(id, wire::ErrorCode::peer_unreachable, "peer did not answer");
        case Directing::Step::initiator:
          // The initiator never acknowledged: it may not have its key.  The
          // path is dropped, so that its retransmitted request starts over.
          return fail_direction(id, wire::ErrorCode::peer_unreachable,
                                "initiator did not acknowledge");
      }
    }
    stats_.retransmissions++;
    send(*to, to->reach(), dd.body, dd.txid);
    dd.backoff_ms = std::min<unsigned>(dd.backoff_ms * 2, cfg_.direction_timeout_ms);
    arm_retransmit(dd);
  });
}

void Server::on_route_direction_ack(state::Party& party, const wire::RouteDirectionAck& ack) {
  auto it = directing_.find(ack.path_id);
  if (it == directing_.end()) return;  // late or duplicate: harmless
  Directing& d = *it->second;
  if (ack.key_epoch != d.path.key_epoch || party.id != d.to) return void(stats_.unexpected++);
  if (d.step == Directing::Step::responder) {
    if (ack.status != wire::Status::ok)
      return fail_direction(d.path.id, wire::ErrorCode::peer_unreachable, "peer refused the path");
    d.timer.cancel();
    if (d.remote) {
      // DC_CN: CN has its keys; the peer that forwarded the direction
      // directs MN itself.
      answer_forward(d, wire::Status::ok, ack.local);
      return finish_direction(d.path.id);
    }
    d.step = Directing::Step::initiator;
    advance(d);
  } else if (d.step == Directing::Step::initiator) {
    // MN refuses when the path is not for it or a sealed key does not open
    // (node/agent/direction.cpp): the path would be half-keyed, so the
    // direction fails as if MN had not answered.
    if (ack.status != wire::Status::ok)
      return fail_direction(d.path.id, wire::ErrorCode::peer_unreachable,
                            "initiator refused the path");
    d.timer.cancel();
    finish_direction(d.path.id);
  }
}

void Server::relay_unavailable(Directing& d) {
  if (d.path.route == wire::RouteType::relay || d.path.route == wire::RouteType::relay_general)
    return fail_direction(d.path.id, wire::ErrorCode::no_route, "no relay answered");
  // The relay was only the stand-by of a direct route: go on without one.
  d.path.relay.reset();
  d.path.relay_endpoint = {};
  view_.put_path(d.path);
  d.step = Directing::Step::responder;
  advance(d);
}

void Server::party_removed_from_directions(const wire::NodeId& id) {
  std::vector<wire::PathId> hit;
  for (const auto& [pid, d] : directing_)
    if (d->involves(id)) hit.push_back(pid);
  for (const auto& pid : hit) {
    auto it = directing_.find(pid);
    if (it == directing_.end()) continue;
    Directing& d = *it->second;
    if (!d.path.relay || *d.path.relay != id) {
      fail_direction(pid, wire::ErrorCode::no_route, "peer removed");
      continue;
    }
    // The relay went: the view dropped the path with it; put it back.
    d.timer.cancel();
    view_.put_path(d.path);
    if (d.step == Directing::Step::relay) {
      // As if it had not answered: the next relay, or none.
      d.tried_relays.push_back(id);
      if (state::Party* next = pick_relay(d.tried_relays)) {
        d.path.relay = next->id;
        view_.put_path(d.path);
        advance(d);
      } else {
        relay_unavailable(d);
      }
    } else if (d.path.route == wire::RouteType::direct ||
               d.path.route == wire::RouteType::direct_private) {
      // It had accepted as a stand-by: direct the ends again without it.
      relay_unavailable(d);
    } else {
      fail_direction(pid, wire::ErrorCode::no_route, "relay removed");
    }
  }
}

void Server::fail_direction(const wire::PathId& id, wire::ErrorCode code, std::string_view reason) {
  auto it = directing_.find(id);
  if (it == directing_.end()) return;
  std::unique_ptr<Directing> d = std::move(it->second);
  directing_.erase(it);
  d->timer.cancel();
  stats_.directions_failed++;
  report_failure(*d, code, reason);
  // A relay that had taken the path does not carry it after all.
  if (d->path.relay && !d->path.relay_endpoint.empty())
    if (state::Party* r = view_.find(*d->path.relay); r && r->active_paths) r->active_paths--;
  if (d->previous) {
    // A failed re-direction leaves the path as it was, but for its key
    // epoch: an end or the relay may hold the failed direction's keys (its
    // ack lost, or the other end silent or refusing), and takes a Route
    // Direction of an epoch it has as a copy of what it holds.  So the next
    // direction must come after this one's.
    d->previous->key_epoch = d->path.key_epoch;
    view_.put_path(*d->previous);
    writer_.submit(store::PathWrite{*d->previous}, nullptr);
    follow_up(*d);
    return;
  }
  view_.erase_path(id);
  writer_.submit(store::PathDelete{id}, nullptr);
  moved_later_.erase(id);
  // Federated paths take their epochs from DC_MN's own records.
  if (d->path.remote) return;
  failed_first_[id] = FailedFirst{d->path.key_epoch, common::mono_ms()};
  // Bounded: a copy delayed longer than this in the network is not
  // guarded against (each entry needs an authenticated request).
  if (failed_first_.size() > 4096)
    std::erase_if(failed_first_, [now = common::mono_ms()](const auto& kv) {
      return now - kv.second.mono_ms >= kFailedFirstMemoryMs;
    });
}

std::uint8_t Server::fresh_epoch(const wire::PathId& id) {
  auto it = failed_first_.find(id);
  if (it == failed_first_.end()) return 0;
  const bool recent = common::mono_ms() - it->second.mono_ms < kFailedFirstMemoryMs;
  const auto epoch = static_cast<std::uint8_t>(it->second.key_epoch + 1);
  failed_first_.erase(it);
  return recent ? epoch : 0;
}

void Server::finish_direction(const wire::PathId& id) {
  auto it = directing_.find(id);
  if (it == directing_.end()) return;
  std::unique_ptr<Directing> d = std::move(it->second);
  directing_.erase(it);
  d->timer.cancel();
  d->path.state = state::PathState::established;
  d->path.updated_ms = common::wall_ms();
  d->path.directed_mono_ms = std::max<std::uint64_t>(common::mono_ms(), 1);
  d->path.keyed_mono_ms = d->path.directed_mono_ms;
  // A re-direction off a relay: that relay no longer carries this path
  // (it drops it after its idle timeout; there is no teardown message yet).
  if (d->previous && d->previous->relay && !d->previous->relay_endpoint.empty())
    if (state::Party* r = view_.find(*d->previous->relay); r && r->active_paths) r->active_paths--;
  view_.put_path(d->path);
  writer_.submit(store::PathWrite{d->path}, nullptr);
  if (!d->previous && d->path.responder) supersede_paths(d->path);
  if (d->previous)
    spdlog::info("direction: path {} re-directed: {} -> {}, key epoch {}, established",
                 id.to_hex(), wire::to_string(d->previous->route), wire::to_string(d->path.route),
                 static_cast<int>(d->path.key_epoch));
  else
    spdlog::debug("direction: path {} established", id.to_hex());
  follow_up(*d);
  // d (and with it K_path) is destroyed here: the DC keeps no path keys.
}

void Server::supersede_paths(const state::Path& newest) {
  // A node keeps one path per peer: a Route Direction for a new path to a
  // peer replaces its older one (node/agent/direction.cpp).  So the DC
  // keeps one per pair too.  Older paths between the two would otherwise
  // live on here, and a move would re-direct every one of them.  Each end
  // would then keep whichever direction it received last, and the two ends
  // could keep different paths (seen as a tunnel that never came up after
  // a restarted ntmd moved, bench/run_tunnel_bench.sh).  Federated paths
  // too, at both DCs: their rows would pile up otherwise (the other end's
  // ID is as unique as a local node's).
  const wire::NodeId a = newest.initiator, b = *newest.responder;
  std::vector<wire::PathId> older;
  for (const state::Path* p : view_.paths_of(a)) {
    if (p->id == newest.id || !p->responder) continue;
    const bool pair = (p->initiator == a && *p->responder == b) ||
                      (p->initiator == b && *p->responder == a);
    // One being re-directed right now ends first; the next one supersedes it.
    if (pair && !directing_.count(p->id)) older.push_back(p->id);
  }
  for (const wire::PathId& id : older) {
    const state::Path* p = view_.find_path(id);
    if (p->relay && !p->relay_endpoint.empty())
      if (state::Party* r = view_.find(*p->relay); r && r->active_paths) r->active_paths--;
    spdlog::debug("direction: path {} superseded by path {} between the same nodes", id.to_hex(),
                  newest.id.to_hex());
    view_.erase_path(id);
    writer_.submit(store::PathDelete{id}, nullptr);
    stats_.paths_superseded++;
  }
}

}  // namespace ntm::dc::control
