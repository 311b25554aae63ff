// SPDX-License-Identifier: MIT
// For the DC-to-DC code too: whoever seals a Route Direction for an end
// (DC_MN for its MN, DC_CN re-sealing a forwarded one for its CN) sets
// peer_view from choose_peer_view, with that end's EndView (state/end_view.hpp).
//
// The address one end of a path uses for its peer (Route Direction
// peer_view, docs/protocol.md §7.4): the peer's VIP, unless that VIP
// clashes with an address already in this end's view; then a substitute from
// the DC's substitute pool, which ntmd translates to the real VIP and back
// on the data path (docs/data-plane.md §7).  A pure function of its inputs,
// so every clash is a unit test; docs/dc.md "Virtual address clashes".
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace ntm::dc::route {

// One end's view as the DC sees it when it directs a path.
struct EndView {
  std::uint32_t own_vip = 0;  // the end's own VIP (host order)
  config::Ipv4Prefix routed;  // the range the end routes into its tunnel
  // The addresses the end uses for the peers of its other live paths (to
  // other peers; a path to the same peer shares the peer's address).
  std::vector<std::uint32_t> taken;
};

struct PeerView {
  std::uint32_t addr = 0;   // 0: none (error says why)
  bool substitute = false;  // addr is not the peer's VIP
  std::string_view error;   // empty on success
};

// kept: the address this end used for the same path before (a
// re-direction), 0 if none: kept while it is still free in the end's view,
// so that applications' connections survive the re-direction.
// force_substitute: a test hook (Config::vip_force_substitute), substitute
// even when the peer's VIP would do.
PeerView choose_peer_view(const EndView& end, std::uint32_t peer_vip, std::uint32_t kept,
                          const config::Ipv4Prefix& substitute_pool, bool force_substitute = false);

// Why peer_vip cannot be used as it is in this end's view; empty if it can.
std::string_view clash_of(const EndView& end, std::uint32_t addr);

}  // namespace ntm::dc::route
