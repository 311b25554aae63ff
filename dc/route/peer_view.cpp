// SPDX-License-Identifier: MIT
#include "route/peer_view.hpp"

#include <algorithm>

namespace ntm::dc::route {

namespace {

std::string_view clash_in(const EndView& end, const std::vector<std::uint32_t>& sorted_taken,
                          std::uint32_t addr) {
  if (addr == 0) return "no address";
  if (addr == end.own_vip) return "it is the end's own VIP";
  // A peer address the end does not route into its tunnel would never reach
  // ntmd (a foreign DC's pool may lie anywhere).
  if (!end.routed.contains(addr)) return "it lies outside the end's routed range";
  // The kernel treats these as the subnet's own addresses on the interface
  // (broadcast), not as a host behind the tunnel.
  const std::uint32_t last = end.routed.network + (end.routed.size() - 1);
  if (end.routed.length < 31 && (addr == end.routed.network || addr == last))
    return "it is the network or broadcast address of the end's routed range";
  if (std::binary_search(sorted_taken.begin(), sorted_taken.end(), addr))
    return "the end already uses it for another peer";
  return {};
}

}  // namespace

std::string_view clash_of(const EndView& end, std::uint32_t addr) {
  std::vector<std::uint32_t> t = end.taken;
  std::sort(t.begin(), t.end());
  return clash_in(end, t, addr);
}

PeerView choose_peer_view(const EndView& end, std::uint32_t peer_vip, std::uint32_t kept,
                          const config::Ipv4Prefix& substitute_pool, bool force_substitute) {
  // Sorted once: a node with many paths is checked per candidate in log time.
  std::vector<std::uint32_t> taken = end.taken;
  std::sort(taken.begin(), taken.end());
  const auto usable_substitute = [&](std::uint32_t a) {
    const std::uint32_t last = substitute_pool.network + (substitute_pool.size() - 1);
    return substitute_pool.length > 0 && substitute_pool.contains(a) &&
           a != substitute_pool.network && a != last && a != peer_vip &&
           clash_in(end, taken, a).empty();
  };
  // Stable across re-directions: what the end used before stays while it is
  // free, so connections its applications hold keep their address.
  if (kept != 0) {
    if (kept == peer_vip && !force_substitute && clash_in(end, taken, kept).empty())
      return {kept, false, {}};
    if (kept != peer_vip && usable_substitute(kept)) return {kept, true, {}};
  }
  if (!force_substitute && clash_in(end, taken, peer_vip).empty()) return {peer_vip, false, {}};
  if (substitute_pool.length == 0 || substitute_pool.size() < 3)
    return {0, false, "the peer's VIP clashes in this end's view and no substitute pool is set"};
  // The lowest free address: the end's view is small next to the pool, so
  // at most taken.size() + 3 candidates are looked at.
  const std::uint32_t last = substitute_pool.network + (substitute_pool.size() - 1);
  for (std::uint32_t a = substitute_pool.network + 1; a < last; ++a)
    if (usable_substitute(a)) return {a, true, {}};
  return {0, false, "substitute pool exhausted in this end's view"};
}

}  // namespace ntm::dc::route
