// SPDX-License-Identifier: MIT
#include "kernel_forward.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "nat_rules.hpp"

namespace ntm::relay {

namespace {

// Offsets in the UDP datagram (nftables' @th counts bits from the start of
// the UDP header, 8 bytes before the NTMobile header; protocol.md §2).
// version at byte 0 and type at byte 1 of the header: @th,64,16;
// flags: @th,80,8; key_epoch: @th,88,8; id (path ID): @th,192,128.
constexpr const char* kVersionType = "@th,64,16 0x010b";  // version 1, Capsulated Packet
constexpr const char* kFlags = "@th,80,8";
constexpr const char* kEpoch = "@th,88,8";
constexpr const char* kPathId = "@th,192,128";
// flags = domain PATH (1) | role << 2
constexpr int kFlagsOf[2] = {0x01, 0x05};  // initiator, responder

std::uint32_t v4(const wire::IpAddr& a) noexcept {
  return (std::uint32_t{a.bytes[0]} << 24) | (std::uint32_t{a.bytes[1]} << 16) |
         (std::uint32_t{a.bytes[2]} << 8) | a.bytes[3];
}

std::string chain_of(const std::string& hex) {
  return "p" + hex;
}
std::string counter_of(const std::string& hex) {
  return "c" + hex;
}

}  // namespace

std::optional<KernelRoute> kernel_route(const RelayPath& p,
                                        const std::set<std::uint32_t>& local_v4) {
  if (p.mode != wire::RelayMode::forward || !p.endpoint[kInitiator] || !p.endpoint[kResponder])
    return std::nullopt;
  KernelRoute r;
  for (int e : {kInitiator, kResponder}) {
    const wire::Endpoint& ep = *p.endpoint[e];
    if (ep.addr.family != wire::Family::v4 || ep.port == 0) return std::nullopt;
    const std::uint32_t a = v4(ep.addr);
    if ((a >> 24) == 127 || local_v4.count(a)) return std::nullopt;
    r.end[e] = ep;
  }
  r.epochs[r.n_epochs++] = p.keys.epoch;
  if (p.previous && p.previous->epoch != p.keys.epoch) r.epochs[r.n_epochs++] = p.previous->epoch;
  return r;
}

std::string fwd_table_script(const wire::Endpoint& relay) {
  const std::string t = std::string("ip ") + kFwdTable;
  // "table; delete table" first: removes a table a killed ntm-rs left
  // behind (its rules would carry paths this process does not know), or
  // nothing, in the same atomic transaction.
  std::ostringstream s;
  s << "table " << t << "\n"
    << "delete table " << t << "\n"
    << "table " << t
    << " {\n"
    // path ID -> the path's chain; the set: paths the kernel carries.
    << "  map paths {\n    typeof " << kPathId << " : verdict\n  }\n"
    << "  set carried {\n    typeof " << kPathId
    << "\n  }\n"
    // raw: before conntrack, so notrack keeps forwarded capsules out of it.
    << "  chain prerouting {\n"
    << "    type filter hook prerouting priority raw; policy accept;\n"
    << "    ip daddr " << relay.addr.to_string() << " udp dport " << relay.port << " "
    << kVersionType << " " << kPathId << " vmap @paths\n"
    << "  }\n"
    // A capsule the prerouting chain sent on leaves with the relay
    // endpoint as its source.  "ct state untracked" is what tells it from
    // a capsule of the same path that this host only routes (the relay
    // host may be the ends' router, and a path the DC moved from relay to
    // direct keeps its ID): prerouting's notrack marked the one, conntrack
    // tracks the other.
    << "  chain postrouting {\n"
    << "    type filter hook postrouting priority srcnat; policy accept;\n"
    << "    meta l4proto udp ct state untracked " << kVersionType << " " << kPathId
    << " @carried ip saddr set " << relay.addr.to_string() << " udp sport set " << relay.port
    << "\n"
    << "  }\n"
    << "}\n";
  return s.str();
}

std::string fwd_install_script(const wire::PathId& id, const KernelRoute& r, bool fresh) {
  const std::string t = std::string("ip ") + kFwdTable;
  const std::string hex = id.to_hex();
  std::ostringstream s;
  if (fresh) {
    // A named counter survives the chain's flush on every change.
    s << "add counter " << t << " " << counter_of(hex) << "\n"
      << "add chain " << t << " " << chain_of(hex) << "\n";
  }
  s << "flush chain " << t << " " << chain_of(hex) << "\n";
  std::string epochs;
  if (r.n_epochs == 1) {
    epochs = std::to_string(r.epochs[0]);
  } else {
    epochs = "{ " + std::to_string(r.epochs[0]) + ", " + std::to_string(r.epochs[1]) + " }";
  }
  for (int e : {kInitiator, kResponder}) {
    const wire::Endpoint& from = r.end[e];
    const wire::Endpoint& to = r.end[1 - e];
    s << "add rule " << t << " " << chain_of(hex) << " " << kFlags << " " << kFlagsOf[e] << " "
      << kEpoch << " " << epochs << " ip saddr " << from.addr.to_string() << " udp sport "
      << from.port << " ip daddr set " << to.addr.to_string() << " udp dport set " << to.port
      << " counter name \"" << counter_of(hex) << "\" notrack accept\n";
  }
  if (fresh) {
    s << "add element " << t << " paths { 0x" << hex << " : jump " << chain_of(hex) << " }\n"
      << "add element " << t << " carried { 0x" << hex << " }\n";
  }
  return s.str();
}

std::string fwd_remove_script(const wire::PathId& id) {
  const std::string t = std::string("ip ") + kFwdTable;
  const std::string hex = id.to_hex();
  return "delete element " + t + " paths { 0x" + hex + " }\n" +    //
         "delete element " + t + " carried { 0x" + hex + " }\n" +  //
         "flush chain " + t + " " + chain_of(hex) + "\n" +         //
         "delete chain " + t + " " + chain_of(hex) + "\n" +        //
         "delete counter " + t + " " + counter_of(hex) + "\n";
}

std::unordered_map<std::string, std::pair<std::uint64_t, std::uint64_t>> parse_fwd_counters(
    const std::string& text) {
  // counter c<32 hex> {
  //         packets N bytes M
  //
  std::unordered_map<std::string, std::pair<std::uint64_t, std::uint64_t>> out;
  std::istringstream in(text);
  std::string line, current;
  while (std::getline(in, line)) {
    std::istringstream w(line);
    std::string word;
    w >> word;
    if (word == "counter") {
      std::string name;
      w >> name;
      current = name.size() == 33 && name[0] == 'c' ? name.substr(1) : std::string();
    } else if (word == "packets" && !current.empty()) {
      std::uint64_t packets = 0, bytes = 0;
      std::string b;
      if (w >> packets >> b >> bytes && b == "bytes") out[current] = {packets, bytes};
      current.clear();
    }
  }
  return out;
}

std::set<std::uint32_t> local_ipv4_addresses() {
  std::set<std::uint32_t> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    out.insert(ntohl(reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr));
  }
  ::freeifaddrs(list);
  return out;
}

