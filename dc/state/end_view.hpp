// SPDX-License-Identifier: MIT
// The view side of route::choose_peer_view: what one end of a path already
// has in its view, read from the DC's View, and the choice of both ends'
// peer_view for a path being directed (kept on the path, in memory only).
#pragma once

#include <string>

#include "config/config.hpp"
#include "route/peer_view.hpp"
#include "state/view.hpp"

namespace ntm::dc::state {

// The view of `party`, an end of `path`: its VIP, its routed range and the
// addresses it uses for the peers of its other paths, a path to the same
// peer (by FQDN) excepted.
route::EndView end_view(View& view, const Party& party, const Path& path,
                        unsigned route_prefix_len);

// Sets path.peer_view[0] (the initiator's address for the responder, whose
// VIP is responder_vip) and [1] (the responder's for the initiator, whose
// VIP is the initiator's in the view, or initiator_vip for another DC's
// node), each kept from the path's previous version in the view while
// still free.  An end that is not a node of this view (a general host, a
// foreign DC's node) keeps 0.  Returns why a choice failed, or "".
std::string assign_peer_views(View& view, Path& path, std::uint32_t responder_vip,
                              const config::Config& cfg, std::uint32_t initiator_vip = 0);

}  // namespace ntm::dc::state
