// SPDX-License-Identifier: MIT
// Mobility at the RS, in-process (docs/relay.md, "Mobility"): Update
// Requests on forward and translate paths, what must never redirect
// traffic, the per-end rate limit, flapping, translate roams, and
// re-directions (a Relay Direction with a newer epoch for a carried path).
#include <doctest/doctest.h>

#include <deque>

#include "packets.hpp"
#include "relay_fixture.hpp"

using namespace ntm;
using namespace ntm::test;
using wire::RelayMode;
using wire::Status;

namespace {

wire::PathId random_path() {
  wire::PathId p;
  wire::random_bytes(p.bytes);
  return p;
}

wire::NodeInfo node(const char* fqdn) {
  wire::NodeInfo n;
  wire::random_bytes(n.node_id.bytes);
  n.fqdn.name = fqdn;
  return n;
}

wire::UpdateRequest update(const wire::NodeId& sender, std::uint32_t seq) {
  wire::UpdateRequest u;
  u.sender = sender;
  u.update_seq = seq;
  return u;
}

wire::TunnelRequest tunnel_from(const wire::NodeId& sender) {
  wire::TunnelRequest t;
  t.sender = sender;
  return t;
}

template <class T>
T open_reply(wire::ControlChannel& ch, const Sent& s, const wire::Endpoint& expect_to) {
  CHECK(s.to == expect_to);
  wire::Received r;
  REQUIRE(ch.open(s.data, common::wall_ms(), r) == wire::Error::ok);
  REQUIRE(std::holds_alternative<T>(r.body));
  return std::get<T>(r.body);
}

// A forward path with both ends known: MN at a, CN at b.
struct ForwardPath {
  explicit ForwardPath(std::uint8_t epoch = 4)
      : path(random_path()),
        k_rp(wire::SecretKey::random()),
        k_path(wire::SecretKey::random()),
        mn_info(node("mn.test.example")),
        cn_info(node("cn.test.example")),
        mn(k_rp, k_path, path, epoch, true),
        cn(k_rp, k_path, path, epoch, false) {
    REQUIRE(rs.direct(path, epoch, RelayMode::forward, k_rp, 30, mn_info, cn_info) == Status::ok);
    rs.receive(mn.seal(tunnel_from(mn_info.node_id)), a);
    rs.receive(cn.seal(tunnel_from(cn_info.node_id)), b);
    REQUIRE(rs.sink.out.size() == 2);
    rs.sink.out.clear();
  }
  relay::RelayPath& p() { return *rs.paths.find(path); }
  // Sends a capsule from `from` and returns where it went (nullopt: not
  // forwarded).
  std::optional<wire::Endpoint> carry(End& e, const wire::Endpoint& from) {
    return carry_datagram(e.capsule(40), from);
  }
  std::optional<wire::Endpoint> carry_datagram(const std::vector<std::uint8_t>& c,
                                               const wire::Endpoint& from) {
    const std::size_t before = rs.sink.out.size();
    rs.receive(c, from);
    if (rs.sink.out.size() == before) return std::nullopt;
    REQUIRE(rs.sink.out.size() == before + 1);
    CHECK(rs.sink.out.back().data == c);
    return rs.sink.out.back().to;
  }
  RelayUnderTest rs;
  wire::PathId path;
  wire::SecretKey k_rp, k_path;
  wire::NodeInfo mn_info, cn_info;
  End mn, cn;
  wire::Endpoint a = endpoint("198.51.100.2", 40001), b = endpoint("203.0.113.7", 40002);
};

}  // namespace

TEST_CASE("forward update: the end moves to the source, forwarding follows it both ways") {
  ForwardPath f;
  const auto a2 = endpoint("192.0.2.10", 51000);  // the MN's new network
  CHECK(f.carry(f.mn, f.a) == f.b);
  f.rs.sink.out.clear();

  auto u = update(f.mn_info.node_id, 1);
  u.new_real = endpoint("10.1.1.1", 4520);  // what the MN believes: not what counts
  u.new_nat = endpoint("192.0.2.99", 9999);
  f.rs.receive(f.mn.seal(u, 31), a2);
  REQUIRE(f.rs.sink.out.size() == 1);
  CHECK(f.rs.sink.out[0].to == a2);
  wire::Received r;
  REQUIRE(f.mn.channel.open(f.rs.sink.out[0].data, common::wall_ms(), r) == wire::Error::ok);
  CHECK(r.header.txid == 31);
  CHECK(r.header.common.role == wire::Role::rs_to_initiator);
  const auto& resp = std::get<wire::UpdateResponse>(r.body);
  CHECK(resp.status == Status::ok);
  CHECK(resp.update_seq == 1);
  CHECK(resp.observed == a2);
  CHECK(*f.p().endpoint[relay::kInitiator] == a2);
  CHECK(f.p().update_seq[relay::kInitiator] == 1);

  // CN -> MN goes to the new place; MN -> CN only from it.
  CHECK(f.carry(f.cn, f.b) == a2);
  CHECK(f.carry(f.mn, a2) == f.b);
  CHECK_FALSE(f.carry(f.mn, f.a));
  CHECK(f.rs.drops.foreign_source == 1);

  // The CN moves too.
  const auto b2 = endpoint("203.0.113.8", 40100);
  f.rs.receive(f.cn.seal(update(f.cn_info.node_id, 7)), b2);
  CHECK(open_reply<wire::UpdateResponse>(f.cn.channel, f.rs.sink.out.back(), b2).status ==
        Status::ok);
  CHECK(f.carry(f.mn, a2) == b2);
  CHECK(f.carry(f.cn, b2) == a2);
  CHECK(f.rs.paths.mobility().accepted == 2);
  CHECK(f.p().moves == 2);
}

