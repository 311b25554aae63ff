// SPDX-License-Identifier: MIT
// A translate path through a real ntm-rs process (translate on: TUN and
// nftables, in a network namespace of its own), with the test acting as
// the DC (it holds K_rs from the config) and as the MN, which speaks TCP by
// hand to a general host: a listening socket on an address of the
// namespace.  The MN opens a TCP connection and exchanges data, moves to
// another UDP socket and says so with an Update Request, and the same TCP
// connection carries on: the host sees the same peer address and port, its
// answer comes to the MN's new socket.  Root only; prints why it skips.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <thread>

#include "ntm/common/clock.hpp"
#include "ntm/common/udp_socket.hpp"
#include "ntm/wire/capsule.hpp"
#include "ntm/wire/control_channel.hpp"
#include "ntm/wire/sealed_key.hpp"
#include "packets.hpp"
#include "pg_test_db.hpp"
#include "relay_test_util.hpp"
#include "rs_process.hpp"

using namespace ntm;
using ntm::test::receive_within;

namespace {

const char* kRelayConf =
    "[relay]\n"
    "id = 00112233445566778899aabbccddeeff\n"
    "name = relay.test.example\n"
    "key = 4242424242424242424242424242424242424242424242424242424242424242\n"
    "key_epoch = 0\n"
    "[dc]\n"
    "endpoint = 127.0.0.1:4610\n";

constexpr std::uint32_t kMnVip = 0x64400007;    // 100.64.0.7
constexpr std::uint32_t kHostVip = 0x64400101;  // 100.64.1.1
constexpr std::uint32_t kHostReal = 0x0a4d0001; // 10.77.0.1 (on lo)
constexpr std::uint16_t kHostPort = 8080;
constexpr std::uint16_t kMnPort = 40000;

void need(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

wire::Endpoint ep(const char* a, std::uint16_t port) {
  wire::Endpoint e;
  need(wire::IpAddr::parse(a, e.addr), "bad address");
  e.port = port;
  return e;
}

// An IPv4/TCP segment (no options), checksums from scratch.
std::vector<std::uint8_t> tcp(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                              std::uint16_t dport, std::uint32_t seq, std::uint32_t ack,
                              std::uint8_t flags, const std::string& data = {}) {
  using test::put16;
  using test::put32;
  std::vector<std::uint8_t> p(40 + data.size());
  p[0] = 0x45;
  put16(p, 2, static_cast<std::uint16_t>(p.size()));
  put16(p, 6, 0x4000);
  p[8] = 64;
  p[9] = relay::kProtoTcp;
  put32(p, 12, src);
  put32(p, 16, dst);
  put16(p, 20, sport);
  put16(p, 22, dport);
  put32(p, 24, seq);
  put32(p, 28, ack);
  p[32] = 0x50;
  p[33] = flags;
  put16(p, 34, 65535);
  std::memcpy(p.data() + 40, data.data(), data.size());
  put16(p, 36, relay::internet_checksum(std::span(p).subspan(20), test::pseudo_sum(p)));
  put16(p, 10, relay::internet_checksum(std::span(p).first(20)));
  return p;
}

struct Segment {
  std::uint32_t src = 0, seq = 0, ack = 0;
  std::uint16_t sport = 0, dport = 0;
  std::uint8_t flags = 0;
  std::string data;
};

bool parse_tcp(std::span<const std::uint8_t> p, Segment& s) {
  if (p.size() < 40 || p[9] != relay::kProtoTcp) return false;
  const std::size_t ihl = (p[0] & 0xf) * 4u, total = test::get16(p, 2);
  if (total > p.size() || total < ihl + 20) return false;
  const std::size_t doff = (p[ihl + 12] >> 4) * 4u;
  s.src = test::get32(p, 12);
  s.sport = test::get16(p, ihl);
  s.dport = test::get16(p, ihl + 2);
  s.seq = test::get32(p, ihl + 4);
  s.ack = test::get32(p, ihl + 8);
  s.flags = p[ihl + 13];
  s.data.assign(reinterpret_cast<const char*>(p.data()) + ihl + doff, total - ihl - doff);
  return true;
}

struct Seen {
  std::string error, log, peer_before, peer_after, status;
  std::string host_got_1, host_got_2, mn_got_2;
  std::size_t to_old_after_move = 0;
  int exit_status = -1;
};

void in_namespace(Seen& s) {
  try {
    need(::unshare(CLONE_NEWNET) == 0, "unshare failed");
    int st = 0;
    test::run_capture({"ip", "link", "set", "lo", "up"}, &st);
    // The host's address on lo (no dummy interfaces everywhere): a packet
    // the RS writes into its TUN for it is delivered locally.
    test::run_capture({"ip", "addr", "add", "10.77.0.1/32", "dev", "lo"}, &st);
    need(st == 0, "cannot add the host's address");

    // The general host: a TCP server on that address.
    const int lst = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in la{};
    la.sin_family = AF_INET;
    la.sin_port = htons(kHostPort);
    la.sin_addr.s_addr = htonl(kHostReal);
    const int one = 1;
    ::setsockopt(lst, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    need(::bind(lst, reinterpret_cast<sockaddr*>(&la), sizeof la) == 0 && ::listen(lst, 4) == 0,
         "host listen failed");

    // The DC's side of K_rs.
    wire::SecretKey k_rs;
    need(wire::SecretKey::from_hex(
             "4242424242424242424242424242424242424242424242424242424242424242", k_rs),
         "bad key");
    wire::NodeId relay_id;
    for (std::size_t i = 0; i < 16; ++i) relay_id.bytes[i] = static_cast<std::uint8_t>(i * 0x11);
    wire::ChannelConfig dcc;
    dcc.domain = wire::KeyDomain::node_dc;
    dcc.tx_role = wire::Role::dc;
    dcc.rx_role = wire::Role::node;
    dcc.tx_id = dcc.rx_id = relay_id.bytes;
    dcc.instance = wire::new_instance();
    dcc.first_counter = wire::initial_counter(common::wall_ns());
    wire::ControlChannel dc_chan(k_rs, dcc);
    common::UdpSocket dc_sock(ep("127.0.0.1", 4610));
    std::vector<std::uint8_t> buf(NTM_MAX_CONTROL);
    wire::Error err = wire::Error::ok;
    auto dc_send = [&](const wire::Body& b, std::uint32_t txid, const wire::Endpoint& to) {
      buf.resize(NTM_MAX_CONTROL);
      buf.resize(dc_chan.seal(b, txid, common::wall_ms(), buf, err));
      need(!buf.empty(), "dc seal failed");
      dc_sock.send(buf, to);
    };
    auto dc_wait = [&](wire::MsgType type, wire::Received& r) {
      while (auto d = receive_within(dc_sock, 10000))
        if (dc_chan.open(*d, common::wall_ms(), r) == wire::Error::ok &&
            r.header.common.type == type)
          return;
      throw std::runtime_error("the DC heard no " + std::string(wire::to_string(type)));
    };

    const auto relay = ep("127.0.0.1", 4630);
    test::RsProcess rs(kRelayConf, "listen = 127.0.0.1:4630\ntun = ntmrsm0\n");
    rs.start(0);
    wire::Received r;
    dc_wait(wire::MsgType::registration_request, r);
    dc_send(wire::RegistrationResponse{{}, 0, relay, false, 15, 60}, r.header.txid, relay);
    need(rs.wait_log("ntm-rs ready", 10000), "not ready:\n" + rs.log());

    // The Relay Direction of a translate path towards the host.
    wire::PathId path;
    wire::random_bytes(path.bytes);
    const wire::SecretKey k_gen = wire::SecretKey::random();
    wire::RelayDirection d;
    d.path_id = path;
    d.key_epoch = 1;
    d.mode = wire::RelayMode::translate;
    wire::random_bytes(d.initiator.node_id.bytes);
    d.initiator.fqdn.name = "mn.test.example";
    d.initiator.vip.addr = kMnVip;
    d.responder.fqdn.name = "host.example";
    d.responder.vip.addr = kHostVip;
    d.responder.real.addr = wire::IpAddr::v4(kHostReal);
    wire::KeyWrapper wrap(k_rs, wire::KeyDomain::node_dc, 0, relay_id.bytes);
    d.relay_key = wrap.seal(k_gen, path, 1, wire::SealedKind::general_key);
    d.idle_timeout_s = 60;
    dc_send(d, 77, relay);
    dc_wait(wire::MsgType::relay_response, r);
    need(std::get<wire::RelayResponse>(r.body).status == wire::Status::ok, "direction refused");

    // The MN: PATH initiator under the general-path key.
    wire::ChannelConfig mc;
    mc.domain = wire::KeyDomain::path;
    mc.key_epoch = 1;
    mc.tx_role = wire::Role::initiator;
    mc.rx_role = wire::Role::responder;
    mc.tx_id = mc.rx_id = path.bytes;
    mc.instance = wire::new_instance();
    mc.first_counter = wire::initial_counter(common::wall_ns());
    wire::ControlChannel mn(k_gen, mc);
    wire::CapsuleSealer seal(k_gen, wire::Role::initiator, path, 1);
    wire::CapsuleOpener open(k_gen, wire::Role::responder, path, 1);
    common::UdpSocket s1(ep("127.0.0.2", 0)), s2(ep("127.0.0.5", 0));
    auto control = [&](common::UdpSocket& from, const wire::Body& b) -> wire::Received {
      for (int attempt = 0; attempt < 5; ++attempt) {
        std::vector<std::uint8_t> c(NTM_MAX_CONTROL);
        c.resize(mn.seal(b, 5, common::wall_ms(), c, err));
        from.send(c, relay);
        while (auto got = receive_within(from, 500)) {
          wire::Received rr;
          if (mn.open(*got, common::wall_ms(), rr) == wire::Error::ok) return rr;
        }
      }
      throw std::runtime_error("no answer from the RS");
    };
    auto send_inner = [&](common::UdpSocket& from, const std::vector<std::uint8_t>& pkt) {
      std::vector<std::uint8_t> f(NTM_CAPSULE_OVERHEAD + pkt.size());
      std::copy(pkt.begin(), pkt.end(), f.begin() + NTM_HDR_LEN);
      need(seal.seal(f, pkt.size(), err) == f.size(), "seal failed");
      from.send(f, relay);
    };
    // The next segment from the host on `at` with data (or the flags wanted).
    auto from_host = [&](common::UdpSocket& at, std::uint8_t flags, bool want_data) {
      const auto deadline = common::mono_ms() + 5000;
      while (common::mono_ms() < deadline) {
        auto got = receive_within(at, 500);
        if (!got) continue;
        std::span<std::uint8_t> inner;
        if (open.open(*got, inner) != wire::Error::ok) continue;
        Segment seg;
        if (!parse_tcp(inner, seg)) continue;
        need(seg.src == kHostVip && seg.sport == kHostPort && seg.dport == kMnPort,
             "a segment with the wrong addresses or ports");
        if ((seg.flags & flags) == flags && (!want_data || !seg.data.empty())) return seg;
      }
      throw std::runtime_error("no segment from the host");
    };
    wire::TunnelRequest treq;
    treq.sender = d.initiator.node_id;
    treq.sender_vip.addr = kMnVip;
    treq.receiver_vip.addr = kHostVip;
    auto tunnel = control(s1, treq);
    need(std::holds_alternative<wire::TunnelResponse>(tunnel.body), "no tunnel response");

    // Handshake and a first exchange from s1.
    constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kPsh = 0x08;
    std::uint32_t seq = 1000;
    send_inner(s1, tcp(kMnVip, kHostVip, kMnPort, kHostPort, seq, 0, kSyn));
    const Segment synack = from_host(s1, kSyn | kAck, false);
    ++seq;
    std::uint32_t ack = synack.seq + 1;
    send_inner(s1, tcp(kMnVip, kHostVip, kMnPort, kHostPort, seq, ack, kAck | kPsh, "hello"));
    seq += 5;
    pollfd pa{lst, POLLIN, 0};
    need(::poll(&pa, 1, 5000) == 1, "the host accepted nothing");
    sockaddr_in peer{};
    socklen_t plen = sizeof peer;
    const int conn = ::accept4(lst, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC);
    need(conn >= 0, "accept failed");
    char pb[64];
    ::inet_ntop(AF_INET, &peer.sin_addr, pb, sizeof pb);
    s.peer_before = std::string(pb) + ":" + std::to_string(ntohs(peer.sin_port));
    char rb[64] = {};
    pollfd pc{conn, POLLIN, 0};
    need(::poll(&pc, 1, 5000) == 1, "the host got no data");
    s.host_got_1.assign(rb, static_cast<std::size_t>(std::max<ssize_t>(0, ::read(conn, rb, sizeof rb))));
    need(::write(conn, "world1", 6) == 6, "host write failed");
    const Segment w1 = from_host(s1, kAck, true);
    ack = w1.seq + static_cast<std::uint32_t>(w1.data.size());
    send_inner(s1, tcp(kMnVip, kHostVip, kMnPort, kHostPort, seq, ack, kAck));

    // The MN moves to s2 and says so.
    auto ur = control(s2, wire::UpdateRequest{d.initiator.node_id, 1, {}, {}});
    need(std::holds_alternative<wire::UpdateResponse>(ur.body), "no update response");
    const auto& resp = std::get<wire::UpdateResponse>(ur.body);
    need(resp.status == wire::Status::ok && resp.observed == s2.local(), "update not accepted");

    // The host speaks first on the same connection: the Update alone (no
    // capsule from s2 yet) sends it to the new place.
    need(::write(conn, "world2", 6) == 6, "host write failed");
    const Segment w2 = from_host(s2, kAck, true);
    s.mn_got_2 = w2.data;
    ack = w2.seq + static_cast<std::uint32_t>(w2.data.size());
    // And the MN's segments from s2 reach the host on the same connection.
    send_inner(s2, tcp(kMnVip, kHostVip, kMnPort, kHostPort, seq, ack, kAck | kPsh, "again"));
    need(::poll(&pc, 1, 5000) == 1, "the host got nothing after the move");
    std::memset(rb, 0, sizeof rb);
    s.host_got_2.assign(rb, static_cast<std::size_t>(std::max<ssize_t>(0, ::read(conn, rb, sizeof rb))));
    plen = sizeof peer;
    ::getpeername(conn, reinterpret_cast<sockaddr*>(&peer), &plen);
    ::inet_ntop(AF_INET, &peer.sin_addr, pb, sizeof pb);
    s.peer_after = std::string(pb) + ":" + std::to_string(ntohs(peer.sin_port));
    while (receive_within(s1, 200)) ++s.to_old_after_move;
    s.status = rs.status(true, &st);
    ::close(conn);
    ::close(lst);
    s.exit_status = rs.stop();
    s.log = rs.log();
  } catch (const std::exception& e) {
    s.error = e.what();
  }
}

}  // namespace

TEST_CASE("ntm-rs translate: the MN moves with an Update Request, the general host's TCP connection carries on") {
  if (const char* why = test::netns_unavailable()) {
    MESSAGE("skipped: " << why);
    return;
  }
  int st = 0;
  test::run_capture({"nft", "--version"}, &st);
  if (st != 0) {
    MESSAGE("skipped: nft is not installed");
    return;
  }
  Seen s;
  std::thread t(in_namespace, std::ref(s));
  t.join();
  REQUIRE_MESSAGE(s.error.empty(), s.error << "\n" << s.log);
  CHECK(s.host_got_1 == "hello");
  CHECK(s.host_got_2 == "again");
  CHECK(s.mn_got_2 == "world2");
  CHECK(s.peer_before == "100.64.0.7:40000");
  CHECK(s.peer_after == s.peer_before);
  CHECK(s.to_old_after_move == 0);
  CHECK(s.status.find("\"updates_accepted\":1") != std::string::npos);
  CHECK(s.exit_status == 0);
}
