// SPDX-License-Identifier: MIT
// The route decision: given what the DC knows about both ends of a path,
// which tunnel route to build and who sends the first Tunnel Request.
// A pure function of its inputs (no I/O, no clock), so every case of the
// paper's Table 1 is a unit test.  docs/route-decision.md is its table.
#pragma once

#include <string_view>
#include <vector>

#include "ntm/wire/types.hpp"

namespace ntm::dc::route {

// What the DC knows of one end at decision time.
struct Placement {
  bool ntmobile = true;               // false: a general (non-NTMobile) host
  bool online = true;                 // registered and not expired (NTMobile ends only)
  std::vector<wire::Endpoint> local;  // addresses the node reported (its "real" addresses)
  wire::Endpoint observed;     // source address:port the DC saw (for a general host: its address)
  bool behind_nat = false;     // observed address differs from every reported one
  bool symmetric_nat = false;  // the NAT maps per destination (endpoint-dependent mapping)
};

struct Policy {
  // Two nodes behind one NAT are taken to share a network when they have
  // IPv4 local addresses inside one prefix of this length.
  unsigned same_network_prefix_len = 24;
  // Whether any relay is available; without one, relayed cases fail.
  bool relay_available = true;
};

enum class Outcome {
  ok,
  peer_offline,      // the CN is an NTMobile node that is not online
  no_relay,          // a relay is required and none is available
  no_common_family,  // no address family both ends can use and no relay
};

// On an outcome other than ok, route and first describe the route that was
// needed (e.g. relay for no_relay), for the log; the path cannot be built.
struct Decision {
  Outcome outcome = Outcome::ok;
  wire::RouteType route = wire::RouteType::direct;
  wire::FirstSender first = wire::FirstSender::initiator;
  std::string_view reason;  // a short constant phrase for logs and docs
  // The address family the ends use towards each other on a direct or
  // direct_private route (dual-stack ends may have two to choose from).
  // none on relayed routes, where each end reaches the RS on its own.
  wire::Family family = wire::Family::none;
};

// The reason phrases, one per rule (docs/route-decision.md).
namespace reason {
inline constexpr std::string_view general_host = "general host";
inline constexpr std::string_view cn_offline = "CN offline";
inline constexpr std::string_view no_common_family = "no common address family";
inline constexpr std::string_view both_global = "both global";
inline constexpr std::string_view mn_behind_nat = "MN behind NAT";
inline constexpr std::string_view cn_behind_nat = "CN behind NAT: CN sends first";
inline constexpr std::string_view same_nat_network = "same NAT and network";
inline constexpr std::string_view same_nat_other_network = "same NAT, network not shared";
inline constexpr std::string_view symmetric_nat = "symmetric NAT";
inline constexpr std::string_view two_nats = "two NATs";
inline constexpr std::string_view unmeasured = "NAT state unknown in the common family";
inline constexpr std::string_view route_failed = "redirect without a move: the route failed";
}  // namespace reason

// mn: the initiator (sent the Direction Request); cn: the responder.
Decision decide(const Placement& mn, const Placement& cn, const Policy& policy = {});

// Re-decision of a live path (docs/route-decision.md, "Re-decision").
//
// After one or both ends of an established path moved, `next` is the
// decision for their new placements (initiator as mn, responder as cn).
// Whether the DC must direct the path again: when the route type changes,
// or when the new route is direct and the nodes' own NTM Updates cannot
// carry the move (the end that did not move may not be reached first from
// the mover's new address because it is behind NAT or unmeasured in the
// route's family, or both ends moved), or when both ends of a
// direct_private route moved.  Never for relay_general, nor for a decision
// that is not ok (the path then stays as it is).
bool redirect_after_move(wire::RouteType current, const Decision& next, const Placement& initiator,
                         const Placement& responder, bool initiator_moved, bool responder_moved);

// An end asked to re-direct a path although neither end moved since the
// path was last directed: its current route stopped answering.  When the
// decision gives that same direct or direct_private route again and a relay
// is available, the path goes via the relay instead (route relay, both send
// first, reason route_failed); otherwise `next` is returned unchanged.
Decision after_route_failed(wire::RouteType current, const Decision& next, const Policy& policy);

// Whether the route decided gets a relay named as its stand-by.  The ends
// set up their relay leg beside the direct one, so that an end can switch
// to the relay at once when the direct route stops carrying, instead of
// waiting for the DC to re-direct the path (docs/route-decision.md,
// "Stand-by relay"):
//   - direct_private, always: the private path may not answer at all;
//   - direct where one end sends first because it is (or may be) behind
//     NAT, when `nat_standby` ([route] standby_relay): that NAT filters
//     the other end's new address after a move of the other end.
// Never where both ends are global (each end's NTM Update reaches the
// other), nor on relayed routes (they are on the relay already).
bool standby_relay(const Decision& d, bool nat_standby);

// NAT verdict for a registration: behind NAT when the observed source
// address:port is none of the reported local addresses.
bool behind_nat(const std::vector<wire::Endpoint>& local, const wire::Endpoint& observed);

}  // namespace ntm::dc::route
