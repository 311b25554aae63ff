// SPDX-License-Identifier: MIT
// The route decision (docs/route-decision.md has the table and the mapping
// of the paper's Table 1).  Rules, in order:
//   1. CN is a general host            -> relay_general, MN first (needs a relay)
//   2. CN offline                      -> peer_offline
//   3. same NAT and same IPv4 network  -> direct_private, both first
//   4. per common address family, from the NAT verdicts in that family:
//        both global                   -> direct, MN first
//        MN behind NAT, CN global      -> direct, MN first
//        MN global, CN behind NAT      -> direct, CN first
//        both behind NAT               -> relay, both first
//      the best family wins (direct over relay, measured over unmeasured)
//   5. no common family                -> relay, both first (the RS translates)
// The MN is taken to be an online NTMobile node: it has just sent the
// Direction Request, so nothing about it is checked.
#include "route/decision.hpp"

#include <cstdint>
#include <optional>
#include <tuple>

namespace ntm::dc::route {

namespace {

using wire::Endpoint;
using wire::Family;
using wire::FirstSender;
using wire::IpAddr;
using wire::RouteType;

constexpr Family kFamilies[] = {Family::v4, Family::v6};

std::size_t addr_len(Family f) noexcept {
  switch (f) {
    case Family::v4:
      return 4;
    case Family::v6:
      return 16;
    case Family::none:
      break;
  }
  return 0;
}

// Compares only the bytes the family uses, so stray bytes past an IPv4
// address cannot make two equal addresses differ.
bool same_addr(const IpAddr& a, const IpAddr& b) noexcept {
  if (a.family != b.family) return false;
  for (std::size_t i = 0; i < addr_len(a.family); ++i)
    if (a.bytes[i] != b.bytes[i]) return false;
  return true;
}

std::uint32_t v4_value(const IpAddr& a) noexcept {
  return a.v4_host_order();
}

bool all_zero(const IpAddr& a) noexcept {
  for (std::size_t i = 0; i < addr_len(a.family); ++i)
    if (a.bytes[i] != 0) return false;
  return true;
}

// An address that cannot carry a tunnel to another network (unspecified,
// loopback, link-local) says nothing about which families a node can use:
// every IPv6 host has fe80:: even on an IPv4-only network.
bool leaves_link(const IpAddr& a) noexcept {
  if (a.family == Family::none || all_zero(a)) return false;
  if (a.family == Family::v4) {
    const std::uint32_t v = v4_value(a);
    return (v >> 24) != 127 && (v >> 16) != 0xa9fe;  // 127/8, 169.254/16
  }
  const bool loopback = [&] {
    for (std::size_t i = 0; i < 15; ++i)
      if (a.bytes[i] != 0) return false;
    return a.bytes[15] == 1;
  }();
  const bool link_local = a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;  // fe80::/10
  return !loopback && !link_local;
}

// A node counts as behind NAT when the DC says so; a symmetric NAT is a NAT.
bool natted(const Placement& p) noexcept {
  return p.behind_nat || p.symmetric_nat;
}

// What the DC knows of one end in one address family.  The NAT verdict was
// measured on the family the node registered over (its observed address);
// in its other family the node reported addresses but the DC never saw it
// there, so it may be behind a NAT or a firewall: unmeasured.
enum class Reach { none, global, nat, unmeasured };

Reach reach_in(const Placement& p, Family f) noexcept {
  if (p.observed.addr.family == f) return natted(p) ? Reach::nat : Reach::global;
  for (const Endpoint& e : p.local)
    if (e.addr.family == f && leaves_link(e.addr)) return Reach::unmeasured;
  return Reach::none;
}

// Both ends behind one NAT: the DC saw them come from one public address.
bool same_nat(const Placement& mn, const Placement& cn) noexcept {
  return natted(mn) && natted(cn) && !mn.observed.empty() &&
         same_addr(mn.observed.addr, cn.observed.addr);
}

bool in_one_prefix(const IpAddr& a, const IpAddr& b, unsigned prefix_len) noexcept {
  if (prefix_len > 32) prefix_len = 32;
  const std::uint32_t mask = prefix_len == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_len);
  return (v4_value(a) & mask) == (v4_value(b) & mask);
}

// Behind one NAT, two nodes share a network when some pair of their IPv4
// addresses lies in one prefix: then they reach each other without the NAT.
bool share_network(const Placement& mn, const Placement& cn, unsigned prefix_len) noexcept {
  for (const Endpoint& a : mn.local) {
    if (a.addr.family != Family::v4 || !leaves_link(a.addr)) continue;
    for (const Endpoint& b : cn.local)
      if (b.addr.family == Family::v4 && leaves_link(b.addr) &&
          in_one_prefix(a.addr, b.addr, prefix_len))
        return true;
  }
  return false;
}

Decision made(RouteType route, FirstSender first, std::string_view why, Family f = Family::none) {
  Decision d;
  d.route = route;
  d.first = first;
  d.reason = why;
  d.family = f;
  return d;
}

// A relayed route, which fails with `fail` when there is no relay.
Decision relayed(RouteType route, FirstSender first, std::string_view why, const Policy& policy,
                 Outcome fail = Outcome::no_relay) {
  Decision d = made(route, first, why);
  if (!policy.relay_available) d.outcome = fail;
  return d;
}

// The route in family f when both ends are behind NAT (measured or
// not): relay; the reason says what stopped a direct route.
std::string_view why_relay(const Placement& mn, const Placement& cn, Reach m, Reach c) {
  if ((m == Reach::nat && mn.symmetric_nat) || (c == Reach::nat && cn.symmetric_nat))
    return reason::symmetric_nat;
  if (m == Reach::nat && c == Reach::nat && same_nat(mn, cn)) return reason::same_nat_other_network;
  if (m == Reach::unmeasured || c == Reach::unmeasured) return reason::unmeasured;
  return reason::two_nats;
}

// The route in one family both ends can use.  Whoever may sit behind a NAT
// sends first: its outbound Tunnel Request opens the NAT, and the global
// side answers to the source it sees, so even a symmetric NAT is passed.
Decision route_in(const Placement& mn, const Placement& cn, Family f) {
  const Reach m = reach_in(mn, f);
  const Reach c = reach_in(cn, f);
  const bool mn_global = m == Reach::global;
  const bool cn_global = c == Reach::global;
  if (mn_global && cn_global)
    return made(RouteType::direct, FirstSender::initiator, reason::both_global, f);
  if (cn_global) return made(RouteType::direct, FirstSender::initiator, reason::mn_behind_nat, f);
  if (mn_global) return made(RouteType::direct, FirstSender::responder, reason::cn_behind_nat, f);
  return made(RouteType::relay, FirstSender::both, why_relay(mn, cn, m, c));
}

// Lower is better: a direct route, then one built on measured verdicts,
// then the usual order (MN first), then IPv4 for determinism.
auto rank(const Decision& d, const Placement& mn, const Placement& cn, Family f) {
  int unmeasured = 0;
  if (reach_in(mn, f) == Reach::unmeasured) ++unmeasured;
  if (reach_in(cn, f) == Reach::unmeasured) ++unmeasured;
  return std::make_tuple(d.route == RouteType::relay, unmeasured, d.first != FirstSender::initiator,
                         f != Family::v4);
}

// The best route over the families both ends can use; none if they share none.
std::optional<Decision> best_common_route(const Placement& mn, const Placement& cn) {
  std::optional<Decision> best;
  Family best_family = Family::none;
  for (Family f : kFamilies) {
    if (reach_in(mn, f) == Reach::none || reach_in(cn, f) == Reach::none) continue;
    Decision d = route_in(mn, cn, f);
    if (!best || rank(d, mn, cn, f) < rank(*best, mn, cn, best_family)) {
      best = d;
      best_family = f;
    }
  }
  return best;
}

}  // namespace