TEST_CASE("forward update: stale seq refused, a retransmission answered, an identical datagram not") {
  ForwardPath f;
  const auto a2 = endpoint("192.0.2.10", 51000), a3 = endpoint("192.0.2.11", 51001);
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 5)), a2);
  REQUIRE(f.rs.sink.out.size() == 1);

  // The node lost the answer and retransmits: a new datagram, same seq,
  // from the same place: ok again, nothing moves.
  const auto again = f.mn.seal(update(f.mn_info.node_id, 5));
  f.rs.receive(again, a2);
  REQUIRE(f.rs.sink.out.size() == 2);
  auto r = open_reply<wire::UpdateResponse>(f.mn.channel, f.rs.sink.out[1], a2);
  CHECK(r.status == Status::ok);
  CHECK(r.update_seq == 5);
  CHECK(f.rs.paths.mobility().repeated == 1);
  // The identical datagram again: the replay window drops it, unanswered.
  f.rs.receive(again, a2);
  CHECK(f.rs.sink.out.size() == 2);
  CHECK(f.rs.paths.mobility().refused == 1);

  // The same seq from elsewhere, and a lower one: stale_update, nothing moves.
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 5)), a3);
  REQUIRE(f.rs.sink.out.size() == 3);
  r = open_reply<wire::UpdateResponse>(f.mn.channel, f.rs.sink.out[2], a3);
  CHECK(r.status == Status::stale_update);
  CHECK(r.observed == a3);
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 4)), a3);
  REQUIRE(f.rs.sink.out.size() == 4);
  CHECK(open_reply<wire::UpdateResponse>(f.mn.channel, f.rs.sink.out[3], a3).status ==
        Status::stale_update);
  // Seq 0 is never above the initial state.
  f.rs.receive(f.cn.seal(update(f.cn_info.node_id, 0)), f.b);
  REQUIRE(f.rs.sink.out.size() == 5);
  CHECK(open_reply<wire::UpdateResponse>(f.cn.channel, f.rs.sink.out[4], f.b).status ==
        Status::stale_update);
  CHECK(*f.p().endpoint[relay::kInitiator] == a2);
  CHECK(f.p().update_seq[relay::kInitiator] == 5);
  CHECK(f.rs.paths.mobility().stale == 3);
  CHECK(f.rs.paths.mobility().accepted == 1);
}

TEST_CASE("forward update: forged, replayed, foreign and wrong-sender updates never redirect") {
  ForwardPath f;
  const auto evil = endpoint("192.0.2.66", 6666);
  std::uint32_t seq_in_force = 0;
  auto check_unmoved = [&] {
    CHECK(f.rs.sink.out.empty());
    CHECK(*f.p().endpoint[relay::kInitiator] == f.a);
    CHECK(*f.p().endpoint[relay::kResponder] == f.b);
    CHECK(f.p().update_seq[relay::kInitiator] == seq_in_force);
    CHECK(f.p().update_seq[relay::kResponder] == 0);
    CHECK(f.carry(f.cn, f.b) == f.a);
    f.rs.sink.out.clear();
  };
  // A flipped bit in the body, in the tag, in the header.
  for (std::size_t at : {std::size_t{50}, std::size_t{0}, std::size_t{9}}) {
    auto forged = f.mn.seal(update(f.mn_info.node_id, 9));
    forged[at == 0 ? forged.size() - 1 : at] ^= 0x01;
    f.rs.receive(forged, evil);
  }
  check_unmoved();
  // A node of another path (another K_rp) naming this path.
  End other(wire::SecretKey::random(), f.k_path, f.path, 4, true);
  f.rs.receive(other.seal(update(f.mn_info.node_id, 9)), evil);
  check_unmoved();
  // Captured from the MN's own (old) place, replayed from elsewhere.
  const auto genuine = f.mn.seal(update(f.mn_info.node_id, 1));
  f.rs.receive(genuine, f.a);  // accepted: seq 1, the MN stays where it is
  REQUIRE(f.rs.sink.out.size() == 1);
  f.rs.sink.out.clear();
  seq_in_force = 1;
  f.rs.receive(genuine, evil);
  check_unmoved();
  // Authentic under K_rp, but the sender is not the end the DC named.
  f.rs.receive(f.mn.seal(update(f.cn_info.node_id, 2)), evil);
  wire::NodeId stranger;
  wire::random_bytes(stranger.bytes);
  f.rs.receive(f.mn.seal(update(stranger, 3)), evil);
  f.rs.receive(f.cn.seal(update(f.mn_info.node_id, 4)), evil);
  CHECK(f.rs.drops.wrong_sender == 3);
  check_unmoved();
  // An old epoch's channel is not a current key.
  End old(f.k_rp, f.k_path, f.path, 3, true);
  f.rs.receive(old.seal(update(f.mn_info.node_id, 5)), evil);
  check_unmoved();
  CHECK(f.rs.paths.mobility().refused == 9);
  CHECK(f.rs.paths.mobility().accepted == 1);
  CHECK(f.rs.drops.auth_failed == 6);
}

