// SPDX-License-Identifier: MIT
#include "ntm/node/dns/policy.hpp"

#include <array>

#include "ntm/wire/types.hpp"

namespace ntm::node::dns {

namespace {

// Always resolved normally: the loopback name (RFC 6761 6.3) and the
// reverse zones (PTR lookups of real and virtual addresses alike).
constexpr std::array<std::string_view, 3> kAlwaysPassthrough = {"localhost", "in-addr.arpa",
                                                                "ip6.arpa"};

}  // namespace

bool in_domain(std::string_view name, std::string_view domain) noexcept {
  if (domain.empty()) return true;
  if (name.size() == domain.size()) return name == domain;
  return name.size() > domain.size() && name.ends_with(domain) &&
         name[name.size() - domain.size() - 1] == '.';
}

Policy::Policy(const std::vector<std::string>& passthrough) {
  for (const auto& raw : passthrough) {
    std::string_view d = raw;
    while (!d.empty() && (d.front() == ' ' || d.front() == '\t')) d.remove_prefix(1);
    while (!d.empty() && (d.back() == ' ' || d.back() == '\t')) d.remove_suffix(1);
    if (d.empty()) continue;
    const bool root = d == ".";
    while (!d.empty() && d.front() == '.') d.remove_prefix(1);
    while (!d.empty() && d.back() == '.') d.remove_suffix(1);
    if (d.empty() && !root) continue;
    std::string s(d);
    for (char& c : s) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    passthrough_.push_back(std::move(s));
  }
}

bool Policy::intercepts(std::string_view name) const {
  if (name.find('.') == std::string_view::npos) return false;  // single label (and the root)
  if (!wire::Fqdn::valid(name)) return false;
  for (auto d : kAlwaysPassthrough) {
    if (in_domain(name, d)) return false;
  }
  for (const auto& d : passthrough_) {
    if (in_domain(name, d)) return false;
  }
  return true;
}

}  // namespace ntm::node::dns
