// SPDX-License-Identifier: MIT
// ntmd's control plane: registration and keepalives with the DC, Direction
// Requests for names the resolver intercepts, Route Directions, and the
// Tunnel Request/Response exchange that brings each path up.  Single
// threaded on the daemon's io_context; the DataPath carries the packets.
//
// The work is split by protocol step: registration.cpp (Registration,
// Keepalive), direction.cpp (Direction Request, Route Direction),
// tunnel.cpp (Tunnel Request/Response with the peer or the relay),
// agent.cpp (dispatch, timers, status).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/node_config.hpp"
#include "datapath/data_path.hpp"
#include "ntm/wire/control_channel.hpp"

namespace ntm::node {

// What the resolver gets for a name.
struct Resolution {
  enum class Kind { address, nxdomain, servfail } kind = Kind::servfail;
  std::uint32_t vip = 0;  // host order, for address
};
using ResolveDone = std::function<void(const Resolution&)>;

enum class PathState { setting_up, up, failed };
std::string_view to_string(PathState s);

// What moves did to a path (docs/mobility.md).
struct PathMoves {
  std::uint32_t update_seq = 0;         // our last NTM Update Request's sequence number
  std::uint64_t updates_sent = 0;       // datagrams, retransmissions included
  std::uint64_t updates_answered = 0;   // rounds the peer (or RS) confirmed
  std::uint64_t updates_accepted = 0;   // the peer's updates that moved our endpoint
  std::uint64_t updates_refused = 0;    // not the peer, stale, rate-limited
  std::uint64_t redirects = 0;          // re-directions of this path (new key epoch)
  std::uint64_t standby_switches = 0;   // moves that put the path on its stand-by relay
  std::uint64_t standby_lost = 0;       // times its stand-by relay leg went silent
  std::uint64_t blackout_holds = 0;     // moves that held it while the host had no route
  std::uint32_t last_update_ms = 0;     // from the move to the confirmation, last round
};

// One path as ntmd tracks it (keys live only in the channels and the data path).
struct PathInfo {
  wire::PathId id;
  std::uint8_t key_epoch = 0;
  wire::PathEnd end = wire::PathEnd::initiator;
  wire::RouteType route = wire::RouteType::direct;
  wire::FirstSender first = wire::FirstSender::initiator;
  wire::NodeInfo peer;             // the other end as the DC described it
  std::uint32_t peer_view = 0;     // the peer's address in our view
  wire::Endpoint relay;            // relay endpoint (relayed routes, or fallback)
  PathState state = PathState::setting_up;
  bool relay_up = false;           // the RS answers our RELAY_PATH Tunnel Requests (stand-by
                                   // legs: within kRelayLegSilentMs)
  bool via_relay = false;          // capsules go to the RS
  PathMoves moves;
};

struct AgentStatus {
  bool registered = false;
  bool dc_reachable = false;
  wire::Endpoint dc;               // the DC cluster member we register with
  std::uint64_t dc_failovers = 0;  // times we moved to another member
  std::uint32_t vip = 0;
  std::uint8_t prefix_len = 0;
  bool behind_nat = false;
  wire::Endpoint observed;
  wire::Endpoint local;
  std::uint64_t moves = 0;  // network changes acted on
  std::uint64_t deferred_registrations = 0;  // moves whose registration waited (mobility.md §2)
  std::vector<std::pair<PathInfo, TunnelCounters>> paths;
  DataPathCounters totals;
  std::uint64_t dropped_control = 0;
  std::uint64_t paths_released = 0;  // let go after path_idle_s without data (node.md "Idle paths")
  std::uint64_t paths_revived = 0;   // directed anew when an application sent to one again
};

class Agent {
 public:
  Agent(boost::asio::io_context& io, const NodeConfig& cfg, DataPath& dp);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  void start();
  void stop();

  // The resolver's entry: a path to `fqdn`, answered once it is up (or
  // failed).  The caller bounds the wait; done may be called late or never.
  void resolve(const std::string& fqdn, ResolveDone done);

  // The host's network changed (an rtnetlink event, or a test standing in
  // for one): re-register and update every live path.  Events that come
  // together are handled once.  link_only: a link's carrier or state
  // changed, no address or route (the blackout's end waits a little then:
  // docs/mobility.md, "Blackout").
  void network_changed(std::string_view why, bool link_only = false);

  // The node–DC key was replaced (`ntm-dc node rekey`, then SIGHUP): talks
  // to the DC under the new key from now on and registers at once.  Paths
  // keep their own keys, so traffic goes on.  False: the same key and
  // epoch, nothing done.
  bool reload_key(const wire::SecretKey& key, std::uint8_t key_epoch);

  AgentStatus status() const;
  // Called once, after the first registration (the daemon prints its ready line).
  std::function<void(std::uint32_t vip)> on_ready;

 private:
  struct Path;
  struct Lookup;

  // agent.cpp
  void on_datagram(std::span<const std::uint8_t> d, const wire::Endpoint& from);
  void on_roam(const wire::PathId& path, const wire::Endpoint& from);
  void housekeeping();
  std::uint32_t send_dc(const wire::Body& body, std::uint32_t txid = 0,
                        const wire::Endpoint* to = nullptr);

