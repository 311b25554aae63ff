// SPDX-License-Identifier: MIT
#include "status/status_report.hpp"

#include <nlohmann/json.hpp>
#include <sstream>

namespace ntm::node {

namespace {

std::string vip_text(std::uint32_t v) { return wire::Vip{v}.to_string(); }

std::string endpoint_text(const wire::Endpoint& e) { return e.empty() ? "-" : e.to_string(); }

}  // namespace

std::string status_json(const AgentStatus& s, const std::string& fqdn) {
  nlohmann::json j;
  j["fqdn"] = fqdn;
  j["registered"] = s.registered;
  j["dc_reachable"] = s.dc_reachable;
  j["dc"] = s.dc.empty() ? "" : s.dc.to_string();
  j["dc_failovers"] = s.dc_failovers;
  j["vip"] = s.vip ? vip_text(s.vip) : "";
  j["prefix_len"] = s.prefix_len;
  j["behind_nat"] = s.behind_nat;
  j["observed"] = s.observed.empty() ? "" : s.observed.to_string();
  j["local"] = s.local.to_string();
  auto& paths = j["paths"] = nlohmann::json::array();
  for (const auto& [p, c] : s.paths) {
    paths.push_back({{"path_id", p.id.to_hex()},
                     {"peer", p.peer.fqdn.name},
                     {"peer_vip", vip_text(p.peer_view)},
                     {"end", p.end == wire::PathEnd::initiator ? "initiator" : "responder"},
                     {"route", std::string(wire::to_string(p.route))},
                     {"state", std::string(to_string(p.state))},
                     {"via_relay", p.via_relay},
                     // A direct route's relay leg, up and standing by.
                     {"relay_standby", !p.via_relay && p.relay_up &&
                                           (p.route == wire::RouteType::direct ||
                                            p.route == wire::RouteType::direct_private)},
                     {"endpoint", c.peer.empty() ? "" : c.peer.to_string()},
                     {"tx_packets", c.tx_packets},
                     {"rx_packets", c.rx_packets},
                     {"tx_bytes", c.tx_bytes},
                     {"rx_bytes", c.rx_bytes},
                     {"drops", c.drops},
                     {"key_epoch", p.key_epoch},
                     {"moves", {{"update_seq", p.moves.update_seq},
                                {"updates_sent", p.moves.updates_sent},
                                {"updates_answered", p.moves.updates_answered},
                                {"updates_accepted", p.moves.updates_accepted},
                                {"updates_refused", p.moves.updates_refused},
                                {"redirects", p.moves.redirects},
                                {"standby_switches", p.moves.standby_switches},
                                {"blackout_holds", p.moves.blackout_holds},
                                // Of those, ended by the data path at a packet
                                // once the new network's route was there.
                                {"blackout_data_path_releases", c.route_ends},
                                {"standby_lost", p.moves.standby_lost},
                                {"last_update_ms", p.moves.last_update_ms}}}});
  }
  j["moves"] = s.moves;
  j["deferred_registrations"] = s.deferred_registrations;
  j["paths_released"] = s.paths_released;
  j["paths_revived"] = s.paths_revived;
  j["drops"] = {{"unknown_path", s.totals.unknown_path},
                {"no_tunnel", s.totals.no_tunnel},
                {"bad_packet", s.totals.bad_packet},
                {"send_errors", s.totals.send_errors},
                {"control", s.dropped_control}};
  return j.dump() + "\n";
}

std::string status_text(const AgentStatus& s, const std::string& fqdn) {
  std::ostringstream o;
  o << fqdn << ": " << (s.registered ? "registered" : "not registered") << ", DC "
    << (s.dc_reachable ? "reachable" : "unreachable") << " (" << endpoint_text(s.dc)
    << (s.dc_failovers ? ", failed over " + std::to_string(s.dc_failovers) + "x" : std::string())
    << ")\n";
  if (s.vip)
    o << "  vip " << vip_text(s.vip) << "/" << int(s.prefix_len) << ", "
      << (s.behind_nat ? "behind NAT" : "global address") << ", seen by the DC at "
      << endpoint_text(s.observed) << ", socket " << s.local.to_string() << "\n";
  o << "  paths: " << s.paths.size() << ", network changes " << s.moves << ", idle paths released "
    << s.paths_released << ", brought back " << s.paths_revived << "\n";
  for (const auto& [p, c] : s.paths) {
    o << "    " << p.peer.fqdn.name << " (" << vip_text(p.peer_view) << ") " << to_string(p.state)
      << ", route " << wire::to_string(p.route) << (p.via_relay ? " via relay " : " to ")
      << endpoint_text(c.peer) << "; tx " << c.tx_packets << " pkts/" << c.tx_bytes << " B, rx "
      << c.rx_packets << " pkts/" << c.rx_bytes << " B, drops " << c.drops << "\n";
    if (p.moves.update_seq || p.moves.updates_accepted || p.moves.redirects)
      o << "      moves: updates sent " << p.moves.updates_sent << ", confirmed "
        << p.moves.updates_answered << " (last in " << p.moves.last_update_ms
        << " ms); peer's accepted " << p.moves.updates_accepted << ", refused "
        << p.moves.updates_refused << "; re-directed " << p.moves.redirects
        << " times; onto the stand-by relay " << p.moves.standby_switches
        << " times; stand-by leg silent " << p.moves.standby_lost << " times; held without a route "
        << p.moves.blackout_holds << " times (sent by the data path as the route came back "
        << c.route_ends << ")\n";
  }
  o << "  drops: unknown path " << s.totals.unknown_path << ", no tunnel " << s.totals.no_tunnel
    << ", bad packet " << s.totals.bad_packet << ", send errors " << s.totals.send_errors
    << ", control " << s.dropped_control << "\n";
  return o.str();
}

}  // namespace ntm::node
