// SPDX-License-Identifier: MIT
// Registration with the DC and keepalives (docs/protocol.md §7.1, §7.12).
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <spdlog/spdlog.h>

#include "agent/agent_internal.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::node {

std::vector<wire::Endpoint> Agent::local_endpoints() const {
  if (!cfg_.report_local.empty()) return cfg_.report_local;
  const wire::Endpoint sock = dp_.local();
  std::vector<wire::Endpoint> out;
  if (sock.addr.family == wire::Family::v4 && sock.addr != wire::IpAddr::v4(0)) return {sock};
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i && out.size() < wire::kMaxEndpoints; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    if (!(i->ifa_flags & IFF_UP) || (i->ifa_flags & IFF_LOOPBACK)) continue;
    if (cfg_.tun == i->ifa_name) continue;  // our own VIP is not a real address
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    wire::Endpoint e;
    e.addr.family = wire::Family::v4;
    std::memcpy(e.addr.bytes.data(), &s4->sin_addr, 4);
    e.port = sock.port;
    if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
  }
  ::freeifaddrs(list);
  std::sort(out.begin(), out.end());
  return out;
}

void Agent::register_now(wire::RegistrationReason why,
                         std::optional<std::vector<wire::Endpoint>> local) {
  reported_ = local ? std::move(*local) : local_endpoints();
  wire::RegistrationRequest r;
  r.kind = wire::PartyKind::node;
  r.reason = why;
  r.fqdn = cfg_.fqdn;
  r.local = reported_;
  reg_txid_ = send_dc(r);
  note_sent_home(common::mono_ms());
  schedule_registration_retry();
}

bool Agent::reload_key(const wire::SecretKey& key, std::uint8_t key_epoch) {
  if (key.equals(cfg_.key) && key_epoch == cfg_.key_epoch) return false;
  cfg_.key = key;
  cfg_.key_epoch = key_epoch;
  // A new channel: new derived keys and a new instance, so the DC's replay
  // state for the old one does not apply.  Route Directions open with the
  // new key's wrap key (direction.cpp reads cfg_).
  dc_chan_ = wire::ControlChannel(cfg_.key, dc_channel_config(cfg_));
  spdlog::info("registration: node key epoch {} taken; registering again", key_epoch);
  // Not registered until the DC answers under the new key (retried with
  // backoff like any registration; lookups meanwhile wait for it instead of
  // being refused).  Re-keyed without a grace period, the DC took us
  // offline with the old key; with one (ntm-dc rekey --grace), this first
  // message under the new key ends the grace.
  registered_ = false;
  reg_backoff_ms_ = 500;
  register_now(wire::RegistrationReason::refresh);
  return true;
}

void Agent::note_sent_home(std::uint64_t now) {
  if (home_waiting_since_ms_ == 0) home_waiting_since_ms_ = now;
}

// Keepalives to the members we are not registered with: each keeps a NAT
// binding towards that member, so that it can send us a Route Direction
// from its own socket, and each ack says the member is alive.
void Agent::keepalive_members() {
  for (std::size_t i = 0; i < cfg_.dc_members.size(); ++i)
    if (i != home_) send_dc(wire::Keepalive{}, 0, &cfg_.dc_members[i]);
}

// The home left a message unanswered for kDcFailoverMs: register with the
// next member, preferring one that answered within the last lifetime.
void Agent::check_dc_failover(std::uint64_t now) {
  const std::size_t n = cfg_.dc_members.size();
  if (n < 2 || home_waiting_since_ms_ == 0 || now - home_waiting_since_ms_ < kDcFailoverMs) return;
  const std::uint64_t lifetime = std::max<std::uint64_t>(2, reg_.lifetime_s ? reg_.lifetime_s : 60) * 1000;
  std::size_t next = (home_ + 1) % n;
  for (std::size_t k = 1; k < n; ++k) {
    const std::size_t i = (home_ + k) % n;
    if (member_heard_ms_[i] != 0 && now - member_heard_ms_[i] < lifetime) {
      next = i;
      break;
    }
  }
  spdlog::warn("dc: {} left a message unanswered for {} ms; registering with {}",
               home_dc().to_string(), now - home_waiting_since_ms_,
               cfg_.dc_members[next].to_string());
  home_ = next;
  ++failovers_;
  home_waiting_since_ms_ = 0;
  dc_reachable_ = false;
  registered_ = false;
  reg_backoff_ms_ = 500;
  register_now(wire::RegistrationReason::refresh);
}

