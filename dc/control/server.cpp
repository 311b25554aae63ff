// SPDX-License-Identifier: MIT
// Receive and send paths of the DC control plane.
#include "control/server.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <unordered_set>

#include "control/directing.hpp"
#include "ntm/common/asio_endpoint.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

using common::to_asio;

namespace {

wire::Endpoint to_wire(const asio::ip::udp::endpoint& e) {
  wire::Endpoint out;
  const auto a = e.address();
  if (a.is_v4()) {
    out.addr = wire::IpAddr::v4(a.to_v4().to_uint());
  } else {
    // A v4-mapped v6 source is reported as plain IPv4.
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) {
      out.addr = wire::IpAddr::v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_uint());
    } else {
      out.addr.family = wire::Family::v6;
      const auto b = v6.to_bytes();
      std::copy(b.begin(), b.end(), out.addr.bytes.begin());
    }
  }
  out.port = e.port();
  return out;
}

wire::Error bump(ServerStats& s, wire::Error e) {
  switch (e) {
    case wire::Error::auth_failed: s.auth_failed++; break;
    case wire::Error::stale: s.stale++; break;
    case wire::Error::replayed:
    case wire::Error::too_many_senders: s.replayed++; break;
    default: s.bad_body++; break;
  }
  return e;
}

}  // namespace

bool Server::ViewKeys::has_key(const wire::Header& h) const {
  if (h.domain == wire::KeyDomain::dc_peer)
    return (hellos_ && h.type == wire::MsgType::peer_hello) || (peers_ && peers_->by_header(h));
  wire::NodeId id;
  id.bytes = h.id;
  const state::Party* p = view_.find(id);
  if (!p) return false;
  if (p->key_epoch == h.key_epoch) return true;  // no clock read on the common path
  // A previous key past its grace period is unknown like any other.
  return p->rx_key_for(h.key_epoch, common::wall_ms()) != nullptr;
}

Server::Server(asio::io_context& io, const config::Config& cfg, state::View& view,
               store::Writer& writer)
    : io_(io),
      cfg_(cfg),
      view_(view),
      writer_(writer),
      socket_(io),
      probe_socket_(io),
      sweep_timer_(io),
      general_timer_(io),
      keys_(view),
      receiver_(keys_),
      crypto_(wire::SecretKey::random()),
      wrapper_(wire::KeyWrapper::with_wrap_key(wire::SecretKey::random())),
      instance_(wire::new_instance()),
      counter_(wire::initial_counter(common::wall_ns())) {
  start_federation();
}

Server::~Server() {
  *alive_ = false;
  stop();
}

namespace {

// Bursts (a registration storm after an outage, many directions at once)
// must queue in the kernel rather than be dropped: the default 208 KiB
// holds only a few hundred datagrams.  SO_RCVBUFFORCE passes rmem_max when
// the DC has CAP_NET_ADMIN; otherwise the kernel caps SO_RCVBUF.
void enlarge_buffers(asio::ip::udp::socket& s) {
  const int size = 8 << 20;
  const int fd = s.native_handle();
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

}  // namespace

void Server::start() {
  const auto ep = to_asio(cfg_.listen);
  socket_.open(ep.protocol());
  socket_.bind(ep);
  socket_.non_blocking(true);
  enlarge_buffers(socket_);
  out_->bind(socket_.native_handle(), ep.protocol() == asio::ip::udp::v6());
  await_datagrams();
  if (!cfg_.probe_listen.empty()) {
    const auto pep = to_asio(cfg_.probe_listen);
    probe_socket_.open(pep.protocol());
    probe_socket_.bind(pep);
    probe_socket_.non_blocking(true);
    receive_probe();
  }
  sweep();
  // The first sweep of general hosts once the DC has settled in.
  general_timer_.expires_after(std::chrono::seconds(30));
  general_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) general_sweep();
  });
  spdlog::info("control: listening on {}{}", local_endpoint().to_string(),
               cfg_.probe_listen.empty() ? ""
                                         : fmt::format(", probe on {}", probe_endpoint().to_string()));
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  flush_out();  // answers already sealed still leave
  boost::system::error_code ec;
  socket_.close(ec);
  probe_socket_.close(ec);
  sweep_timer_.cancel();
  general_timer_.cancel();
  directing_.clear();
  stop_federation();
}

wire::Endpoint Server::local_endpoint() const { return to_wire(socket_.local_endpoint()); }
wire::Endpoint Server::probe_endpoint() const {
  return probe_socket_.is_open() ? to_wire(probe_socket_.local_endpoint()) : wire::Endpoint{};
}

namespace {
// Batches taken per wake-up before timers and database completions get
// their turn: 4 x 32 datagrams.
constexpr int kRoundsPerWake = 4;
}  // namespace

