// SPDX-License-Identifier: MIT
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dns/sample_zone.hpp"
#include "ntm/dns/backend.hpp"

using namespace ntm::dns;
using nlohmann::json;

namespace {

struct Fixture {
  std::shared_ptr<const Snapshot> snap = ntm::test::sample_snapshot();
  std::vector<std::string> hooked;  // "qname remote real_remote zone"
  Backend be{[this] { return snap; },
             [this](const NodeLookup& l) {
               hooked.push_back(std::string(l.qname) + ' ' + std::string(l.remote) + ' ' +
                                std::string(l.real_remote) + ' ' + std::to_string(l.zone_id));
             }};

  json call(std::string_view method, json params) {
    return be.handle(json{{"method", method}, {"parameters", std::move(params)}})["result"];
  }
  // As pdns 4.7.3 sends it for an answer (packet context present).
  json lookup(std::string_view qname, std::string_view qtype = "ANY", int zone_id = 1) {
    return call("lookup", {{"qtype", qtype},
                           {"qname", qname},
                           {"remote", "192.0.2.7"},
                           {"local", "127.0.0.1"},
                           {"real-remote", "192.0.2.7/32"},
                           {"zone-id", zone_id}});
  }
};

std::vector<std::string> types_of(const json& result) {
  std::vector<std::string> t;
  for (const auto& r : result) t.push_back(r["qtype"].get<std::string>());
  return t;
}

}  // namespace

TEST_CASE("dns backend: initialize answers true") {
  Fixture f;
  CHECK(f.call("initialize", {{"path", "/run/ntm-dc/pdns.sock"}, {"timeout", "2000"}}) == true);
  CHECK(f.be.handle_line(R"({"method":"initialize","parameters":{}})") == R"({"result":true})");
}

TEST_CASE("dns backend: lookup ANY at the apex gives SOA and NS") {
  Fixture f;
  // The apex lookup pdns makes first: no packet, so remote is 0.0.0.0.
  const json r = f.call("lookup", {{"qtype", "ANY"},
                                   {"qname", "ntm.example."},
                                   {"remote", "0.0.0.0"},
                                   {"local", "0.0.0.0"},
                                   {"real-remote", "0.0.0.0/0"},
                                   {"zone-id", 1}});
  CHECK(types_of(r) == std::vector<std::string>{"SOA", "NS", "NS"});
  CHECK(r[0]["qname"] == "ntm.example.");
  CHECK(r[0]["ttl"].is_number_integer());
  CHECK(r[0]["ttl"] == 3600);
  CHECK(r[0]["domain_id"] == 1);
  CHECK(r[0]["auth"] == 1);
  CHECK_FALSE(r[0].contains("scopeMask"));
  CHECK(f.hooked.empty());  // never from the apex
}

TEST_CASE("dns backend: lookup of a node gives A and TXT and calls the hook") {
  Fixture f;
  const json r = f.lookup("node1.ntm.example.");
  CHECK(types_of(r) == std::vector<std::string>{"A", "TXT"});
  CHECK(r[0]["content"] == "10.0.0.1");
  CHECK(r[0]["ttl"] == 0);
  CHECK(r[0]["scopeMask"] == 32);
  CHECK(r[1]["content"] == "\"v=ntm1 dc=203.0.113.10:4510\"");
  REQUIRE(f.hooked.size() == 1);
  CHECK(f.hooked[0] == "node1.ntm.example. 192.0.2.7 192.0.2.7/32 1");
  CHECK(f.be.stats().node_lookups == 1);
}

TEST_CASE("dns backend: lookup filters by qtype") {
  Fixture f;
  CHECK(types_of(f.lookup("node1.ntm.example.", "A")) == std::vector<std::string>{"A"});
  CHECK(types_of(f.lookup("node1.ntm.example.", "txt")) == std::vector<std::string>{"TXT"});
  CHECK(types_of(f.lookup("ntm.example.", "SOA")) == std::vector<std::string>{"SOA"});
  CHECK(f.lookup("natted.ntm.example.", "A") == false);  // behind NAT: no address
  CHECK(f.lookup("node1.ntm.example.", "AAAA") == false);
  // The SOA walk (zone cache off) asks every name for SOA: only the apex has one.
  CHECK(f.lookup("node1.ntm.example.", "SOA", -1) == false);
  f.hooked.clear();
  f.lookup("node1.ntm.example.", "SOA", -1);
  CHECK(f.hooked.empty());
}

TEST_CASE("dns backend: lookup is case-insensitive and answers in the asker's case") {
  Fixture f;
  const json r = f.lookup("NoDe1.NTM.Example.", "A");
  REQUIRE(r.is_array());
  CHECK(r[0]["qname"] == "NoDe1.NTM.Example.");
  CHECK(types_of(f.lookup("NTM.EXAMPLE.", "soa")) == std::vector<std::string>{"SOA"});
  CHECK(f.lookup("node1.ntm.example", "A").is_array());  // without the final dot
}

