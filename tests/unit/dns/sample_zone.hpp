// SPDX-License-Identifier: MIT
// A small published view shared by the dns-backend tests: one zone with a
// nested zone, nodes on a global address, behind NAT, deeper down, outside.
#pragma once

#include <memory>
#include <vector>

#include "ntm/dns/zone_data.hpp"

namespace ntm::test {

inline std::vector<dns::ZoneInput> sample_zones(std::int64_t serial = 2024010101) {
  dns::ZoneInput z;
  z.id = 1;
  z.name = "NTM.example";
  z.serial = serial;
  z.nameservers = {"ns1.ntm.example", "ns2.elsewhere.example."};
  z.hostmaster = "hostmaster.ntm.example";
  z.discovery_txt = {dns::discovery_text("203.0.113.10:4510", "00ff")};
  z.ns_addresses = {{"ns1.ntm.example", 0xC0000235}, {"ns2.elsewhere.example", 0xC0000236}};
  dns::ZoneInput sub;
  sub.id = 2;
  sub.name = "sub.ntm.example.";
  sub.serial = 7;
  sub.nameservers = {"ns1.ntm.example"};
  sub.hostmaster = "hostmaster.ntm.example";
  return {z, sub};
}

inline std::vector<dns::NodeEntry> sample_nodes() {
  const std::string m = dns::marker_text("203.0.113.10:4510");
  return {
      {"node1.ntm.example", 0x0A000001u, m},     // global address
      {"NATTED.ntm.example.", std::nullopt, m},  // behind NAT: no A
      {"deep.lab.ntm.example", 0xC6336401u, m},  // relay address, two labels down
      {"x.sub.ntm.example", 0x0A000002u, m},     // the nested zone's
      {"stray.other.example", 0x0A000003u, m},   // outside every zone
  };
}

inline std::shared_ptr<const dns::Snapshot> sample_snapshot() {
  return std::make_shared<const dns::Snapshot>(
      dns::build_snapshot(sample_zones(), sample_nodes(), dns::Ttls{}));
}

}  // namespace ntm::test
