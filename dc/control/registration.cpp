// SPDX-License-Identifier: MIT
// Registration Request and Keepalive: where a node (or relay) is, whether it
// is behind NAT, and whether it is alive.
#include <spdlog/spdlog.h>

#include "control/server.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

void Server::on_registration(state::Party& party, const wire::RegistrationRequest& req,
                             const wire::ControlHeader& h, const wire::Endpoint& from) {
  const bool is_relay = party.kind == state::PartyKind::relay;
  // A node can only register as itself: its key names it, and the name it
  // claims must be the one it was enrolled with.
  if ((req.kind == wire::PartyKind::relay) != is_relay || req.fqdn.name != party.name) {
    send_error(party, from, h.txid, wire::ErrorCode::not_authorized,
               wire::MsgType::registration_request, "name or kind does not match this key");
    return;
  }
  stats_.registrations++;
  const bool behind = route::behind_nat(req.local, from);
  // Its placement changed: the paths it is an end of are reconsidered
  // (docs/dc.md "Moves").
  const bool placed = req.local != party.local || from != party.observed;
  const bool moved = placed || !party.online;
  if (moved) party.symmetric_nat = false;  // a new NAT: probe again
  if (placed && !is_relay) {
    party.moved_seq = ++placement_seq_;
    party.move_pending = true;
  }
  party.local = req.local;
  party.observed = from;
  // This member is its home now; the others learn it from the writer's
  // notification (docs/operations.md "DC cluster").
  party.home_here = true;
  party.binding = {};
  party.behind_nat = behind;
  party.online = true;
  party.missed_directions = 0;  // a relay that registers again is worth trying again
  party.last_seen_ms = common::wall_ms();
  party.last_persisted_seen_ms = party.last_seen_ms;
  if (moved) {
    // The paths it is on now lead to its new address (the Route Directions
    // and Relay Directions the DC sends from here on use it): record when.
    for (state::Path* p : view_.paths_of(party.id)) {
      p->updated_ms = party.last_seen_ms;
      writer_.submit(store::PathWrite{*p}, nullptr);
    }
    spdlog::debug("registration: {} {} at {} (local {}), {}", is_relay ? "relay" : "node",
                 party.name, from.to_string(),
                 party.local.empty() ? std::string("-") : party.local.front().to_string(),
                 behind ? "behind NAT" : "global");
    // In DNS before the answer leaves: a resolver asked after the node
    // heard back must find the new address.
    published(party);
  }

  // A new ntmd process holds none of the paths its peers hold: they are
  // directed again (docs/dc.md §8.4).  Before the moves' re-directions, so
  // that those, begun after it, count as reaching the new process.
  if (!is_relay && req.reason == wire::RegistrationReason::start)
    node_restarted(party, h.common.instance);

  // The paths it is on are re-decided now, from the view, not after the
  // commit: a Route Direction is no acknowledgement of the registration,
  // and the commit (tens of ms under load) would otherwise be most of the
  // handover gap of every re-directed path.  Acted on once per move.
  if (party.move_pending) {
    party.move_pending = false;
    resend_to_moved(party);
    reconsider_paths_of(party);
  }
  if (is_relay && req.reason == wire::RegistrationReason::start)
    relay_restarted(party, h.common.instance);

  store::RegistrationWrite w{is_relay, party.id, req.local, from, behind, party.symmetric_nat};
  w.instance = h.common.instance;
  w.counter = h.common.counter;
  // The answer leaves only after the commit: an acknowledged registration
  // survives any crash of the DC.
  const wire::NodeId id = party.id;
  const std::uint32_t txid = h.txid;
  std::weak_ptr<bool> alive = alive_;
  writer_.submit(std::move(w), [this, alive, id, txid, from](bool ok) {
    asio::post(io_, [this, alive, id, txid, from, ok] {
      if (alive.expired() || stopped_) return;
      state::Party* p = view_.find(id);
      if (!p) return;  // revoked meanwhile
      if (!ok) {
        send_error(*p, from, txid, wire::ErrorCode::internal, wire::MsgType::registration_request,
                   "database unavailable; retry");
        return;
      }
      wire::RegistrationResponse resp;
      resp.vip = p->vip;
      resp.vip_prefix_len = static_cast<std::uint8_t>(cfg_.vip_prefix_len);
      resp.observed = from;
      resp.behind_nat = p->behind_nat;
      resp.keepalive_s = static_cast<std::uint16_t>(cfg_.keepalive_s);
      resp.lifetime_s = static_cast<std::uint16_t>(cfg_.lifetime_s);
      send(*p, from, resp, txid);
    });
  });
}