TEST_CASE("forward update: a storm is rate-limited per end, the other end keeps its budget") {
  ForwardPath f;
  relay::Now t = f.rs.now();
  auto send = [&](End& e, const wire::NodeId& id, std::uint32_t seq, const wire::Endpoint& from) {
    auto d = e.seal(update(id, seq));
    f.rs.fwd.on_datagram(d, from, f.rs.sink, t);
  };
  std::uint32_t seq = 0;
  for (int i = 0; i < 25; ++i)
    send(f.mn, f.mn_info.node_id, ++seq, endpoint("192.0.2.10", static_cast<std::uint16_t>(50000 + i)));
  CHECK(f.rs.sink.out.size() == relay::kUpdateBurst);
  CHECK(f.rs.paths.mobility().rate_limited == 25 - relay::kUpdateBurst);
  CHECK(f.rs.drops.rate_limited == 25 - relay::kUpdateBurst);
  // The last accepted one is where the MN is: the dropped ones moved nothing.
  CHECK(*f.p().endpoint[relay::kInitiator] == endpoint("192.0.2.10", 50000 + relay::kUpdateBurst - 1));
  CHECK(f.p().update_seq[relay::kInitiator] == relay::kUpdateBurst);
  // The CN's budget is its own.
  send(f.cn, f.cn_info.node_id, 1, endpoint("203.0.113.8", 1));
  CHECK(f.rs.sink.out.size() == relay::kUpdateBurst + 1);
  // One second refills kUpdatesPerSecond tokens.
  f.rs.sink.out.clear();
  t.mono_ms += 1000;
  for (int i = 0; i < 8; ++i) send(f.mn, f.mn_info.node_id, ++seq, endpoint("192.0.2.12", 1));
  CHECK(f.rs.sink.out.size() == relay::kUpdatesPerSecond);
  // Forged updates do not spend the end's budget (checked after authentication).
  t.mono_ms += 2000;  // a full bucket again
  f.rs.sink.out.clear();
  for (int i = 0; i < 50; ++i) {
    auto forged = f.mn.seal(update(f.mn_info.node_id, ++seq));
    forged.back() ^= 1;
    f.rs.fwd.on_datagram(forged, endpoint("192.0.2.66", 1), f.rs.sink, t);
  }
  for (int i = 0; i < 10; ++i) send(f.mn, f.mn_info.node_id, ++seq, endpoint("192.0.2.13", 1));
  CHECK(f.rs.sink.out.size() == 10);
}

TEST_CASE("forward update: a flapping node converges to its last location") {
  ForwardPath f;
  const auto x = endpoint("192.0.2.1", 1), y = endpoint("192.0.2.2", 2), z = endpoint("192.0.2.3", 3);
  // Sent in the order x(1) y(2) x(3) z(4); they arrive reordered.
  const auto u1 = f.mn.seal(update(f.mn_info.node_id, 1));
  const auto u2 = f.mn.seal(update(f.mn_info.node_id, 2));
  const auto u3 = f.mn.seal(update(f.mn_info.node_id, 3));
  const auto u4 = f.mn.seal(update(f.mn_info.node_id, 4));
  f.rs.receive(u2, y);
  f.rs.receive(u4, z);
  f.rs.receive(u1, x);
  f.rs.receive(u3, x);
  CHECK(*f.p().endpoint[relay::kInitiator] == z);
  CHECK(f.p().update_seq[relay::kInitiator] == 4);
  CHECK(f.rs.paths.mobility().accepted == 2);
  CHECK(f.rs.paths.mobility().stale == 2);
  CHECK(f.carry(f.cn, f.b) == z);
}

