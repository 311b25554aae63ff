// SPDX-License-Identifier: MIT
// DC-to-DC federation (docs/federation.md).  DC_MN: a name outside our
// zones is looked up in DNS; a marker sends the direction to the peer DC
// that serves it (Node Info Request/Response), then the Directing state
// machine runs with a Route Forward as its responder step.  DC_CN: answers
// Node Info Requests for its own nodes and turns a Route Forward into a
// Route Direction to CN, with the keys re-sealed to CN.  Every peer message
// is authenticated under that peer's key (federation/peer.hpp); a peer may
// only speak for the zones configured for it.
#include <spdlog/spdlog.h>

#include "control/directing.hpp"
#include "control/redirect_limits.hpp"
#include "state/end_view.hpp"
#include "federation/marker.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

namespace {

// Where the next send of an exchange with a peer's member goes: that member
// (at) for the first two sends, then wherever the peer is reached, should
// the member have gone (Node Info Requests and Route Forwards alike).
wire::Endpoint member_then_peer(const wire::Endpoint& at, unsigned sent,
                                const federation::Peer& peer) {
  const wire::Endpoint reach = peer.reach();
  return !at.empty() && (sent < 2 || reach.empty()) ? at : reach;
}

// The NTMobile marker in a TXT answer, if the lookup succeeded and has one.
std::optional<wire::Endpoint> marker_in(const federation::TxtAnswer& ans) {
  return ans.status == federation::TxtStatus::ok ? federation::find_marker(ans.texts)
                                                 : std::nullopt;
}

// Reasons travel in an Error's Text: printable and at most 160 bytes.
std::string reason_text(std::string s) {
  for (char& c : s)
    if (c < 0x20 || c > 0x7e) c = '?';
  if (s.size() > wire::Text::kMaxLen) s.resize(wire::Text::kMaxLen);
  return s;
}

// The zone a name is probably in, for a message: the name without its
// first label.
std::string parent_of(const std::string& name) {
  const auto dot = name.find('.');
  return dot == std::string::npos ? name : name.substr(dot + 1);
}

bool in_our_zones(const std::string& name, const std::vector<std::string>& zones) {
  for (const auto& z : zones)
    if (federation::under_zone(name, z)) return true;
  return false;
}

route::Placement placement_of(const wire::PeerNode& n) {
  route::Placement pl;
  pl.ntmobile = true;
  pl.online = n.online;
  pl.local = n.local;
  // DC_CN reports the NAT address it observed only for a node behind NAT.
  pl.behind_nat = !n.info.nat.empty();
  pl.observed = pl.behind_nat ? n.info.nat : n.info.real;
  // Not carried by Node Info (protocol.md §7.16): a symmetric NAT at CN is
  // not known to DC_MN.
  pl.symmetric_nat = false;
  return pl;
}

}  // namespace

void Server::send_to_peer(federation::Peer& peer, const wire::Endpoint& to, const wire::Body& body,
                          std::uint32_t txid) {
  send_raw(peer.seal(body, txid), to, false);
}

void Server::refuse_peer(federation::Peer& peer, const wire::Endpoint& to, std::uint32_t txid,
                         wire::MsgType ref, std::string_view why) {
  peer.stats.refused++;
  spdlog::info("federation: refused {} from peer {}: {}", wire::to_string(ref), peer.name(), why);
  send_to_peer(peer, to,
               wire::ErrorReply{wire::ErrorCode::not_authorized, ref,
                                wire::Text{reason_text(std::string(why))}},
               txid);
}

// ---------------------------------------------------------------- DC_MN

void Server::direct_remote(state::Party& mn, const wire::DirectionRequest& req,
                           const wire::ControlHeader& h, const wire::Endpoint& from,
                           const state::Path* existing) {
  auto a = std::make_unique<Asking>(io_);
  a->path_id = req.path_id;
  a->mn_id = mn.id;
  a->target = req.peer.name;
  a->requester = mn.id;
  a->req_txid = h.txid;
  a->req_from = from;
  if (existing) {
    if (existing->state == state::PathState::established) a->previous = *existing;
    a->key_epoch = static_cast<std::uint8_t>(existing->key_epoch + 1);
    // A federated path is re-directed through the peer that made it: its
    // name is known to be that peer's node.
    if ((a->peer = peers_->for_name(existing->responder_fqdn))) return ask_peer(std::move(a));
  }
  asking_[req.path_id] = std::move(a);
  std::weak_ptr<bool> alive = alive_;
  const wire::PathId id = req.path_id;
  txt_resolver_->lookup(req.peer.name, [this, alive, id, req, h,
                                        from](const federation::TxtAnswer& ans) {
    if (alive.expired() || stopped_) return;
    std::unique_ptr<Asking> asked = take_asking(id);
    if (!asked) return;
    state::Party* mnp = view_.find(asked->mn_id);
    if (!mnp) return;
    const auto marker = marker_in(ans);
    if (!marker) {
      // No marker (NXDOMAIN, NODATA, other TXT) or no answer: the name is
      // treated as a general host, whose own lookup decides (docs/federation.md).
      spdlog::debug("federation: {}: no NTMobile marker ({}): a general host", asked->target,
                    federation::to_string(ans.status));
      return direct_general(*mnp, req, h, from);
    }
    federation::Peer* peer = peers_->for_name(asked->target);
    if (!peer && trust_) {
      // No configured peer and none known by certificate yet: the DC the
      // marker names becomes one if our CA vouches for it (greeting.cpp).
      const wire::Endpoint at = *marker;
      const std::string target = asked->target;
      asking_[id] = std::move(asked);
      return greet_for(at, target, [this, alive = std::weak_ptr<bool>(alive_), id](
                                       federation::Peer* p, const std::string& why) {
        if (alive.expired() || stopped_ || !asking_.count(id)) return;
        if (!p) return fail_asking(id, wire::ErrorCode::peer_dc_failed, reason_text(why));
        std::unique_ptr<Asking> greeted = take_asking(id);
        greeted->peer = p;
        ask_peer(std::move(greeted));
      });
    }
    if (!peer) {
      stats_.directions_failed++;
      send_error(*mnp, from, h.txid, wire::ErrorCode::peer_dc_failed,
                 wire::MsgType::direction_request,
                 reason_text("no trust configured for " + parent_of(asked->target)));
      return;
    }
    // Configured endpoints win over DNS; the channel is authenticated
    // either way, so a forged marker can only make the exchange time out.
    if (peer->config().endpoints.empty()) peer->learn(*marker);
    asked->peer = peer;
    ask_peer(std::move(asked));
  });
}

