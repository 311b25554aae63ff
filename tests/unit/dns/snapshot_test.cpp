// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

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

TEST_CASE("dns snapshot: put_node publishes and replaces a node in place") {
  auto snap = build_snapshot(ntm::test::sample_zones(), {}, Ttls{});
  const std::string m = marker_text("203.0.113.10:4510");
  CHECK(snap.put_node({"new.ntm.example", 0x0A000009u, m}) == NodeChange::added);
  CHECK(snap.is_node("new.ntm.example."));
  CHECK(find(snap.records_at("new.ntm.example."), "A")->content == "10.0.0.9");
  CHECK(snap.stats().nodes == 1);
  // The same again: nothing to publish.
  CHECK(snap.put_node({"NEW.ntm.example.", 0x0A000009u, m}) == NodeChange::unchanged);
  // Behind NAT now: the A goes, the marker stays.
  CHECK(snap.put_node({"new.ntm.example", std::nullopt, m}) == NodeChange::changed);
  CHECK(find(snap.records_at("new.ntm.example."), "A") == nullptr);
  CHECK(find(snap.records_at("new.ntm.example."), "TXT") != nullptr);
  CHECK(snap.stats().nodes == 1);
  // Names the zone uses itself, bad names, names outside.
  CHECK(snap.put_node({"ntm.example", 1u, m}) == NodeChange::rejected);
  CHECK(snap.put_node({"ns1.ntm.example", 1u, m}) == NodeChange::rejected);
  CHECK(snap.put_node({"_ntm-dc.ntm.example", 1u, m}) == NodeChange::rejected);
  CHECK(snap.put_node({"bad..ntm.example", 1u, m}) == NodeChange::rejected);
  CHECK(snap.put_node({"x.other.example", 1u, m}) == NodeChange::outside);
  CHECK(find(snap.records_at("ns1.ntm.example."), "A")->content == "192.0.2.53");
}

TEST_CASE("dns snapshot: remove_node withdraws the node and the empty names above it") {
  auto snap = build_snapshot(ntm::test::sample_zones(), {}, Ttls{});
  const std::string m = marker_text("203.0.113.10:4510");
  REQUIRE(snap.put_node({"a.lab.ntm.example", 0x0A000001u, m}) == NodeChange::added);
  REQUIRE(snap.put_node({"b.lab.ntm.example", 0x0A000002u, m}) == NodeChange::added);
  REQUIRE(snap.records_at("lab.ntm.example.").size() == 1);
  CHECK(snap.records_at("lab.ntm.example.")[0].qtype == "ENT");
  CHECK(snap.remove_node("a.lab.ntm.example"));
  CHECK(snap.records_at("a.lab.ntm.example.").empty());
  CHECK(snap.records_at("lab.ntm.example.").size() == 1);  // b still needs it
  CHECK(snap.remove_node("b.lab.ntm.example."));
  CHECK(snap.records_at("lab.ntm.example.").empty());      // NXDOMAIN again
  CHECK_FALSE(snap.remove_node("b.lab.ntm.example"));
  CHECK_FALSE(snap.remove_node("ns1.ntm.example"));        // not a node
  CHECK(snap.stats().nodes == 0);
  // A node may take the name of an empty non-terminal.
  REQUIRE(snap.put_node({"c.lab.ntm.example", 0x0A000003u, m}) == NodeChange::added);
  CHECK(snap.put_node({"lab.ntm.example", 0x0A000004u, m}) == NodeChange::added);
  CHECK(find(snap.records_at("lab.ntm.example."), "A")->content == "10.0.0.4");
  CHECK(snap.remove_node("lab.ntm.example"));
  CHECK(snap.records_at("lab.ntm.example.")[0].qtype == "ENT");
}

TEST_CASE("dns snapshot: set_serial rewrites the SOA and zone_records lists nodes in order") {
  auto snap = build_snapshot(ntm::test::sample_zones(), {}, Ttls{});
  const std::string m = marker_text("203.0.113.10:4510");
  CHECK(snap.set_serial(1, 2024010105));
  CHECK_FALSE(snap.set_serial(42, 1));
  CHECK(snap.zone_by_id(1)->serial == 2024010105u);
  CHECK(snap.records_at("ntm.example.")[0].content ==
        "ns1.ntm.example. hostmaster.ntm.example. 2024010105 3600 600 604800 0");
  snap.put_node({"zz.ntm.example", 0x0A000001u, m});
  snap.put_node({"aa.ntm.example", std::nullopt, m});
  snap.put_node({"y.sub.ntm.example", 0x0A000002u, m});
  const auto list = snap.zone_records(1);
  REQUIRE(list.size() >= 6);
  CHECK(list[0].qtype == "SOA");
  CHECK(list[0].content.find(" 2024010105 ") != std::string::npos);
  std::vector<std::string> names;
  for (std::size_t i = 3; i < list.size(); ++i) names.push_back(list[i].qname);
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::count(names.begin(), names.end(), "zz.ntm.example.") == 2);
  CHECK(std::count(names.begin(), names.end(), "y.sub.ntm.example.") == 0);  // the nested zone's
  CHECK(snap.zone_of_name("Y.sub.ntm.example")->id == 2);
  CHECK(snap.zone_of_name("x.other.example") == nullptr);
}
