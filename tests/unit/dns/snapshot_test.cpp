// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>

#include "dns/sample_zone.hpp"
#include "ntm/dns/zone_data.hpp"

using namespace ntm::dns;

namespace {

const Record* find(std::span<const Record> recs, std::string_view qtype) {
  for (const auto& r : recs)
    if (r.qtype == qtype) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("dns snapshot: zones carry SOA and NS with the serial") {
  const auto snap = ntm::test::sample_snapshot();
  REQUIRE(snap->zones().size() == 2);
  CHECK(snap->zones()[0].name == "ntm.example.");
  CHECK(snap->zones()[0].serial == 2024010101u);
  const auto apex = snap->records_at("ntm.example.");
  REQUIRE(apex.size() == 3);
  CHECK(apex[0].qtype == "SOA");
  CHECK(apex[0].content == "ns1.ntm.example. hostmaster.ntm.example. 2024010101 3600 600 604800 0");
  CHECK(apex[0].ttl_s == 3600);
  CHECK(apex[0].domain_id == 1);
  CHECK(apex[0].scope_mask == 0);
  CHECK(apex[1].qtype == "NS");
  CHECK(apex[1].content == "ns1.ntm.example.");
  CHECK(apex[2].content == "ns2.elsewhere.example.");
  CHECK(snap->zone_by_id(2)->name == "sub.ntm.example.");
  CHECK(snap->zone_by_name("sub.ntm.example.")->id == 2);
  CHECK(snap->zone_by_name("nope.") == nullptr);
}

TEST_CASE("dns snapshot: serial changes with the input and wraps at 2^32") {
  auto zones = ntm::test::sample_zones(2024010102);
  auto a = build_snapshot(zones, {}, Ttls{});
  CHECK(a.records_at("ntm.example.")[0].content.find(" 2024010102 ") != std::string::npos);
  zones[0].serial = (std::int64_t{1} << 32) + 5;
  auto b = build_snapshot(zones, {}, Ttls{});
  CHECK(b.zones()[0].serial == 5u);
}

TEST_CASE("dns snapshot: A record policy follows the node entry") {
  const auto snap = ntm::test::sample_snapshot();
  const auto node1 = snap->records_at("node1.ntm.example.");
  REQUIRE(node1.size() == 2);
  REQUIRE(find(node1, "A") != nullptr);
  CHECK(find(node1, "A")->content == "10.0.0.1");
  CHECK(find(node1, "A")->ttl_s == 0);
  CHECK(find(node1, "A")->scope_mask == 32);
  CHECK(find(node1, "TXT")->content == "\"v=ntm1 dc=203.0.113.10:4510\"");
  // Behind NAT: the marker only.
  const auto natted = snap->records_at("natted.ntm.example.");
  REQUIRE(natted.size() == 1);
  CHECK(natted[0].qtype == "TXT");
  CHECK(snap->is_node("natted.ntm.example."));
  // A relay address is just another address to the builder.
  CHECK(find(snap->records_at("deep.lab.ntm.example."), "A")->content == "198.51.100.1");
}

TEST_CASE("dns snapshot: nodes go to the zone with the longest matching suffix") {
  const auto snap = ntm::test::sample_snapshot();
  CHECK(snap->records_at("x.sub.ntm.example.")[0].domain_id == 2);
  CHECK(snap->records_at("node1.ntm.example.")[0].domain_id == 1);
  CHECK(snap->records_at("stray.other.example.").empty());
  CHECK(snap->stats().nodes == 4);
  CHECK(snap->stats().nodes_outside == 1);
}

TEST_CASE("dns snapshot: discovery TXT glue and empty non-terminals") {
  const auto snap = ntm::test::sample_snapshot();
  const auto disc = snap->records_at("_ntm-dc.ntm.example.");
  REQUIRE(disc.size() == 1);
  CHECK(disc[0].content == "\"v=ntm1 endpoint=203.0.113.10:4510 fp=sha256:00ff\"");
  CHECK(disc[0].ttl_s == 300);
  CHECK(disc[0].scope_mask == 0);
  const auto glue = snap->records_at("ns1.ntm.example.");
  REQUIRE(glue.size() == 1);
  CHECK(glue[0].content == "192.0.2.53");
  CHECK(snap->records_at("ns2.elsewhere.example.").empty());  // not in any zone of ours
  // lab.ntm.example exists (NODATA, not NXDOMAIN) because deep.lab does.
  const auto ent = snap->records_at("lab.ntm.example.");
  REQUIRE(ent.size() == 1);
  CHECK(ent[0].qtype == "ENT");
  CHECK_FALSE(snap->is_node("lab.ntm.example."));
}

TEST_CASE("dns snapshot: list order is SOA then NS then names") {
  const auto snap = ntm::test::sample_snapshot();
  const auto all = snap->zone_records(1);
  REQUIRE(all.size() >= 3);
  CHECK(all[0].qtype == "SOA");
  CHECK(all[1].qtype == "NS");
  CHECK(all[2].qtype == "NS");
  for (std::size_t i = 4; i < all.size(); ++i) CHECK(all[i - 1].qname <= all[i].qname);
  for (const auto& r : all) CHECK(r.domain_id == 1);
  CHECK(snap->zone_records(99).empty());
}

TEST_CASE("dns snapshot: a node cannot take a name the zone uses or a bad name") {
  const std::string m = "v=ntm1";
  std::vector<NodeEntry> nodes{
      {"ntm.example", 1u, m},          // apex
      {"_ntm-dc.ntm.example", 1u, m},  // discovery
      {"ns1.ntm.example", 1u, m},      // glue
      {"dup.ntm.example", 1u, m},
      {"DUP.ntm.example", 2u, m},  // same name, other case
      {"bad name.ntm.example", 1u, m},
      {"a..ntm.example", 1u, m},
      {std::string(64, 'a') + ".ntm.example", 1u, m},
  };
  const auto snap = build_snapshot(ntm::test::sample_zones(), nodes, Ttls{});
  CHECK(snap.stats().nodes == 1);
  CHECK(snap.stats().nodes_rejected == 7);
  CHECK(snap.records_at("ns1.ntm.example.").size() == 1);
  CHECK(snap.records_at("dup.ntm.example.")[0].content == "0.0.0.1");
}

TEST_CASE("dns snapshot: bad zones are rejected and a bare node is NODATA") {
  std::vector<ZoneInput> zones = ntm::test::sample_zones();
  zones.push_back(zones[0]);  // duplicate name and id
  ZoneInput no_ns;
  no_ns.id = 5;
  no_ns.name = "empty.example";
  zones.push_back(no_ns);
  const auto snap = build_snapshot(zones, {{"bare.ntm.example", std::nullopt, ""}}, Ttls{});
  CHECK(snap.zones().size() == 2);
  CHECK(snap.stats().zones_rejected == 2);
  REQUIRE(snap.records_at("bare.ntm.example.").size() == 1);
  CHECK(snap.records_at("bare.ntm.example.")[0].qtype == "ENT");
}

TEST_CASE("dns snapshot: TTL settings apply") {
  Ttls t;
  t.node_s = 5;
  t.zone_s = 86400;
  t.soa_minimum_s = 30;
  t.node_scope_mask = 0;
  const auto snap = build_snapshot(ntm::test::sample_zones(), ntm::test::sample_nodes(), t);
  CHECK(snap.records_at("ntm.example.")[0].ttl_s == 86400);
  CHECK(snap.records_at("ntm.example.")[0].content.ends_with(" 30"));
  CHECK(snap.records_at("node1.ntm.example.")[0].ttl_s == 5);
  CHECK(snap.records_at("node1.ntm.example.")[0].scope_mask == 0);
}

TEST_CASE("dns snapshot: presentation helpers") {
  CHECK(canonical_name("Node1.NTM.Example") == "node1.ntm.example.");
  CHECK(canonical_name("node1.ntm.example.") == "node1.ntm.example.");
  CHECK_FALSE(canonical_name("."));
  CHECK_FALSE(canonical_name(""));
  CHECK_FALSE(canonical_name("a;b.example"));
  CHECK_FALSE(canonical_name(std::string(254, 'a')));
  CHECK(txt_content("plain") == "\"plain\"");
  CHECK(txt_content("say \"hi\" \\o/") == "\"say \\\"hi\\\" \\\\o/\"");
  CHECK(txt_content(std::string("\x01\xff", 2)) == "\"\\001\\255\"");
  const std::string long_txt = txt_content(std::string(300, 'x'));
  CHECK(long_txt == "\"" + std::string(255, 'x') + "\" \"" + std::string(45, 'x') + "\"");
  CHECK(ipv4_text(0xC0000201) == "192.0.2.1");
  CHECK(marker_text("203.0.113.10:4510") == "v=ntm1 dc=203.0.113.10:4510");
  CHECK(discovery_text("[2001:db8::1]:4510", "ab") ==
        "v=ntm1 endpoint=[2001:db8::1]:4510 fp=sha256:ab");
}
