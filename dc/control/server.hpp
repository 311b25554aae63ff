// SPDX-License-Identifier: MIT
// The DC's control plane: the UDP sockets, authentication of every
// datagram against the sender's key, and the handlers of the protocol's
// messages (registration.cpp, direction.cpp, relay.cpp).  Runs on one
// Asio I/O thread that owns the View; database writes go through the
// group-commit Writer and complete back on this thread.
#pragma once

#include <boost/asio.hpp>
#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "federation/peer.hpp"
#include "federation/resolver.hpp"
#include "federation/trust.hpp"
#include "control/batch_io.hpp"
#include "control/receiver.hpp"
#include "control/slices.hpp"
#include "ntm/wire/aead.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/sealed_key.hpp"
#include "route/decision.hpp"
#include "state/node_observer.hpp"
#include "state/view.hpp"
#include "store/writer.hpp"

namespace ntm::dc::control {

namespace asio = boost::asio;

// Drops and events beyond what Receiver counts (which covers everything
// refused before authentication).
struct ServerStats {
  std::uint64_t auth_failed = 0;
  std::uint64_t stale = 0;
  std::uint64_t replayed = 0;
  std::uint64_t rate_limited = 0;
  std::uint64_t bad_body = 0;
  std::uint64_t unexpected = 0;  // authentic but not something the DC takes now
  std::uint64_t send_failed = 0;
  std::uint64_t registrations = 0;
  std::uint64_t keepalives = 0;
  std::uint64_t directions = 0;
  std::uint64_t directions_failed = 0;
  // Direction Requests for a path another member of the cluster is
  // directing (redirect_limits.hpp): dropped, the node asks again.
  std::uint64_t directing_elsewhere = 0;
  std::uint64_t redirects_on_move = 0;     // re-directions the DC started after a move
  std::uint64_t redirects_requested = 0;   // re-directions asked for by an end of the path
  std::uint64_t redirects_via_relay = 0;   // of those: the route failed, moved onto the relay
  std::uint64_t paths_superseded = 0;      // older paths between two nodes a new one replaced
  std::uint64_t rekeys = 0;                // re-directions the DC started for a key's age
  std::uint64_t retransmissions = 0;
  std::uint64_t errors_sent = 0;
  std::uint64_t expired = 0;
  std::uint64_t prompts = 0;             // Keepalives sent to a node whose name was resolved
  std::uint64_t prompts_suppressed = 0;  // within prompt_interval_ms, or the last one unanswered
  std::uint64_t prompts_fresh = 0;       // not needed: heard from within keepalive_s / 2
  std::uint64_t releases = 0;            // paths an end let go (Path Release), deleted
  std::uint64_t releases_repeated = 0;   // for a path released lately: acknowledged again
  std::uint64_t releases_refused = 0;    // not an end of the path, or no such path
  std::uint64_t releases_deferred = 0;   // the path was being directed: not answered
  std::uint64_t releases_told = 0;       // other ends told to let a released path go
  std::uint64_t releases_told_peer = 0;  // peer DCs told of a released federated path
  std::uint64_t releases_from_peer = 0;  // federated paths a peer DC released, deleted
  std::uint64_t general_claims = 0;      // general hosts' VIPs asked of the database
  std::uint64_t general_cached = 0;      // taken as the database confirmed them lately
  std::uint64_t general_failed = 0;      // claims that gave no VIP (exhausted, no database)
  std::uint64_t relay_restarts = 0;      // relays that registered after a restart
  std::uint64_t relays_lost = 0;         // relays homed here that went offline
  std::uint64_t node_restarts = 0;       // nodes whose ntmd started again while on paths here
  std::uint64_t general_let_go = 0;      // paths to general hosts of a restarted initiator, deleted
  std::uint64_t paths_reinstalled = 0;   // paths of either kind directed again
};

// A general host's VIP as general_vip() found it; vip 0: none, and why.
// Peer Hellos (greeting.cpp).
struct GreetingStats {
  std::uint64_t hellos = 0;       // received, well-formed
  std::uint64_t admitted = 0;     // certificates that made or renewed a peer
  std::uint64_t refused = 0;      // certificate or pin refused (logged with the reason)
  std::uint64_t rate_limited = 0;
  std::uint64_t bad = 0;          // malformed or stale
  std::uint64_t timeouts = 0;     // greetings nobody answered
};

struct GeneralVip {
  std::uint32_t vip = 0;
  wire::ErrorCode code = wire::ErrorCode::internal;
  std::string why;
};

class Server {
 public:
  Server(asio::io_context& io, const config::Config& cfg, state::View& view,
         store::Writer& writer);
  ~Server();