// Retransmits the registration until it is answered, backing off to 8 s so
// that a DC that is down is not flooded, and saying so once.
void Agent::schedule_registration_retry() {
  reg_timer_.expires_after(std::chrono::milliseconds(reg_backoff_ms_));
  reg_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
    if (ec || alive.expired() || registered_) return;
    const std::uint64_t home_before = home_;
    check_dc_failover(common::mono_ms());
    if (home_ != home_before) return;  // registered with the next member already
    if (reg_backoff_ms_ >= 2000 && dc_reachable_ == false)
      spdlog::warn("dc: no answer from {}; retrying every {} ms", home_dc().to_string(),
                   reg_backoff_ms_);
    reg_backoff_ms_ = std::min<std::uint32_t>(reg_backoff_ms_ * 2, 8000);
    // `start` only until this process was first registered: the DC takes a
    // start as a new process and directs its paths again (dc.md §8.4).
    register_now(ready_sent_ ? wire::RegistrationReason::refresh : wire::RegistrationReason::start);
  });
}

void Agent::on_registration_response(const wire::RegistrationResponse& r,
                                     const wire::ControlHeader& h) {
  if (h.txid != reg_txid_) return;  // an answer to an older attempt
  reg_timer_.cancel();
  reg_backoff_ms_ = 500;
  const bool first = !ready_sent_;
  if (registered_ == false || r.vip != reg_.vip || r.observed != reg_.observed ||
      r.behind_nat != reg_.behind_nat)
    spdlog::info("registered as {}: vip {}/{}, seen at {} ({})", cfg_.fqdn.name,
                 r.vip.to_string(), r.vip_prefix_len, r.observed.to_string(),
                 r.behind_nat ? "behind NAT" : "global address");
  reg_ = r;
  registered_ = true;
  last_keepalive_ms_ = common::mono_ms();
  dp_.set_address(r.vip.addr, r.vip_prefix_len);
  // The DC's probe port tells it whether our NAT maps per destination.
  if (r.behind_nat && !cfg_.probe.empty()) send_dc(wire::Keepalive{}, 0, &cfg_.probe);
  // A binding towards every other member at once (after a start, a move
  // or a failover), not only at the next keepalive interval.
  keepalive_members();
  // Directions asked of a member that died are asked again here now.
  for (auto& [name, l] : lookups_) send_direction_request(*l);
  if (first) {
    ready_sent_ = true;
    if (on_ready) on_ready(r.vip.addr);
  }
  // Directions that came before we knew our VIP (agent.hpp).
  std::vector<HeldDirection> held;
  held.swap(held_directions_);
  for (const auto& d : held) on_route_direction(d.rd, d.h);
}

void Agent::send_keepalive() {
  last_keepalive_ms_ = common::mono_ms();
  send_dc(wire::Keepalive{});
  note_sent_home(last_keepalive_ms_);
}

void Agent::on_keepalive_ack(const wire::KeepaliveAck& a) {
  if (!registered_) return;
  if (a.observed != reg_.observed && !a.reregister) {
    // The NAT gave us a new mapping without a word (its binding expired, or
    // it restarted): the peers and the RS still send to the old one.
    spdlog::info("dc: now seen at {} (was {}): NAT rebinding", a.observed.to_string(),
                 reg_.observed.to_string());
    start_move_round("NAT rebinding");
  } else if (a.reregister) {
    spdlog::info("dc: registration lost (seen at {}); registering again", a.observed.to_string());
    registered_ = false;
    register_now(wire::RegistrationReason::refresh);
  }
}

}  // namespace ntm::node
