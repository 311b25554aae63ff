// SPDX-License-Identifier: MIT
// From a name to a path: Direction Request, the DC's Route Direction, its
// ack, and the answers to the resolver (docs/data-plane.md §3, §5).
#include <spdlog/spdlog.h>

#include "agent/agent_internal.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace ntm::node {

void Agent::resolve(const std::string& fqdn, ResolveDone done) {
  wire::Fqdn name;
  if (!wire::Fqdn::canonicalize(fqdn, name)) {
    done({Resolution::Kind::nxdomain, 0});
    return;
  }
  if (name == cfg_.fqdn) {  // ourselves: our own VIP, no path
    if (registered_) done({Resolution::Kind::address, reg_.vip.addr});
    else done({Resolution::Kind::servfail, 0});
    return;
  }
  // An existing path to that name (either end started it).
  for (auto& [id, p] : paths_) {
    if (p->info.peer.fqdn != name || p->info.state == PathState::failed) continue;
    if (p->info.state == PathState::up) done({Resolution::Kind::address, p->info.peer_view});
    else p->waiters.push_back(std::move(done));
    return;
  }
  if (auto it = lookups_.find(name.name); it != lookups_.end()) {
    it->second->waiters.push_back(std::move(done));
    return;
  }
  auto l = std::make_unique<Lookup>(io_);
  l->fqdn = name.name;
  wire::random_bytes(l->path.bytes);
  l->started_ms = common::mono_ms();
  l->waiters.push_back(std::move(done));
  Lookup& ref = *l;
  lookups_[name.name] = std::move(l);
  spdlog::info("direction: {} requested (path {})", name.name, ref.path.to_hex().substr(0, 8));
  send_direction_request(ref);
}

// Sends, and re-sends every second while no Route Direction came: the DC
// ignores duplicates of a request it is working on.  The resolver's bound
// ends the wait for the application; the lookup ends after the same bound.
void Agent::send_direction_request(Lookup& l) {
  if (registered_) l.txid = send_dc(wire::DirectionRequest{l.path, wire::Fqdn{l.fqdn}, false}, l.txid);
  l.retry.expires_after(std::chrono::milliseconds(kDirectionRetryMs));
  l.retry.async_wait([this, name = l.fqdn, alive = std::weak_ptr<bool>(alive_)](
                         const boost::system::error_code& ec) {
    if (ec || alive.expired()) return;
    auto it = lookups_.find(name);
    if (it == lookups_.end()) return;
    if (common::mono_ms() - it->second->started_ms >= cfg_.tunnel_wait_ms) {
      spdlog::warn("direction: {}: no Route Direction within {} ms", name, cfg_.tunnel_wait_ms);
      fail_lookup(name, Resolution::Kind::servfail);
      return;
    }
    send_direction_request(*it->second);
  });
}

void Agent::fail_lookup(const std::string& fqdn, Resolution::Kind kind) {
  auto it = lookups_.find(fqdn);
  if (it == lookups_.end()) return;
  auto l = std::move(it->second);
  lookups_.erase(it);
  l->retry.cancel();
  for (auto& w : l->waiters) w({kind, 0});
}

void Agent::on_dc_error(const wire::ErrorReply& e, const wire::ControlHeader& h) {
  spdlog::info("dc: error {} for {}: {}", wire::to_string(e.code), wire::to_string(e.ref_type),
               e.reason.value);
  if (e.code == wire::ErrorCode::not_registered && registered_) {
    registered_ = false;
    register_now(wire::RegistrationReason::refresh);
  }
  if (e.ref_type == wire::MsgType::path_release) return on_release_answer(nullptr, h.txid);
  if (e.ref_type != wire::MsgType::direction_request) return;
  for (auto& [name, l] : lookups_)
    if (l->txid == h.txid) {
      fail_lookup(name, e.code == wire::ErrorCode::no_such_name ? Resolution::Kind::nxdomain
                                                                 : Resolution::Kind::servfail);
      return;
    }
}

