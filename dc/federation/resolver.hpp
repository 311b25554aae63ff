// SPDX-License-Identifier: MIT
// Asks a recursive resolver for a name's TXT records, on the caller's Asio
// I/O thread.  Every query has a random 16-bit id and its own socket on a
// kernel-chosen (random) port; an answer counts only if it comes from the
// resolver's address and port and matches id and question (RFC 5452).
// Lost answers are retried; answers (positive and negative) are cached for
// their TTL in a bounded cache; concurrent lookups of one name share one
// query.
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "federation/txt_message.hpp"
#include "ntm/wire/types.hpp"

namespace ntm::dc::federation {

namespace asio = boost::asio;

struct ResolverStats {
  std::uint64_t queries = 0;      // sent (first tries)
  std::uint64_t retries = 0;
  std::uint64_t cache_hits = 0;
  std::uint64_t timeouts = 0;     // every try went unanswered
  std::uint64_t ignored = 0;      // datagrams that were not our answer (source, id, question)
  std::uint64_t failed = 0;       // SERVFAIL, REFUSED, truncated
};

// The first nameserver in resolv_conf (port 53), or 127.0.0.1:53.
wire::Endpoint system_resolver(const std::string& resolv_conf = "/etc/resolv.conf");

class TxtResolver {
 public:
  struct Options {
    wire::Endpoint server;
    unsigned timeout_ms = 400;  // per try
    unsigned tries = 3;
    std::size_t cache_size = 4096;
  };
  // status: ok/nxdomain/nodata as answered, failed when every try timed
  // out or the resolver failed.
  using Callback = std::function<void(const TxtAnswer&)>;

  TxtResolver(asio::io_context& io, Options o);
  ~TxtResolver();
  TxtResolver(const TxtResolver&) = delete;
  TxtResolver& operator=(const TxtResolver&) = delete;

  // cb runs later on the I/O thread (never inside lookup), exactly once,
  // unless stop() comes first.
  void lookup(const std::string& name, Callback cb);
  void stop();
  const ResolverStats& stats() const noexcept { return stats_; }
  std::size_t cached() const noexcept { return cache_.size(); }

 private:
  struct Query;
  struct Cached {
    TxtAnswer answer;
    std::uint64_t expires_mono_ms = 0;
  };
  void send_try(const std::shared_ptr<Query>& q);
  void receive(const std::shared_ptr<Query>& q);
  void finish(const std::shared_ptr<Query>& q, const TxtAnswer& a);
  void remember(const std::string& name, const TxtAnswer& a);

  asio::io_context& io_;
  Options opt_;
  ResolverStats stats_;
  std::unordered_map<std::string, std::shared_ptr<Query>> running_;
  std::unordered_map<std::string, Cached> cache_;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // posted callbacks check it
};

}  // namespace ntm::dc::federation