TEST_CASE("dns backend: lookup with zone-id -1 and a wrong zone id") {
  Fixture f;
  CHECK(types_of(f.lookup("ntm.example.", "SOA", -1)) == std::vector<std::string>{"SOA"});
  CHECK(f.lookup("node1.ntm.example.", "ANY", -1).size() == 2);
  CHECK(f.lookup("node1.ntm.example.", "ANY", 2) == false);
  CHECK(f.lookup("x.sub.ntm.example.", "A", 2).size() == 1);
  // The docs' spelling and a missing id are accepted too.
  CHECK(f.call("lookup", {{"qtype", "A"}, {"qname", "node1.ntm.example."}, {"zone_id", 1}})
            .is_array());
  CHECK(f.call("lookup", {{"qtype", "A"}, {"qname", "node1.ntm.example."}}).is_array());
}

TEST_CASE("dns backend: lookup of an unknown name or a wildcard is false") {
  Fixture f;
  CHECK(f.lookup("nx.ntm.example.") == false);
  CHECK(f.lookup("*.ntm.example.") == false);
  CHECK(f.lookup("stray.other.example.") == false);
  CHECK(f.be.stats().lookup_misses == 3);
  // An empty non-terminal answers ANY (NODATA in pdns), nothing for a type.
  CHECK(types_of(f.lookup("lab.ntm.example.")) == std::vector<std::string>{"ENT"});
  CHECK(f.lookup("lab.ntm.example.", "A") == false);
  CHECK(f.hooked.empty());
}

TEST_CASE("dns backend: a snapshot swap is visible in the next lookup") {
  Fixture f;
  CHECK(f.lookup("natted.ntm.example.", "A") == false);
  auto nodes = ntm::test::sample_nodes();
  nodes[1].a_record = 0xCB007114u;  // the node moved to a global address
  f.snap = std::make_shared<const Snapshot>(
      build_snapshot(ntm::test::sample_zones(2024010102), nodes, Ttls{}));
  CHECK(f.lookup("natted.ntm.example.", "A")[0]["content"] == "203.0.113.20");
  CHECK(f.lookup("ntm.example.", "SOA")[0]["content"].get<std::string>().find(" 2024010102 ") !=
        std::string::npos);
}

TEST_CASE("dns backend: getAllDomains lists every zone as native with its serial") {
  Fixture f;
  const json r = f.call("getAllDomains", {{"include_disabled", true}});
  REQUIRE(r.size() == 2);
  CHECK(r[0] ==
        json{{"id", 1}, {"zone", "ntm.example."}, {"kind", "native"}, {"serial", 2024010101}});
  CHECK(r[1]["zone"] == "sub.ntm.example.");
  CHECK(r[1]["serial"] == 7);
  // No zones: an empty list, not false.
  f.snap = std::make_shared<const Snapshot>();
  CHECK(f.call("getAllDomains", {{"include_disabled", true}}) == json::array());
}

TEST_CASE("dns backend: getDomainInfo for a served zone and for another") {
  Fixture f;
  const json r = f.call("getDomainInfo", {{"name", "NTM.example."}});
  CHECK(r["id"] == 1);
  CHECK(r["zone"] == "ntm.example.");
  CHECK(r["kind"] == "native");
  CHECK(r["serial"] == 2024010101);
  CHECK(f.call("getDomainInfo", {{"name", "node1.ntm.example."}}) == false);
  CHECK(f.call("getDomainInfo", {{"name", "example.org."}}) == false);
}

TEST_CASE("dns backend: list gives the zone for AXFR") {
  Fixture f;
  const json r =
      f.call("list", {{"zonename", "ntm.example."}, {"domain_id", 1}, {"include_disabled", true}});
  REQUIRE(r.is_array());
  CHECK(r[0]["qtype"] == "SOA");
  std::size_t a = 0;
  for (const auto& rec : r) {
    CHECK(rec["domain_id"] == 1);
    CHECK(rec["qtype"] != "ENT");
    CHECK(rec["ttl"].is_number_integer());
    if (rec["qtype"] == "A") ++a;
  }
  CHECK(a == 3);  // ns1 glue, node1, deep.lab
  CHECK(f.call("list", {{"zonename", "sub.ntm.example."}, {"domain_id", -1}}).size() ==
        4);  // SOA NS A TXT
  CHECK(f.call("list", {{"domain_id", 2}}).size() == 4);
  CHECK(f.call("list", {{"zonename", "ntm.example."}, {"domain_id", 2}}) == false);
  CHECK(f.call("list", {{"zonename", "nope.example."}, {"domain_id", -1}}) == false);
}

TEST_CASE("dns backend: metadata is empty") {
  Fixture f;
  CHECK(f.call("getAllDomainMetadata", {{"name", "ntm.example."}}) == json::object());
  CHECK(f.call("getDomainMetadata", {{"name", "ntm.example."}, {"kind", "PRESIGNED"}}) ==
        json::array());
  CHECK(f.call("getalldomainmetadata", {{"name", "ntm.example."}}) == json::object());
}

