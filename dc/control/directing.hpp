// SPDX-License-Identifier: MIT
// One path being directed: the steps (relay, responder, initiator), the
// keys made for it (held only until both ends have them), and the
// retransmission state of the message in flight.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/server.hpp"
#include "federation/peer.hpp"

namespace ntm::dc::control {

struct Server::Directing {
  enum class Step { relay, responder, initiator };

  explicit Directing(asio::io_context& io) : timer(io) {}

  state::Path path;
  std::optional<state::Path> previous;  // the path this re-direction replaces
  wire::SecretKey path_key;   // K_path, or the general-path key
  wire::SecretKey relay_key;  // K_rp (relayed paths between two nodes)
  wire::NodeInfo general;     // the responder when it is a general host
  wire::NodeId mn_id;  // the path's initiator
  // Who asked for this direction, and is sent the Error if it fails: the MN
  // for a new path, either end for a requested re-direction, nobody for a
  // re-direction the DC started after a move (its failure is logged).
  std::optional<wire::NodeId> requester;
  std::uint32_t req_txid = 0;
  wire::Endpoint req_from;
  // A redirect request without a move since the path was last directed:
  // its route failed (route::after_route_failed).
  bool route_failed = false;
  // A re-key (path_rekey_s): the route is decided as ever, but the relay
  // the path has stays while it serves.
  bool rekey = false;
  // An end moved while this ran: reconsider the path when it ends.
  bool again = false;
  Step step = Step::responder;

  // The message in flight: re-sealed (fresh counter) on every retransmission
  // so that a receiver whose answer was lost sees a new, acceptable message.
  wire::Body body;
  wire::NodeId to;
  std::uint32_t txid = 0;
  asio::steady_timer timer;
  unsigned backoff_ms = 0;
  std::uint64_t deadline_ms = 0;  // monotonic
  std::vector<wire::NodeId> tried_relays;

  // A federated path (docs/federation.md).  At DC_MN (forwarded false) the
  // responder is the peer's node: its step is a Route Forward to the peer,
  // and `general` holds the CN as the peer described it.  At DC_CN
  // (forwarded true) the direction came in a Route Forward: only the
  // responder step runs, with `direction` re-sealed to CN, and its outcome
  // goes back to the peer.
  struct Remote {
    // User-provided: clang does not see the defaults of a nested class
    // as constructible while the enclosing one is being defined.
    Remote() noexcept {}  // NOLINT(modernize-use-equals-default)
    federation::Peer* peer = nullptr;
    bool forwarded = false;
    wire::RouteDirection direction;  // DC_CN: the forwarded Route Direction
    std::uint32_t peer_txid = 0;     // DC_CN: the Route Forward's txid
    wire::Endpoint peer_from;        // DC_CN: where it came from
    // DC_MN: the peer's member that answered the Node Info Request, sent
    // the Route Forward first (send_forward): its view holds CN as
    // described.  It may be one this process never looked up in DNS.
    wire::Endpoint at;
    unsigned forwards = 0;  // Route Forwards sent, retransmissions included
  };
  std::optional<Remote> remote;

  bool forwarding_to_peer() const { return remote && !remote->forwarded && step == Step::responder; }

  bool involves(const wire::NodeId& id) const {
    return mn_id == id || (path.responder && *path.responder == id) ||
           (path.relay && *path.relay == id);
  }
};

// Federation, DC_MN (federation.cpp): a direction to another DC's node
// before its route: waiting for DNS or for the peer's Node Info Response.
struct Server::Asking {
  explicit Asking(asio::io_context& io) : timer(io) {}
  wire::PathId path_id;
  wire::NodeId mn_id;
  std::string target;
  // The MN that asked, to be sent the Error; none: a re-direction the DC
  // started after MN moved.
  std::optional<wire::NodeId> requester;
  std::uint32_t req_txid = 0;
  wire::Endpoint req_from;
  std::optional<state::Path> previous;  // the federated path this re-directs
  // The key epoch the direction will have: one past the path's row when it
  // has one, established or left half-directed (whose epoch an end may
  // hold), else 0.
  std::uint8_t key_epoch = 0;
  // A re-direction the DC started after an end moved: taken only if the
  // route must change (route::redirect_after_move with these ends moved).
  bool after_move = false;
  bool initiator_moved = true;  // false: CN moved, as DC_CN told (Path Moved)
  bool rekey = false;           // asked again to re-key the path (Directing::rekey)
  bool resolving = true;  // in DNS; else asking the peer
  bool looked_up = false;  // the peer's endpoint was looked for in DNS (ask_peer)
  federation::Peer* peer = nullptr;
  // The peer's member to ask first (empty: peer->endpoint()).  After a Path
  // Moved it is the member that sent it: it committed CN's registration,
  // while another member's view may not have it yet (cluster notification
  // lag), and would answer with CN where it was.
  wire::Endpoint ask_at;
  unsigned sends = 0;  // Node Info Requests sent, retransmissions included
  wire::NodeInfoRequest request;
  std::uint32_t txid = 0;
  asio::steady_timer timer;
  unsigned backoff_ms = 0;
  std::uint64_t deadline_ms = 0;
};

// Federation, DC_CN (federation.cpp): CN moved or asked for a re-direction
// of a federated path, and DC_MN, which alone may re-direct it, is told
// (Path Moved) until it acknowledges.
struct Server::Telling {
  explicit Telling(asio::io_context& io) : timer(io) {}
  federation::Peer* peer = nullptr;
  wire::PathMoved body;
  std::uint32_t txid = 0;
  asio::steady_timer timer;
  unsigned backoff_ms = 0;
  std::uint64_t deadline_ms = 0;  // monotonic; 0: the peer's endpoint is being looked up
  // CN's redirect request, sent the Error if DC_MN refuses or stays silent.
  std::optional<wire::NodeId> requester;
  std::uint32_t req_txid = 0;
  wire::Endpoint req_from;
};

// Certificates (greeting.cpp): a Peer Hello to a DC's endpoint, retransmitted
// until a certificate from there passes or peer_timeout_ms ends it; every
// direction waiting for that DC waits on the one greeting.
struct Server::Greeting {
  explicit Greeting(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  wire::Endpoint to;
  std::uint32_t txid = 0;
  unsigned backoff_ms = 0;
  std::uint64_t deadline_ms = 0;
  std::string refusal;  // why the last answer was refused, for the timeout's error
  std::vector<Greeted> waiting;
};

}  // namespace ntm::dc::control