  // Opens the sockets and starts receiving and the timers.
  void start();
  // Stops taking new datagrams; answers still owed (registrations waiting
  // for their commit) keep going out until stop().
  void drain() noexcept { draining_ = true; }
  // Closes the sockets and cancels timers; pending directions are dropped.
  void stop();

  wire::Endpoint local_endpoint() const;
  wire::Endpoint probe_endpoint() const;
  const ServerStats& stats() const noexcept { return stats_; }
  const ReceiverStats& receiver_stats() const noexcept { return receiver_.stats(); }
  void log_stats() const;

  // A party was added, changed or removed by another process.
  void on_party_changed(const wire::NodeId& id, std::optional<store::PartyRow> row);
  // The database's complete list of parties: adds, updates and removes.
  void sync_parties(const std::vector<store::PartyRow>& rows);
  // DC cluster (cluster.cpp): rows another DC process changed and committed.
  // seen_only: a liveness write (last_seen, relay load), not a registration.
  void on_cluster_parties(const std::vector<store::PartyRow>& rows, bool seen_only);
  // Node registrations another process committed, carried by its note.
  // Returns the IDs it could not apply (not a node of this view): the
  // caller reloads their rows.
  std::vector<wire::NodeId> on_cluster_registrations(
      const std::vector<store::RegistrationWrite>& regs);
  // Paths another process wrote (rows) or deleted (ids without a row).
  // resync: every row after (re)connecting, taken only where it is newer
  // than the view's (this process's own writes may not have committed yet).
  void on_cluster_paths(const std::vector<wire::PathId>& ids, const std::vector<state::Path>& rows,
                        bool resync = false);

  // Told of every change to what a node publishes (the DNS publisher).
  void set_node_observer(state::NodeObserver* o) noexcept { observer_ = o; }
  // A resolver asked for this node's name: send it a Keepalive so that it
  // answers with its own and refreshes its NAT binding before the Route
  // Direction that is likely to follow.  Only when the node has been
  // silent for half a keepalive interval, not again while a prompt is
  // unanswered, and at most once per prompt_interval_ms; cheap and
  // idempotent (pdns asks each name several times per query).
  void prompt(const std::string& fqdn);

 private:
  struct Directing;
  struct Asking;   // directing.hpp
  struct Telling;  // directing.hpp
  class ViewKeys final : public KeyDirectory {
   public:
    explicit ViewKeys(state::View& v) : view_(v) {}
    bool has_key(const wire::Header& h) const override;
    void set_peers(federation::PeerTable* p) noexcept { peers_ = p; }
    // Peer Hellos come under no key (certificates, greeting.cpp).
    void take_hellos(bool on) noexcept { hellos_ = on; }

   private:
    state::View& view_;
    federation::PeerTable* peers_ = nullptr;  // DC_PEER headers
    bool hellos_ = false;
  };

  // ---- receive path (server.cpp) ----
  // The control socket: wait until readable, then read_batches().
  void await_datagrams();
  // recvmmsg batches until the socket is empty or kRoundsPerWake batches
  // were taken (then again after the handlers already queued).
  void read_batches();
  // The probe socket, one datagram at a time (Keepalives only).
  void receive_probe();
  void on_datagram(std::span<const std::uint8_t> data, std::size_t size,
                   const wire::Endpoint& from, bool probe);
  void dispatch(state::Party& party, wire::Received& msg, const wire::Endpoint& from, bool probe);