void Server::on_keepalive(state::Party& party, const wire::Keepalive& ka,
                          const wire::ControlHeader& h, const wire::Endpoint& from, bool probe) {
  stats_.keepalives++;
  const std::uint64_t now = common::wall_ms();
  wire::KeepaliveAck ack;
  ack.observed = from;
  if (probe) {
    // The same socket seen through the NAT on a second DC port: a
    // different mapping means the NAT maps per destination (symmetric).
    party.probe_observed = from;
    // Only the home compares: another member's view of `observed` is the
    // home's, and its probe port is not the home's second port.
    if (party.home_here && party.behind_nat && party.observed.addr == from.addr &&
        party.observed.port != from.port &&
        !party.symmetric_nat) {
      party.symmetric_nat = true;
      spdlog::info("registration: {} is behind a symmetric NAT", party.name);
      writer_.submit(store::RegistrationWrite{party.kind == state::PartyKind::relay, party.id,
                                              party.local, party.observed, party.behind_nat, true},
                     nullptr);
    }
    send(party, from, ack, h.txid, true);
    return;
  }
  if (!party.home_here) {
    // Its home is another member of the cluster: this Keepalive keeps the
    // node's NAT binding towards this member, to be sent to from here.  The
    // home alone judges its registration and writes its liveness.
    party.binding = from;
    if (party.online) party.last_seen_ms = now;
    ack.reregister = !party.online;
    send(party, from, ack, h.txid);
    return;
  }
  // Not registered (never, expired, or the DC lost it): ask for a
  // registration rather than silently keeping a stale view.
  ack.reregister = !party.online || party.observed != from;
  if (party.online && party.observed == from) party.last_seen_ms = now;
  if (party.kind == state::PartyKind::relay) {
    party.active_paths = ka.active_paths;
    party.load_permille = std::min<std::uint16_t>(ka.load_permille, 1000);
  }
  // Liveness is soft state: persist it at most every half lifetime.
  if (party.online && now - party.last_persisted_seen_ms >= cfg_.lifetime_s * 500ull) {
    party.last_persisted_seen_ms = now;
    writer_.submit(store::SeenWrite{party.kind == state::PartyKind::relay, party.id,
                                    party.active_paths, party.load_permille},
                   nullptr);
  }
  send(party, from, ack, h.txid);
}

void Server::sweep() {
  // Expiry runs in ten slices per second rather than one pass (slices.hpp).
  constexpr std::size_t kSlices = 10;
  const std::uint64_t now = common::wall_ms();
  const std::uint64_t lifetime_ms = cfg_.lifetime_s * 1000ull;
  auto all_parties = [&](std::vector<wire::NodeId>& ids) {
    ids.reserve(view_.party_count());
    view_.for_each_party([&](state::Party& p) { ids.push_back(p.id); });
  };
  expiry_pass_.next(kSlices, all_parties, [&](const wire::NodeId& id) {
    state::Party* p = view_.find(id);
    if (p && p->prev && now >= p->prev->until_ms) {
      spdlog::info("registration: {}: the previous key's grace period is over", p->name);
      p->prev.reset();
      p->speaks_prev = false;
    }
    if (!p || !p->online || now <= p->last_seen_ms + lifetime_ms) return;
    p->online = false;
    stats_.expired++;
    spdlog::info("registration: {} silent for {} s: offline", p->name, cfg_.lifetime_s);
    published(*p);
    // Another member's party: offline in this view only; its home writes it
    // (and moves a lost relay's paths: one member, not every one).
    if (p->home_here) {
      writer_.submit(store::OfflineWrite{p->kind == state::PartyKind::relay, p->id}, nullptr);
      if (p->kind == state::PartyKind::relay) relay_lost(*p);
    }
  });
  rekey_sweep();
  reinstall_sweep();
  sweep_timer_.expires_after(std::chrono::milliseconds(1000 / kSlices));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) sweep();
  });
}

void Server::prompt(const std::string& fqdn) {
  if (cfg_.dns.prompt_interval_ms == 0 || stopped_ || draining_) return;
  state::Party* p = view_.find_node(fqdn);
  if (!p || !p->online || p->observed.empty()) return;
  // Heard from within half a keepalive interval: its NAT binding towards
  // the DC is fresh, and a prompt would refresh nothing.
  if (common::wall_ms() < p->last_seen_ms + cfg_.keepalive_s * 500ull) {
    stats_.prompts_fresh++;
    return;
  }
  // Prompted and silent since: its binding is likely gone, and the DC
  // cannot reopen it from its side; it waits for the node's next message.
  // The interval bounds how often one node is prompted at all.
  const std::uint64_t now = common::mono_ms();
  if (p->prompt_unanswered ||
      (p->last_prompt_ms != 0 && now - p->last_prompt_ms < cfg_.dns.prompt_interval_ms)) {
    stats_.prompts_suppressed++;
    return;
  }
  p->last_prompt_ms = now;
  p->prompt_unanswered = true;
  stats_.prompts++;
  send(*p, p->reach(), wire::Keepalive{}, next_txid());
}

}  // namespace ntm::dc::control