TEST_CASE("held capsules: those that race the update go on after it, in order, nothing else ever does") {
  ForwardPath f;
  const auto a2 = endpoint("192.0.2.10", 51000);  // where the MN moves
  const auto evil = endpoint("192.0.2.66", 6666);
  // The MN's first capsules from its new place arrive before its update,
  // with an attacker's copies and inventions from elsewhere in between.
  std::vector<std::vector<std::uint8_t>> raced;
  for (int i = 0; i < 3; ++i) {
    raced.push_back(f.mn.capsule(40 + i));
    CHECK_FALSE(f.carry_datagram(raced.back(), a2));
    f.rs.receive(raced.back(), evil);          // a copy, from elsewhere
    f.rs.receive(f.mn.capsule(10), evil);      // sealed right, wrong source
  }
  CHECK(f.rs.sink.out.empty());
  CHECK(f.rs.drops.foreign_source == 9);
  CHECK(f.rs.paths.mobility().held == 9);
  // The CN's capsules still go to the MN's recorded place until the update.
  CHECK(f.carry(f.cn, f.b) == f.a);
  f.rs.sink.out.clear();

  // A forged update from a2 releases nothing.
  auto forged = f.mn.seal(update(f.mn_info.node_id, 1));
  forged.back() ^= 1;
  f.rs.receive(forged, a2);
  CHECK(f.rs.sink.out.empty());

  // The genuine one: the answer to a2, then the three raced capsules to the
  // CN, in the order they came; none of evil's.
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 1)), a2);
  REQUIRE(f.rs.sink.out.size() == 4);
  CHECK(open_reply<wire::UpdateResponse>(f.mn.channel, f.rs.sink.out[0], a2).status == Status::ok);
  for (int i = 0; i < 3; ++i) {
    CHECK(f.rs.sink.out[1 + i].to == f.b);
    CHECK(f.rs.sink.out[1 + i].data == raced[i]);
  }
  CHECK(f.rs.paths.mobility().held_released == 3);
  // Released once: a retransmitted update releases nothing more.
  f.rs.sink.out.clear();
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 1)), a2);
  CHECK(f.rs.sink.out.size() == 1);
  CHECK(f.rs.paths.mobility().repeated == 1);
  // Whoever proves a2 is the MN cannot make evil's capsules go anywhere,
  // not even by moving the MN there with a stale update.
  f.rs.sink.out.clear();
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 1)), evil);
  REQUIRE(f.rs.sink.out.size() == 1);  // stale_update, nothing forwarded
  CHECK(f.rs.paths.mobility().stale == 1);
  CHECK(f.rs.paths.mobility().held_released == 3);
  CHECK(f.carry(f.mn, a2) == f.b);
}

namespace {

// Like the I/O loop's sink: keeps only a view of each datagram until
// flush(), which copies them out.
class DeferredSink final : public relay::Sink {
 public:
  std::span<std::uint8_t> buffer() override {
    bufs_.emplace_back(relay::kReplyBufferSize);
    return bufs_.back();
  }
  void send(std::span<const std::uint8_t> d, const wire::Endpoint& to) override {
    views_.push_back({d, to});
  }
  void write_tun(std::span<const std::uint8_t>) override {}
  std::vector<Sent> flush() {
    std::vector<Sent> out;
    for (auto& [d, to] : views_) out.push_back({{d.begin(), d.end()}, to, false});
    views_.clear();
    return out;
  }

 private:
  std::deque<std::vector<std::uint8_t>> bufs_;  // stable addresses
  std::vector<std::pair<std::span<const std::uint8_t>, wire::Endpoint>> views_;
};

}  // namespace

TEST_CASE("held capsules: a released capsule survives until the sink flushes, whatever is held after it") {
  ForwardPath f;
  const auto a2 = endpoint("192.0.2.10", 51000);
  DeferredSink sink;
  auto now = f.rs.now();
  const auto raced = f.mn.capsule(64);
  auto in = raced;
  f.rs.fwd.on_datagram(in, a2, sink, now);
  auto u = f.mn.seal(update(f.mn_info.node_id, 1));
  f.rs.fwd.on_datagram(u, a2, sink, now);
  // In the same receive batch, before the flush: a flood of foreign
  // capsules takes every slot of the store.
  for (std::size_t i = 0; i < 2 * relay::HeldCapsules::kSlots; ++i) {
    auto c = f.mn.capsule(64);
    f.rs.fwd.on_datagram(c, endpoint("192.0.2.66", static_cast<std::uint16_t>(2000 + i)), sink,
                         now);
  }
  const auto out = sink.flush();
  REQUIRE(out.size() == 2);  // the Update Response, the raced capsule
  CHECK(out[0].to == a2);
  CHECK(out[1].to == f.b);
  CHECK(out[1].data == raced);
}

