// SPDX-License-Identifier: MIT
// The unix-socket connector's other end: pdns connects (one connection per
// backend instance), sends one JSON request per line and waits for the
// reply line.  Runs entirely on the caller's io_context (the DC's I/O
// thread), never blocks it, and bounds what a client can cost: line length,
// time to finish a request, number of connections.  One bad client costs
// one connection.
#pragma once

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "ntm/dns/backend.hpp"

namespace ntm::dns {

struct SocketServerOptions {
  std::string path;                        // the socket file; its directory must exist
  unsigned mode = 0660;                    // socket file mode: DC user and the pdns group
  std::size_t max_line_bytes = 64 * 1024;  // pdns requests are < 1 KiB
  // A started request line must be complete, and a reply taken, within
  // this: a client that stalls mid-request is closed.
  std::chrono::milliseconds request_timeout{10'000};
  // Between requests.  0 = never: pdns keeps one connection per backend
  // instance open and idle between queries, and the first query after we
  // close one is answered SERVFAIL (measured with 4.7.3).  If set, make it
  // longer than any quiet period.
  std::chrono::milliseconds idle_timeout{0};
  // pdns: receivers x distributors + 1 TCP + short-lived ones.  At the cap a
  // new connection evicts the longest-idle one (pdns reconnects on its next
  // query); only when none is idle is the new one refused.
  std::size_t max_connections = 128;
};

struct SocketServerStats {
  std::uint64_t accepted = 0;
  std::uint64_t evicted = 0;  // idle connections closed to admit a new one at the cap
  std::uint64_t refused = 0;  // at the cap with none idle: closed at once
  std::uint64_t active = 0;
  std::uint64_t requests = 0;          // lines handed to the Backend
  std::uint64_t line_too_long = 0;     // answered false, then closed
  std::uint64_t request_timeouts = 0;  // stalled mid-request or not reading the reply
  std::uint64_t idle_timeouts = 0;
  std::uint64_t partial_eof = 0;  // client left in the middle of a line
  std::uint64_t io_errors = 0;
  std::uint64_t accept_errors = 0;
};

class SocketServer {
 public:
  // `backend` must outlive the server and every handler still queued on
  // `io` for it.
  SocketServer(boost::asio::io_context& io, Backend& backend, SocketServerOptions opts);
  ~SocketServer();
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  // Removes a stale socket file (nobody accepting on it), binds, sets the
  // mode and starts accepting.  Throws std::system_error when it cannot
  // (path taken by a live server or by a non-socket file, no directory):
  // a start-up failure.  Call before or on the I/O thread.
  void start();
  // Closes the acceptor and every connection and removes the socket file.
  // Call on the I/O thread (or with the io_context stopped).  Idempotent.
  void stop();

  SocketServerStats stats() const;
  std::string stats_text() const;  // for directBackendCmd "stats"

  struct Shared;  // state shared with connections (src/socket_server.cpp)

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace ntm::dns