void Server::greet_for(const wire::Endpoint& at, const std::string& name, Greeted done) {
  greet(at, [name, at, done = std::move(done)](federation::Peer* p, const std::string& why) {
    if (!p) return done(nullptr, why);
    if (!p->serves(name))
      return done(nullptr, "the certificate of the DC at " + at.to_string() + " does not name " +
                               parent_of(name));
    if (p->config().endpoints.empty()) p->learn(at);
    done(p, "");
  });
}

std::unique_ptr<Server::Asking> Server::take_asking(const wire::PathId& id) {
  auto it = asking_.find(id);
  if (it == asking_.end()) return nullptr;
  std::unique_ptr<Asking> a = std::move(it->second);
  asking_.erase(it);
  return a;
}

void Server::ask_peer(std::unique_ptr<Asking> a) {
  if (a->ask_at.empty() && a->peer->endpoint().empty() && !a->looked_up && txt_resolver_) {
    // A peer without configured endpoints is found through its marker in
    // DNS; this process has not looked it up since it started (a
    // re-direction of a path loaded at start, or made by another member of
    // the cluster): the CN's name leads to it, as for a new direction.
    a->looked_up = true;
    const wire::PathId id = a->path_id;
    const std::string target = a->target;
    asking_[id] = std::move(a);
    txt_resolver_->lookup(target, [this, alive = std::weak_ptr<bool>(alive_),
                                   id](const federation::TxtAnswer& ans) {
      if (alive.expired() || stopped_) return;
      std::unique_ptr<Asking> asked = take_asking(id);
      if (!asked) return;
      const auto marker = marker_in(ans);
      if (marker && asked->peer->config().endpoints.empty()) asked->peer->learn(*marker);
      ask_peer(std::move(asked));
    });
    return;
  }
  a->resolving = false;
  a->txid = next_txid();
  a->backoff_ms = cfg_.federation.peer_retransmit_ms;
  a->deadline_ms = common::mono_ms() + cfg_.federation.peer_timeout_ms;
  state::Party* mn = view_.find(a->mn_id);
  if (!mn) return;
  a->request = wire::NodeInfoRequest{wire::Fqdn{a->target}, wire::Fqdn{mn->name}};
  Asking& ref = *a;
  const wire::PathId id = a->path_id;
  asking_[id] = std::move(a);
  if (ref.ask_at.empty() && ref.peer->endpoint().empty())
    return fail_asking(id, wire::ErrorCode::peer_dc_failed, "peer DC endpoint unknown");
  send_asking(ref);
  arm_asking(ref);
}

void Server::send_asking(Asking& a) {
  const wire::Endpoint to = member_then_peer(a.ask_at, a.sends, *a.peer);
  if (a.sends++ == 0)
    spdlog::debug("federation: path {}: asking peer {} at {} about {}", a.path_id.to_hex(),
                  a.peer->name(), to.to_string(), a.target);
  else
    nudge(*a.peer, to);
  send_to_peer(*a.peer, to, a.request, a.txid);
}

void Server::arm_asking(Asking& a) {
  a.timer.expires_after(std::chrono::milliseconds(a.backoff_ms));
  const wire::PathId id = a.path_id;
  a.timer.async_wait([this, id](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    auto it = asking_.find(id);
    if (it == asking_.end() || it->second->resolving) return;
    Asking& aa = *it->second;
    const std::uint64_t now = common::mono_ms();
    if (now >= aa.deadline_ms) {
      aa.peer->stats.timeouts++;
      return fail_asking(id, wire::ErrorCode::peer_dc_failed,
                         reason_text("peer DC " + aa.peer->name() + " did not answer"));
    }
    stats_.retransmissions++;
    send_asking(aa);
    aa.backoff_ms = static_cast<unsigned>(
        std::min<std::uint64_t>(std::uint64_t{aa.backoff_ms} * 2, aa.deadline_ms - now));
    arm_asking(aa);
  });
}