TEST_CASE("held capsules: they age out, a flood only displaces them, path, end and source must match") {
  ForwardPath f;
  const auto a2 = endpoint("192.0.2.10", 51000);
  const auto a3 = endpoint("192.0.2.11", 51001);
  // Kept longer than kHoldMs: gone when the update comes.
  CHECK_FALSE(f.carry(f.mn, a2));
  f.rs.clock_offset_ms += relay::HeldCapsules::kHoldMs + 1;
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 1)), a2);
  CHECK(f.rs.sink.out.size() == 1);  // the answer only
  CHECK(f.rs.paths.mobility().held_released == 0);

  // A flood from elsewhere pushes a genuine held capsule out; the RS keeps
  // at most kSlots datagrams, whatever arrives.
  f.rs.sink.out.clear();
  CHECK_FALSE(f.carry(f.mn, a3));
  for (std::size_t i = 0; i < relay::HeldCapsules::kSlots; ++i)
    f.rs.receive(f.mn.capsule(100), endpoint("192.0.2.66", static_cast<std::uint16_t>(1000 + i)));
  f.rs.receive(f.mn.seal(update(f.mn_info.node_id, 2)), a3);
  CHECK(f.rs.sink.out.size() == 1);
  CHECK(f.rs.paths.mobility().held_released == 0);
  CHECK(*f.p().endpoint[relay::kInitiator] == a3);

  // The pool itself: bounded, matched by path, end and source exactly.
  relay::HeldCapsules h;
  wire::PathId id;
  wire::random_bytes(id.bytes);
  for (std::size_t i = 0; i < 3 * relay::HeldCapsules::kSlots; ++i)
    CHECK(h.hold(id, relay::kInitiator, a2, f.mn.capsule(8), 1000));
  CHECK(h.size() == relay::HeldCapsules::kSlots);
  std::size_t seen = 0;
  CHECK(h.release(id, relay::kResponder, a2, 1000, [&](auto) { ++seen; }) == 0);
  CHECK(h.release(id, relay::kInitiator, a3, 1000, [&](auto) { ++seen; }) == 0);
  CHECK(h.release(id, relay::kInitiator, a2, 1000, [&](auto) { ++seen; }) ==
        relay::HeldCapsules::kSlots);
  CHECK(seen == relay::HeldCapsules::kSlots);
  CHECK(h.size() == 0);
  std::vector<std::uint8_t> too_big(relay::HeldCapsules::kMaxDatagram + 1);
  CHECK_FALSE(h.hold(id, relay::kInitiator, a2, too_big, 1000));
}