TEST_CASE("dns backend: directBackendCmd commands") {
  Fixture f;
  f.be.set_extra_stats([] { return std::string("socket_active 3\n"); });
  CHECK(f.call("directBackendCmd", {{"query", "ping"}}) == "PONG");
  CHECK(f.call("directBackendCmd", {{"query", "help"}}).get<std::string>().find("snapshot") !=
        std::string::npos);
  const std::string stats = f.call("directBackendCmd", {{"query", "STATS"}});
  CHECK(stats.find("requests 3") != std::string::npos);
  CHECK(stats.find("socket_active 3") != std::string::npos);
  const std::string snap = f.call("directBackendCmd", {{"query", "snapshot"}});
  CHECK(snap.find("zone ntm.example. id 1 serial 2024010101") != std::string::npos);
  CHECK(snap.find("nodes 4 outside_zones 1") != std::string::npos);
  const std::string show = f.call("directBackendCmd", {{"query", "show Node1.ntm.example"}});
  CHECK(show.find("node1.ntm.example. 0 A 10.0.0.1") != std::string::npos);
  CHECK(f.call("directBackendCmd", {{"query", "reboot"}}) == "unknown command; try help\n");
}

TEST_CASE("dns backend: unknown methods and malformed requests are false") {
  Fixture f;
  CHECK(f.call("getDomainKeys", {{"name", "ntm.example."}}) == false);
  CHECK(f.call("setNotified", {{"id", 1}, {"serial", 2}}) == false);
  CHECK(f.call(std::string(1000, 'x'), json::object()) == false);
  CHECK(f.be.stats().unknown_method == 3);
  const std::string no = R"({"result":false})";
  CHECK(f.be.handle_line("") == no);
  CHECK(f.be.handle_line("{\"method\":") == no);
  CHECK(f.be.handle_line("[1,2,3]") == no);
  CHECK(f.be.handle_line(R"({"method":42})") == no);
  CHECK(f.be.handle_line(R"({"parameters":{}})") == no);
  CHECK(f.be.handle_line("{\"method\":\"lookup\",\"parameters\":{\"qname\":\"\xff\"}}") == no);
  CHECK(f.be.handle_line(std::string(60000, '[')) == no);  // deep nesting: no recursion blow-up
  CHECK(f.be.stats().malformed_json == 7);
}

TEST_CASE("dns backend: malformed parameters are false") {
  Fixture f;
  CHECK(f.call("lookup", json::array()) == false);
  CHECK(f.call("lookup", {{"qname", "node1.ntm.example."}}) == false);
  CHECK(f.call("lookup", {{"qname", 5}, {"qtype", "A"}}) == false);
  CHECK(f.call("lookup", {{"qname", "a."}, {"qtype", "A"}, {"zone-id", "one"}}) == false);
  CHECK(f.call("lookup", {{"qname", "a."}, {"qtype", "A"}, {"zone-id", 1e12}}) == false);
  CHECK(f.call("getDomainInfo", json::object()) == false);
  CHECK(f.call("list", {{"zonename", 3}}) == false);
  CHECK(f.call("list", json::object()) == false);
  CHECK(f.call("getDomainMetadata", {{"name", "ntm.example."}}) == false);
  CHECK(f.call("directBackendCmd", {{"query", 1}}) == false);
  CHECK(f.be.stats().bad_params == 10);
  // A string zone id is what pdns's own intFromJson accepts.
  CHECK(
      f.call("lookup", {{"qname", "ntm.example."}, {"qtype", "SOA"}, {"zone-id", "1"}}).is_array());
}

TEST_CASE("dns backend: no snapshot and a throwing hook do not break it") {
  Backend none([] { return std::shared_ptr<const Snapshot>(); });
  CHECK(none.handle_line(R"({"method":"initialize","parameters":{}})") == R"({"result":true})");
  CHECK(none.handle_line(R"({"method":"getAllDomains","parameters":{}})") == R"({"result":false})");
  CHECK(none.stats().no_snapshot == 1);

  auto snap = ntm::test::sample_snapshot();
  Backend throwing([&] { return snap; }, [](const NodeLookup&) { throw std::runtime_error("x"); });
  const std::string r = throwing.handle_line(
      R"({"method":"lookup","parameters":{"qtype":"ANY","qname":"node1.ntm.example.","zone-id":1}})");
  CHECK(r.find("10.0.0.1") != std::string::npos);
  CHECK(throwing.stats().hook_errors == 1);
}

TEST_CASE("dns backend: the method table has one handler per method") {
  const auto& t = method_table();
  for (const char* m : {"initialize", "lookup", "getalldomains", "getdomaininfo",
                        "getalldomainmetadata", "getdomainmetadata", "list", "directbackendcmd"})
    CHECK(t.contains(m));
  CHECK(t.size() == 8);
  // The pure handler is callable without a Backend.
  CallContext ctx;
  const auto snap = ntm::test::sample_snapshot();
  CHECK(handlers::get_all_domains(json::object(), *snap, ctx).size() == 2);
}
