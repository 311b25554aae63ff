// SPDX-License-Identifier: MIT
// ntmd's status as an operator reads it: plain text, or JSON for scripts
// (docs/data-plane.md §6.1).
#pragma once

#include <string>

#include "agent/agent.hpp"

namespace ntm::node {

std::string status_json(const AgentStatus& s, const std::string& fqdn);
std::string status_text(const AgentStatus& s, const std::string& fqdn);

}  // namespace ntm::node
