// SPDX-License-Identifier: MIT
// Kernel forwarding of relayed paths (docs/relay.md, "Kernel forwarding").
//
// A forward path's capsules need no work the kernel cannot do: match the
// path ID and the sender's recorded endpoint, rewrite the addresses, send.
// Carried through ntm-rs's socket, each capsule costs a wake-up of the
// relay's thread and two copies; on the tunnel benchmark's machine that was
// 0.156 ms of round trip for a ping, more than wireguard-go's whole tunnel
// adds.  So once both ends of a forward path are known, ntm-rs installs
// stateless nftables rules (table ip ntm-rs-fwd) that forward its capsules
// in the kernel: prerouting (before conntrack, notrack) rewrites the
// destination to the other end's endpoint, postrouting rewrites the source
// to the relay endpoint, checksums updated by nftables.  Everything else --
// control messages, capsules from an unrecorded source or of another epoch,
// paths with an end on this host -- still reaches the socket and is handled
// there exactly as before.  The rules follow the path table: an end's move,
// a re-direction, an expiry or a removal is handed to a worker thread as
// one transaction (nft_worker.hpp) after the batch that caused it.
// Stateless because one node's endpoint can carry several paths through
// the same relay endpoint (conntrack NAT would bind the 5-tuple to the
// first path's destination) and because the same 5-tuple also carries the
// node's control messages to ntm-rs itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

#include "config.hpp"
#include "nft_worker.hpp"
#include "relay_path.hpp"

namespace ntm::relay {

inline constexpr const char* kFwdTable = "ntm-rs-fwd";

// What the kernel is told for one path: the two ends' IPv4 endpoints and
// the key epochs whose capsules it carries.
struct KernelRoute {
  wire::Endpoint end[2];
  std::uint8_t epochs[2] = {0, 0};
  std::uint8_t n_epochs = 0;
  bool operator==(const KernelRoute&) const = default;
};

// The route the kernel may carry for p, or nothing: a forward path with
// both ends known on IPv4 addresses that are not this host's (a capsule to
// a local address would be delivered here with the sender's address, not
// forwarded).
std::optional<KernelRoute> kernel_route(const RelayPath& p,
                                        const std::set<std::uint32_t>& local_v4);

// nftables scripts (pure, unit-tested).  relay = the address and port the
// ends send to.
std::string fwd_table_script(const wire::Endpoint& relay);
std::string fwd_install_script(const wire::PathId& id, const KernelRoute& r, bool fresh);
std::string fwd_remove_script(const wire::PathId& id);
// Parses `list counters table ip ntm-rs-fwd`: path ID hex -> (packets, bytes).
std::unordered_map<std::string, std::pair<std::uint64_t, std::uint64_t>> parse_fwd_counters(
    const std::string& text);

// This host's IPv4 addresses (getifaddrs), loopback included.
std::set<std::uint32_t> local_ipv4_addresses();

class KernelForward {
 public:
  // Installs the table; throws std::runtime_error (with nft's message) if
  // nftables cannot be used.  relay must be an IPv4 address of this host.
  KernelForward(const wire::Endpoint& relay, std::set<std::uint32_t> local_v4);
  ~KernelForward();  // applies what is queued, then removes the table
  KernelForward(const KernelForward&) = delete;
  KernelForward& operator=(const KernelForward&) = delete;

  // Brings the kernel's rules in line with the path table: the changes go
  // to the worker thread as one transaction, in order.  Cheap when nothing
  // changed since the last call (the table's generation).  After an
  // nftables failure kernel forwarding is switched off for good (the table
  // removed, everything carried by the socket) and the reason logged.
  void sync(PathTable& paths, bool force = false);
  // Blocks until every change handed to the worker is in the kernel.
  void wait();
  // Reads the kernel's per-path counters into the paths (forwarded, bytes,
  // last_active_ms when they moved).
  void read_counters(PathTable& paths, std::uint64_t now_ms);
  // Whether some kernel-carried path would expire by now + margin_ms
  // according to what ntm-rs saw (its counters are then worth reading).
  bool counters_due(const PathTable& paths, std::uint64_t now_ms, std::uint64_t margin_ms) const;

  bool active() const noexcept { return worker_ != nullptr; }
  std::size_t paths() const noexcept { return installed_.size(); }

 private:
  struct Installed {
    KernelRoute route;
    std::uint64_t packets = 0;  // the counter's value last read
    std::uint64_t bytes = 0;
    std::uint64_t seen = 0;  // sync pass stamp
  };
  void disable(const std::string& why, PathTable& paths);
  bool failed(PathTable& paths);
  void remove_table();  // stops the worker first

  NftSession session_;                 // the table, counters and teardown, on the caller's thread
  std::unique_ptr<NftWorker> worker_;  // changes; nullptr once switched off
  std::set<std::uint32_t> local_v4_;
  std::unordered_map<wire::PathId, Installed, PathIdHash> installed_;
  std::uint64_t generation_ = ~std::uint64_t{0};
  std::uint64_t pass_ = 0;
};

// Kernel forwarding as configured: nullptr when [rs] kernel_forward is off
// or it cannot work here (each reason logged once).  The relay address is
// [rs] listen, or [rs] advertise when listen is a wildcard and advertise is
// an address of this host.  Turns IPv4 forwarding on in ntm-rs's network
// namespace, as translate mode does.
std::unique_ptr<KernelForward> start_kernel_forward(const Config& cfg);

}  // namespace ntm::relay