KernelForward::KernelForward(const wire::Endpoint& relay, std::set<std::uint32_t> local_v4)
    : local_v4_(std::move(local_v4)) {
  if (relay.addr.family != wire::Family::v4 || !local_v4_.count(v4(relay.addr)))
    throw std::runtime_error("the relay endpoint " + relay.to_string() +
                             " is not an IPv4 address of this host");
  std::string err;
  if (!session_.run(fwd_table_script(relay), &err))
    throw std::runtime_error("nftables table " + std::string(kFwdTable) + ": " + err);
  worker_ = std::make_unique<NftWorker>();
}

KernelForward::~KernelForward() {
  if (worker_) remove_table();
}

void KernelForward::remove_table() {
  worker_.reset();  // what is queued goes first
  const std::string t = std::string("ip ") + kFwdTable;
  session_.run("table " + t + "\ndelete table " + t + "\n");
}

void KernelForward::disable(const std::string& why, PathTable& paths) {
  spdlog::error("relay: kernel forwarding off, the socket carries every path from now on: {}", why);
  remove_table();
  for (const auto& [id, in] : installed_)
    if (RelayPath* p = paths.find(id)) p->in_kernel = false;
  installed_.clear();
}

bool KernelForward::failed(PathTable& paths) {
  if (!worker_) return true;
  if (auto f = worker_->failure()) {
    disable(*f, paths);
    return true;
  }
  return false;
}

void KernelForward::wait() {
  if (worker_) worker_->wait_idle();
}

