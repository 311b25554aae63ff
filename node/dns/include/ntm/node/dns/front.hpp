// SPDX-License-Identifier: MIT
// DnsFront: ntmd's local resolver (data-plane.md section 5, docs/node-resolver.md).
// A UDP DNS server on the daemon's control thread: A queries for names the
// Policy intercepts are handed to the daemon (which starts a Direction
// Request) and answered with the peer's VIP, NXDOMAIN or SERVFAIL; AAAA for
// such names gets NOERROR with no records; everything else is relayed to the
// upstream resolver with a fresh id.  Per-datagram paths never throw: bad
// input is answered (FORMERR, NOTIMP) or dropped, and counted.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "ntm/node/dns/policy.hpp"

namespace ntm::node::dns {

// What the daemon found for an intercepted name.
struct Answer {
  enum class Kind : std::uint8_t { address, nxdomain, servfail };
  Kind kind = Kind::servfail;
  std::uint32_t ipv4 = 0;  // host byte order; kind address only
  std::uint32_t ttl_s = 60;

  static Answer address(std::uint32_t ipv4_host, std::uint32_t ttl_s = 60) {
    return {Kind::address, ipv4_host, ttl_s};
  }
  static Answer nxdomain() { return {Kind::nxdomain, 0, 0}; }
  static Answer servfail() { return {Kind::servfail, 0, 0}; }
};

// Called once per intercepted name (concurrent A queries for one name share
// the call) with the canonical name (lower case, no trailing dot, a valid
// host name).  `done` may be called at once (a path that is up), later, after
// the wait bound (ignored then), more than once (only the first counts), or
// never.  It is safe to call after the DnsFront is gone, and from another
// thread (it is then posted to the io_context).  An exception from the
// callback is caught and the name answered SERVFAIL.
using ResolveFn = std::function<void(const std::string& fqdn, std::function<void(Answer)> done)>;

struct FrontConfig {
  boost::asio::ip::udp::endpoint listen;    // [ntmd] dns_listen (port 0: any, see local_endpoint)
  boost::asio::ip::udp::endpoint upstream;  // [ntmd] dns_upstream
  Policy policy;
  std::uint32_t tunnel_wait_ms = 5000;  // [ntmd] tunnel_wait_ms: SERVFAIL after this
  // A forward the upstream has not answered in this time is forgotten; the
  // client then gets SERVFAIL (false: nothing, it retries on its own).
  std::uint32_t upstream_timeout_ms = 5000;
  bool servfail_on_upstream_timeout = true;
  std::size_t max_pending = 1024;  // forwards awaiting the upstream; beyond: SERVFAIL at once
  std::size_t max_waiting = 1024;  // intercepted queries awaiting `done`; beyond: SERVFAIL at once
};

// Read by the daemon for its status.  Every datagram to the listen socket
// lands in exactly one of queries, formerr, notimp, dropped.
struct FrontCounters {
  std::uint64_t queries = 0;            // well-formed queries, whatever became of them
  std::uint64_t intercepted = 0;        // A and AAAA for intercepted names
  std::uint64_t callbacks = 0;          // ResolveFn calls (after sharing among identical queries)
  std::uint64_t passthrough = 0;        // forwarded to the upstream
  std::uint64_t servfail_timeouts = 0;  // intercepted A answered SERVFAIL as tunnel_wait passed
  std::uint64_t late_answers = 0;       // `done` after the bound (or a second time): ignored
  std::uint64_t formerr = 0;            // answered FORMERR or BADVERS
  std::uint64_t notimp = 0;             // answered NOTIMP (opcode other than QUERY)
  std::uint64_t dropped = 0;            // to the listen socket, no answer: short, or QR=1
  std::uint64_t full = 0;               // SERVFAIL at once: pending or waiting table full
  std::uint64_t upstream_timeouts = 0;  // forwards the upstream never answered
  std::uint64_t upstream_dropped = 0;   // upstream socket: foreign source, unknown id, bad reply
  std::uint64_t upstream_errors = 0;    // a forward the kernel refused to send: SERVFAIL at once
  std::uint64_t send_errors = 0;        // an answer to a client not sent (socket error)
};

class DnsFront {
 public:
  // Binds the listen socket and a socket for the upstream (ephemeral port)
  // and starts receiving.  Throws boost::system::system_error when a socket
  // cannot be opened or bound (a start-up failure).  Construct, use and
  // destroy on the io_context's thread (or while it is not running).
  DnsFront(boost::asio::io_context& io, FrontConfig config, ResolveFn resolve);
  // Closes the sockets and forgets everything outstanding: clients waiting
  // get nothing, a later `done` is ignored.
  ~DnsFront();
  DnsFront(const DnsFront&) = delete;
  DnsFront& operator=(const DnsFront&) = delete;

  boost::asio::ip::udp::endpoint local_endpoint() const;
  // Safe from any thread (relaxed atomics).
  FrontCounters counters() const;
  // Now outstanding (control thread only): forwards and intercepted names.
  std::size_t pending_forwards() const;
  std::size_t pending_names() const;

  struct State;  // src/front.cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace ntm::node::dns