  // ---- send path (server.cpp) ----
  bool send(state::Party& party, const wire::Endpoint& to, const wire::Body& body,
            std::uint32_t txid, bool probe = false);
  // An authentic message from party under key epoch `epoch`: during a
  // re-key's grace period, which key the DC answers under, and the end of
  // the grace once the party speaks under the new key (docs/dc.md §11).
  void key_heard(state::Party& party, std::uint8_t epoch);
  // Seals body for party into out; returns the length, 0 on failure (logged).
  std::size_t seal(state::Party& party, const wire::Body& body, std::uint32_t txid,
                   std::span<std::uint8_t> out);
  void send_raw(std::span<const std::uint8_t> datagram, const wire::Endpoint& to, bool probe);
  // Datagrams for the control socket queue in out_; they leave at the end of
  // the receive batch, or of the handler that queued them (a posted flush).
  void queued(std::size_t failed_before);
  void flush_out();
  void send_error(state::Party& party, const wire::Endpoint& to, std::uint32_t txid,
                  wire::ErrorCode code, wire::MsgType ref, std::string_view reason);
  std::uint32_t next_txid() noexcept { return ++txid_; }

  // ---- registration.cpp ----
  void on_registration(state::Party& party, const wire::RegistrationRequest& req,
                       const wire::ControlHeader& h, const wire::Endpoint& from);
  void on_keepalive(state::Party& party, const wire::Keepalive& ka, const wire::ControlHeader& h,
                    const wire::Endpoint& from, bool probe);
  void sweep();
  void published(const state::Party& p) {
    if (observer_ && p.kind == state::PartyKind::node) observer_->node_changed(p);
  }

  // ---- direction.cpp ----
  void on_direction_request(state::Party& mn, const wire::DirectionRequest& req,
                            const wire::ControlHeader& h, const wire::Endpoint& from);
  void begin_direction(std::unique_ptr<Directing> d, state::Party* cn,
                       const route::Placement& cn_placement);
  void advance(Directing& d);
  void on_route_direction_ack(state::Party& party, const wire::RouteDirectionAck& ack);
  void arm_retransmit(Directing& d);
  void fail_direction(const wire::PathId& id, wire::ErrorCode code, std::string_view reason);
  // No relay could take the path: fatal for relayed routes, not for a
  // direct route whose relay was only its stand-by.
  void relay_unavailable(Directing& d);
  void finish_direction(const wire::PathId& id);
  // Forgets the other paths between newest's two nodes (one path per pair,
  // as each node keeps one per peer).
  void supersede_paths(const state::Path& newest);
  // Tells the requester of a direction that it failed, or logs the failure
  // of a re-direction nobody asked for.
  void report_failure(const Directing& d, wire::ErrorCode code, std::string_view reason);
  // Re-direction (docs/dc.md "Moves"): the same path ID under the next key
  // epoch, the roles kept.  requester null: started by the DC.
  // Online, answering Relay Directions (or due another try), registered.
  bool relay_usable(state::Party& r);
  void redirect_path(const state::Path& existing, state::Party* requester, std::uint32_t txid,
                     const wire::Endpoint& from, bool route_failed, bool rekey = false);
  // Re-keying (rekey.cpp): a slice of the paths per sweep tick; each one
  // whose key epoch is path_rekey_s old, of a node homed here, is
  // re-directed under the next epoch.
  void rekey_sweep();
  bool rekey_path(state::Path& p, std::uint64_t now);
  // A node moved: reconsider every path it is an end of.
  void reconsider_paths_of(const state::Party& mover);
  // A node moved while a Route Direction to it is in flight: the copy went
  // to its old address.  Sent again at once to where it is now, rather
  // than after the retransmission timer (docs/dc.md §8.4).
  void resend_to_moved(const state::Party& mover);
  // A registration or expiry of p at another member (cluster.cpp): that
  // member is now its home.
  void registered_elsewhere(state::Party& p, const std::vector<wire::Endpoint>& local,
                            const wire::Endpoint& observed, bool behind_nat, bool symmetric_nat,
                            bool online, bool was_online);
  // Re-decides one path after a move and re-directs it when the nodes'
  // own NTM Updates cannot carry the move (route::redirect_after_move).
  void reconsider(const wire::PathId& id, bool initiator_moved, bool responder_moved);
  // When a direction ends: another re-direction if an end moved meanwhile.
  void follow_up(const Directing& d);
  // A party was removed: every direction it is part of ends or moves on.
  void party_removed_from_directions(const wire::NodeId& id);
  wire::RouteDirection route_direction_for(Directing& d, state::Party& recipient,
                                           wire::PathEnd end);
  route::Placement placement(const state::Party& p) const;