void KernelForward::sync(PathTable& paths, bool force) {
  if (failed(paths) || (!force && paths.generation() == generation_)) return;
  generation_ = paths.generation();
  ++pass_;
  std::string script;
  std::size_t added = 0, changed = 0;
  paths.for_each([&](const RelayPath& p) {
    const auto route = kernel_route(p, local_v4_);
    if (!route) return;
    auto it = installed_.find(p.id);
    if (it == installed_.end()) {
      script += fwd_install_script(p.id, *route, true);
      installed_.emplace(p.id, Installed{*route, 0, 0, pass_});
      ++added;
      return;
    }
    it->second.seen = pass_;
    if (it->second.route == *route) return;
    script += fwd_install_script(p.id, *route, false);
    it->second.route = *route;
    ++changed;
  });
  std::size_t removed = 0;
  for (auto it = installed_.begin(); it != installed_.end();) {
    if (it->second.seen == pass_) {
      ++it;
      continue;
    }
    script += fwd_remove_script(it->first);
    if (RelayPath* p = paths.find(it->first)) p->in_kernel = false;
    it = installed_.erase(it);
    ++removed;
  }
  // in_kernel says what the kernel has been told (also for a path put
  // anew under the same ID and route); the worker applies it in order, and
  // until then the socket carries what the kernel does not.
  for (auto& [id, in] : installed_)
    if (RelayPath* p = paths.find(id)) p->in_kernel = true;
  if (script.empty()) return;
  worker_->submit(std::move(script));
  spdlog::debug("relay: kernel forwarding: {} paths added, {} changed, {} removed; {} carried",
                added, changed, removed, installed_.size());
}

bool KernelForward::counters_due(const PathTable& paths, std::uint64_t now_ms,
                                 std::uint64_t margin_ms) const {
  bool due = false;
  paths.for_each([&](const RelayPath& p) {
    if (!due && installed_.count(p.id) && now_ms + margin_ms > p.last_active_ms &&
        now_ms + margin_ms - p.last_active_ms > p.idle_timeout_ms)
      due = true;
  });
  return due;
}

void KernelForward::read_counters(PathTable& paths, std::uint64_t now_ms) {
  if (failed(paths) || installed_.empty()) return;
  std::string text;
  if (!session_.run(std::string("list counters table ip ") + kFwdTable, &text))
    return disable("cannot read counters: " + text, paths);
  const auto counters = parse_fwd_counters(text);
  for (auto& [id, in] : installed_) {
    auto c = counters.find(id.to_hex());
    RelayPath* p = paths.find(id);
    if (c == counters.end() || !p) continue;
    const auto [packets, bytes] = c->second;
    if (packets > in.packets) {
      p->forwarded += packets - in.packets;
      p->kernel_forwarded += packets - in.packets;
      p->bytes += bytes - in.bytes;
      p->last_active_ms = now_ms;
    }
    in.packets = packets;
    in.bytes = bytes;
  }
}

std::unique_ptr<KernelForward> start_kernel_forward(const Config& cfg) {
  if (!cfg.kernel_forward) {
    spdlog::info("kernel forwarding: off ([rs] kernel_forward)");
    return nullptr;
  }
  const auto local = local_ipv4_addresses();
  wire::Endpoint relay = cfg.listen;
  if (relay.addr.family == wire::Family::v4 && v4(relay.addr) == 0) {
    relay.addr = cfg.advertise.addr;
    if (cfg.advertise.port != cfg.listen.port || cfg.advertise.addr.family != wire::Family::v4 ||
        !local.count(v4(relay.addr))) {
      spdlog::warn(
          "kernel forwarding: off: [rs] listen {} is a wildcard and [rs] advertise {} is not an "
          "address and port of this host; set [rs] listen to the address the ends reach",
          cfg.listen.to_string(), cfg.advertise.to_string());
      return nullptr;
    }
  }
  if (relay.addr.family == wire::Family::v4 && (v4(relay.addr) >> 24) == 127) {
    // Ends that reach a relay on loopback are on this host: nothing to
    // forward, and no reason to touch this host's forwarding settings.
    spdlog::info("kernel forwarding: off: the relay endpoint {} is on loopback", relay.to_string());
    return nullptr;
  }
  try {
    auto k = std::make_unique<KernelForward>(relay, local);
    // Read first: where it is already on, a read-only /proc/sys (a
    // container) is no reason to go without.
    std::ifstream in("/proc/sys/net/ipv4/ip_forward");
    std::string on;
    in >> on;
    if (on != "1") write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
    spdlog::info("kernel forwarding: on for capsules to {} (nftables table {})", relay.to_string(),
                 kFwdTable);
    return k;
  } catch (const std::exception& e) {
    spdlog::warn("kernel forwarding: off, the socket carries every path: {}", e.what());
    return nullptr;
  }
}

}  // namespace ntm::relay