TEST_CASE("translate update: the MN moves, the host's flow keeps its addresses and ports") {
  RelayUnderTest rs;
  const auto path = random_path();
  const auto k = wire::SecretKey::random();
  wire::NodeInfo mn_info = node("mn.test.example"), host;
  mn_info.vip.addr = 0x64400007;
  host.vip.addr = 0x64400101;
  host.real = endpoint("198.51.100.9", 0);
  REQUIRE(rs.direct(path, 1, RelayMode::translate, k, 30, mn_info, host) == Status::ok);
  wire::ChannelConfig cc;
  cc.domain = wire::KeyDomain::path;
  cc.key_epoch = 1;
  cc.tx_role = wire::Role::initiator;
  cc.rx_role = wire::Role::responder;
  cc.tx_id = cc.rx_id = path.bytes;
  cc.instance = 9;
  cc.first_counter = 100;
  wire::ControlChannel mn(k, cc);
  wire::CapsuleSealer seal(k, wire::Role::initiator, path, 1);
  wire::CapsuleOpener open(k, wire::Role::responder, path, 1);
  const auto a = endpoint("203.0.113.5", 4520), a2 = endpoint("192.0.2.77", 33333);
  wire::Error err = wire::Error::ok;
  auto control = [&](const wire::Body& b, const wire::Endpoint& from) {
    std::vector<std::uint8_t> buf(NTM_MAX_CONTROL);
    buf.resize(mn.seal(b, 1, common::wall_ms(), buf, err));
    rs.receive(buf, from);
  };
  auto capsule = [&](const std::vector<std::uint8_t>& pkt) {
    std::vector<std::uint8_t> f(NTM_CAPSULE_OVERHEAD + pkt.size());
    std::copy(pkt.begin(), pkt.end(), f.begin() + NTM_HDR_LEN);
    REQUIRE(seal.seal(f, pkt.size(), err) == f.size());
    return f;
  };
  auto host_reply = [&] {
    auto reply = make_packet(relay::kProtoTcp, 0xc6336409, 0x64400007, 17);
    std::vector<std::uint8_t> frame(2048);
    std::copy(reply.begin(), reply.end(), frame.begin() + NTM_HDR_LEN);
    rs.fwd.on_tun_packet(frame, reply.size(), rs.sink, rs.now());
    return rs.sink.out.back();
  };
  control(tunnel_from(mn_info.node_id), a);
  const auto pkt = make_packet(relay::kProtoTcp, 0x64400007, 0x64400101, 33);
  rs.receive(capsule(pkt), a);
  REQUIRE(rs.sink.out.back().tun);
  const auto into_tun_before = rs.sink.out.back().data;
  CHECK(host_reply().to == a);

  // The MN moves and says so: the PATH Update Response is the RS's, as responder.
  control(update(mn_info.node_id, 1), a2);
  wire::Received r;
  REQUIRE(mn.open(rs.sink.out.back().data, common::wall_ms(), r) == wire::Error::ok);
  CHECK(rs.sink.out.back().to == a2);
  CHECK(std::get<wire::UpdateResponse>(r.body).status == Status::ok);
  CHECK(std::get<wire::UpdateResponse>(r.body).observed == a2);
  // The host's packets now go to the new place, and the MN's packets from
  // the new place reach the TUN as the very same packet (same addresses,
  // same ports: the kernel's NAPT entry and the host's TCP connection stay).
  const Sent back = host_reply();
  CHECK(back.to == a2);
  auto d = back.data;
  std::span<std::uint8_t> inner;
  CHECK(open.open(d, inner) == wire::Error::ok);
  rs.receive(capsule(pkt), a2);
  REQUIRE(rs.sink.out.back().tun);
  CHECK(rs.sink.out.back().data == into_tun_before);
  // Stale and wrong-sender updates change nothing.
  control(update(mn_info.node_id, 1), a);
  REQUIRE(mn.open(rs.sink.out.back().data, common::wall_ms(), r) == wire::Error::ok);
  CHECK(std::get<wire::UpdateResponse>(r.body).status == Status::stale_update);
  const std::size_t n = rs.sink.out.size();
  control(update(wire::NodeId{}, 2), a);
  CHECK(rs.sink.out.size() == n);
  CHECK(rs.drops.wrong_sender == 1);
  CHECK(host_reply().to == a2);
  CHECK(rs.paths.mobility().accepted == 1);
}

TEST_CASE("translate roam: a newer authentic capsule from a new source moves the MN, a late one does not") {
  RelayUnderTest rs;
  const auto path = random_path();
  const auto k = wire::SecretKey::random();
  wire::NodeInfo mn_info = node("mn.test.example"), host;
  mn_info.vip.addr = 0x64400007;
  host.vip.addr = 0x64400101;
  host.real = endpoint("198.51.100.9", 0);
  REQUIRE(rs.direct(path, 1, RelayMode::translate, k, 30, mn_info, host) == Status::ok);
  wire::CapsuleSealer seal(k, wire::Role::initiator, path, 1);
  wire::Error err = wire::Error::ok;
  auto keepalive = [&] {
    std::vector<std::uint8_t> f(NTM_CAPSULE_OVERHEAD);
    REQUIRE(seal.seal(f, 0, err) == f.size());
    return f;
  };
  const auto a = endpoint("203.0.113.5", 4520), a2 = endpoint("192.0.2.77", 33333);
  rs.receive(keepalive(), a);
  const auto late = keepalive();  // sent from a, delayed
  const auto moved = keepalive();
  rs.receive(moved, a2);
  CHECK(*rs.paths.find(path)->endpoint[relay::kInitiator] == a2);
  CHECK(rs.paths.mobility().roams == 1);
  rs.receive(late, a);  // authentic, inside the window, but older
  CHECK(*rs.paths.find(path)->endpoint[relay::kInitiator] == a2);
  // A forged one from elsewhere does not move it either.
  auto forged = keepalive();
  forged.back() ^= 1;
  rs.receive(forged, endpoint("192.0.2.66", 1));
  CHECK(*rs.paths.find(path)->endpoint[relay::kInitiator] == a2);
  CHECK(rs.paths.mobility().roams == 1);
}