  // ---- release.cpp ----
  void on_path_release(state::Party& node, const wire::PathRelease& r,
                       const wire::ControlHeader& h, const wire::Endpoint& from);
  // Its ends, for kReleasedMemoryMs: their later releases are acknowledged.
  void remember_released(const wire::PathId& path, const wire::NodeId& a, const wire::NodeId& b);
  // Tells the other end of a released path, a node of ours, to let it go.
  void tell_other_end(const wire::NodeId& other, const wire::PathId& path);
  // A federated path released here: its other end's DC, the peer whose
  // zones hold foreign_name, is told (it forgets the path, tells its end).
  void tell_peer_release(const wire::PathId& path, const std::string& foreign_name);
  // The peer DC of a federated path's other end released it.
  void on_peer_path_release(federation::Peer& peer, const wire::PathRelease& r,
                            std::uint32_t txid, const wire::Endpoint& from);

  // ---- relay.cpp ----
  state::Party* pick_relay(const std::vector<wire::NodeId>& exclude);
  void send_relay_direction(Directing& d);
  void on_relay_response(state::Party& relay, const wire::RelayResponse& resp);
  // A relay registered with reason `start`: it lost every path it carried
  // or stood by for.  They are queued to be directed again, the relay kept
  // (reinstall_sweep, a slice per tick).
  void relay_restarted(state::Party& relay, std::uint32_t instance);
  // A relay this member is the home of went offline (silent for
  // lifetime_s): its paths are directed again, onto another relay.
  void relay_lost(const state::Party& relay);
  void redirect_paths_of(const state::Party& relay, std::string_view why);
  // A node registered with reason `start` from a new ntmd process: the
  // process holds no path, while its peers (and relays) still hold theirs.
  // Its established paths are queued to be directed again, as a re-key
  // (docs/dc.md §8.4, "A node that restarts").
  void node_restarted(state::Party& node, std::uint32_t instance);
  // One queued path of a restarted node: directed again (true if that took
  // a direction), or left; `wait`: being directed right now, to be tried
  // again on the next tick.
  bool reinstall_for_node(const wire::PathId& id, const wire::NodeId& node_id, bool& wait);
  void reinstall_sweep();
  // The relay's count and the row's deletion; done: after the commit.
  void tear_down(const state::Path& p, store::Writer::Done done = nullptr);

  // ---- general.cpp: general hosts (docs/dc.md §10) ----
  void direct_general(state::Party& mn, const wire::DirectionRequest& req,
                      const wire::ControlHeader& h, const wire::Endpoint& from);
  void direct_general_with(const wire::NodeId& mn_id, const wire::DirectionRequest& req,
                           const wire::ControlHeader& h, const wire::Endpoint& from,
                           const wire::IpAddr& addr, const GeneralVip& vip);
  // The VIP that stands for a general host in its initiators' views, from
  // the database (or as it confirmed it within the last minute); done runs
  // on the I/O thread.
  void general_vip(const std::string& fqdn, std::function<void(const GeneralVip&)> done);
  // Forgets unused general hosts (every member, every quarter of the hold).
  void general_sweep();