void Server::fail_asking(const wire::PathId& id, wire::ErrorCode code, std::string_view reason) {
  std::unique_ptr<Asking> a = take_asking(id);
  if (!a) return;
  a->timer.cancel();
  stats_.directions_failed++;
  // Posted: a Path Moved taken meanwhile asks the peer again, after this.
  asio::post(io_, [this, id, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.expired() && !stopped_) moved_while_busy(id);
  });
  if (!a->requester) {
    spdlog::warn("federation: re-direction of path {} after a move failed ({}): it stays {}",
                 id.to_hex(), reason,
                 a->previous ? wire::to_string(a->previous->route) : std::string_view("-"));
    return;
  }
  if (state::Party* mn = view_.find(*a->requester))
    send_error(*mn, a->req_from, a->req_txid, code, wire::MsgType::direction_request, reason);
}

void Server::on_node_info_response(federation::Peer& peer, const wire::NodeInfoResponse& resp,
                                   std::uint32_t txid, const wire::Endpoint& from) {
  Asking* a = nullptr;
  for (auto& [id, x] : asking_)
    if (!x->resolving && x->txid == txid) a = x.get();
  if (!a) return void(peer.stats.unexpected++);  // late, duplicate, or never asked
  if (a->peer != &peer) return void(peer.stats.refused++);  // answers a question put to another DC
  const wire::PathId id = a->path_id;
  if (resp.target.name != a->target) {
    peer.stats.refused++;
    return fail_asking(id, wire::ErrorCode::peer_dc_failed, "peer DC answered for another name");
  }
  if (!resp.node)
    return fail_asking(id, wire::ErrorCode::no_such_name, "no NTMobile node of that name");
  const wire::PeerNode& n = *resp.node;
  if (n.info.fqdn.name != a->target || n.info.node_id.is_zero() || n.info.vip.addr == 0 ||
      !peer.serves(n.info.fqdn.name)) {
    peer.stats.refused++;
    return fail_asking(id, wire::ErrorCode::peer_dc_failed, "peer DC gave an unusable answer");
  }
  std::unique_ptr<Asking> owned = take_asking(id);
  if (!owned) return;  // checked above; defensive
  owned->timer.cancel();
  state::Party* mn = view_.find(owned->mn_id);
  if (!mn || directing_.count(id)) return;
  const route::Placement cn_pl = placement_of(n);
  if (owned->after_move && owned->previous) {
    // As for a local path (reconsider()): only when the nodes' own NTM
    // Updates cannot carry MN's move.
    route::Policy policy;
    policy.same_network_prefix_len = cfg_.same_network_prefix_len;
    policy.relay_available = pick_relay({}) != nullptr;
    const route::Placement ip = placement(*mn);
    const route::Decision dec = route::decide(ip, cn_pl, policy);
    if (!route::redirect_after_move(owned->previous->route, dec, ip, cn_pl,
                                    owned->initiator_moved, !owned->initiator_moved)) {
      spdlog::debug("federation: path {} stays {} after a move of {}", id.to_hex(),
                    wire::to_string(owned->previous->route),
                    owned->initiator_moved ? mn->name : owned->target);
      return moved_while_busy(id);
    }
    stats_.redirects_on_move++;
  }
  auto d = std::make_unique<Directing>(io_);
  d->path.id = id;
  d->path.initiator = mn->id;
  d->path.responder = n.info.node_id;
  d->path.responder_fqdn = owned->target;
  d->path.remote = true;
  d->path.key_epoch = owned->key_epoch;
  if (owned->previous) {
    d->path.created_ms = owned->previous->created_ms;
    d->path.asked[0] = owned->previous->asked[0];
    d->path.asked[1] = owned->previous->asked[1];
    std::copy(std::begin(owned->previous->peer_view), std::end(owned->previous->peer_view),
              std::begin(d->path.peer_view));
    d->previous = *owned->previous;
  }
  // The CN as its DC describes it: route_direction_for and the relay's
  // direction take the responder from here when it is not in the view.
  d->general = n.info;
  d->mn_id = mn->id;
  d->requester = owned->requester;
  d->req_txid = owned->req_txid;
  d->req_from = owned->req_from;
  d->rekey = owned->rekey;
  d->remote.emplace();
  d->remote->peer = &peer;
  d->remote->at = from;
  begin_direction(std::move(d), nullptr, cn_pl);
}

void Server::forward_to_peer(Directing& d) {
  federation::Peer& peer = *d.remote->peer;
  state::Party* mn = view_.find(d.mn_id);
  if (!mn) return fail_direction(d.path.id, wire::ErrorCode::peer_unreachable, "initiator removed");
  // route_direction_for fills the fields as for a local responder; the keys
  // it sealed (to MN, the recipient it was given) are replaced by copies
  // sealed to the peer DC, which re-seals them to CN.
  wire::RouteDirection rd = route_direction_for(d, *mn, wire::PathEnd::responder);
  rd.path_key = peer.seal_key(d.path_key, d.path.id, d.path.key_epoch, wire::SealedKind::path_key);
  if (rd.relay_key)
    rd.relay_key =
        peer.seal_key(d.relay_key, d.path.id, d.path.key_epoch, wire::SealedKind::relay_key);
  d.to = *d.path.responder;
  d.body = wire::RouteForward{*d.path.responder, rd};
  // DC_CN directs CN within its own direction timeout, then answers: wait
  // for that and one peer exchange more.
  d.deadline_ms =
      common::mono_ms() + cfg_.direction_timeout_ms + cfg_.federation.peer_timeout_ms;
  send_forward(d);
  arm_retransmit(d);
}

