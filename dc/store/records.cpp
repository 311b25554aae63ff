// SPDX-License-Identifier: MIT
#include "store/records.hpp"

namespace ntm::dc::store {

std::string endpoint_text(const wire::Endpoint& e) { return e.empty() ? "" : e.to_string(); }

bool parse_endpoint_text(std::string_view s, wire::Endpoint& out) {
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return false;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  wire::Endpoint e;
  if (!wire::IpAddr::parse(host, e.addr)) return false;
  unsigned p = 0;
  for (char c : port) {
    if (c < '0' || c > '9' || p > 65535) return false;
    p = p * 10 + static_cast<unsigned>(c - '0');
  }
  if (port.empty() || p > 65535) return false;
  e.port = static_cast<std::uint16_t>(p);
  out = e;
  return true;
}

}  // namespace ntm::dc::store
