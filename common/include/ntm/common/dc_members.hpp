// SPDX-License-Identifier: MIT
// The members of a DC cluster as a node's or a relay's file lists them
// (`[dc] endpoints`, written by `ntm-dc node add` / `relay add`), in the
// order the party fails over in: its home (`[dc] endpoint`) first, then
// the members listed after it, then those before it.  Each party of a
// cluster starts at the member that enrolled it, so that they do not all
// fail over to one member (docs/operations.md "DC cluster").
#pragma once

#include <stdexcept>
#include <string_view>
#include <vector>

#include "ntm/wire/types.hpp"

namespace ntm::common {

inline constexpr std::size_t kMaxDcMembers = 8;

// list: comma-separated ADDRESS:PORT (empty: home alone).  Throws
// std::invalid_argument saying what is wrong with the list: an item that
// is not an endpoint, an item listed twice, more than kMaxDcMembers, or
// no item equal to home.
std::vector<wire::Endpoint> dc_members(std::string_view list, const wire::Endpoint& home);

}  // namespace ntm::common
