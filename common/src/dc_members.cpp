// SPDX-License-Identifier: MIT
#include "ntm/common/dc_members.hpp"

#include <algorithm>
#include <string>

#include "ntm/common/udp_socket.hpp"

namespace ntm::common {

std::vector<wire::Endpoint> dc_members(std::string_view list, const wire::Endpoint& home) {
  if (list.find_first_not_of(" \t") == std::string_view::npos) return {home};
  std::vector<wire::Endpoint> listed;
  std::size_t at = 0;
  while (at <= list.size()) {
    const std::size_t comma = std::min(list.find(',', at), list.size());
    std::string item(list.substr(at, comma - at));
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    at = comma + 1;
    wire::Endpoint e;
    if (!parse_endpoint(item, e) || e.port == 0)
      throw std::invalid_argument("not ADDRESS:PORT: '" + item + "'");
    if (std::find(listed.begin(), listed.end(), e) != listed.end())
      throw std::invalid_argument("'" + item + "' listed twice");
    listed.push_back(e);
  }
  if (listed.size() > kMaxDcMembers)
    throw std::invalid_argument("at most " + std::to_string(kMaxDcMembers) + " members");
  const auto home_at = std::find(listed.begin(), listed.end(), home);
  if (home_at == listed.end())
    throw std::invalid_argument("must include [dc] endpoint (" + home.to_string() + ")");
  std::rotate(listed.begin(), home_at, listed.end());
  return listed;
}

}  // namespace ntm::common
