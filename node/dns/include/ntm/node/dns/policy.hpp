// SPDX-License-Identifier: MIT
// Which names ntmd's resolver intercepts (data-plane.md section 5): every
// multi-label host name, except names equal to or under a passthrough
// domain, `localhost` and names under it, and the reverse zones.  Everything
// the policy does not intercept goes to the upstream resolver untouched.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ntm::node::dns {

class Policy {
 public:
  Policy() = default;
  // The `[ntmd] passthrough` domains, in any case, with or without a
  // trailing or leading dot.  Empty entries are ignored; "." passes every
  // name through (interception off).
  explicit Policy(const std::vector<std::string>& passthrough);

  // `name` is canonical (Query::name: lower case, no trailing dot).  True
  // for a name the DC may know: a valid host name (wire::Fqdn::valid: so a
  // name with escapes or underscores is never intercepted) of two labels
  // or more that no exception above covers.
  bool intercepts(std::string_view name) const;

  const std::vector<std::string>& passthrough() const { return passthrough_; }

 private:
  std::vector<std::string> passthrough_;  // canonical; "" stands for the root
};

// `name` equals `domain` or lies under it (both canonical; "" = the root).
bool in_domain(std::string_view name, std::string_view domain) noexcept;

}  // namespace ntm::node::dns