void Server::await_datagrams() {
  // Asio's epoll reactor is edge-triggered: waiting is only right once a
  // read found the socket empty, which read_batches() ensures (or it posts
  // itself again instead of waiting).
  socket_.async_wait(asio::socket_base::wait_read, [this](const boost::system::error_code& ec) {
    if (ec == asio::error::operation_aborted || stopped_) return;
    if (ec) {
      spdlog::error("control: waiting on the socket: {}", ec.message());
      return;
    }
    read_batches();
  });
}

void Server::read_batches() {
  in_batch_ = true;
  bool more = false;
  for (int round = 0; round < kRoundsPerWake && !stopped_; ++round) {
    const std::size_t n = in_->read(socket_.native_handle());
    for (std::size_t i = 0; i < n && !stopped_; ++i)
      on_datagram(in_->data(i), in_->size(i), in_->from(i), false);
    more = n == InBatch::kBatch;
    if (!more) break;
  }
  in_batch_ = false;
  flush_out();
  if (stopped_) return;
  if (more) {
    // Still datagrams waiting: read again after what is queued (no edge
    // would announce them).
    asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
      if (auto a = alive.lock(); a && *a && !stopped_) read_batches();
    });
  } else {
    await_datagrams();
  }
}

void Server::receive_probe() {
  // MSG_TRUNC-like: asio reports at most the buffer size, so the buffer is
  // one byte larger than any valid control datagram: a full buffer means
  // "oversized".
  probe_socket_.async_receive_from(
      asio::buffer(probe_buf_), probe_from_,
      [this](const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || stopped_) return;
        if (!ec) on_datagram({probe_buf_.data(), std::min(n, probe_buf_.size())}, n,
                             to_wire(probe_from_), true);
        receive_probe();
      });
}

void Server::on_datagram(std::span<const std::uint8_t> data, std::size_t size,
                         const wire::Endpoint& from, bool probe) {
  if (draining_) return;
  if (size > NTM_MAX_CONTROL) size = NTM_MAX_CONTROL + 1;
  if (receiver_.classify(data, size) != wire::Error::ok) return;
  wire::ControlHeader h;
  (void)wire::peek_control_header(data, h);  // validated by classify
  // Another DC (federation.cpp); never on the probe port.
  if (h.common.domain == wire::KeyDomain::dc_peer) {
    if (!probe) on_peer_datagram(data, h, from);
    return;
  }
  wire::NodeId id;
  id.bytes = h.common.id;
  state::Party* party = view_.find(id);
  if (!party) return;  // classify checked; defensive
  const std::uint64_t now = common::wall_ms();
  if (!party->replay.would_accept(h.common.instance, h.common.counter)) {
    stats_.replayed++;
    return;
  }
  wire::Received msg;
  const wire::SecretKey* rx_key = party->rx_key_for(h.common.key_epoch, now);
  if (!rx_key) return;  // classify checked; defensive
  if (crypto_.rekey(*rx_key) != wire::Error::ok) return;
  if (wire::Error e = wire::open_control(crypto_, data, h, msg.body); e != wire::Error::ok) {
    bump(stats_, e);
    spdlog::debug("control: drop from {} ({}): {}", from.to_string(), party->name,
                  wire::to_string(e));
    return;
  }
  if (!wire::fresh(h.timestamp_ms, now, cfg_.max_skew_s * 1000ull)) {
    stats_.stale++;
    return;
  }
  if (wire::Error e = party->replay.accept(h.common.instance, h.common.counter, now,
                                           2 * cfg_.max_skew_s * 1000ull);
      e != wire::Error::ok) {
    bump(stats_, e);
    return;
  }
  // Authentic from here on.  Flooding with a valid key is still dropped.
  if (!party->rate.allow(common::mono_ms(), cfg_.rate_per_node)) {
    stats_.rate_limited++;
    return;
  }
  key_heard(*party, h.common.key_epoch);
  msg.header = h;
  dispatch(*party, msg, from, probe);
}