  // registration.cpp
  // local: the host's endpoints as the caller just read them (a move round
  // reads them once), or nullopt to read them here.
  void register_now(wire::RegistrationReason why,
                    std::optional<std::vector<wire::Endpoint>> local = std::nullopt);
  void schedule_registration_retry();
  void on_registration_response(const wire::RegistrationResponse& r, const wire::ControlHeader& h);
  void send_keepalive();
  void on_keepalive_ack(const wire::KeepaliveAck& a);
  // DC cluster (docs/node.md "DC cluster"): the member we are registered
  // with (home), Keepalives to every other member (a NAT binding towards
  // each, so that any can reach us), and failover to the next member when
  // the home leaves a message unanswered for kDcFailoverMs.
  const wire::Endpoint& home_dc() const { return cfg_.dc_members[home_]; }
  void keepalive_members();
  void check_dc_failover(std::uint64_t now);
  void note_sent_home(std::uint64_t now);
  void watch_dc();
  std::vector<wire::Endpoint> local_endpoints() const;

  // direction.cpp
  void send_direction_request(Lookup& l);
  void on_route_direction(const wire::RouteDirection& rd, const wire::ControlHeader& h);
  void on_dc_error(const wire::ErrorReply& e, const wire::ControlHeader& h);
  void finish_waiters(Path& p, const Resolution& r);
  void fail_lookup(const std::string& fqdn, Resolution::Kind kind);

  // release.cpp: idle paths (docs/node.md "Idle paths")
  using PathMap = std::map<wire::PathId, std::unique_ptr<Path>>;
  struct Releasing {
    std::uint32_t txid = 0;
    unsigned sends = 0;
    std::uint64_t next_ms = 0;
  };
  bool idle(Path& p, std::uint64_t now);
  // tell_dc: send our Path Release (false: the DC told us).
  // Returns the iterator after it, as erase() does.
  PathMap::iterator let_go(PathMap::iterator it, std::uint64_t now, std::string_view why,
                           bool tell_dc = true);
  void on_release_from_dc(const wire::PathRelease& r, std::uint32_t txid, const wire::Endpoint& from);
  void send_release(const wire::PathId& id, Releasing& r, std::uint64_t now);
  void retransmit_releases(std::uint64_t now);
  // The DC's Path Release Ack (id) or Error (no id) for the release sent as txid.
  void on_release_answer(const wire::PathId* id, std::uint32_t txid);
  // The data path saw a packet to dst with no tunnel.
  void on_miss(std::uint32_t dst, std::vector<std::uint8_t> packet);
  // The direction on_miss started for a dormant peer ended.
  void on_revived(std::uint32_t dst, const Resolution& r);

  // update.cpp: moves (docs/mobility.md)
  void start_move_round(std::string_view why,
                        std::optional<std::vector<wire::Endpoint>> local = std::nullopt);
  void begin_update(Path& p, bool may_redirect = true);
  void send_update(Path& p);
  void on_update_request(Path& p, const wire::UpdateRequest& u, std::uint32_t txid,
                         const wire::Endpoint& from);
  void on_update_response(Path& p, const wire::UpdateResponse& u, const wire::Endpoint& from);
  void request_redirect(Path& p, std::string_view why);
  void check_liveness(Path& p, std::uint64_t now);
  // Holding (docs/mobility.md, "Holding"): the path's outgoing packets are
  // kept by the data path from the move until the path answers again.
  void hold_path(const Path& p, std::uint64_t now);
  // A path whose peer must send first and whose stand-by relay leg is up:
  // on our move it goes via the relay at once instead of being held until
  // the DC re-directs it (docs/mobility.md, "Stand-by relay").
  bool switch_to_standby(Path& p);
  // A direct path whose stand-by relay leg carries it after a move
  // (switch_to_standby says why).
  bool standby_ready(const Path& p) const;
  void register_after_move(bool now);
  void release_path(const wire::PathId& id, std::string_view why);
  // Blackout (docs/mobility.md §2): a path whose capsules have no route
  // now (the host lost its address or default route in a move) is held
  // until a move round finds one, at most kBlackoutHoldMaxMs, and then
  // sends what it kept.  no_address: the host has none at all (no lookup).
  // left: the host's addresses before this change (what the path sent
  // from), so that the data path can tell the new network's route.
  void follow_blackout(Path& p, std::uint64_t now, bool no_address,
                       const std::vector<wire::Endpoint>& left, RouteCheck& routes);
  void end_blackout(const wire::PathId& id, std::string_view why);
  // The NTM Update Request numbered seq for whoever keeps our end of p (the
  // peer, the RS; onto_relay: the stand-by leg's RS): the datagram in buf,
  // its length (0: not sealed), and where it goes.
  std::size_t seal_update(Path& p, std::uint32_t seq, bool onto_relay, std::span<std::uint8_t> buf,
                          wire::Endpoint& to);
  // For a blackout on a path through a relay: the update the data path
  // sends it when the route is back (RouteReturn), counted as sent.
  bool seal_blackout_update(Path& p, bool onto_relay, RouteReturn& r);
  // The link is back with the address the blackout began with: the same
  // network (an access point roam), or a new one whose address is on its
  // way; kBlackoutSameAddressMs tells them apart.
  void arm_blackout_grace();
  void arm_hold_timer();

