// SPDX-License-Identifier: MIT
#include "dc_link.hpp"

#include <spdlog/spdlog.h>

#include "ntm/common/clock.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace ntm::relay {

namespace {

constexpr std::uint64_t kFirstRetryMs = 1000;
constexpr std::uint64_t kMaxRetryMs = 30'000;

wire::ChannelConfig dc_channel(const Config& cfg, std::uint8_t key_epoch) {
  wire::ChannelConfig c;
  c.domain = wire::KeyDomain::node_dc;
  c.key_epoch = key_epoch;
  c.tx_role = wire::Role::node;
  c.rx_role = wire::Role::dc;
  c.tx_id = c.rx_id = cfg.id.bytes;
  c.instance = wire::new_instance();
  c.first_counter = wire::initial_counter(common::wall_ns());
  return c;
}

}  // namespace

DcLink::DcLink(const Config& cfg, PathTable& paths, Drops& drops)
    : cfg_(cfg),
      paths_(paths),
      drops_(drops),
      key_(cfg.key),
      key_epoch_(cfg.key_epoch),
      channel_(cfg.key, dc_channel(cfg, cfg.key_epoch)),
      members_(cfg.dc_members.empty() ? std::vector<wire::Endpoint>{cfg.dc} : cfg.dc_members) {}

std::uint64_t DcLink::next_due_ms() const noexcept {
  if (members_.size() < 2 || waiting_since_ms_ == 0) return next_send_ms_;
  return std::min(next_send_ms_, waiting_since_ms_ + kDcFailoverMs);
}

void DcLink::note_sent_home(Now now) {
  if (waiting_since_ms_ == 0) waiting_since_ms_ = now.mono_ms;
}

bool DcLink::check_failover(Sink& sink, Now now) {
  if (members_.size() < 2 || waiting_since_ms_ == 0 ||
      now.mono_ms - waiting_since_ms_ < kDcFailoverMs)
    return false;
  const std::size_t next = (home_ + 1) % members_.size();
  spdlog::warn("dc: {} left a message unanswered for {} ms; registering with {}",
               home().to_string(), now.mono_ms - waiting_since_ms_,
               members_[next].to_string());
  home_ = next;
  ++failovers_;
  waiting_since_ms_ = 0;
  lost("failover to another member of the cluster", now);
  register_now(sink, now);
  return true;
}

bool DcLink::reload_key(const wire::SecretKey& key, std::uint8_t key_epoch, Now now) {
  if (key.equals(key_) && key_epoch == key_epoch_) return false;
  key_ = key;
  key_epoch_ = key_epoch;
  // A new channel (new derived keys, new instance); Relay Directions open
  // with the new wrap key from now on.
  channel_ = wire::ControlChannel(key_, dc_channel(cfg_, key_epoch_));
  spdlog::info("dc: relay key epoch {} taken", key_epoch);
  lost("the relay key was replaced", now);
  return true;
}

bool DcLink::take_first_registration() noexcept {
  const bool r = announce_pending_;
  announce_pending_ = false;
  return r;
}

void DcLink::send(const wire::Body& body, std::uint32_t txid, Sink& sink, Now now,
                  const wire::Endpoint* to) {
  auto buf = sink.buffer();
  wire::Error err = wire::Error::ok;
  const std::size_t n = channel_.seal(body, txid, now.wall_ms, buf, err);
  if (!n) {
    spdlog::error("dc: cannot seal {}: {}", wire::to_string(wire::type_of(body)),
                  wire::to_string(err));
    return;
  }
  sink.send(buf.first(n), to ? *to : home());
}

