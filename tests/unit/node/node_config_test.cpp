// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include "config/node_config.hpp"

namespace ntm::node {

namespace {

const std::string kEnrolled =
    "; NTMobile node credentials, written by ntm-dc. Keep secret (mode 0600).\n"
    "[node]\nid = 0123456789abcdef0123456789abcdef\nfqdn = Laptop.Ntm.Example.\n"
    "key = " + std::string(64, 'a') + "\nkey_epoch = 0\n\n"
    "[dc]\nid = fedcba9876543210fedcba9876543210\nendpoint = 192.0.2.10:4510\n";

}  // namespace

TEST_CASE("node config: the enrolled file alone, with every default") {
  const auto c = parse_node_config(kEnrolled);
  CHECK(c.fqdn.name == "laptop.ntm.example");
  CHECK(c.dc.to_string() == "192.0.2.10:4510");
  CHECK(c.probe.empty());
  CHECK(c.listen.to_string() == "0.0.0.0:4520");
  CHECK(c.tun == "ntm0");
  CHECK(c.mtu == 1400);
  CHECK(c.dns_listen.to_string() == "127.0.0.53:53");
  CHECK(c.dns_upstream.empty());
  CHECK(c.tunnel_wait_ms == 5000);
  CHECK(c.path_idle_s == 600);
}

TEST_CASE("node config: an [ntmd] section") {
  const auto c = parse_node_config(kEnrolled +
                                   "[ntmd]\nlisten = 0.0.0.0:5000\ntun = ntmx\nmtu = 1300\n"
                                   "dns_upstream = 198.51.100.53:53\n"
                                   "passthrough = Corp.Example, lan.\ntunnel_wait_ms = 2000\n"
                                   "path_idle_s = 0\n");
  CHECK(c.listen.port == 5000);
  CHECK(c.tun == "ntmx");
  CHECK(c.mtu == 1300);
  CHECK(c.dns_upstream.to_string() == "198.51.100.53:53");
  CHECK(c.passthrough == std::vector<std::string>{"corp.example", "lan"});
  CHECK(c.tunnel_wait_ms == 2000);
  CHECK(c.path_idle_s == 0);  // never
}

TEST_CASE("node config: bad files name the section and key") {
  auto fails_with = [](const std::string& text, const std::string& what) {
    try {
      parse_node_config(text);
    } catch (const ConfigError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(what) != std::string::npos, e.what());
      return;
    }
    FAIL("accepted: " << text);
  };
  fails_with(kEnrolled + "[ntmd]\nmtu = 9000\n", "[ntmd] mtu");
  fails_with(kEnrolled + "[ntmd]\npath_idle_s = 700000\n", "[ntmd] path_idle_s");
  fails_with(kEnrolled + "[ntmd]\npath_idle_s = -1\n", "[ntmd] path_idle_s");
  fails_with(kEnrolled + "[ntmd]\nlisten = nowhere\n", "[ntmd] listen");
  fails_with(kEnrolled + "[ntmd]\ntunnel = x\n", "[ntmd] tunnel: unknown key");
  fails_with(kEnrolled + "[extra]\na = b\n", "[extra]: unknown section");
  fails_with("[node]\nid = 00\n", "[node] id");
  fails_with("[node]\nid = 0123456789abcdef0123456789abcdef\nfqdn = bad..name\n", "[node] fqdn");
  fails_with(kEnrolled.substr(0, kEnrolled.find("[dc]")), "[dc] endpoint: required");
  fails_with("not an ini [ file", "");
  fails_with(kEnrolled + "[ntmd]\ntun = a-name-much-too-long\n", "[ntmd] tun");
}

TEST_CASE("node config: [dc] endpoints, the cluster in failover order from endpoint") {
  CHECK(parse_node_config(kEnrolled).dc_members ==
        std::vector<wire::Endpoint>{parse_node_config(kEnrolled).dc});
  const auto c = parse_node_config(
      kEnrolled + "endpoints = 192.0.2.9:4510, 192.0.2.10:4510, 192.0.2.11:4510\n");
  REQUIRE(c.dc_members.size() == 3);
  CHECK(c.dc_members[0].to_string() == "192.0.2.10:4510");
  CHECK(c.dc_members[1].to_string() == "192.0.2.11:4510");
  CHECK(c.dc_members[2].to_string() == "192.0.2.9:4510");
  auto fails_with = [](const std::string& text, const std::string& what) {
    try {
      parse_node_config(text);
    } catch (const ConfigError& e) {
      CHECK_MESSAGE(std::string(e.what()).find(what) != std::string::npos, e.what());
      return;
    }
    FAIL("accepted: " << text);
  };
  fails_with(kEnrolled + "endpoints = 192.0.2.9:4510\n",
             "[dc] endpoints: must include [dc] endpoint (192.0.2.10:4510)");
  fails_with(kEnrolled + "endpoints = 192.0.2.10:4510, nowhere\n",
             "[dc] endpoints: not ADDRESS:PORT: 'nowhere'");
  fails_with(kEnrolled + "endpoints = 192.0.2.10:4510, 192.0.2.10:4510\n",
             "[dc] endpoints: '192.0.2.10:4510' listed twice");
}

TEST_CASE("node config: the upstream resolver from resolv.conf skips our own address") {
  wire::Endpoint self;
  REQUIRE(wire::IpAddr::parse("127.0.0.53", self.addr));
  const auto up = upstream_from_resolv_conf(
      "# generated\nsearch example\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n", self);
  CHECK(up.to_string() == "192.0.2.53:53");
  CHECK(upstream_from_resolv_conf("nameserver 127.0.0.53\n", self).empty());
}

}  // namespace ntm::node
