// SPDX-License-Identifier: MIT
// A path as the DC keeps it: both ends, the route it chose, the relay.
// Keys are not kept: K_path lives only in the messages that carry it,
// sealed to each end, and in memory while the path is being directed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ntm/wire/types.hpp"

namespace ntm::dc::state {

enum class PathState : std::uint8_t { directing = 1, established = 2, closed = 3 };

struct Path {
  wire::PathId id;
  wire::NodeId initiator;
  std::optional<wire::NodeId> responder;  // empty: a general host
  std::string responder_fqdn;
  wire::IpAddr general_addr;              // the general host's address
  wire::RouteType route = wire::RouteType::direct;
  wire::FirstSender first = wire::FirstSender::initiator;
  std::optional<wire::NodeId> relay;
  wire::Endpoint relay_endpoint;
  std::uint8_t key_epoch = 0;
  PathState state = PathState::directing;
  std::uint64_t created_ms = 0;
  std::uint64_t updated_ms = 0;
};

}  // namespace ntm::dc::state