TEST_CASE("re-direction: a newer epoch re-keys the path while forwarding continues") {
  ForwardPath f(4);
  const auto k_rp2 = wire::SecretKey::random(), k_path2 = wire::SecretKey::random();
  CHECK(f.carry(f.mn, f.a) == f.b);
  const std::uint64_t forwarded = f.p().forwarded;
  // The DC re-decided after the MN moved: same path, epoch 5.
  auto mn_info2 = f.mn_info;
  mn_info2.real = endpoint("192.0.2.10", 4520);
  REQUIRE(f.rs.direct(f.path, 5, RelayMode::forward, k_rp2, 30, mn_info2, f.cn_info) == Status::ok);
  CHECK(f.rs.paths.size() == 1);
  CHECK(f.p().key_epoch == 5);
  CHECK(f.p().forwarded == forwarded);  // counters kept
  CHECK(f.p().redirections == 1);
  CHECK(f.rs.paths.mobility().redirections == 1);
  CHECK(f.p().initiator.real == mn_info2.real);
  // Neither end has switched: both are still carried, at their old endpoints.
  CHECK(f.carry(f.mn, f.a) == f.b);
  CHECK(f.carry(f.cn, f.b) == f.a);
  // A retransmitted direction of epoch 5 changes nothing; 4 (older) is refused.
  CHECK(f.rs.direct(f.path, 5, RelayMode::forward, k_rp2) == Status::ok);
  CHECK(f.rs.direct(f.path, 4, RelayMode::forward, f.k_rp) == Status::refused);
  CHECK(f.rs.paths.mobility().old_directions == 1);
  CHECK(f.p().key_epoch == 5);
  CHECK(f.p().initiator.real == mn_info2.real);

  // The MN switches first, from its new place: its new-epoch capsules go to
  // the CN's known endpoint, the CN's old-epoch ones come to the MN's new one.
  End mn5(k_rp2, k_path2, f.path, 5, true), cn5(k_rp2, k_path2, f.path, 5, false);
  const auto a2 = endpoint("192.0.2.10", 51000);
  f.rs.receive(mn5.seal(tunnel_from(f.mn_info.node_id)), a2);
  REQUIRE(f.rs.sink.out.size() == 4);
  CHECK(open_reply<wire::TunnelResponse>(mn5.channel, f.rs.sink.out.back(), a2).observed == a2);
  CHECK(f.carry(mn5, a2) == f.b);
  CHECK(f.carry(f.cn, f.b) == a2);
  REQUIRE(f.p().previous);
  // The old epoch's control channel still answers the CN meanwhile.
  f.rs.receive(f.cn.seal(tunnel_from(f.cn_info.node_id)), f.b);
  CHECK(open_reply<wire::TunnelResponse>(f.cn.channel, f.rs.sink.out.back(), f.b).status ==
        Status::ok);
  // The CN switches: the old epoch is gone.
  f.rs.receive(cn5.seal(tunnel_from(f.cn_info.node_id)), f.b);
  CHECK(open_reply<wire::TunnelResponse>(cn5.channel, f.rs.sink.out.back(), f.b).status ==
        Status::ok);
  CHECK_FALSE(f.p().previous);
  CHECK(f.carry(cn5, f.b) == a2);
  CHECK_FALSE(f.carry(f.cn, f.b));
  CHECK(f.rs.drops.unknown_path == 1);
  // update_seq is per path and end across epochs (protocol.md §7.10).
  f.rs.receive(mn5.seal(update(f.mn_info.node_id, 1)), a2);
  CHECK(open_reply<wire::UpdateResponse>(mn5.channel, f.rs.sink.out.back(), a2).status ==
        Status::ok);
}

TEST_CASE("re-direction: the epoch in force with another key is a direction anew, with the same "
          "key a retransmission") {
  // The DC's first direction of this path failed after the RS took its
  // keys, so no row remembers epoch 0: its next direction is epoch 0 again,
  // with a new key, and the ends get that key.
  ForwardPath f(0);
  CHECK(f.carry(f.mn, f.a) == f.b);
  REQUIRE(f.rs.direct(f.path, 0, RelayMode::forward, f.k_rp, 30, f.mn_info, f.cn_info) ==
          Status::ok);
  CHECK(f.rs.paths.mobility().redirected_anew == 0);
  CHECK(f.carry(f.mn, f.a) == f.b);  // a retransmission: the ends stay known

  const auto k_rp2 = wire::SecretKey::random(), k_path2 = wire::SecretKey::random();
  REQUIRE(f.rs.direct(f.path, 0, RelayMode::forward, k_rp2, 30, f.mn_info, f.cn_info) ==
          Status::ok);
  CHECK(f.rs.paths.mobility().redirected_anew == 1);
  CHECK(f.rs.paths.size() == 1);
  CHECK(f.p().key_epoch == 0);
  CHECK_FALSE(f.p().previous);  // the old keys were never both ends': gone at once
  // A Tunnel Request under the old key is not answered.
  const std::size_t before = f.rs.sink.out.size();
  f.rs.receive(f.mn.seal(tunnel_from(f.mn_info.node_id)), f.a);
  CHECK(f.rs.sink.out.size() == before);
  // Under the new key both ends are answered, then carried.
  End mn2(k_rp2, k_path2, f.path, 0, true), cn2(k_rp2, k_path2, f.path, 0, false);
  f.rs.receive(mn2.seal(tunnel_from(f.mn_info.node_id)), f.a);
  REQUIRE(f.rs.sink.out.size() == before + 1);
  CHECK(open_reply<wire::TunnelResponse>(mn2.channel, f.rs.sink.out.back(), f.a).status ==
        Status::ok);
  f.rs.receive(cn2.seal(tunnel_from(f.cn_info.node_id)), f.b);
  REQUIRE(f.rs.sink.out.size() == before + 2);
  CHECK(open_reply<wire::TunnelResponse>(cn2.channel, f.rs.sink.out.back(), f.b).status ==
        Status::ok);
  CHECK(f.carry(mn2, f.a) == f.b);
  CHECK(f.carry(cn2, f.b) == f.a);
}

