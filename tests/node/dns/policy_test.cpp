// SPDX-License-Identifier: MIT
// Which names the resolver front intercepts (data-plane.md section 5).
#include <doctest/doctest.h>

#include "ntm/node/dns/policy.hpp"

using ntm::node::dns::in_domain;
using ntm::node::dns::Policy;

TEST_CASE("dns policy: multi-label host names are intercepted by default") {
  const Policy p;
  CHECK(p.intercepts("cn.ntm.test"));
  CHECK(p.intercepts("www.example.com"));
  CHECK(p.intercepts("a-b.c0.example"));
}

TEST_CASE("dns policy: what is always passed through") {
  const Policy p;
  CHECK_FALSE(p.intercepts("host"));  // single label
  CHECK_FALSE(p.intercepts("."));
  CHECK_FALSE(p.intercepts("localhost"));
  CHECK_FALSE(p.intercepts("db.localhost"));
  CHECK_FALSE(p.intercepts("1.0.0.127.in-addr.arpa"));
  CHECK_FALSE(p.intercepts("in-addr.arpa"));
  CHECK_FALSE(p.intercepts("b.a.9.8.ip6.arpa"));
  // Not host names: the DC cannot have them.
  CHECK_FALSE(p.intercepts("_sip._udp.example.com"));
  CHECK_FALSE(p.intercepts("a\\.b.example"));
  CHECK_FALSE(p.intercepts("-bad.example"));
  // "localhost" as a label elsewhere is an ordinary name.
  CHECK(p.intercepts("localhost.example.com"));
  CHECK(p.intercepts("notlocalhost.example"));
}

TEST_CASE("dns policy: passthrough domains") {
  const Policy p({"Example.COM.", " .corp.internal ", "", "debian.org"});
  REQUIRE(p.passthrough().size() == 3);
  CHECK(p.passthrough()[0] == "example.com");
  CHECK(p.passthrough()[1] == "corp.internal");
  CHECK_FALSE(p.intercepts("example.com"));
  CHECK_FALSE(p.intercepts("www.example.com"));
  CHECK_FALSE(p.intercepts("a.b.corp.internal"));
  CHECK_FALSE(p.intercepts("deb.debian.org"));
  CHECK(p.intercepts("notexample.com"));
  CHECK(p.intercepts("example.com.evil"));
  CHECK(p.intercepts("cn.ntm.test"));

  const Policy all({"."});
  CHECK_FALSE(all.intercepts("cn.ntm.test"));
}

TEST_CASE("dns policy: in_domain") {
  CHECK(in_domain("a.b", "a.b"));
  CHECK(in_domain("x.a.b", "a.b"));
  CHECK_FALSE(in_domain("xa.b", "a.b"));
  CHECK_FALSE(in_domain("b", "a.b"));
  CHECK(in_domain("anything", ""));
}
