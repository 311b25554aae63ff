// SPDX-License-Identifier: MIT
#include "state/end_view.hpp"

#include <algorithm>

namespace ntm::dc::state {

namespace {

// The end of p that is not `party`: its node ID when it is one of our
// nodes, else only its name (a general host, or a node of another DC).
struct OtherEnd {
  const wire::NodeId* id = nullptr;
  const std::string* name = nullptr;
};

OtherEnd other_end(const Path& p, const Party& party) {
  if (p.initiator == party.id)
    return {p.responder ? &*p.responder : nullptr, &p.responder_fqdn};
  return {&p.initiator, nullptr};
}

// Whether two ends are the same peer.  IDs where both have one (no lookup,
// no string compare: this runs for every path of both ends of every
// direction), names otherwise.
bool same_end(View& view, const OtherEnd& a, const OtherEnd& b) {
  if (a.id && b.id) return *a.id == *b.id;
  auto name = [&](const OtherEnd& e) -> const std::string* {
    if (e.name) return e.name;
    const Party* x = view.find(*e.id);
    return x ? &x->name : nullptr;
  };
  const std::string* x = name(a);
  const std::string* y = name(b);
  return x && y && *x == *y;
}

}  // namespace

route::EndView end_view(View& view, const Party& party, const Path& path,
                        unsigned route_prefix_len) {
  route::EndView ev;
  ev.own_vip = party.vip.addr;
  const std::uint32_t mask =
      route_prefix_len == 0 ? 0 : ~std::uint32_t{0} << (32 - std::min(route_prefix_len, 32u));
  ev.routed = config::Ipv4Prefix{ev.own_vip & mask, route_prefix_len};
  const OtherEnd peer = other_end(path, party);
  for (const Path* p : view.paths_of(party.id)) {
    if (p->id == path.id || p->state == PathState::closed) continue;
    int idx;
    if (p->initiator == party.id)
      idx = 0;
    else if (p->responder && *p->responder == party.id)
      idx = 1;
    else
      continue;  // a path it relays
    if (same_end(view, peer, other_end(*p, party))) continue;  // the same peer: the same address
    std::uint32_t a = p->peer_view[idx];
    if (a == 0) {
      // Directed before this process started (views are not stored): the
      // peer's VIP, which is what that direction gave.
      const Party* o =
          idx == 0 ? (p->responder ? view.find(*p->responder) : nullptr) : view.find(p->initiator);
      if (o) a = o->vip.addr;
    }
    if (a != 0) ev.taken.push_back(a);
  }
  return ev;
}

std::string assign_peer_views(View& view, Path& path, std::uint32_t responder_vip,
                              const config::Config& cfg, std::uint32_t initiator_vip) {
  const Path* before = view.find_path(path.id);
  Party* ini = view.find(path.initiator);
  Party* resp = path.responder ? view.find(*path.responder) : nullptr;
  if (ini) initiator_vip = ini->vip.addr;
  auto choose = [&](Party* party, int end, std::uint32_t peer_vip) -> std::string {
    if (!party || peer_vip == 0) return {};
    const route::EndView ev = end_view(view, *party, path, cfg.vip_prefix_len);
    const std::uint32_t kept = path.peer_view[end] ? path.peer_view[end]
                               : before            ? before->peer_view[end]
                                                   : 0;
    const route::PeerView pv =
        route::choose_peer_view(ev, peer_vip, kept, cfg.substitute_pool, cfg.vip_force_substitute);
    if (pv.addr == 0)
      return party->name + ": " + std::string(pv.error) + " (" + wire::Vip{peer_vip}.to_string() +
             ")";
    path.peer_view[end] = pv.addr;
    return {};
  };
  if (std::string e = choose(ini, 0, responder_vip); !e.empty()) return e;
  return choose(resp, 1, initiator_vip);
}

}  // namespace ntm::dc::state