void Server::send_forward(Directing& d) {
  Directing::Remote& r = *d.remote;
  const wire::Endpoint to = member_then_peer(r.at, r.forwards, *r.peer);
  if (r.forwards++ > 0) nudge(*r.peer, to);
  send_to_peer(*r.peer, to, d.body, d.txid);
}

void Server::on_route_forward_ack(federation::Peer& peer, const wire::RouteForwardAck& ack) {
  auto it = directing_.find(ack.path_id);
  if (it == directing_.end()) return void(peer.stats.unexpected++);  // late or duplicate
  Directing& d = *it->second;
  if (!d.forwarding_to_peer() || ack.key_epoch != d.path.key_epoch)
    return void(peer.stats.unexpected++);
  if (d.remote->peer != &peer) return void(peer.stats.refused++);
  if (ack.status != wire::Status::ok)
    return fail_direction(d.path.id, wire::ErrorCode::peer_unreachable, "peer refused the path");
  d.timer.cancel();
  d.step = Directing::Step::initiator;
  advance(d);
}

void Server::on_peer_error(federation::Peer& peer, const wire::ErrorReply& err,
                           std::uint32_t txid) {
  const std::string why = reason_text("peer DC " + peer.name() + ": " + err.reason.value);
  // The ids are copied out of the maps: failing erases the entry.
  std::optional<wire::PathId> hit;
  if (err.ref_type == wire::MsgType::node_info_request) {
    for (const auto& [id, a] : asking_)
      if (!a->resolving && a->txid == txid && a->peer == &peer) hit = id;
    if (hit) return fail_asking(*hit, wire::ErrorCode::peer_dc_failed, why);
  } else if (err.ref_type == wire::MsgType::path_moved) {
    for (const auto& [id, t] : telling_)
      if (t->txid == txid && t->peer == &peer) hit = id;
    if (hit) return end_telling(*hit, why);
  } else if (err.ref_type == wire::MsgType::path_release) {
    // A release we told of, refused (the peer no longer has the path):
    // nothing waits for it.
    spdlog::debug("federation: {}", why);
    return;
  } else if (err.ref_type == wire::MsgType::route_forward) {
    for (const auto& [id, d] : directing_)
      if (d->forwarding_to_peer() && d->txid == txid && d->remote->peer == &peer) hit = id;
    if (hit)
      return fail_direction(*hit,
                            err.code == wire::ErrorCode::peer_unreachable
                                ? wire::ErrorCode::peer_unreachable
                                : wire::ErrorCode::peer_dc_failed,
                            why);
  }
  peer.stats.unexpected++;
}

void Server::reask(const state::Path& p, bool initiator_moved, bool redirect, bool rekey,
                   const wire::Endpoint& at) {
  federation::Peer* peer = peers_ ? peers_->for_name(p.responder_fqdn) : nullptr;
  if (!peer && trust_ && !asking_.count(p.id)) {
    // A peer known by certificate, but not to this process yet (a restart,
    // or a member it never greeted): found and greeted, then asked.
    return find_peer(p.responder_fqdn, [this, id = p.id, initiator_moved, redirect, rekey, at](
                                           federation::Peer* found, const std::string& why) {
      if (stopped_) return;
      const state::Path* q = view_.find_path(id);
      if (!found) {
        spdlog::warn("federation: path {}: cannot ask the peer DC again: {}", id.to_hex(), why);
        return;
      }
      if (q) reask(*q, initiator_moved, redirect, rekey, at);
    });
  }
  if (!peer || asking_.count(p.id)) return;
  auto a = std::make_unique<Asking>(io_);
  a->path_id = p.id;
  a->mn_id = p.initiator;
  a->target = p.responder_fqdn;
  a->previous = p;
  a->after_move = !redirect;
  a->initiator_moved = initiator_moved;
  a->rekey = rekey;
  a->key_epoch = static_cast<std::uint8_t>(p.key_epoch + 1);
  a->peer = peer;
  a->ask_at = at;
  ask_peer(std::move(a));
}