void Server::dispatch(state::Party& party, wire::Received& msg, const wire::Endpoint& from,
                      bool probe) {
  const auto& h = msg.header;
  if (probe && !std::holds_alternative<wire::Keepalive>(msg.body)) {
    stats_.unexpected++;  // the probe port only answers Keepalives
    return;
  }
  // The NAT binding towards the DC is where the last authentic message came
  // from: that is where the DC must send to reach the party.
  if (!probe && party.observed != from && party.online) {
    spdlog::debug("control: {} now seen at {} (was {})", party.name, from.to_string(),
                 party.observed.to_string());
  }
  // It answered (or spoke first): a DNS lookup may prompt it again.
  party.prompt_unanswered = false;
  std::visit(
      [&](auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, wire::RegistrationRequest>) {
          on_registration(party, body, h, from);
        } else if constexpr (std::is_same_v<T, wire::Keepalive>) {
          on_keepalive(party, body, h, from, probe);
        } else if constexpr (std::is_same_v<T, wire::DirectionRequest>) {
          if (party.kind != state::PartyKind::node) return void(stats_.unexpected++);
          on_direction_request(party, body, h, from);
        } else if constexpr (std::is_same_v<T, wire::RouteDirectionAck>) {
          on_route_direction_ack(party, body);
        } else if constexpr (std::is_same_v<T, wire::PathRelease>) {
          if (party.kind != state::PartyKind::node) return void(stats_.unexpected++);
          on_path_release(party, body, h, from);
        } else if constexpr (std::is_same_v<T, wire::PathReleaseAck>) {
          // The other end took tell_other_end's release; nothing waits for it.
        } else if constexpr (std::is_same_v<T, wire::RelayResponse>) {
          if (party.kind != state::PartyKind::relay) return void(stats_.unexpected++);
          on_relay_response(party, body);
        } else {
          stats_.unexpected++;
        }
      },
      msg.body);
}

void Server::key_heard(state::Party& party, std::uint8_t epoch) {
  if (!party.prev) return;
  if (epoch == party.prev->epoch) {
    party.speaks_prev = true;
    return;
  }
  // Its daemon has the new key: the old one is no longer needed by any
  // member, and the database says so (its grace ends early).
  spdlog::info("control: {} speaks under key epoch {}: previous key retired", party.name,
               static_cast<int>(party.key_epoch));
  party.prev.reset();
  party.speaks_prev = false;
  writer_.submit(
      store::KeyRetireWrite{party.kind == state::PartyKind::relay, party.id, party.key_epoch},
      nullptr);
}

std::size_t Server::seal(state::Party& party, const wire::Body& body, std::uint32_t txid,
                         std::span<std::uint8_t> out) {
  wire::ControlHeader h;
  h.common = {wire::type_of(body), wire::KeyDomain::node_dc, wire::Role::dc,
              party.sending_epoch(), instance_, counter_++, party.id.bytes};
  h.timestamp_ms = common::wall_ms();
  h.txid = txid;
  wire::Error err = crypto_.rekey(party.sending_key());
  std::size_t n = 0;
  if (err == wire::Error::ok) n = wire::seal_control(crypto_, h, body, out, err);
  if (err != wire::Error::ok) {
    spdlog::error("control: cannot seal {} for {}: {}", wire::to_string(wire::type_of(body)),
                  party.name, wire::to_string(err));
    return 0;
  }
  return n;
}

void Server::send_raw(std::span<const std::uint8_t> datagram, const wire::Endpoint& to,
                      bool probe) {
  if (datagram.empty() || to.empty()) return;
  if (probe) {
    // Rare (Keepalive answers on the probe port): sent at once.
    boost::system::error_code ec;
    probe_socket_.send_to(asio::buffer(datagram.data(), datagram.size()), to_asio(to), 0, ec);
    if (ec) {
      stats_.send_failed++;
      spdlog::debug("control: send to {} failed: {}", to.to_string(), ec.message());
    }
    return;
  }
  queued(out_->add(datagram, to));
}

bool Server::send(state::Party& party, const wire::Endpoint& to, const wire::Body& body,
                  std::uint32_t txid, bool probe) {
  if (probe || to.empty()) {
    std::array<std::uint8_t, NTM_MAX_CONTROL> buf;
    const std::size_t n = seal(party, body, txid, buf);
    send_raw({buf.data(), n}, to, probe);
    return n != 0;
  }
  std::size_t failed = 0;
  const auto slot = out_->slot(failed);
  const std::size_t n = seal(party, body, txid, slot);
  if (n != 0) out_->commit(n, to);
  queued(failed);
  return n != 0;
}

void Server::queued(std::size_t failed_before) {
  stats_.send_failed += failed_before;
  if (in_batch_ || flush_posted_ || out_->empty()) return;
  flush_posted_ = true;
  asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (auto a = alive.lock(); a && *a) flush_out();
  });
}

void Server::flush_out() {
  flush_posted_ = false;
  if (out_->empty()) return;
  if (!socket_.is_open()) return;
  if (const std::size_t failed = out_->flush()) {
    stats_.send_failed += failed;
    spdlog::debug("control: {} datagram(s) not sent", failed);
  }
}

void Server::send_error(state::Party& party, const wire::Endpoint& to, std::uint32_t txid,
                        wire::ErrorCode code, wire::MsgType ref, std::string_view reason) {
  stats_.errors_sent++;
  spdlog::info("control: error to {} for {}: {} ({})", party.name, wire::to_string(ref),
               wire::to_string(code), reason);
  send(party, to, wire::ErrorReply{code, ref, wire::Text{std::string(reason)}}, txid);
}