  // tunnel.cpp
  void begin_tunnel(Path& p);
  void send_tunnel_requests(Path& p);
  void on_path_message(std::span<const std::uint8_t> d, const wire::Endpoint& from,
                       const wire::ControlHeader& h);
  void mark_up(Path& p);
  void fall_back_to_relay(Path& p);
  wire::TunnelRequest tunnel_request(const Path& p) const;
  // The stand-by relay leg of a direct path, refreshed at the path
  // keepalive interval: the relay keeps it, the ends' NATs keep its binding.
  void keep_relay_leg(Path& p);
  // A stand-by leg the RS stopped answering counts as down (kRelayLegSilentMs).
  void check_relay_leg(Path& p, std::uint64_t now);

  boost::asio::io_context& io_;
  NodeConfig cfg_;
  DataPath& dp_;
  wire::ControlChannel dc_chan_;

  // registration
  bool registered_ = false, dc_reachable_ = false, ready_sent_ = false;
  std::uint32_t reg_txid_ = 0;
  std::uint32_t reg_backoff_ms_ = 500;
  std::vector<wire::Endpoint> reported_;
  wire::RegistrationResponse reg_;
  std::uint64_t last_dc_heard_ms_ = 0, last_keepalive_ms_ = 0;
  // DC cluster: index of the home in cfg_.dc_members; when each member
  // last answered (monotonic ms, 0: never); since when a message to the
  // home is unanswered (0: none); the member the message being handled
  // came from (acks and prompt answers go back there).
  std::size_t home_ = 0;
  std::vector<std::uint64_t> member_heard_ms_;
  std::uint64_t home_waiting_since_ms_ = 0;
  std::uint64_t failovers_ = 0;
  wire::Endpoint dc_from_;
  boost::asio::steady_timer reg_timer_, tick_;
  boost::asio::steady_timer dc_watch_;  // DC cluster: failover checks, every 250 ms

  // moves
  boost::asio::steady_timer move_timer_;
  bool move_armed_ = false;
  std::string move_why_;
  std::uint64_t moves_ = 0;
  std::uint64_t deferred_registrations_ = 0;
  std::map<wire::PathId, std::uint64_t> held_paths_;  // being held, since (monotonic ms)
  struct Blackout {
    std::uint64_t since_ms = 0;  // monotonic
    // The data path's count of holds it ended itself (route_ends) when
    // this one began: once it has moved, the data path sends again.
    std::uint64_t route_ends = 0;
  };
  std::map<wire::PathId, Blackout> blackout_paths_;  // held for want of a route
  boost::asio::steady_timer hold_timer_;
  boost::asio::steady_timer blackout_grace_timer_;
  bool move_readdressed_ = false;      // an address or route event in the batch being gathered
  bool blackout_readdressed_ = false;  // one since the blackout began
  boost::asio::steady_timer move_reg_timer_;  // the registration after a move, deferred

  // directions and paths
  std::map<std::string, std::unique_ptr<Lookup>> lookups_;  // by peer FQDN, before a Route Direction
  PathMap paths_;
  // Idle paths: releases the DC has not answered yet, and the peers whose
  // paths were let go, by their address in our view.
  std::map<wire::PathId, Releasing> releasing_;
  struct Dormant {
    std::string fqdn;
    std::uint64_t since_ms = 0;
    // Packets that found no tunnel while the path comes back, sent through
    // it once it is up (at most kKeptMax; the data path reports at most
    // one per 100 ms, so this is the first of a burst: for TCP, the segment
    // whose loss would cost a retransmission timeout).
    std::vector<std::vector<std::uint8_t>> kept;
    bool reviving = false;  // on_miss's direction under way
  };
  std::map<std::uint32_t, Dormant> dormant_;
  std::uint64_t released_ = 0, revived_ = 0;
  struct Early {
    wire::PathId path;
    std::vector<std::uint8_t> datagram;
    wire::Endpoint from;
    std::uint64_t at_ms = 0;
  };
  static constexpr std::size_t kMaxEarly = 16;
  std::vector<Early> early_;  // path messages that came before their Route Direction
  // Route Directions that came before this process's first Registration
  // Response (a restarted ntmd the DC re-directs old paths to): a tunnel
  // needs our VIP, so they are taken once registered.  The DC retransmits
  // what goes unanswered, so a full list only delays.
  struct HeldDirection {
    wire::RouteDirection rd;
    wire::ControlHeader h;
  };
  static constexpr std::size_t kMaxHeldDirections = 32;
  std::vector<HeldDirection> held_directions_;
  std::uint32_t next_txid_ = 1;
  std::uint64_t dropped_control_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace ntm::node