void Server::on_path_moved(federation::Peer& peer, const wire::PathMoved& m, std::uint32_t txid,
                           const wire::Endpoint& from) {
  state::Path* p = view_.find_path(m.path_id);
  // One answer whether the path is missing or another's: a peer learns
  // nothing about paths that are not its own.
  if (!p || !p->remote || !p->responder || p->responder_fqdn != m.responder.name ||
      !view_.find(p->initiator) || peers_->for_name(p->responder_fqdn) != &peer)
    return refuse_peer(peer, from, txid, wire::MsgType::path_moved, "no such path of yours");
  const wire::PathMovedAck ack{m.path_id};
  // A retransmission whose ack was lost: taken once.
  if (was_asked(*p, *p->responder, txid)) return send_to_peer(peer, from, ack, txid);
  // Being directed or asked about: acknowledged, and acted on when that
  // ends (moved_while_busy), for CN as it is by then.  Left unacknowledged,
  // it would be lost to a direction longer than the peer's own timeout
  // (direction_timeout_ms is twice peer_timeout_ms by default).
  const bool busy = directing_.count(p->id) || asking_.count(p->id);
  // Half-directed and left so (a restart): its initiator asks again.
  if (!busy && p->state != state::PathState::established) return;
  note_asked(*p, *p->responder, txid);
  send_to_peer(peer, from, ack, txid);
  if (busy) {
    MovedLater& later = moved_later_[p->id];
    later.redirect = later.redirect || m.redirect;
    later.from = from;
    if (m.redirect) stats_.redirects_requested++;
    spdlog::debug("federation: path {}: peer {} tells {} {}; taken when the path's direction ends",
                  p->id.to_hex(), peer.name(), m.responder.name,
                  m.redirect ? "asks for a re-direction" : "moved");
    return;
  }
  spdlog::debug("federation: path {}: peer {} tells {} {}", p->id.to_hex(), peer.name(),
                m.responder.name, m.redirect ? "asks for a re-direction" : "moved");
  if (m.redirect) stats_.redirects_requested++;
  // Asked at the member that told: CN registered there (docs/federation.md, "CN moves").
  reask(*p, /*initiator_moved=*/false, m.redirect, /*rekey=*/false, from);
}

void Server::moved_while_busy(const wire::PathId& id) {
  auto it = moved_later_.find(id);
  if (it == moved_later_.end() || directing_.count(id) || asking_.count(id)) return;
  const MovedLater later = it->second;
  moved_later_.erase(it);
  const state::Path* p = view_.find_path(id);
  if (!p || !p->remote || p->state != state::PathState::established) return;  // gone meanwhile
  spdlog::debug("federation: path {}: now asking about {}, who moved during its direction",
                id.to_hex(), p->responder_fqdn);
  reask(*p, /*initiator_moved=*/false, later.redirect, /*rekey=*/false, later.from);
}

// ---------------------------------------------------------------- DC_CN

bool Server::tell_peer_of_move(const state::Path& p, bool redirect, const state::Party* requester,
                               std::uint32_t txid, const wire::Endpoint& from) {
  federation::Peer* peer =
      peers_ && !p.initiator_fqdn.empty() ? peers_->for_name(p.initiator_fqdn) : nullptr;
  if (!peer && trust_ && !p.initiator_fqdn.empty()) {
    // DC_MN was known by certificate, but not to this process (a restart,
    // or a member of the cluster it never greeted): the initiator's marker
    // leads to it, and a greeting makes it a peer again.
    greet_initiator_dc(p, redirect, requester, txid, from);
    return true;
  }
  if (!peer) {
    // A row from before migration 0005, or a peer no longer configured:
    // the nodes' dead-path detection re-directs through DC_MN instead.
    spdlog::debug("federation: path {}: no peer DC known for '{}'; not told of {}'s move",
                  p.id.to_hex(), p.initiator_fqdn, p.responder_fqdn);
    return false;
  }
  if (auto it = telling_.find(p.id); it != telling_.end()) {
    // One in flight: it carries this one too.  A request turns it into one
    // that re-directs, and a new requester is the one answered.
    Telling& t = *it->second;
    if (redirect && !t.body.redirect) {
      t.body.redirect = true;
      t.txid = next_txid();  // a new message: a different answer is due
      if (t.deadline_ms) send_to_peer(*t.peer, t.peer->reach(), t.body, t.txid);
    }
    if (requester) {
      t.requester = requester->id;
      t.req_txid = txid;
      t.req_from = from;
    }
    return true;
  }
  auto t = std::make_unique<Telling>(io_);
  t->peer = peer;
  t->body = wire::PathMoved{p.id, wire::Fqdn{p.responder_fqdn}, redirect};
  t->txid = next_txid();
  if (requester) {
    t->requester = requester->id;
    t->req_txid = txid;
    t->req_from = from;
  }
  Telling& ref = *t;
  telling_[p.id] = std::move(t);
  if (!peer->reach().empty() || !txt_resolver_) {
    send_telling(ref);
    return true;
  }
  // Neither configured nor heard from since this process started (a
  // restart, or a member of the cluster the peer never spoke to): found
  // through the marker of the initiator's name, as ask_peer does.
  txt_resolver_->lookup(p.initiator_fqdn, [this, alive = std::weak_ptr<bool>(alive_),
                                           id = p.id](const federation::TxtAnswer& ans) {
    if (alive.expired() || stopped_) return;
    auto it = telling_.find(id);
    if (it == telling_.end()) return;
    Telling& tt = *it->second;
    const auto marker = marker_in(ans);
    if (marker && tt.peer->config().endpoints.empty()) tt.peer->learn(*marker);
    send_telling(tt);
  });
  return true;
}

void Server::greet_initiator_dc(const state::Path& p, bool redirect,
                                const state::Party* requester, std::uint32_t txid,
                                const wire::Endpoint& from) {
  std::optional<wire::NodeId> asker;
  if (requester) asker = requester->id;
  find_peer(p.initiator_fqdn, [this, id = p.id, redirect, asker, txid, from](
                                  federation::Peer* peer, const std::string& why) {
    if (stopped_) return;
    if (!peer) {
      spdlog::info("federation: path {}: cannot tell the initiator's DC: {}", id.to_hex(), why);
      if (state::Party* r = asker ? view_.find(*asker) : nullptr)
        send_error(*r, from, txid, wire::ErrorCode::peer_dc_failed,
                   wire::MsgType::direction_request, reason_text(why));
      return;
    }
    const state::Path* path = view_.find_path(id);
    if (!path) return;  // gone meanwhile
    tell_peer_of_move(*path, redirect, asker ? view_.find(*asker) : nullptr, txid, from);
  });
}

