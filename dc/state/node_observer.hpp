// SPDX-License-Identifier: MIT
// Told of every change to what a node publishes (address, NAT verdict,
// online, enrolment, removal), on the I/O thread, right after the View
// changed.  The DNS publisher is the one observer: a registration must be
// in the very next DNS answer.
#pragma once

#include <string>

#include "state/party.hpp"

namespace ntm::dc::state {

class NodeObserver {
 public:
  virtual ~NodeObserver() = default;
  virtual void node_changed(const Party& node) = 0;
  virtual void node_removed(const std::string& fqdn) = 0;
};

}  // namespace ntm::dc::state
