// SPDX-License-Identifier: MIT
#include "dns/publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <sstream>

#include "ntm/common/clock.hpp"

namespace ntm::dc::zone {

namespace {

std::int64_t unix_s() { return static_cast<std::int64_t>(common::wall_ms() / 1000); }

std::uint32_t host_order(const wire::IpAddr& a) {
  return a.v4_host_order();
}

ntm::dns::Ttls ttls(const config::Config& cfg) {
  ntm::dns::Ttls t;
  t.node_s = cfg.dns.node_ttl_s;
  return t;
}

}  // namespace

Publisher::Publisher(asio::io_context& io, const config::Config& cfg, store::Writer& writer,
                     std::vector<store::ZoneRow> zones, const identity::DcPublicKey& key,
                     Prompt prompt)
    : io_(io),
      cfg_(cfg),
      writer_(writer),
      zone_rows_(std::move(zones)),
      marker_(ntm::dns::marker_text(cfg.advertise.to_string())),
      discovery_{ntm::dns::discovery_text(cfg.advertise.to_string(), key.fingerprint_hex())},
      prompt_(std::move(prompt)),
      snap_(std::make_shared<ntm::dns::Snapshot>()),
      // The Backend runs on this thread too: it reads the snapshot in the
      // middle of no change, so handing out the one instance is safe.
      backend_([this] { return std::shared_ptr<const ntm::dns::Snapshot>(snap_); },
               [this](const ntm::dns::NodeLookup& l) {
                 std::string fqdn(l.qname);
                 if (!fqdn.empty() && fqdn.back() == '.') fqdn.pop_back();
                 stats_.prompts_asked++;
                 if (prompt_) prompt_(fqdn);
               }),
      serial_timer_(io) {}

Publisher::~Publisher() = default;

ntm::dns::NodeEntry Publisher::entry(const state::Party& node) const {
  ntm::dns::NodeEntry e;
  e.fqdn = node.name;
  e.marker = marker_;
  if (!node.online) return e;  // an address that may be gone is worse than none
  if (!node.behind_nat) {
    if (node.observed.addr.family == wire::Family::v4) e.a_record = host_order(node.observed.addr);
  } else if (cfg_.dns.nat_address) {
    e.a_record = *cfg_.dns.nat_address;
  }
  return e;
}

void Publisher::start(state::View& view) {
  std::vector<ntm::dns::ZoneInput> zones;
  const std::int64_t now = unix_s();
  for (const auto& row : zone_rows_) {
    ntm::dns::ZoneInput z;
    z.id = row.zone_id;
    z.name = row.name;
    // Never below what this DC (or another process of its cluster) has
    // published before; unix time keeps it moving forward across restarts
    // even where the stored one lags.
    z.serial = std::max(row.serial, now);
    z.nameservers = cfg_.dns.nameservers;
    z.hostmaster = cfg_.dns.hostmaster;
    z.discovery_txt = discovery_;
    z.ns_addresses = cfg_.dns.ns_addresses;
    serials_.push_back({z.id, z.serial, now, false});
    zones.push_back(std::move(z));
  }
  std::vector<ntm::dns::NodeEntry> nodes;
  view.for_each_party([&](const state::Party& p) {
    if (p.kind == state::PartyKind::node) nodes.push_back(entry(p));
  });
  *snap_ = ntm::dns::build_snapshot(zones, nodes, ttls(cfg_));
  for (const auto& [host, addr] : cfg_.dns.ns_addresses) {
    const ntm::dns::ZoneInfo* z = snap_->zone_of_name(host);
    if (!z || snap_->records_at(host + ".").empty())
      spdlog::warn("dns: [dns] ns_addresses {}: not inside a served zone, no glue published", host);
  }
  const auto& st = snap_->stats();
  if (st.zones_rejected || st.nodes_rejected || st.nodes_outside)
    spdlog::warn("dns: {} zones and {} nodes not published ({} outside every zone)",
                 st.zones_rejected, st.nodes_rejected + st.nodes_outside, st.nodes_outside);
  for (const auto& z : serials_) writer_.submit(store::ZoneSerialWrite{z.id, z.serial}, nullptr);

  ntm::dns::SocketServerOptions o;
  o.path = cfg_.dns.socket.string();
  o.mode = cfg_.dns.socket_mode;
  o.max_connections = cfg_.dns.max_connections;
  o.request_timeout = std::chrono::milliseconds(cfg_.dns.request_timeout_ms);
  server_ = std::make_unique<ntm::dns::SocketServer>(io_, backend_, o);
  backend_.set_extra_stats([this] { return server_->stats_text() + stats_text(); });
  server_->start();
  spdlog::info("dns: serving {} zones, {} nodes, {} records on {}", st.zones, st.nodes, st.records,
               o.path);
}

void Publisher::stop() {
  serial_timer_.cancel();
  if (server_) server_->stop();
}

void Publisher::node_changed(const state::Party& node) {
  if (node.kind != state::PartyKind::node) return;
  switch (snap_->put_node(entry(node))) {
    case ntm::dns::NodeChange::added:
    case ntm::dns::NodeChange::changed:
      stats_.changes++;
      changed_in(node.zone_id);
      break;
    default:
      break;
  }
}

void Publisher::node_removed(const std::string& fqdn) {
  const ntm::dns::ZoneInfo* z = snap_->zone_of_name(fqdn);
  if (z && snap_->remove_node(fqdn)) {
    stats_.changes++;
    changed_in(z->id);
  }
}

void Publisher::changed_in(int zone_id) {
  for (auto& z : serials_) {
    if (z.id != zone_id) continue;
    const std::int64_t now = unix_s();
    if (now > z.bumped_s) {
      advance(z, now);
    } else {
      // Already advanced this second: once more when it is over, for every
      // change of the second together.
      z.pending = true;
      arm_serial_timer();
    }
  }
}

void Publisher::advance(ZoneSerial& z, std::int64_t now_s) {
  z.serial = std::max(z.serial + 1, now_s);
  z.bumped_s = now_s;
  z.pending = false;
  snap_->set_serial(z.id, z.serial);
  stats_.serial_bumps++;
  writer_.submit(store::ZoneSerialWrite{z.id, z.serial}, nullptr);
}

void Publisher::arm_serial_timer() {
  if (timer_armed_) return;
  timer_armed_ = true;
  const auto ms_into_second = static_cast<long>(common::wall_ms() % 1000);
  serial_timer_.expires_after(std::chrono::milliseconds(1001 - ms_into_second));
  serial_timer_.async_wait([this](const boost::system::error_code& ec) {
    timer_armed_ = false;
    if (ec) return;
    const std::int64_t now = unix_s();
    for (auto& z : serials_) {
      if (!z.pending) continue;
      if (now > z.bumped_s) advance(z, now);
      else arm_serial_timer();  // the clock lagged the timer: try again
    }
  });
}

void Publisher::log_stats() const {
  std::string socket = server_ ? server_->stats_text() : std::string();
  for (char& c : socket)
    if (c == '\n') c = ' ';
  spdlog::info("dns: changes={} serial_bumps={} prompts_asked={} {}", stats_.changes,
               stats_.serial_bumps, stats_.prompts_asked, socket);
}

std::string Publisher::stats_text() const {
  std::ostringstream o;
  o << "dns_changes " << stats_.changes << "\ndns_serial_bumps " << stats_.serial_bumps
    << "\ndns_prompts_asked " << stats_.prompts_asked << '\n';
  return o.str();
}

}  // namespace ntm::dc::zone
