// SPDX-License-Identifier: MIT
// General hosts (docs/dc.md §10): a name outside every served zone whose
// host runs no NTMobile.  Its real address comes from the system resolver;
// the VIP that stands for it in its initiators' views comes from the
// database's general_hosts table (migration 0008).  There it is shared by
// every member of the cluster and kept across restarts, and the sweep
// forgets it once no path leads to it and nobody asked for it for
// [vip] general_hold_s, so the pool is not used up over time.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>

#include "control/directing.hpp"
#include "control/server.hpp"
#include "ntm/common/clock.hpp"

namespace ntm::dc::control {

namespace {

// How long a member uses a name's VIP, after the database confirmed it,
// without asking again.  Far below general_hold_s's minimum (600 s), so the
// row cannot be forgotten meanwhile: the confirmation renewed its last_used.
constexpr std::uint64_t kConfirmedMs = 60'000;

// Where the search for a new name's address starts in the pool (FNV-1a of
// the name).  Stable across processes and versions: a name whose row was
// forgotten gets its old address back while that is free, and two names
// claimed at once by two members rarely race for one address.
std::uint32_t start_of(std::string_view name) {
  std::uint32_t h = 2166136261u;
  for (const char c : name) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 16777619u;
  }
  return h;
}

}  // namespace

void Server::direct_general(state::Party& mn, const wire::DirectionRequest& req,
                            const wire::ControlHeader& h, const wire::Endpoint& from) {
  // Resolved through the system resolver, off the I/O thread.
  auto resolver = std::make_shared<asio::ip::udp::resolver>(io_);
  std::weak_ptr<bool> alive = alive_;
  const wire::NodeId mn_id = mn.id;
  resolver->async_resolve(
      req.peer.name, "", asio::ip::udp::resolver::address_configured,
      [this, alive, resolver, mn_id, req, h, from](const boost::system::error_code& ec,
                                                   asio::ip::udp::resolver::results_type res) {
        if (alive.expired() || stopped_) return;
        state::Party* mnp = view_.find(mn_id);
        if (!mnp) return;
        wire::IpAddr addr;
        if (!ec)
          for (const auto& r : res)
            if (r.endpoint().address().is_v4()) {
              addr = wire::IpAddr::v4(r.endpoint().address().to_v4().to_uint());
              break;
            }
        if (addr.family == wire::Family::none) {
          stats_.directions_failed++;
          send_error(*mnp, from, h.txid, wire::ErrorCode::no_such_name,
                     wire::MsgType::direction_request, "name does not resolve");
          return;
        }
        general_vip(req.peer.name, [this, mn_id, req, h, from, addr](const GeneralVip& v) {
          direct_general_with(mn_id, req, h, from, addr, v);
        });
      });
}

void Server::direct_general_with(const wire::NodeId& mn_id, const wire::DirectionRequest& req,
                                 const wire::ControlHeader& h, const wire::Endpoint& from,
                                 const wire::IpAddr& addr, const GeneralVip& vip) {
  state::Party* mnp = view_.find(mn_id);
  if (!mnp) return;
  if (vip.vip == 0) {
    stats_.directions_failed++;
    send_error(*mnp, from, h.txid, vip.code, wire::MsgType::direction_request, vip.why);
    return;
  }
  if (directing_.count(req.path_id)) return;
  auto d = std::make_unique<Directing>(io_);
  d->path.id = req.path_id;
  d->path.initiator = mn_id;
  d->path.responder_fqdn = req.peer.name;
  d->path.general_addr = addr;
  d->path.key_epoch = fresh_epoch(req.path_id);
  if (state::Path* existing = view_.find_path(req.path_id)) {
    const bool orphan = existing->state != state::PathState::established;
    if (existing->initiator != mn_id || (!req.redirect && !orphan)) return;
    d->path.key_epoch = static_cast<std::uint8_t>(existing->key_epoch + 1);
    d->path.created_ms = existing->created_ms;
    d->path.asked[0] = existing->asked[0];
    if (!orphan) d->previous = *existing;
  }
  d->general.fqdn = req.peer;
  d->general.real = wire::Endpoint{addr, 0};
  d->general.vip.addr = vip.vip;
  d->mn_id = mn_id;
  d->requester = mn_id;
  d->req_txid = h.txid;
  d->req_from = from;
  route::Placement gh;
  gh.ntmobile = false;
  gh.observed = wire::Endpoint{addr, 0};
  begin_direction(std::move(d), nullptr, gh);
}

void Server::general_vip(const std::string& fqdn, std::function<void(const GeneralVip&)> done) {
  if (auto it = general_vips_.find(fqdn);
      it != general_vips_.end() && common::mono_ms() < it->second.confirmed_ms + kConfirmedMs) {
    stats_.general_cached++;
    return done(GeneralVip{it->second.vip, wire::ErrorCode::internal, {}});
  }
  // One claim per name at a time: directions that need it meanwhile wait
  // for the same answer.
  auto [waiting, first] = general_claims_.try_emplace(fqdn);
  waiting->second.push_back(std::move(done));
  if (!first) return;
  stats_.general_claims++;
  store::GeneralHostClaim c;
  c.name = fqdn;
  c.pool_network = cfg_.general_pool.network;
  c.pool_length = cfg_.general_pool.length;
  c.start = start_of(fqdn);
  auto result = c.result;
  writer_.submit(std::move(c), [this, alive = std::weak_ptr<bool>(alive_), fqdn,
                                result](bool ok) {
    asio::post(io_, [this, alive, fqdn, result, ok] {
      if (alive.expired() || stopped_) return;
      auto node = general_claims_.extract(fqdn);
      if (node.empty()) return;
      GeneralVip v;
      if (!ok) {
        v = {0, wire::ErrorCode::internal, "database unavailable, try again"};
      } else if (result->vip != 0) {
        v.vip = result->vip;
        general_vips_[fqdn] = {result->vip, common::mono_ms()};
      } else if (result->exhausted) {
        v = {0, wire::ErrorCode::no_route, "general host address pool exhausted"};
      } else {
        v = {0, wire::ErrorCode::internal, "general host address contended, try again"};
      }
      if (v.vip == 0) {
        stats_.general_failed++;
        spdlog::warn("direction: no VIP for general host {}: {}", fqdn, v.why);
      }
      for (auto& d : node.mapped()) d(v);
    });
  });
}

void Server::general_sweep() {
  // Confirmations too old to use are only memory.
  const std::uint64_t now = common::mono_ms();
  std::erase_if(general_vips_, [now](const auto& e) {
    return now >= e.second.confirmed_ms + kConfirmedMs;
  });
  // Every member sweeps; the deletions are idempotent.
  store::GeneralHostSweep w;
  w.pool_network = cfg_.general_pool.network;
  w.pool_length = cfg_.general_pool.length;
  w.hold_s = cfg_.general_hold_s;
  auto forgotten = w.forgotten;
  writer_.submit(std::move(w), [forgotten](bool ok) {
    // On the writer thread: only the log.
    if (ok && *forgotten)
      spdlog::info("direction: {} general hosts unused for the hold time forgotten, their VIPs free",
                   *forgotten);
  });
  // A quarter of the hold, at most an hour, give or take a tenth so that the
  // members do not sweep in step.
  const std::uint64_t base_ms = std::min<std::uint64_t>(cfg_.general_hold_s * 250ull, 3'600'000);
  const std::uint64_t jitter = std::random_device{}() % (base_ms / 5 + 1);
  general_timer_.expires_after(std::chrono::milliseconds(base_ms - base_ms / 10 + jitter));
  general_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) general_sweep();
  });
}

}  // namespace ntm::dc::control