bool behind_nat(const std::vector<wire::Endpoint>& local, const wire::Endpoint& observed) {
  if (observed.empty()) return false;
  for (const Endpoint& e : local)
    if (e.port == observed.port && same_addr(e.addr, observed.addr)) return false;
  return true;
}

Decision decide(const Placement& mn, const Placement& cn, const Policy& policy) {
  // The RS translates towards a host that knows nothing of NTMobile, and
  // hides the MN's moves from it; the MN opens the tunnel to the RS.
  // "online" means registered, which a general host never is.
  if (!cn.ntmobile)
    return relayed(RouteType::relay_general, FirstSender::initiator, reason::general_host, policy);
  if (!cn.online) {
    Decision d = made(RouteType::direct, FirstSender::initiator, reason::cn_offline);
    d.outcome = Outcome::peer_offline;
    return d;
  }
  // Behind one NAT the private addresses reach each other directly, even
  // through a symmetric NAT, since the traffic never crosses it.  Both send
  // first; a node that gets no answer falls back to the relay.
  if (same_nat(mn, cn) && share_network(mn, cn, policy.same_network_prefix_len))
    return made(RouteType::direct_private, FirstSender::both, reason::same_nat_network, Family::v4);
  if (auto d = best_common_route(mn, cn)) {
    if (d->route == RouteType::relay) return relayed(d->route, d->first, d->reason, policy);
    return *d;
  }
  // IPv4-only against IPv6-only: only the RS, which speaks both, joins them.
  return relayed(RouteType::relay, FirstSender::both, reason::no_common_family, policy,
                 Outcome::no_common_family);
}

bool redirect_after_move(RouteType current, const Decision& next, const Placement& initiator,
                         const Placement& responder, bool initiator_moved, bool responder_moved) {
  if (next.outcome != Outcome::ok || current == RouteType::relay_general) return false;
  if (!initiator_moved && !responder_moved) return false;
  if (next.route != current) return true;
  const bool both = initiator_moved && responder_moved;
  switch (next.route) {
    case RouteType::direct: {
      // The mover's NTM Update reaches a global peer; a peer behind NAT (or
      // not measured in this family) lets in only what it sent for first,
      // so it must be told the mover's new address and send first.  When
      // both moved, each one's update goes to the other's old address.
      if (both) return true;
      const Placement& still = initiator_moved ? responder : initiator;
      return reach_in(still, next.family) != Reach::global;
    }
    case RouteType::direct_private:
      // The mover cannot tell whether it left the network (the same private
      // prefix is everywhere), so it went onto its stand-by relay at once;
      // it stayed, and the re-direction brings it back.
      return true;
    default:  // relay: each end updates the RS, which stays where it is
      return false;
  }
}

Decision after_route_failed(RouteType current, const Decision& next, const Policy& policy) {
  if (next.outcome != Outcome::ok || next.route != current || !policy.relay_available)
    return next;
  if (current != RouteType::direct && current != RouteType::direct_private) return next;
  return made(RouteType::relay, FirstSender::both, reason::route_failed);
}

bool standby_relay(const Decision& d, bool nat_standby) {
  if (d.outcome != Outcome::ok) return false;
  switch (d.route) {
    case RouteType::direct_private: return true;
    case RouteType::direct:
      return nat_standby && (d.reason == reason::mn_behind_nat || d.reason == reason::cn_behind_nat);
    default: return false;
  }
}

}  // namespace ntm::dc::route
