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
  // The initiator's FQDN where it is another DC's node (a federated path at
  // the CN's DC, paths.initiator_fqdn): the peer DC to tell when CN moves is
  // the one whose zones hold it.  Empty elsewhere.
  std::string initiator_fqdn;
  wire::IpAddr general_addr;              // the general host's address
  wire::RouteType route = wire::RouteType::direct;
  wire::FirstSender first = wire::FirstSender::initiator;
  std::optional<wire::NodeId> relay;
  wire::Endpoint relay_endpoint;
  std::uint8_t key_epoch = 0;
  PathState state = PathState::directing;
  // One end is another DC's node (docs/federation.md §4): no row of our
  // nodes table holds it (paths.remote).
  bool remote = false;
  std::uint64_t created_ms = 0;
  std::uint64_t updated_ms = 0;
  // The address each end uses for the other (its Route Direction's
  // peer_view): 0 the initiator's for the responder, 1 the responder's for
  // the initiator; the peer's VIP or a clash substitute
  // (state/end_view.hpp).  Kept across re-directions, restarts and the
  // cluster's members (paths.initiator_view, responder_view) so that
  // applications keep their address; 0: not chosen (a general host's end,
  // or a row written before migration 0004).
  std::uint32_t peer_view[2] = {0, 0};

  // In memory only, for re-directions (docs/dc.md "Moves"); a path loaded
  // from the database starts with zeroes ("unknown").
  // The DC's placement sequence (Party::moved_seq) when the direction that
  // made this version of the path began: an end whose moved_seq is higher
  // moved since.  0: unknown (the path was loaded at start).
  std::uint64_t directed_seq = 0;
  std::uint64_t directed_mono_ms = 0;  // when that direction ended (monotonic)
  // When this view saw the key epoch it holds begin (monotonic): the age
  // path_rekey_s is counted from.  0: not yet (loaded at start, or from a
  // note of another member): the re-key pass counts from when it first
  // sees it.
  std::uint64_t keyed_mono_ms = 0;
  // The last redirect request taken from each end (0 initiator, 1
  // responder): its retransmissions (same txid) are duplicates.
  struct Asked {
    std::uint32_t txid = 0;
    std::uint64_t mono_ms = 0;  // 0: none
  };
  Asked asked[2];
};

}  // namespace ntm::dc::state
