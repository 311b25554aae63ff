// SPDX-License-Identifier: MIT
#include "ntm/wire/types.hpp"

#include <doctest/doctest.h>

using namespace ntm::wire;

TEST_CASE("FQDN canonicalisation") {
  Fqdn f;
  REQUIRE(Fqdn::canonicalize("Laptop.NTM.Example.", f));
  CHECK(f.name == "laptop.ntm.example");
  CHECK_FALSE(Fqdn::canonicalize("", f));
  CHECK_FALSE(Fqdn::canonicalize(".", f));
  CHECK_FALSE(Fqdn::canonicalize("a..b", f));
  CHECK_FALSE(Fqdn::canonicalize("a b.example", f));
  CHECK_FALSE(Fqdn::canonicalize("xn--caf-dma.-example", f));
  CHECK(Fqdn::canonicalize("xn--caf-dma.example", f));
  CHECK(Fqdn::canonicalize("1.2.3.example", f));
}

TEST_CASE("IDs in hex") {
  NodeId id;
  REQUIRE(NodeId::from_hex("000102030405060708090a0b0c0d0e0F", id));
  CHECK(id.bytes[15] == 0x0f);
  CHECK(id.to_hex() == "000102030405060708090a0b0c0d0e0f");
  CHECK_FALSE(NodeId::from_hex("0001", id));
  CHECK_FALSE(NodeId::from_hex("zz0102030405060708090a0b0c0d0e0f", id));
  CHECK(NodeId{}.is_zero());
  CHECK_FALSE(id.is_zero());
}

TEST_CASE("addresses print and parse") {
  IpAddr a;
  REQUIRE(IpAddr::parse("198.51.100.2", a));
  CHECK(a.family == Family::v4);
  CHECK(a.to_string() == "198.51.100.2");
  REQUIRE(IpAddr::parse("2001:db8::1", a));
  CHECK(a.family == Family::v6);
  CHECK(Endpoint{a, 4510}.to_string() == "[2001:db8::1]:4510");
  CHECK_FALSE(IpAddr::parse("198.51.100", a));
  CHECK_FALSE(IpAddr::parse(std::string(100, '1'), a));
  CHECK(Vip{0x64400001}.to_string() == "100.64.0.1");
}
