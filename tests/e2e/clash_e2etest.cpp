// SPDX-License-Identifier: MIT
// Virtual address clashes end to end (docs/dc.md "Virtual address
// clashes", docs/data-plane.md §7): the DC gives each end a substitute
// address for its peer (forced by a test hook: two DCs whose pools overlap
// need federation), and ntmd's data path translates it, so applications on
// both nodes see only their own view, with correct checksums, both ways,
// also after a re-direction.
#include <doctest/doctest.h>

#include <cstring>

#include "datapath/offload.hpp"
#include "dc_in_process.hpp"
#include "e2e_support.hpp"
#include "pg_test_db.hpp"

namespace ntm::test {

namespace {

constexpr const char* kZone = "e2e.test";
constexpr std::uint32_t kSubstNet = 0x647e0000, kSubstMask = 0xffff0000;  // 100.126.0.0/16

std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

// The UDP pseudo-header's sum, seeded into checksum_add's wide accumulator.
std::uint32_t pseudo_sum(const std::vector<std::uint8_t>& p) {
  return node::checksum_add({p.data() + 12, 8}, 17 + static_cast<std::uint32_t>(p.size() - 20));
}

// A UDP datagram with its UDP checksum set (e2e_support's has none).
std::vector<std::uint8_t> checked_udp(std::uint32_t src, std::uint32_t dst,
                                      const std::string& text) {
  auto p = udp_packet(src, dst, 40000, 7, text);
  const std::uint32_t s = pseudo_sum(p);
  auto c = static_cast<std::uint16_t>(
      ~node::checksum_fold(node::checksum_add({p.data() + 20, p.size() - 20}, s)));
  if (c == 0) c = 0xffff;
  p[26] = static_cast<std::uint8_t>(c >> 8);
  p[27] = static_cast<std::uint8_t>(c);
  return p;
}

// Both checksums recomputed from scratch.
bool checksums_ok(const std::vector<std::uint8_t>& p) {
  if (p.size() < 28) return false;
  const bool ip = node::checksum_fold(node::checksum_add({p.data(), 20}, 0)) == 0xffff;
  const std::uint32_t s = pseudo_sum(p);
  const bool udp =
      node::checksum_fold(node::checksum_add({p.data() + 20, p.size() - 20}, s)) == 0xffff;
  return ip && udp;
}

// a's application sends to `to` (its view of b); b's application must see
// it from `from_seen` (b's view of a), to b's own VIP, payload unchanged.
void one_way(boost::asio::io_context& io, TestNode& a, TestNode& b, std::uint32_t to,
             std::uint32_t from_seen, const std::string& text) {
  const auto out = checked_udp(vip_of(a), to, text);
  const auto before = b.dp.delivered().size();
  REQUIRE(a.dp.inject(out));
  REQUIRE(run_until(io, [&] { return b.dp.delivered().size() > before; }));
  const auto& in = b.dp.delivered().back();
  REQUIRE(in.size() == out.size());
  CHECK(get32(&in[12]) == from_seen);
  CHECK(get32(&in[16]) == vip_of(b));
  CHECK(checksums_ok(in));
  CHECK(std::memcmp(in.data() + 28, out.data() + 28, out.size() - 28) == 0);
}

}  // namespace

TEST_CASE("e2e: a peer known by a substitute address: the data path translates both ways") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  dc.force_substitutes();
  dc.start();
  boost::asio::io_context io(1);
  TestNode mn(io, mn_text, "127.0.0.2:0"), cn(io, cn_text, "127.0.0.3:0");
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));

  // The resolver answers with the substitute, not the VIP.
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(r->kind == node::Resolution::Kind::address);
  const std::uint32_t cn_seen = r->vip;  // MN's view of CN
  CHECK((cn_seen & kSubstMask) == kSubstNet);
  CHECK(cn_seen != vip_of(cn));
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  const auto cp = *path_to(cn, "mn.e2e.test");
  const std::uint32_t mn_seen = cp.peer_view;  // CN's view of MN
  CHECK((mn_seen & kSubstMask) == kSubstNet);
  CHECK(cp.peer.vip.addr == vip_of(mn));
  CHECK(path_to(mn, "cn.e2e.test")->peer_view == cn_seen);

  one_way(io, mn, cn, cn_seen, mn_seen, "to the substitute");
  one_way(io, cn, mn, mn_seen, cn_seen, "and back from it");
  // The real VIP is not an address of MN's view: nothing goes out.
  const auto no_tunnel = mn.dp.totals().no_tunnel;
  CHECK_FALSE(mn.dp.inject(checked_udp(vip_of(mn), vip_of(cn), "to the VIP")));
  CHECK(mn.dp.totals().no_tunnel == no_tunnel + 1);
  // Nothing was dropped on the way.
  CHECK(mn.dp.counters(cp.id)->drops == 0);
  CHECK(cn.dp.counters(cp.id)->drops == 0);

  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

TEST_CASE("e2e: substitute addresses stay the same when the DC re-directs the path") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  InProcessDc dc(db.url(), kZone);
  const auto mn_text = dc.enroll_node("mn.e2e.test");
  const auto cn_text = dc.enroll_node("cn.e2e.test");
  dc.force_substitutes();
  dc.start();
  boost::asio::io_context io(1);
  // CN behind NAT: a move of MN makes the DC direct the path again.
  TestNode mn(io, mn_text, "127.0.0.2:0"),
      cn(io, cn_text, "127.0.0.3:0", {endpoint("10.2.0.2:4520")});
  mn.agent.start();
  cn.agent.start();
  REQUIRE(run_until(io, [&] { return registered(mn) && registered(cn); }));
  const auto r = resolve(io, mn, "cn.e2e.test");
  REQUIRE(r);
  REQUIRE(path_up(io, cn, "mn.e2e.test"));
  const auto before_m = *path_to(mn, "cn.e2e.test");
  const auto before_c = *path_to(cn, "mn.e2e.test");
  one_way(io, mn, cn, before_m.peer_view, before_c.peer_view, "before the move");

  mn.dp.rebind(endpoint("127.0.0.4:0"));
  mn.agent.network_changed("test: new network");
  REQUIRE(run_until(io, [&] {
    const auto m = path_to(mn, "cn.e2e.test");
    const auto c = path_to(cn, "mn.e2e.test");
    return m && c && m->key_epoch == before_m.key_epoch + 1 &&
           c->key_epoch == before_m.key_epoch + 1 && m->state == node::PathState::up &&
           c->state == node::PathState::up;
  }));
  const auto after_m = *path_to(mn, "cn.e2e.test");
  const auto after_c = *path_to(cn, "mn.e2e.test");
  CHECK(after_m.id == before_m.id);
  CHECK(after_m.peer_view == before_m.peer_view);
  CHECK(after_c.peer_view == before_c.peer_view);
  one_way(io, mn, cn, after_m.peer_view, after_c.peer_view, "after the move");
  one_way(io, cn, mn, after_c.peer_view, after_m.peer_view, "and back");

  mn.agent.stop();
  cn.agent.stop();
  dc.stop();
}

}  // namespace ntm::test
