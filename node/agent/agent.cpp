// SPDX-License-Identifier: MIT
#include <algorithm>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "agent/agent_internal.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/header.hpp"

namespace ntm::node {

std::string_view to_string(PathState s) {
  switch (s) {
    case PathState::setting_up: return "setting_up";
    case PathState::up: return "up";
    case PathState::failed: return "failed";
  }
  return "unknown";
}

wire::ChannelConfig dc_channel_config(const NodeConfig& c) {
  wire::ChannelConfig cfg;
  cfg.domain = wire::KeyDomain::node_dc;
  cfg.key_epoch = c.key_epoch;
  cfg.tx_role = wire::Role::node;
  cfg.rx_role = wire::Role::dc;
  cfg.tx_id = cfg.rx_id = c.id.bytes;
  cfg.instance = wire::new_instance();
  cfg.first_counter = wire::initial_counter(common::wall_ns());
  return cfg;
}

Agent::Agent(boost::asio::io_context& io, const NodeConfig& cfg, DataPath& dp)
    : io_(io),
      cfg_(cfg),
      dp_(dp),
      dc_chan_(cfg.key, dc_channel_config(cfg)),
      member_heard_ms_(std::max<std::size_t>(1, cfg.dc_members.size()), 0),
      reg_timer_(io),
      tick_(io),
      dc_watch_(io),
      move_timer_(io),
      hold_timer_(io),
      blackout_grace_timer_(io),
      move_reg_timer_(io) {
  // A config built in code (tests) may name only `dc`.
  if (cfg_.dc_members.empty()) cfg_.dc_members.push_back(cfg_.dc);
}

Agent::~Agent() { *alive_ = false; }

void Agent::start() {
  dp_.set_miss_handler([this, alive = std::weak_ptr<bool>(alive_)](std::uint32_t dst,
                                                                  std::vector<std::uint8_t> pkt) {
    if (!alive.expired()) on_miss(dst, std::move(pkt));
  });
  dp_.start([this](std::span<const std::uint8_t> d, const wire::Endpoint& from) { on_datagram(d, from); },
            [this](const wire::PathId& p, const wire::Endpoint& from) { on_roam(p, from); });
  register_now(wire::RegistrationReason::start);
  housekeeping();
  if (cfg_.dc_members.size() > 1) watch_dc();
}

void Agent::stop() {
  reg_timer_.cancel();
  tick_.cancel();
  dc_watch_.cancel();
  move_timer_.cancel();
  hold_timer_.cancel();
  blackout_grace_timer_.cancel();
  move_reg_timer_.cancel();
  for (auto& [id, p] : paths_) {
    p->retry.cancel();
    p->update_timer.cancel();
  }
  for (auto& [n, l] : lookups_) l->retry.cancel();
  dp_.stop();
}

std::uint32_t Agent::send_dc(const wire::Body& body, std::uint32_t txid, const wire::Endpoint* to) {
  if (txid == 0) txid = next_txid_++;
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
  wire::Error err = wire::Error::ok;
  const auto n = dc_chan_.seal(body, txid, common::wall_ms(), buf, err);
  if (n == 0) {
    spdlog::error("dc: cannot seal {}: {}", wire::to_string(wire::type_of(body)),
                  wire::to_string(err));
    return txid;
  }
  // An ack goes back to the member whose Route Direction it answers: in a
  // DC cluster any member may direct us (docs/node.md "DC cluster").
  if (!to && std::holds_alternative<wire::RouteDirectionAck>(body) && !dc_from_.empty())
    to = &dc_from_;
  dp_.send_control(std::span(buf.data(), n), to ? *to : home_dc());
  return txid;
}

void Agent::on_datagram(std::span<const std::uint8_t> d, const wire::Endpoint& from) {
  wire::ControlHeader h;
  if (wire::peek_control_header(d, h) != wire::Error::ok) {
    ++dropped_control_;
    return;
  }
  if (h.common.domain != wire::KeyDomain::node_dc) {
    on_path_message(d, from, h);
    return;
  }
  // Only the DC's members (and its probe port) speak NODE_DC to us.
  const auto member = std::find(cfg_.dc_members.begin(), cfg_.dc_members.end(), from);
  if (member == cfg_.dc_members.end() && from != cfg_.probe) {
    ++dropped_control_;
    return;
  }
  wire::Received rx;
  if (const auto e = dc_chan_.open(d, common::wall_ms(), rx); e != wire::Error::ok) {
    ++dropped_control_;
    spdlog::debug("dc: dropped a datagram: {}", wire::to_string(e));
    return;
  }
  const std::uint64_t now = common::mono_ms();
  if (member != cfg_.dc_members.end())
    member_heard_ms_[static_cast<std::size_t>(member - cfg_.dc_members.begin())] = now;
  // The probe port's ack is the DC's measurement, not ours to act on.
  if (member == cfg_.dc_members.end()) return;
  dc_from_ = from;
  if (from != home_dc()) {
    // Another member: it answers our Keepalive (liveness only), or sends
    // what only a DC sends (a Route Direction, a prompt): taken, answered
    // back to it.  Its Keepalive Ack's verdict is not about our home.
    if (std::holds_alternative<wire::KeepaliveAck>(rx.body)) return;
  } else {
    last_dc_heard_ms_ = now;
    home_waiting_since_ms_ = 0;
    if (!dc_reachable_) {
      dc_reachable_ = true;
      if (registered_) spdlog::info("dc: reachable again");
    }
  }
  std::visit(
      [&](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, wire::RegistrationResponse>)
          on_registration_response(m, rx.header);
        else if constexpr (std::is_same_v<T, wire::KeepaliveAck>)
          on_keepalive_ack(m);
        else if constexpr (std::is_same_v<T, wire::Keepalive>)
          // The DC's prompt: answer with our own (protocol.md §7.12), to
          // the member that prompted (its binding is the one to refresh).
          from == home_dc() ? send_keepalive() : void(send_dc(wire::Keepalive{}, 0, &from));
        else if constexpr (std::is_same_v<T, wire::RouteDirection>)
          on_route_direction(m, rx.header);
        else if constexpr (std::is_same_v<T, wire::ErrorReply>)
          on_dc_error(m, rx.header);
        else if constexpr (std::is_same_v<T, wire::PathReleaseAck>)
          on_release_answer(&m.path_id, rx.header.txid);
        else if constexpr (std::is_same_v<T, wire::PathRelease>)
          on_release_from_dc(m, rx.header.txid, from);
        else
          ++dropped_control_;
      },
      rx.body);
}