void DcLink::register_now(Sink& sink, Now now) {
  if (!reg_txid_) reg_txid_ = next_txid_++;  // retransmissions keep the txid
  wire::RegistrationRequest req;
  req.kind = wire::PartyKind::relay;
  req.reason = registrations_ ? wire::RegistrationReason::refresh : wire::RegistrationReason::start;
  req.fqdn.name = cfg_.name;
  req.local.push_back(cfg_.advertise);
  send(req, reg_txid_, sink, now);
  note_sent_home(now);
  ++attempts_;
  backoff_ms_ = backoff_ms_ ? std::min(backoff_ms_ * 2, kMaxRetryMs) : kFirstRetryMs;
  if (attempts_ > 1)
    spdlog::warn("dc: no answer from {} to registration (attempt {}), next try in {} ms",
                 home().to_string(), attempts_, backoff_ms_);
  next_send_ms_ = now.mono_ms + backoff_ms_;
}

void DcLink::lost(const char* why, Now now) {
  spdlog::warn("dc: {}: registering again", why);
  registered_ = false;
  reg_txid_ = 0;
  backoff_ms_ = 0;
  attempts_ = 0;
  next_send_ms_ = now.mono_ms;
}

void DcLink::on_timer(Sink& sink, Now now) {
  if (check_failover(sink, now)) return;
  if (now.mono_ms < next_send_ms_) return;
  if (!registered_) return register_now(sink, now);
  if (now.mono_ms - last_heard_ms_ > lifetime_ms_) {
    lost("the DC has been silent longer than the registration lifetime", now);
    return register_now(sink, now);
  }
  send(wire::Keepalive{static_cast<std::uint32_t>(paths_.size()), paths_.load_permille()},
       next_txid_++, sink, now);
  note_sent_home(now);
  next_send_ms_ = now.mono_ms + keepalive_ms_;
}

wire::Status DcLink::install(const wire::RelayDirection& d, Now now) {
  RelayPath* existing = paths_.find(d.path_id);
  const bool same_epoch = existing && existing->key_epoch == d.key_epoch;
  const std::string id = d.path_id.to_hex();
  // An older epoch than the one in force: a late duplicate of a direction
  // the DC has since replaced.  Never roll a path back.
  if (existing && !same_epoch && !epoch_newer(d.key_epoch, existing->key_epoch)) {
    ++paths_.mobility().old_directions;
    spdlog::warn("dc: path {} epoch {} refused: epoch {} is in force", id, d.key_epoch,
                 existing->key_epoch);
    return wire::Status::refused;
  }
  if (d.mode == wire::RelayMode::translate && !cfg_.translate) {
    spdlog::warn("dc: path {} refused: translate mode is off", id);
    return wire::Status::refused;
  }
  if (!existing && paths_.full()) {
    spdlog::warn("dc: path {} refused: {} paths, the maximum", id, paths_.size());
    return wire::Status::refused;
  }
  if (d.mode == wire::RelayMode::translate &&
      (d.responder.real.addr.family != wire::Family::v4 || d.initiator.vip.addr == 0 ||
       d.responder.vip.addr == 0)) {
    spdlog::warn("dc: path {} refused: translate needs an IPv4 host and both VIPs", id);
    return wire::Status::refused;
  }
  wire::KeyWrapper wrap(key_, wire::KeyDomain::node_dc, key_epoch_, cfg_.id.bytes);
  wire::SecretKey key;
  const auto kind = d.mode == wire::RelayMode::forward ? wire::SealedKind::relay_key
                                                       : wire::SealedKind::general_key;
  if (wrap.open(d.relay_key, d.path_id, d.key_epoch, kind, key) != wire::Error::ok) {
    spdlog::warn("dc: path {} refused: its key does not open", id);
    return wire::Status::refused;
  }
  const char* mode = d.mode == wire::RelayMode::forward ? "forward" : "translate";
  if (same_epoch) {
    // The same key: a retransmission, the same answer, the state kept.
    if (key.equals(existing->key) && existing->mode == d.mode) return wire::Status::ok;
    // Another key under the epoch in force: the DC directed the path anew
    // after losing the direction that brought these keys (it failed before
    // the DC recorded it, docs/dc.md §8.3).  Those keys were never the
    // ends' both; the new ones replace them whole.
    paths_.put(make_path(d, key, now.mono_ms));
    ++paths_.mobility().redirected_anew;
    spdlog::warn("dc: path {} directed anew under epoch {} with another key ({}, {} -> {})", id,
                 d.key_epoch, mode, d.initiator.fqdn.name, d.responder.fqdn.name);
    return wire::Status::ok;
  }
  if (existing && existing->mode == d.mode) {
    // A re-direction (the DC re-decided the route after a move): new keys
    // and ends; the endpoints keep being used until each end speaks under
    // the new epoch, counters and update_seqs stay.
    const std::uint8_t old_epoch = existing->key_epoch;
    paths_.redirect(*existing, d, key, now.mono_ms);
    ++paths_.mobility().redirections;
    spdlog::info("dc: path {} re-directed, epoch {} -> {} ({}, {} -> {})", id, old_epoch,
                 d.key_epoch, mode, d.initiator.fqdn.name, d.responder.fqdn.name);
    return wire::Status::ok;
  }
  paths_.put(make_path(d, key, now.mono_ms));
  spdlog::info("dc: path {} epoch {} installed ({}, {} -> {}), idle timeout {} s", id,
               d.key_epoch, mode, d.initiator.fqdn.name, d.responder.fqdn.name, d.idle_timeout_s);
  return wire::Status::ok;
}