void Server::send_telling(Telling& t) {
  const wire::PathId id = t.body.path_id;
  if (t.peer->reach().empty()) return end_telling(id, "peer DC endpoint unknown");
  t.backoff_ms = cfg_.federation.peer_retransmit_ms;
  t.deadline_ms = common::mono_ms() + cfg_.federation.peer_timeout_ms;
  spdlog::debug("federation: path {}: telling peer {} at {} that {} {}", id.to_hex(),
                t.peer->name(), t.peer->reach().to_string(), t.body.responder.name,
                t.body.redirect ? "asks for a re-direction" : "moved");
  send_to_peer(*t.peer, t.peer->reach(), t.body, t.txid);
  arm_telling(t);
}

void Server::arm_telling(Telling& t) {
  t.timer.expires_after(std::chrono::milliseconds(t.backoff_ms));
  const wire::PathId id = t.body.path_id;
  t.timer.async_wait([this, id](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    auto it = telling_.find(id);
    if (it == telling_.end()) return;
    Telling& tt = *it->second;
    const std::uint64_t now = common::mono_ms();
    if (now >= tt.deadline_ms) {
      tt.peer->stats.timeouts++;
      return end_telling(id, reason_text("peer DC " + tt.peer->name() + " did not answer"));
    }
    stats_.retransmissions++;
    nudge(*tt.peer, tt.peer->reach());
    send_to_peer(*tt.peer, tt.peer->reach(), tt.body, tt.txid);
    tt.backoff_ms = static_cast<unsigned>(
        std::min<std::uint64_t>(std::uint64_t{tt.backoff_ms} * 2, tt.deadline_ms - now));
    arm_telling(tt);
  });
}

void Server::end_telling(const wire::PathId& id, std::string_view failure) {
  auto it = telling_.find(id);
  if (it == telling_.end()) return;
  std::unique_ptr<Telling> t = std::move(it->second);
  telling_.erase(it);
  t->timer.cancel();
  if (failure.empty()) return;
  spdlog::warn("federation: path {}: peer {} not told of {}'s move: {}", id.to_hex(),
               t->peer->name(), t->body.responder.name, failure);
  if (!t->requester) return;
  stats_.directions_failed++;
  if (state::Party* cn = view_.find(*t->requester))
    send_error(*cn, t->req_from, t->req_txid, wire::ErrorCode::peer_dc_failed,
               wire::MsgType::direction_request, failure);
}

void Server::on_path_moved_ack(federation::Peer& peer, const wire::PathMovedAck& ack,
                               std::uint32_t txid) {
  auto it = telling_.find(ack.path_id);
  if (it == telling_.end() || it->second->txid != txid) return void(peer.stats.unexpected++);
  if (it->second->peer != &peer) return void(peer.stats.refused++);
  // Taken: DC_MN's Route Forward, if the route changes, answers CN.
  end_telling(ack.path_id, {});
}

void Server::on_node_info_request(federation::Peer& peer, const wire::NodeInfoRequest& req,
                                  std::uint32_t txid, const wire::Endpoint& from) {
  // A peer asks on behalf of its own nodes, about ours.
  if (!peer.serves(req.requester.name))
    return refuse_peer(peer, from, txid, wire::MsgType::node_info_request,
                       "requester is outside your zones");
  if (!in_our_zones(req.target.name, cfg_.zones))
    return refuse_peer(peer, from, txid, wire::MsgType::node_info_request,
                       "name is outside this DC's zones");
  wire::NodeInfoResponse resp;
  resp.target = req.target;
  if (state::Party* cn = view_.find_node(req.target.name)) {
    wire::PeerNode n;
    n.info = cn->info(cfg_.advertise);
    n.online = cn->online;
    n.local = cn->local;
    if (n.local.size() > wire::kMaxEndpoints) n.local.resize(wire::kMaxEndpoints);
    resp.node = std::move(n);
    // As after a DNS lookup of it: a Route Forward is likely to follow, so
    // CN refreshes its NAT binding now.
    prompt(cn->name);
  }
  spdlog::debug("federation: peer {} asked about {} for {}: {}", peer.name(), req.target.name,
                req.requester.name, resp.node ? "known" : "no such node");
  send_to_peer(peer, from, resp, txid);
}