void Agent::on_roam(const wire::PathId& id, const wire::Endpoint& from) {
  auto it = paths_.find(id);
  if (it == paths_.end()) return;
  Path& p = *it->second;
  const bool to_relay = !p.info.relay.empty() && from == p.info.relay;
  if (to_relay != p.info.via_relay)
    spdlog::info("path {}: now {} ({})", id.to_hex().substr(0, 8),
                 to_relay ? "via the relay" : "direct", from.to_string());
  p.info.via_relay = to_relay || p.info.route == wire::RouteType::relay ||
                     p.info.route == wire::RouteType::relay_general;
  // The peer reached us from somewhere new: so can we.
  release_path(id, "the peer's capsule came");
  // The data path already sends there; updates and probes follow it.
  if (!p.info.via_relay) p.target = from;
}

void Agent::housekeeping() {
  const auto now = common::mono_ms();
  // The DC: keepalives at its interval; silence longer than its lifetime
  // means it lost us or is gone: register again.
  check_dc_failover(now);
  if (registered_) {
    const std::uint64_t interval = std::max<std::uint64_t>(1, reg_.keepalive_s) * 1000;
    if (now - last_keepalive_ms_ >= interval) {
      send_keepalive();
      keepalive_members();
    }
    const std::uint64_t lifetime = std::max<std::uint64_t>(2, reg_.lifetime_s) * 1000;
    if (now - last_dc_heard_ms_ > lifetime) {
      if (dc_reachable_) spdlog::warn("dc: {} silent for {} s; registering again", home_dc().to_string(),
                                      (now - last_dc_heard_ms_) / 1000);
      dc_reachable_ = false;
      registered_ = false;
      register_now(wire::RegistrationReason::refresh);
    } else if (local_endpoints() != reported_ && !move_armed_) {
      // A safety net only: rtnetlink (mobility/link_watch) reports a move
      // at once; this catches one it could not (no netlink, an overrun).
      network_changed("addresses changed (noticed by the periodic check)");
    }
  }
  // Paths: keepalive capsules on idle ones, and expiry of silent ones.
  for (auto it = paths_.begin(); it != paths_.end();) {
    Path& p = *it->second;
    const auto c = dp_.counters(p.info.id);
    const std::uint64_t last_rx = c && c->last_rx_ms ? c->last_rx_ms : p.started_ms;
    // The inbound thread stamps last_rx after `now` was read: later is live.
    // Not even keepalives: the peer is gone.  Let go as an idle path is
    // (release.cpp), so that the DC forgets it too and an application that
    // sends to the peer again gets a new direction.
    if (p.info.state == PathState::up && last_rx < now && now - last_rx > kPathSilentMs) {
      it = let_go(it, now, "silent for " + std::to_string((now - last_rx) / 1000) + " s");
      continue;
    }
    // A path that never came up is forgotten after a while (the resolver
    // starts a new direction for its name).
    if (p.info.state != PathState::up && now - p.started_ms > 60000) {
      dp_.remove(p.info.id);
      held_paths_.erase(p.info.id);
      blackout_paths_.erase(p.info.id);
      it = paths_.erase(it);
      continue;
    }
    if (p.info.state == PathState::up && idle(p, now)) {
      it = let_go(it, now, "no data for " + std::to_string((now - p.data_ms) / 1000) + " s");
      continue;
    }
    if (p.info.state == PathState::up) {
      check_liveness(p, now);
      check_relay_leg(p, now);
    }
    if (p.info.state == PathState::up && now - p.last_keepalive_ms >= kPathKeepaliveMs) {
      dp_.send_keepalive(p.info.id);
      keep_relay_leg(p);
      p.last_keepalive_ms = now;
    }
    ++it;
  }
  retransmit_releases(now);
  tick_.expires_after(std::chrono::seconds(1));
  tick_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) housekeeping();
  });
}