  // ---- federation.cpp: DC-to-DC (docs/federation.md) ----
  // A name outside our zones: its TXT decides between a peer's node and a
  // general host.  existing: a federated path being re-directed.
  void direct_remote(state::Party& mn, const wire::DirectionRequest& req,
                     const wire::ControlHeader& h, const wire::Endpoint& from,
                     const state::Path* existing);
  void ask_peer(std::unique_ptr<Asking> a);
  // Removes the asking of this path from asking_ and hands it over (null: none).
  std::unique_ptr<Asking> take_asking(const wire::PathId& id);
  void arm_asking(Asking& a);
  // Sends a's Node Info Request (again): to a.ask_at for the first two
  // sends, then wherever the peer is reached, should that member have gone.
  void send_asking(Asking& a);
  void fail_asking(const wire::PathId& id, wire::ErrorCode code, std::string_view reason);
  void on_peer_datagram(std::span<const std::uint8_t> data, const wire::ControlHeader& h,
                        const wire::Endpoint& from);
  void on_node_info_request(federation::Peer& peer, const wire::NodeInfoRequest& req,
                            std::uint32_t txid, const wire::Endpoint& from);
  void on_node_info_response(federation::Peer& peer, const wire::NodeInfoResponse& resp,
                             std::uint32_t txid, const wire::Endpoint& from);
  void on_route_forward(federation::Peer& peer, const wire::RouteForward& fwd, std::uint32_t txid,
                        const wire::Endpoint& from);
  void on_route_forward_ack(federation::Peer& peer, const wire::RouteForwardAck& ack);
  void on_peer_error(federation::Peer& peer, const wire::ErrorReply& err, std::uint32_t txid);
  void send_to_peer(federation::Peer& peer, const wire::Endpoint& to, const wire::Body& body,
                    std::uint32_t txid);
  void refuse_peer(federation::Peer& peer, const wire::Endpoint& to, std::uint32_t txid,
                   wire::MsgType ref, std::string_view why);
  // DC_MN: the Route Forward of d, keys sealed to the peer.
  void forward_to_peer(Directing& d);
  // DC_MN: sends d's Route Forward (again): to the member that answered the
  // Node Info for the first two sends, then wherever the peer is reached.
  void send_forward(Directing& d);
  // DC_CN: a forwarded direction ended (CN acknowledged, or it failed).
  void answer_forward(const Directing& d, wire::Status status, const wire::Endpoint& local);
  // DC_MN: an end of the federated path p moved (MN here, or CN as its DC
  // told), or CN asked for a re-direction: the peer is asked about CN
  // again, and the path re-directed if the route must change (always, for
  // redirect).
  // at: the peer's member to ask first (empty: the peer's endpoint).
  void reask(const state::Path& p, bool initiator_moved, bool redirect, bool rekey = false,
             const wire::Endpoint& at = {});
  // DC_MN: a Path Moved taken while the path was busy, now that it is not:
  // the peer is asked about CN again (no-op if none, or still busy).
  void moved_while_busy(const wire::PathId& id);
  // DC_MN: DC_CN tells that CN moved or asked (Path Moved).
  void on_path_moved(federation::Peer& peer, const wire::PathMoved& m, std::uint32_t txid,
                     const wire::Endpoint& from);
  // DC_CN: CN moved (redirect false) or asked for a re-direction of the
  // federated path p: the peer DC that directed it is told, which alone may
  // re-direct it.  requester: CN's request, sent an Error if the peer
  // refuses or stays silent.  False: no peer is known for the path's
  // initiator (nothing sent).
  bool tell_peer_of_move(const state::Path& p, bool redirect, const state::Party* requester,
                         std::uint32_t txid, const wire::Endpoint& from);
  // tell_peer_of_move for a peer known by certificate that this process
  // does not know (yet): marker of the initiator's name, greeting, then told.
  void greet_initiator_dc(const state::Path& p, bool redirect, const state::Party* requester,
                          std::uint32_t txid, const wire::Endpoint& from);
  // Sends t's Path Moved (once the peer's endpoint is known) and arms its
  // retransmission.
  void send_telling(Telling& t);
  void arm_telling(Telling& t);
  // Ends the Path Moved in flight for id; a reason is a failure.
  void end_telling(const wire::PathId& id, std::string_view failure);
  void on_path_moved_ack(federation::Peer& peer, const wire::PathMovedAck& ack,
                         std::uint32_t txid);
  // DC_CN: the forwarded Route Direction with the keys sealed to CN.
  wire::RouteDirection forwarded_direction(Directing& d, state::Party& cn);
  // The shared key wrapper, turned to seal to p.
  wire::KeyWrapper& wrapper_for(state::Party& p);
  // ---- greeting.cpp: peers known by certificate (docs/federation.md §8) ----
  // done(peer, "") once the DC at `to` answered a Peer Hello with a
  // certificate that passed (CA, DNS pin); done(nullptr, why) when it did
  // not, or stayed silent for peer_timeout_ms.
  using Greeted = std::function<void(federation::Peer*, const std::string& why)>;
  void greet(const wire::Endpoint& to, Greeted done);
  // The peer whose zones hold `name`: the one known (done at once), else,
  // with certificates, the DC the name's marker names, greeted.
  void find_peer(const std::string& name, Greeted done);
  // Whether a peer for name is known or can be found (certificates).
  bool peer_reachable_for(const std::string& name) const;
  void arm_greeting(const std::string& key);  // retransmits until peer_timeout_ms
  // greet(at), and the peer it makes only if its certificate names the
  // zone of `name` (learning `at` as its endpoint unless configured).
  void greet_for(const wire::Endpoint& at, const std::string& name, Greeted done);
  // A Peer Hello to `to` without waiting for it: a peer known by
  // certificate that does not answer may have restarted and forgotten us.
  void nudge(const federation::Peer& peer, const wire::Endpoint& to);
  void send_hello(const wire::Endpoint& to, bool reply, std::uint32_t txid);
  void on_peer_hello(std::span<const std::uint8_t> data, const wire::Endpoint& from);
  // The certificate's zones pinned in DNS (unless pin_dns is off), then the
  // peer added or re-keyed; done on the I/O thread.
  void admit(federation::PeerCertificate cert, Greeted done);
  void end_greeting(const std::string& key, federation::Peer* peer, const std::string& why);
  void start_federation();  // from the constructor: peers, resolver
  void stop_federation();
  void log_federation_stats() const;