void Server::on_route_forward(federation::Peer& peer, const wire::RouteForward& fwd,
                              std::uint32_t txid, const wire::Endpoint& from) {
  const wire::RouteDirection& rd = fwd.direction;
  auto refuse = [&](std::string_view why) {
    refuse_peer(peer, from, txid, wire::MsgType::route_forward, why);
  };
  if (rd.you_are != wire::PathEnd::responder || rd.responder.node_id != fwd.target)
    return refuse("not a Route Direction for the responder it names");
  if (!peer.serves(rd.initiator.fqdn.name)) return refuse("initiator is outside your zones");
  state::Party* cn = view_.find(fwd.target);
  if (!cn || cn->kind != state::PartyKind::node || cn->name != rd.responder.fqdn.name ||
      !in_our_zones(cn->name, cfg_.zones))
    return refuse("no such node at this DC");
  // A retransmission of a Route Forward already answered: the same answer.
  if (auto f = forwarded_.find(rd.path_id); f != forwarded_.end()) {
    if (f->second.key_epoch == rd.key_epoch && common::mono_ms() - f->second.mono_ms < 30'000)
      return send_to_peer(peer, from, f->second.ack, txid);
    forwarded_.erase(f);
  }
  if (auto it = directing_.find(rd.path_id); it != directing_.end()) {
    Directing& d = *it->second;
    if (d.remote && d.remote->forwarded && d.remote->peer == &peer &&
        d.path.key_epoch == rd.key_epoch) {
      // Running: answered when CN acknowledges, to the latest copy.
      d.remote->peer_txid = txid;
      d.remote->peer_from = from;
      return;
    }
    return refuse("path ID in use");
  }
  std::optional<state::Path> previous;
  if (const state::Path* existing = view_.find_path(rd.path_id)) {
    if (!existing->remote || !existing->responder || *existing->responder != cn->id ||
        existing->initiator != rd.initiator.node_id)
      return refuse("path ID in use");
    if (existing->state == state::PathState::established) previous = *existing;
  }
  auto d = std::make_unique<Directing>(io_);
  if (peer.open_key(rd.path_key, rd.path_id, rd.key_epoch, wire::SealedKind::path_key,
                    d->path_key) != wire::Error::ok ||
      (rd.relay_key && peer.open_key(*rd.relay_key, rd.path_id, rd.key_epoch,
                                     wire::SealedKind::relay_key, d->relay_key) != wire::Error::ok))
    return refuse("a sealed key does not open");
  if (!cn->online) {
    send_to_peer(peer, from,
                 wire::ErrorReply{wire::ErrorCode::peer_unreachable, wire::MsgType::route_forward,
                                  wire::Text{"node is offline"}},
                 txid);
    return;
  }
  d->path.id = rd.path_id;
  d->path.initiator = rd.initiator.node_id;
  d->path.responder = cn->id;
  d->path.responder_fqdn = cn->name;
  d->path.initiator_fqdn = rd.initiator.fqdn.name;  // whose DC to tell when CN moves
  d->path.route = rd.route;
  d->path.first = rd.first;
  d->path.relay_endpoint = rd.relay;  // a relay of DC_MN's, not in our view
  d->path.key_epoch = rd.key_epoch;
  d->path.state = state::PathState::directing;
  d->path.remote = true;
  d->path.updated_ms = common::wall_ms();
  d->path.created_ms = previous ? previous->created_ms : d->path.updated_ms;
  d->path.directed_seq = placement_seq_;
  // CN's address for MN: MN's VIP comes from another DC's pool and may
  // clash with CN's own VIP or another of its peers (docs/dc.md §8.5).
  // DC_MN chose MN's view; CN's is this DC's to choose, kept across
  // re-directions as for a local path.
  if (const std::string why =
          state::assign_peer_views(view_, d->path, 0, cfg_, rd.initiator.vip.addr);
      !why.empty())
    return refuse(why);
  d->previous = previous;
  if (previous) {
    // CN's redirect requests already taken stay known: a retransmission
    // that crosses this direction is not passed on again.
    d->path.asked[0] = previous->asked[0];
    d->path.asked[1] = previous->asked[1];
  }
  d->mn_id = rd.initiator.node_id;
  d->remote.emplace();
  d->remote->peer = &peer;
  d->remote->forwarded = true;
  d->remote->direction = rd;
  d->remote->peer_txid = txid;
  d->remote->peer_from = from;
  d->step = Directing::Step::responder;
  d->deadline_ms = common::mono_ms() + cfg_.direction_timeout_ms;
  spdlog::debug("federation: path {} {} -> {}: forwarded by peer {}, {}", rd.path_id.to_hex(),
                rd.initiator.fqdn.name, cn->name, peer.name(), wire::to_string(rd.route));
  Directing& ref = *d;
  directing_[rd.path_id] = std::move(d);
  view_.put_path(ref.path);
  advance(ref);
}

wire::RouteDirection Server::forwarded_direction(Directing& d, state::Party& cn) {
  // DC_MN's Route Direction as it came, with CN as this DC knows it now and
  // the keys sealed to CN.
  wire::RouteDirection rd = d.remote->direction;
  rd.responder = cn.info(cfg_.advertise);
  if (d.path.peer_view[1]) rd.peer_view.addr = d.path.peer_view[1];
  wire::KeyWrapper& wrap = wrapper_for(cn);
  rd.path_key = wrap.seal(d.path_key, d.path.id, d.path.key_epoch, wire::SealedKind::path_key);
  if (rd.relay_key)
    rd.relay_key = wrap.seal(d.relay_key, d.path.id, d.path.key_epoch, wire::SealedKind::relay_key);
  return rd;
}

void Server::answer_forward(const Directing& d, wire::Status status, const wire::Endpoint& local) {
  federation::Peer& peer = *d.remote->peer;
  wire::RouteForwardAck ack{d.path.id, d.path.key_epoch, status, local};
  forwarded_[d.path.id] = Forwarded{d.path.key_epoch, ack, common::mono_ms()};
  // Bounded: answers older than a peer's retransmissions are of no use.
  if (forwarded_.size() > 4096)
    std::erase_if(forwarded_, [now = common::mono_ms()](const auto& kv) {
      return now - kv.second.mono_ms >= 30'000;
    });
  send_to_peer(peer, d.remote->peer_from, ack, d.remote->peer_txid);
}

// ---------------------------------------------------------------- receive

void Server::on_peer_datagram(std::span<const std::uint8_t> data, const wire::ControlHeader& h,
                              const wire::Endpoint& from) {
  // In clear, under no key: certificates (greeting.cpp).
  if (h.common.type == wire::MsgType::peer_hello) return on_peer_hello(data, from);
  federation::Peer* peer = peers_ ? peers_->by_header(h.common) : nullptr;
  if (!peer) return;  // the receiver checked; defensive
  wire::Received msg;
  if (wire::Error e = peer->open(data, msg); e != wire::Error::ok) {
    spdlog::debug("federation: drop from {} (peer {}): {}", from.to_string(), peer->name(),
                  wire::to_string(e));
    return;
  }
  peer->heard_from(from);
  if (!peer->rate.allow(common::mono_ms(), cfg_.rate_per_peer)) {
    peer->stats.rate_limited++;
    return;
  }
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, wire::NodeInfoRequest>) {
          on_node_info_request(*peer, body, msg.header.txid, from);
        } else if constexpr (std::is_same_v<T, wire::NodeInfoResponse>) {
          on_node_info_response(*peer, body, msg.header.txid, from);
        } else if constexpr (std::is_same_v<T, wire::RouteForward>) {
          on_route_forward(*peer, body, msg.header.txid, from);
        } else if constexpr (std::is_same_v<T, wire::RouteForwardAck>) {
          on_route_forward_ack(*peer, body);
        } else if constexpr (std::is_same_v<T, wire::PathMoved>) {
          on_path_moved(*peer, body, msg.header.txid, from);
        } else if constexpr (std::is_same_v<T, wire::PathMovedAck>) {
          on_path_moved_ack(*peer, body, msg.header.txid);
        } else if constexpr (std::is_same_v<T, wire::PathRelease>) {
          on_peer_path_release(*peer, body, msg.header.txid, from);
        } else if constexpr (std::is_same_v<T, wire::PathReleaseAck>) {
          // The peer forgot the path too; nothing waits for it.
        } else if constexpr (std::is_same_v<T, wire::ErrorReply>) {
          on_peer_error(*peer, body, msg.header.txid);
        } else {
          peer->stats.unexpected++;
        }
      },
      msg.body);
}