// DC cluster: the failover check at a finer grain than housekeeping's
// second, and a Keepalive to a quiet home while a Direction Request waits:
// the Keepalive is answered at once, so it tells a dead member from a slow
// direction (which the DC answers within its own timeout), which the
// request alone cannot.
void Agent::watch_dc() {
  const auto now = common::mono_ms();
  check_dc_failover(now);
  if (registered_ && !lookups_.empty() && home_waiting_since_ms_ == 0 &&
      now - last_dc_heard_ms_ > 500 && now - last_keepalive_ms_ > 500)
    send_keepalive();
  dc_watch_.expires_after(std::chrono::milliseconds(250));
  dc_watch_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) watch_dc();
  });
}

AgentStatus Agent::status() const {
  AgentStatus s;
  s.registered = registered_;
  s.dc_reachable = dc_reachable_;
  s.dc = home_dc();
  s.dc_failovers = failovers_;
  s.vip = reg_.vip.addr;
  s.prefix_len = reg_.vip_prefix_len;
  s.behind_nat = reg_.behind_nat;
  s.observed = reg_.observed;
  s.local = dp_.local();
  s.moves = moves_;
  s.deferred_registrations = deferred_registrations_;
  for (const auto& [id, p] : paths_) {
    auto c = dp_.counters(id);
    s.paths.emplace_back(p->info, c.value_or(TunnelCounters{}));
  }
  s.totals = dp_.totals();
  s.dropped_control = dropped_control_;
  s.paths_released = released_;
  s.paths_revived = revived_;
  return s;
}

}  // namespace ntm::node