TEST_CASE("re-direction: the previous epoch lapses after the grace time, epochs wrap") {
  ForwardPath f(255);
  REQUIRE(f.rs.direct(f.path, 0, RelayMode::forward, wire::SecretKey::random()) == Status::ok);
  CHECK(f.p().key_epoch == 0);  // 0 follows 255
  CHECK(f.carry(f.mn, f.a) == f.b);
  f.rs.clock_offset_ms = relay::kSwitchGraceMs + 1000;
  CHECK_FALSE(f.carry(f.mn, f.a));
  CHECK_FALSE(f.p().previous);
  CHECK(relay::epoch_newer(1, 0));
  CHECK(relay::epoch_newer(0, 255));
  CHECK(relay::epoch_newer(127, 0));
  CHECK_FALSE(relay::epoch_newer(128, 0));
  CHECK_FALSE(relay::epoch_newer(3, 3));
  CHECK_FALSE(relay::epoch_newer(2, 3));
}

TEST_CASE("re-direction of a translate path: the same pair keeps its index, replies use the old key until the MN switches") {
  RelayUnderTest rs;
  const auto path = random_path();
  const auto k1 = wire::SecretKey::random(), k2 = wire::SecretKey::random();
  wire::NodeInfo mn_info = node("mn.test.example"), host;
  mn_info.vip.addr = 0x64400007;
  host.vip.addr = 0x64400101;
  host.real = endpoint("198.51.100.9", 0);
  REQUIRE(rs.direct(path, 1, RelayMode::translate, k1, 30, mn_info, host) == Status::ok);
  wire::CapsuleSealer seal1(k1, wire::Role::initiator, path, 1), seal2(k2, wire::Role::initiator, path, 2);
  wire::CapsuleOpener open1(k1, wire::Role::responder, path, 1), open2(k2, wire::Role::responder, path, 2);
  wire::Error err = wire::Error::ok;
  const auto a = endpoint("203.0.113.5", 4520);
  const auto pkt = make_packet(relay::kProtoTcp, 0x64400007, 0x64400101, 33);
  auto capsule = [&](wire::CapsuleSealer& s) {
    std::vector<std::uint8_t> f(NTM_CAPSULE_OVERHEAD + pkt.size());
    std::copy(pkt.begin(), pkt.end(), f.begin() + NTM_HDR_LEN);
    REQUIRE(s.seal(f, pkt.size(), err) == f.size());
    return f;
  };
  auto host_reply = [&] {
    auto reply = make_packet(relay::kProtoTcp, 0xc6336409, 0x64400007, 17);
    std::vector<std::uint8_t> frame(2048);
    std::copy(reply.begin(), reply.end(), frame.begin() + NTM_HDR_LEN);
    const std::size_t before = rs.sink.out.size();
    rs.fwd.on_tun_packet(frame, reply.size(), rs.sink, rs.now());
    REQUIRE(rs.sink.out.size() == before + 1);
    return rs.sink.out.back();
  };
  rs.receive(capsule(seal1), a);
  REQUIRE(rs.sink.out.back().tun);
  REQUIRE(rs.direct(path, 2, RelayMode::translate, k2, 30, mn_info, host) == Status::ok);
  CHECK(rs.paths.find_translate(0x64400007, 0xc6336409) == rs.paths.find(path));
  // The MN has not switched: replies still open with the epoch-1 key, its
  // epoch-1 capsules still go into the TUN.
  auto d = host_reply().data;
  std::span<std::uint8_t> inner;
  CHECK(open1.open(d, inner) == wire::Error::ok);
  const std::size_t n = rs.sink.out.size();
  rs.receive(capsule(seal1), a);
  CHECK(rs.sink.out.size() == n + 1);
  // Its first epoch-2 capsule switches the replies to the new key.
  rs.receive(capsule(seal2), a);
  CHECK(rs.sink.out.size() == n + 2);
  CHECK(rs.sink.out.back().tun);
  d = host_reply().data;
  CHECK(open2.open(d, inner) == wire::Error::ok);
  CHECK_FALSE(rs.paths.find(path)->previous);
  CHECK(rs.paths.find(path)->endpoint[relay::kInitiator] == a);
}