void Server::log_stats() const {
  log_federation_stats();
  const auto& r = receiver_.stats();
  spdlog::info(
      "control: received={} dropped_unauthenticated={} oversized={} auth_failed={} stale={} "
      "replayed={} rate_limited={} bad_body={} unexpected={} registrations={} keepalives={} "
      "directions={} directions_failed={} retransmissions={} errors_sent={} expired={} "
      "prompts={} prompts_suppressed={} prompts_fresh={} redirects_on_move={} "
      "redirects_requested={} redirects_via_relay={} paths_superseded={} rekeys={} "
      "directing_elsewhere={} releases={} releases_repeated={} releases_refused={} "
      "releases_deferred={} releases_told={} releases_told_peer={} releases_from_peer={} "
      "general_claims={} general_cached={} "
      "general_failed={} relay_restarts={} relays_lost={} node_restarts={} general_let_go={} "
      "paths_reinstalled={}",
      r.received, r.total_dropped(), r.oversized, stats_.auth_failed, stats_.stale,
      stats_.replayed, stats_.rate_limited, stats_.bad_body, stats_.unexpected,
      stats_.registrations, stats_.keepalives, stats_.directions, stats_.directions_failed,
      stats_.retransmissions, stats_.errors_sent, stats_.expired, stats_.prompts,
      stats_.prompts_suppressed, stats_.prompts_fresh, stats_.redirects_on_move,
      stats_.redirects_requested, stats_.redirects_via_relay, stats_.paths_superseded,
      stats_.rekeys, stats_.directing_elsewhere, stats_.releases, stats_.releases_repeated,
      stats_.releases_refused, stats_.releases_deferred, stats_.releases_told,
      stats_.releases_told_peer, stats_.releases_from_peer,
      stats_.general_claims, stats_.general_cached, stats_.general_failed, stats_.relay_restarts,
      stats_.relays_lost, stats_.node_restarts, stats_.general_let_go, stats_.paths_reinstalled);
  for (std::size_t i = 1; i < r.dropped.size(); ++i)
    if (r.dropped[i])
      spdlog::info("control: dropped {} x {}", r.dropped[i],
                   wire::to_string(static_cast<wire::Error>(i)));
}

void Server::sync_parties(const std::vector<store::PartyRow>& rows) {
  std::unordered_set<wire::NodeId> present;
  for (const auto& row : rows) {
    present.insert(row.id);
    on_party_changed(row.id, row);
  }
  std::vector<wire::NodeId> gone;
  view_.for_each_party([&](state::Party& p) {
    if (!present.count(p.id)) gone.push_back(p.id);
  });
  for (const auto& id : gone) on_party_changed(id, std::nullopt);
}

void Server::on_party_changed(const wire::NodeId& id, std::optional<store::PartyRow> row) {
  if (!row) {
    // Revoked: refuse its messages from now on and tear its paths down.
    if (const state::Party* gone = view_.find(id);
        gone && gone->kind == state::PartyKind::node && observer_)
      observer_->node_removed(gone->name);
    for (const auto& p : view_.remove(id)) tear_down(p);
    // Directions it was part of: failed with an answer, or (a relay) moved
    // on to another relay or to none.
    party_removed_from_directions(id);
    spdlog::info("control: party {} removed", id.to_hex());
    return;
  }
  state::Party* existing = view_.find(id);
  const std::uint64_t now = common::wall_ms();
  // Re-keyed with a grace period from the key held here: the party's
  // daemon goes on under the old key until it takes the new one, so its
  // soft state (location, replay window: its counters go on) stays.
  if (existing && existing->rekeyed_from_here(row->prev_key, row->key_epoch) &&
      existing->name == row->name) {
    existing->key = row->key;
    existing->key_epoch = row->key_epoch;
    existing->derive_keys();
    existing->keep_previous(row->prev_key, row->prev_key_until_ms, now);
    existing->speaks_prev = existing->prev != nullptr;
    spdlog::info("control: party {} ({}) re-keyed to epoch {}, the previous key kept for its "
                 "grace period",
                 row->name, id.to_hex(), static_cast<int>(row->key_epoch));
    return;
  }
  // Keep live soft state (replay windows, observed address) for a party
  // whose key did not change; take the database's row otherwise.
  if (existing && existing->key.equals(row->key) && existing->key_epoch == row->key_epoch) {
    // A grace period that ended (or was ended by another member) ends here.
    existing->keep_previous(row->prev_key, row->prev_key_until_ms, now);
    if (existing->name != row->name) {
      if (existing->kind == state::PartyKind::node && observer_)
        observer_->node_removed(existing->name);
      published(view_.upsert(*row));
    }
    return;
  }
  if (existing && existing->name != row->name && existing->kind == state::PartyKind::node &&
      observer_)
    observer_->node_removed(existing->name);
  published(view_.upsert(*row));
  spdlog::info("control: party {} ({}) loaded", row->name, id.to_hex());
}

}  // namespace ntm::dc::control
