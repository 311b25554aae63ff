// SPDX-License-Identifier: MIT
// The lookup fast path against the general path: the same bytes, the same
// hook calls, for what pdns sends and for the odd cases the fast path must
// hand over.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dns/sample_zone.hpp"
#include "ntm/dns/backend.hpp"

using namespace ntm::dns;

namespace {

struct Side {
  std::shared_ptr<const Snapshot> snap = ntm::test::sample_snapshot();
  std::vector<std::string> hooked;
  Backend be{[this] { return snap; },
             [this](const NodeLookup& l) {
               hooked.push_back(std::string(l.qname) + '|' + std::string(l.remote) + '|' +
                                std::string(l.real_remote) + '|' + std::to_string(l.zone_id));
             }};
};

std::string pdns_lookup(const std::string& qname, const std::string& qtype, const std::string& zone) {
  return R"({"method":"lookup","parameters":{"qtype":")" + qtype + R"(","qname":")" + qname +
         R"(","remote":"192.0.2.7","local":"127.0.0.1","real-remote":"192.0.2.7/32","zone-id":)" +
         zone + "}}";
}

}  // namespace

TEST_CASE("dns fast lookup: what pdns sends is answered by the fast path, byte for byte") {
  const std::vector<std::string> lines = {
      pdns_lookup("node1.ntm.example.", "ANY", "1"),
      pdns_lookup("NODE1.ntm.EXAMPLE", "A", "1"),
      pdns_lookup("natted.ntm.example.", "TXT", "-1"),
      pdns_lookup("natted.ntm.example.", "A", "1"),
      pdns_lookup("ntm.example.", "SOA", "-1"),
      pdns_lookup("ntm.example.", "ANY", "1"),
      pdns_lookup("lab.ntm.example.", "ANY", "1"),
      pdns_lookup("_ntm-dc.ntm.example.", "TXT", "1"),
      pdns_lookup("nx.ntm.example.", "ANY", "1"),
      pdns_lookup("node1.ntm.example.", "ANY", "2"),
      pdns_lookup("x.sub.ntm.example.", "ANY", "2"),
      pdns_lookup("", "ANY", "1"),
      // The apex lookup pdns makes without a packet: no client fields.
      R"({"method":"lookup","parameters":{"qtype":"ANY","qname":"node1.ntm.example.","remote":"0.0.0.0","local":"0.0.0.0","real-remote":"0.0.0.0/0","zone-id":-1}})",
      // zone_id as the docs write it; both spellings (zone-id wins); none.
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone_id":1}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone_id":2,"zone-id":1}})",
      R"({"method":"lookup","parameters":{"qname":"node1.ntm.example.","qtype":"TXT"}})",
      // Extra fields, nested values, a repeated key (the last one counts).
      R"({"parameters":{"x":{"y":[1,2,{"z":null}]},"qtype":"A","qname":"nx.","qname":"node1.ntm.example.","zone-id":1},"method":"lookup","extra":[true,1.5]})",
  };
  for (const auto& line : lines) {
    CAPTURE(line);
    Side fast, general;
    const std::string a = fast.be.handle_line(line);
    const std::string b = general.be.handle_line_general(line);
    CHECK(a == b);
    CHECK(fast.hooked == general.hooked);
    CHECK(fast.be.stats().fast_lookups == 1);
    CHECK(fast.be.stats().lookups == general.be.stats().lookups);
    CHECK(fast.be.stats().lookup_misses == general.be.stats().lookup_misses);
    CHECK(fast.be.stats().node_lookups == general.be.stats().node_lookups);
  }
}

TEST_CASE("dns fast lookup: anything unusual goes to the general path, with the same answer") {
  const std::vector<std::string> lines = {
      R"({"method":"Lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone-id":1}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone-id":"1"}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone-id":null}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone-id":1.0}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone-id":99999999999}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"no\\de1.ntm.example."}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"n\"x."}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"nöde.ntm.example."}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":7}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":{"a":1}}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","remote":null}})",
      R"({"method":"lookup","parameters":{"qtype":"A"}})",
      R"({"method":"lookup","parameters":"x"})",
      R"({"method":"lookup","parameters":[1]})",
      R"({"method":"lookup"})",
      R"({"method":["lookup"],"parameters":{}})",
      R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example."})",
      R"([{"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example."}}])",
      R"("lookup")",
      "",
      R"({"method":"getAllDomains","parameters":{}})",
  };
  for (const auto& line : lines) {
    CAPTURE(line);
    Side fast, general;
    const std::string a = fast.be.handle_line(line);
    const std::string b = general.be.handle_line_general(line);
    CHECK(a == b);
    CHECK(fast.hooked == general.hooked);
    CHECK(fast.be.stats().fast_lookups == 0);
  }
}

TEST_CASE("dns fast lookup: a serial change re-renders the SOA") {
  auto snap = std::make_shared<Snapshot>(
      build_snapshot(ntm::test::sample_zones(), ntm::test::sample_nodes(), Ttls{}));
  Backend be([&] { return std::shared_ptr<const Snapshot>(snap); });
  snap->set_serial(1, 77);
  const std::string line = pdns_lookup("ntm.example.", "SOA", "1");
  CHECK(be.handle_line(line) == be.handle_line_general(line));
  CHECK(be.handle_line(line).find(" 77 3600 ") != std::string::npos);
  snap->put_node({"node1.ntm.example", 0x0A0000FEu, "v=ntm1 \"quoted\" \\ text"});
  const std::string l2 = pdns_lookup("node1.ntm.example.", "ANY", "1");
  CHECK(be.handle_line(l2) == be.handle_line_general(l2));
  CHECK(be.stats().fast_lookups == 3);
}