  asio::io_context& io_;
  const config::Config& cfg_;
  state::View& view_;
  store::Writer& writer_;
  asio::ip::udp::socket socket_;
  asio::ip::udp::socket probe_socket_;
  asio::steady_timer sweep_timer_;
  asio::steady_timer general_timer_;  // general_sweep()
  ViewKeys keys_;
  Receiver receiver_;
  ServerStats stats_;
  wire::Aead crypto_;  // rekeyed per message: keys live in the View
  wire::KeyWrapper wrapper_;  // likewise, for sealing path keys
  std::uint32_t instance_;
  std::uint64_t counter_;
  std::uint32_t txid_ = 0;
  // Placement sequence: every move takes the next number (Party::moved_seq),
  // every direction notes the current one (Path::directed_seq).
  std::uint64_t placement_seq_ = 1;
  std::unique_ptr<InBatch> in_ = std::make_unique<InBatch>();
  std::unique_ptr<OutBatch> out_ = std::make_unique<OutBatch>();
  bool in_batch_ = false;      // read_batches() flushes out_ when done
  bool flush_posted_ = false;  // a flush_out() is queued on the I/O thread
  std::array<std::uint8_t, NTM_MAX_CONTROL + 1> probe_buf_{};
  asio::ip::udp::endpoint probe_from_;
  std::unordered_map<wire::PathId, std::unique_ptr<Directing>> directing_;
  // General hosts' VIPs as the database last confirmed them (general.cpp),
  // and the directions waiting for a claim in flight, by name.
  struct ConfirmedVip {
    std::uint32_t vip = 0;
    std::uint64_t confirmed_ms = 0;  // monotonic
  };
  std::unordered_map<std::string, ConfirmedVip> general_vips_;
  std::unordered_map<std::string, std::vector<std::function<void(const GeneralVip&)>>>
      general_claims_;
  // Paths of restarted relays and nodes waiting to be directed again
  // (relay.cpp).
  struct Reinstall {
    wire::PathId path;
    wire::NodeId party;    // the relay it had when queued, or the restarted end
    bool node = false;     // party is a restarted end, not the path's relay
  };
  std::deque<Reinstall> reinstall_;
  // The expiry sweep's and the re-key pass's current passes (sweep(),
  // rekey_sweep()).
  SlicedPass<wire::NodeId> expiry_pass_;
  SlicedPass<wire::PathId> rekey_pass_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  state::NodeObserver* observer_ = nullptr;
  // Federation: null unless configured ([federation] or [peer.*]).
  std::unique_ptr<federation::PeerTable> peers_;
  std::unique_ptr<federation::TxtResolver> txt_resolver_;
  // Certificates (greeting.cpp): null unless [federation] ca_file is set.
  std::unique_ptr<federation::CertificateTrust> trust_;
  struct Greeting;
  std::unordered_map<std::string, std::unique_ptr<Greeting>> greeting_;  // by endpoint
  state::RateLimiter hello_rate_;  // Peer Hellos from anyone: each costs a check and DNS lookups
  GreetingStats greeting_stats_;
  std::unordered_map<wire::PathId, std::unique_ptr<Asking>> asking_;  // DC_MN: before the route
  std::unordered_map<wire::PathId, std::unique_ptr<Telling>> telling_;  // DC_CN: Path Moved
  // DC_MN: Path Moved taken while its path was being directed or asked
  // about (on_path_moved), acted on once that ends (moved_while_busy()).
  struct MovedLater {
    bool redirect = false;
    wire::Endpoint from;  // the member that told
  };
  std::unordered_map<wire::PathId, MovedLater> moved_later_;
  // DC_CN: Route Forwards answered lately (path -> epoch, ack), so that a
  // retransmitted Route Forward whose ack was lost is answered again.
  struct Forwarded {
    std::uint8_t key_epoch = 0;
    wire::RouteForwardAck ack;
    std::uint64_t mono_ms = 0;
  };
  std::unordered_map<wire::PathId, Forwarded> forwarded_;
  // First directions that failed lately (path -> the epoch they used): the
  // next direction of that path ID goes under the epoch after it, so a late
  // copy of the failed direction's Route Direction or Relay Direction is an
  // older epoch to the ends and the relay, and never replaces the new keys
  // (docs/dc.md §8.3).  Memory only, this process's.
  struct FailedFirst {
    std::uint8_t key_epoch = 0;
    std::uint64_t mono_ms = 0;
  };
  std::unordered_map<wire::PathId, FailedFirst> failed_first_;
  // Paths released lately (release.cpp): their ends, so that the other
  // end's release and a retransmission are acknowledged.
  struct Released {
    wire::NodeId ends[2];
    std::uint64_t mono_ms = 0;
  };
  std::unordered_map<wire::PathId, Released> released_;
  // The epoch for a path ID with no row: 0, or the one after a first
  // direction of it that failed lately here.
  std::uint8_t fresh_epoch(const wire::PathId& id);
  bool stopped_ = false;
  bool draining_ = false;
};

}  // namespace ntm::dc::control
