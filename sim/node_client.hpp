// SPDX-License-Identifier: MIT
// A protocol-level client that plays a node (or a relay) against a real
// ntm-dc over UDP: what the DC's integration tests, the demo (ntm-sim) and
// the load generator drive it with.  It speaks only through the wire
// library, as ntmd will.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ntm/common/udp_socket.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/sealed_key.hpp"

namespace ntm::sim {

// What `ntm-dc node add` writes (a node's or relay's config file).
struct Credentials {
  wire::NodeId id;
  std::string name;
  wire::SecretKey key;
  std::uint8_t key_epoch = 0;  // [node] / [relay] key_epoch (ntm-dc node|relay rekey)
  bool relay = false;
  wire::Endpoint dc;  // [dc] endpoint, if the file has one
};
Credentials parse_credentials(const std::string& text);
Credentials load_credentials(const std::string& path);

class NodeClient {
 public:
  // bind: the local address (port 0: any); default 127.0.0.1.  Other
  // loopback addresses (127.0.0.2 ...) stand for other networks in tests.
  NodeClient(const Credentials& creds, const wire::Endpoint& dc, const wire::Endpoint& bind = {});

  wire::Endpoint local() const { return sock_.local(); }
  // Where send() goes from now on: another member of a DC cluster.
  void set_dc(const wire::Endpoint& dc) { dc_ = dc; }
  const Credentials& credentials() const noexcept { return creds_; }

  // Seals and sends; returns the txid used.  The datagram stays available
  // as last_datagram() (for replay tests).
  std::uint32_t send(const wire::Body& body, std::uint32_t txid = 0);
  void send_raw(const std::vector<std::uint8_t>& datagram);
  const std::vector<std::uint8_t>& last_datagram() const noexcept { return last_; }

  // The next message that opens (anything that does not is counted and
  // skipped), or nullopt after timeout_ms.
  std::optional<wire::Received> receive(int timeout_ms);
  // Sends and waits for the answer carrying the same txid.
  std::optional<wire::Received> request(const wire::Body& body, int timeout_ms = 2000);
  // Waits for a message of type T (others are kept for later receive()).
  template <class T>
  std::optional<T> wait_for(int timeout_ms, wire::ControlHeader* header = nullptr);

  // Registration with the given reported local endpoints (default: the
  // socket's real address, i.e. "not behind NAT").
  // reason: `start` is a new ntmd process (the DC directs the node's paths
  // again, docs/dc.md §8.4); a client standing for the same daemon after a
  // move passes `move`.
  std::optional<wire::RegistrationResponse> register_at(
      std::vector<wire::Endpoint> local = {},
      wire::RegistrationReason reason = wire::RegistrationReason::start);
  // Moves to a new socket (a new source port), as a node that changed networks.
  void move();

  // Opens a sealed path/relay key addressed to this node.
  wire::SecretKey open_key(const wire::SealedKey& k, const wire::PathId& path, std::uint8_t epoch,
                           wire::SealedKind kind);

  std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  Credentials creds_;
  wire::Endpoint dc_;
  common::UdpSocket sock_;
  wire::ControlChannel channel_;
  std::uint32_t next_txid_ = 1;
  std::vector<std::uint8_t> last_;
  std::vector<wire::Received> backlog_;
  std::uint64_t dropped_ = 0;
};

template <class T>
std::optional<T> NodeClient::wait_for(int timeout_ms, wire::ControlHeader* header) {
  for (auto it = backlog_.begin(); it != backlog_.end(); ++it)
    if (auto* m = std::get_if<T>(&it->body)) {
      T out = *m;
      if (header) *header = it->header;
      backlog_.erase(it);
      return out;
    }
  std::vector<wire::Received> others;
  std::optional<T> found;
  const auto deadline = timeout_ms;
  int left = deadline;
  while (left > 0 && !found) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = receive(left);
    left -= static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - t0)
                                 .count());
    if (!r) break;
    if (auto* m = std::get_if<T>(&r->body)) {
      found = *m;
      if (header) *header = r->header;
    } else {
      others.push_back(std::move(*r));
    }
  }
  for (auto& o : others) backlog_.push_back(std::move(o));
  return found;
}

}  // namespace ntm::sim
