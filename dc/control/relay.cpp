// SPDX-License-Identifier: MIT
// Relay servers: choosing one, Relay Direction / Relay Response, and
// tearing paths down.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "control/directing.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace ntm::dc::control {

namespace {
// A relay that left this many Relay Directions unanswered in a row is
// skipped; after kRetryAfterMs it gets another chance (it may have been
// restarting), and a registration or an answered direction clears it.
constexpr std::uint32_t kMaxMissed = 2;
constexpr std::uint64_t kRetryAfterMs = 30'000;
}  // namespace

bool Server::relay_usable(state::Party& r) {
  if (r.missed_directions >= kMaxMissed && common::mono_ms() - r.last_missed_ms > kRetryAfterMs)
    r.missed_directions = 0;
  return r.online && r.missed_directions < kMaxMissed && !r.observed.empty();
}

state::Party* Server::pick_relay(const std::vector<wire::NodeId>& exclude) {
  state::Party* best = nullptr;
  for (state::Party* r : view_.relays()) {
    if (!relay_usable(*r)) continue;
    if (std::find(exclude.begin(), exclude.end(), r->id) != exclude.end()) continue;
    // Least loaded first; the path count breaks ties between idle relays.
    if (!best || std::tie(r->load_permille, r->active_paths) <
                     std::tie(best->load_permille, best->active_paths))
      best = r;
  }
  return best;
}

void Server::send_relay_direction(Directing& d) {
  state::Party* relay = d.path.relay ? view_.find(*d.path.relay) : nullptr;
  if (!relay) return fail_direction(d.path.id, wire::ErrorCode::no_route, "relay removed");
  state::Party* mn = view_.find(d.mn_id);
  state::Party* cn = d.path.responder ? view_.find(*d.path.responder) : nullptr;
  if (!mn) return fail_direction(d.path.id, wire::ErrorCode::no_route, "initiator removed");
  wire::RelayDirection rd;
  rd.path_id = d.path.id;
  rd.key_epoch = d.path.key_epoch;
  const bool general = d.path.route == wire::RouteType::relay_general;
  rd.mode = general ? wire::RelayMode::translate : wire::RelayMode::forward;
  rd.initiator = mn->info(cfg_.advertise);
  rd.responder = cn ? cn->info(cfg_.advertise) : d.general;
  wire::KeyWrapper& wrap = wrapper_for(*relay);
  // Between two nodes the relay gets K_rp only: it can check their Tunnel
  // and Update messages but never read their traffic.  Towards a general
  // host it terminates the tunnel, so it gets the general-path key.
  rd.relay_key = general ? wrap.seal(d.path_key, d.path.id, d.path.key_epoch,
                                     wire::SealedKind::general_key)
                         : wrap.seal(d.relay_key, d.path.id, d.path.key_epoch,
                                     wire::SealedKind::relay_key);
  rd.idle_timeout_s = static_cast<std::uint16_t>(cfg_.relay_idle_timeout_s);
  d.to = relay->id;
  d.body = rd;
  send(*relay, relay->reach(), d.body, d.txid);
  arm_retransmit(d);
}

void Server::on_relay_response(state::Party& relay, const wire::RelayResponse& resp) {
  auto it = directing_.find(resp.path_id);
  if (it == directing_.end()) return;
  Directing& d = *it->second;
  if (d.step != Directing::Step::relay || d.to != relay.id || resp.key_epoch != d.path.key_epoch)
    return void(stats_.unexpected++);
  d.timer.cancel();
  relay.missed_directions = 0;
  if (resp.status != wire::Status::ok || resp.relay_endpoint.empty()) {
    d.tried_relays.push_back(relay.id);
    state::Party* next = pick_relay(d.tried_relays);
    if (!next) return relay_unavailable(d);
    d.path.relay = next->id;
    view_.put_path(d.path);  // the view indexes the path under its relay
    return advance(d);
  }
  relay.active_paths++;
  d.path.relay_endpoint = resp.relay_endpoint;
  d.step = d.path.responder ? Directing::Step::responder : Directing::Step::initiator;
  advance(d);
}

void Server::tear_down(const state::Path& p, store::Writer::Done done) {
  if (p.relay)
    if (state::Party* r = view_.find(*p.relay); r && r->active_paths) r->active_paths--;
  writer_.submit(store::PathDelete{p.id}, std::move(done));
  spdlog::info("direction: path {} torn down", p.id.to_hex());
}

}  // namespace ntm::dc::control
