// SPDX-License-Identifier: MIT
// The DNS remote backend's decoder: Backend::handle_line on arbitrary
// bytes (what a pdns connection may send) against a small published zone.
// Never throws, never crashes; every reply is one line holding one JSON
// object with a "result" key; the node hook sees only canonical node names;
// the lookup fast path gives the same bytes as the general path.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "dns/sample_zone.hpp"
#include "fuzz_fixture.hpp"
#include "ntm/dns/backend.hpp"

namespace {

ntm::dns::Backend& backend() {
  static const auto snap = ntm::test::sample_snapshot();
  static ntm::dns::Backend b([] { return snap; },
                             [](const ntm::dns::NodeLookup& l) {
                               NTM_FUZZ_CHECK(snap->is_node(l.qname));
                             });
  return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const std::string reply = backend().handle_line(line);
  NTM_FUZZ_CHECK(reply == backend().handle_line_general(line));
  NTM_FUZZ_CHECK(reply.find('\n') == std::string::npos);
  const auto j = nlohmann::json::parse(reply, nullptr, false);
  NTM_FUZZ_CHECK(!j.is_discarded() && j.is_object() && j.contains("result"));
  return 0;
}