void Agent::finish_waiters(Path& p, const Resolution& r) {
  auto waiters = std::move(p.waiters);
  p.waiters.clear();
  for (auto& w : waiters) w(r);
}

void Agent::on_route_direction(const wire::RouteDirection& rd, const wire::ControlHeader& h) {
  const bool initiator = rd.you_are == wire::PathEnd::initiator;
  const wire::NodeInfo& me = initiator ? rd.initiator : rd.responder;
  const wire::NodeInfo& peer = initiator ? rd.responder : rd.initiator;
  auto ack = [&](wire::Status st) {
    wire::Endpoint local = reported_.empty() ? dp_.local() : reported_.front();
    send_dc(wire::RouteDirectionAck{rd.path_id, rd.key_epoch, st, local}, h.txid);
  };
  if (me.node_id != cfg_.id) {
    ack(wire::Status::refused);
    return;
  }
  if (!ready_sent_) {
    if (held_directions_.size() < kMaxHeldDirections) held_directions_.push_back({rd, h});
    spdlog::debug("direction: path {} held until we are registered",
                  rd.path_id.to_hex().substr(0, 8));
    return;
  }
  // A late copy of an older direction of a path the DC has re-directed
  // since: ack, change nothing.
  Path* before = nullptr;
  bool same_epoch = false;
  if (auto it = paths_.find(rd.path_id); it != paths_.end()) {
    const auto age = static_cast<std::int8_t>(it->second->info.key_epoch - rd.key_epoch);
    if (age > 0) {
      ack(wire::Status::ok);
      return;
    }
    same_epoch = age == 0;
    before = it->second.get();  // a re-direction (docs/mobility.md §3)
  }
  wire::KeyWrapper wrap(cfg_.key, wire::KeyDomain::node_dc, cfg_.key_epoch, cfg_.id.bytes);
  wire::SecretKey path_key, relay_key;
  const auto kind = rd.route == wire::RouteType::relay_general ? wire::SealedKind::general_key
                                                               : wire::SealedKind::path_key;
  if (wrap.open(rd.path_key, rd.path_id, rd.key_epoch, kind, path_key) != wire::Error::ok ||
      (rd.relay_key && wrap.open(*rd.relay_key, rd.path_id, rd.key_epoch,
                                 wire::SealedKind::relay_key, relay_key) != wire::Error::ok)) {
    spdlog::warn("direction: path {}: a sealed key does not open; refused",
                 rd.path_id.to_hex().substr(0, 8));
    ack(wire::Status::refused);
    return;
  }
  if (same_epoch) {
    // The same keys: a retransmission (our ack was lost); ack, change
    // nothing.  Other keys under the epoch we hold: the DC directed the
    // path anew after losing the direction that brought ours (a first
    // direction that failed leaves no record of its epoch, docs/dc.md
    // §8.3); the peer gets the new keys too, so ours must go.
    if (path_key.equals(before->path_key) && relay_key.equals(before->relay_key)) {
      ack(wire::Status::ok);
      return;
    }
    spdlog::warn("direction: path {}: directed anew under epoch {} with other keys",
                 rd.path_id.to_hex().substr(0, 8), rd.key_epoch);
  }
  auto p = std::make_unique<Path>(io_);
  p->path_key = path_key;
  p->relay_key = relay_key;
  p->info.id = rd.path_id;
  p->info.key_epoch = rd.key_epoch;
  p->info.end = rd.you_are;
  p->info.route = rd.route;
  p->info.first = rd.first;
  p->info.peer = peer;
  p->info.peer_view = rd.peer_view.addr ? rd.peer_view.addr : peer.vip.addr;
  p->info.relay = rd.relay;
  p->started_ms = common::mono_ms();
  if (before) {
    // Same path, VIPs and applications; new keys and maybe a new route.
    // Sequence numbers of updates go on counting across epochs.
    p->info.moves = before->info.moves;
    ++p->info.moves.redirects;
    p->peer_update_seq = before->peer_update_seq;
    p->waiters = std::move(before->waiters);
    before->retry.cancel();
    before->update_timer.cancel();
  }
  const wire::Role ours = initiator ? wire::Role::initiator : wire::Role::responder;
  const wire::Role theirs = initiator ? wire::Role::responder : wire::Role::initiator;
  auto channel = [&](const wire::SecretKey& key, wire::KeyDomain d, wire::Role rx) {
    wire::ChannelConfig c;
    c.domain = d;
    c.key_epoch = rd.key_epoch;
    c.tx_role = ours;
    c.rx_role = rx;
    c.tx_id = c.rx_id = rd.path_id.bytes;
    c.instance = wire::new_instance();
    c.first_counter = wire::initial_counter(common::wall_ns());
    return wire::ControlChannel(key, c);
  };
  p->peer_chan.emplace(channel(path_key, wire::KeyDomain::path, theirs));
  if (rd.relay_key)
    p->relay_chan.emplace(channel(relay_key, wire::KeyDomain::relay_path,
                                  initiator ? wire::Role::rs_to_initiator
                                            : wire::Role::rs_to_responder));
  // Where capsules and PATH Tunnel Requests go first.
  switch (rd.route) {
    case wire::RouteType::direct:
      p->target = peer.nat.empty() ? peer.real : peer.nat;
      break;
    case wire::RouteType::direct_private:
      p->target = peer.real;
      break;
    case wire::RouteType::relay:
    case wire::RouteType::relay_general:
      p->target = rd.relay;
      p->info.via_relay = true;
      break;
  }
  TunnelConfig t;
  t.path = rd.path_id;
  t.key_epoch = rd.key_epoch;
  t.our_role = ours;
  t.capsule_key = path_key;
  t.our_vip = reg_.vip.addr;
  t.peer_vip = peer.vip.addr;
  t.peer_view = p->info.peer_view;
  t.peer = p->target;
  dp_.install(t);
  // The resolver's queries for this name now wait on the path.
  if (initiator)
    for (auto it = lookups_.begin(); it != lookups_.end(); ++it)
      if (it->second->path == rd.path_id) {
        it->second->retry.cancel();
        p->waiters = std::move(it->second->waiters);
        lookups_.erase(it);
        break;
      }
  // A newer path to the same peer replaces an older one.
  for (auto it = paths_.begin(); it != paths_.end();)
    if (it->first != rd.path_id && it->second->info.peer.fqdn == peer.fqdn) {
      for (auto& w : it->second->waiters) p->waiters.push_back(std::move(w));
      it = paths_.erase(it);
    } else {
      ++it;
    }
  spdlog::info("direction: path {}{} {} {}: route {}, first sender {}, peer at {}",
               rd.path_id.to_hex().substr(0, 8), before ? " re-directed" : "",
               initiator ? "to" : "from", peer.fqdn.name,
               wire::to_string(rd.route),
               rd.first == wire::FirstSender::both ? "both"
               : rd.first == wire::FirstSender::initiator ? "initiator" : "responder",
               p->target.to_string());
  ack(wire::Status::ok);
  // A re-direction onto a direct route whose peer sends first: until its
  // Tunnel Request has opened its NAT towards us, what we send would die
  // there.  Held until the path is up (mark_up); usually the peer's
  // request is already here (it was directed first) and that is at once.
  if (before) hold_path(*p, common::mono_ms());
  Path& ref = *p;
  paths_[rd.path_id] = std::move(p);
  begin_tunnel(ref);
  // Re-directed onto a route we may send on at once (the relay; or a peer
  // that no longer needs to send first): what was held since the move goes
  // now, right behind our Tunnel Request, not one round trip later.
  if (before && !peer_sends_first(ref.info))
    release_path(rd.path_id, "re-directed onto a route we may send on");
  // What the peer sent before we knew the path.
  std::vector<Early> early;
  for (auto it = early_.begin(); it != early_.end();)
    if (it->path == rd.path_id) {
      early.push_back(std::move(*it));
      it = early_.erase(it);
    } else {
      ++it;
    }
  for (const auto& e : early) on_datagram(e.datagram, e.from);
}

}  // namespace ntm::node