void DcLink::on_datagram(std::span<const std::uint8_t> datagram, const wire::Endpoint& from,
                         Sink& sink, Now now) {
  wire::Received r;
  const wire::Error err = channel_.open(datagram, now.wall_ms, r);
  if (err != wire::Error::ok) {
    ++drops_.auth_failed;
    spdlog::debug("dc: dropped a datagram: {}", wire::to_string(err));
    return;
  }
  last_heard_ms_ = now.mono_ms;
  // Only the home's answers count for the failover check: another member
  // sending a Relay Direction says nothing about ours.
  if (from == home()) waiting_since_ms_ = 0;
  const std::uint32_t txid = r.header.txid;
  if (auto* resp = std::get_if<wire::RegistrationResponse>(&r.body)) {
    if (registered_ && txid != reg_txid_) return;  // a late duplicate
    // In a cluster, the member we left answered late.  (A lone DC's
    // answer is taken from wherever it comes, as before clusters.)
    if (members_.size() > 1 && from != home()) return;
    registered_ = true;
    ++registrations_;
    reg_txid_ = 0;
    backoff_ms_ = 0;
    attempts_ = 0;
    observed_ = resp->observed;
    keepalive_ms_ = std::uint64_t{resp->keepalive_s ? resp->keepalive_s : 15u} * 1000;
    lifetime_ms_ = std::uint64_t{resp->lifetime_s ? resp->lifetime_s : 60u} * 1000;
    next_send_ms_ = now.mono_ms + keepalive_ms_;
    spdlog::info("dc: registered at {} (observed {}, keepalive {} s)", home().to_string(),
                 resp->observed.to_string(), keepalive_ms_ / 1000);
    if (!announced_) announced_ = announce_pending_ = true;
  } else if (auto* ack = std::get_if<wire::KeepaliveAck>(&r.body)) {
    if (ack->reregister) lost("the DC asks for a new registration", now);
  } else if (auto* e = std::get_if<wire::ErrorReply>(&r.body)) {
    spdlog::warn("dc: error {} for {}: {}", wire::to_string(e->code), wire::to_string(e->ref_type),
                 e->reason.value);
    if (e->code == wire::ErrorCode::not_registered && registered_)
      lost("the DC does not know us", now);
  } else if (auto* d = std::get_if<wire::RelayDirection>(&r.body)) {
    const wire::Status st = install(*d, now);
    if (st != wire::Status::ok) ++drops_.refused;
    // To the member that directed us: in a DC cluster it need not be ours.
    send(wire::RelayResponse{d->path_id, d->key_epoch, st,
                             st == wire::Status::ok ? cfg_.advertise : wire::Endpoint{}},
         txid, sink, now, &from);
  } else {
    spdlog::debug("dc: ignored {}", wire::to_string(r.header.common.type));
  }
}

}  // namespace ntm::relay