void Server::start_federation() {
  if (!cfg_.federation.enabled) return;
  peers_ = std::make_unique<federation::PeerTable>(cfg_);
  keys_.set_peers(peers_.get());
  federation::TxtResolver::Options o;
  o.server = cfg_.federation.resolver.empty() ? federation::system_resolver()
                                              : cfg_.federation.resolver;
  o.timeout_ms = cfg_.federation.dns_timeout_ms;
  o.tries = cfg_.federation.dns_tries;
  o.cache_size = cfg_.federation.dns_cache_size;
  txt_resolver_ = std::make_unique<federation::TxtResolver>(io_, o);
  if (cfg_.federation.certificates()) {
    // Throws (the DC does not start) when our own certificate would not
    // pass at a peer: better at start than at every peer's first hello.
    trust_ = std::make_unique<federation::CertificateTrust>(cfg_);
    keys_.take_hellos(true);
    spdlog::info("federation: peers by certificate of {} ({} bytes of ours), DNS pin {}",
                 cfg_.federation.ca_file.string(), trust_->own_certificate().size(),
                 cfg_.federation.pin_dns ? "on" : "off");
  }
  spdlog::info("federation: {} peer(s), resolver {}", peers_->all().size(), o.server.to_string());
}

void Server::stop_federation() {
  if (txt_resolver_) txt_resolver_->stop();
  asking_.clear();
  telling_.clear();
  greeting_.clear();
}

void Server::log_federation_stats() const {
  if (!peers_) return;
  const auto& r = txt_resolver_->stats();
  spdlog::info("federation: dns queries={} retries={} cache_hits={} timeouts={} ignored={} "
               "failed={}",
               r.queries, r.retries, r.cache_hits, r.timeouts, r.ignored, r.failed);
  if (trust_)
    spdlog::info("federation: hellos={} admitted={} refused={} bad={} rate_limited={} "
                 "timeouts={}",
                 greeting_stats_.hellos, greeting_stats_.admitted, greeting_stats_.refused,
                 greeting_stats_.bad, greeting_stats_.rate_limited, greeting_stats_.timeouts);
  for (const auto& p : peers_->all())
    spdlog::info("federation: peer {} received={} sent={} auth_failed={} replayed={} stale={} "
                 "bad={} refused={} unexpected={} timeouts={} rate_limited={}",
                 p->name(), p->stats.received, p->stats.sent, p->stats.auth_failed,
                 p->stats.replayed, p->stats.stale, p->stats.bad, p->stats.refused,
                 p->stats.unexpected, p->stats.timeouts, p->stats.rate_limited);
}

}  // namespace ntm::dc::control
