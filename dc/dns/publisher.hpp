// SPDX-License-Identifier: MIT
// The DC's side of DNS: publishes the View's nodes in its zones through
// the PowerDNS remote backend (dns-backend/), on the DC's I/O thread.
//  - what a node publishes (docs/dns.md §2): the marker TXT always; an A
//    with its real address while it is online on a global address, the
//    configured nat_address (a relay) or nothing while it is behind NAT,
//    nothing while it is offline;
//  - each change goes into the served data in place, so the very next
//    lookup sees it; the zone's SOA serial follows, at most once a second
//    (serial = max(serial + 1, unix time)), and is stored so that a
//    restarted DC never publishes a lower one;
//  - a lookup of a node's name asks the control plane to prompt the node
//    (rate-limited there), so that the Route Direction that follows the
//    resolution finds a fresh NAT binding.
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "identity/dc_key.hpp"
#include "ntm/dns/backend.hpp"
#include "ntm/dns/socket_server.hpp"
#include "ntm/dns/zone_data.hpp"
#include "state/node_observer.hpp"
#include "state/view.hpp"
#include "store/records.hpp"
#include "store/writer.hpp"

namespace ntm::dc::zone {

namespace asio = boost::asio;

struct PublisherStats {
  std::uint64_t changes = 0;       // node records added, changed or removed
  std::uint64_t serial_bumps = 0;  // SOA serial advances (all zones)
  std::uint64_t prompts_asked = 0; // lookups handed to the prompt callback
};

class Publisher final : public state::NodeObserver {
 public:
  // prompt(fqdn): a lookup hit this node (fqdn without the trailing dot).
  using Prompt = std::function<void(const std::string& fqdn)>;

  Publisher(asio::io_context& io, const config::Config& cfg, store::Writer& writer,
            std::vector<store::ZoneRow> zones, const identity::DcPublicKey& key, Prompt prompt);
  ~Publisher() override;

  // Publishes every node of the view and opens the socket (throws
  // std::system_error when the socket cannot be created).
  void start(state::View& view);
  // Closes the socket and every pdns connection.  On the I/O thread.
  void stop();

  void node_changed(const state::Party& node) override;
  void node_removed(const std::string& fqdn) override;

  const ntm::dns::Snapshot& snapshot() const noexcept { return *snap_; }
  const PublisherStats& stats() const noexcept { return stats_; }
  std::string stats_text() const;  // for directBackendCmd "stats": one counter a line
  void log_stats() const;          // one log line: the publisher's and the socket's counters

 private:
  struct ZoneSerial {
    int id = 0;
    std::int64_t serial = 0;
    std::int64_t bumped_s = 0;  // wall-clock second of the last advance
    bool pending = false;       // changed since then
  };
  ntm::dns::NodeEntry entry(const state::Party& node) const;
  void changed_in(int zone_id);
  void advance(ZoneSerial& z, std::int64_t now_s);
  void arm_serial_timer();

  asio::io_context& io_;
  const config::Config& cfg_;
  store::Writer& writer_;
  std::vector<store::ZoneRow> zone_rows_;
  std::string marker_;
  std::vector<std::string> discovery_;
  Prompt prompt_;
  std::shared_ptr<ntm::dns::Snapshot> snap_;
  ntm::dns::Backend backend_;
  std::unique_ptr<ntm::dns::SocketServer> server_;
  std::vector<ZoneSerial> serials_;
  asio::steady_timer serial_timer_;
  bool timer_armed_ = false;
  PublisherStats stats_;
};

}  // namespace ntm::dc::zone
