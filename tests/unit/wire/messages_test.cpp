// SPDX-License-Identifier: MIT
// Control bodies: a round trip of every message, and every rejection path
// of the strict decoder.
#include <doctest/doctest.h>

#include <array>
#include <vector>

#include "ntm/wire.h"
#include "ntm/wire/messages.hpp"
#include "wire/sample_messages.hpp"

using namespace ntm::wire;

namespace {

std::vector<std::uint8_t> encode(const Body& b) {
  std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
  Error err = Error::ok;
  const std::size_t n = encode_body(b, out, err);
  REQUIRE(err == Error::ok);
  out.resize(n);
  return out;
}

}  // namespace

TEST_CASE("every control body survives an encode/decode round trip") {
  const auto bodies = ntm::test::sample_bodies();
  CHECK(bodies.size() == std::variant_size_v<Body>);
  for (const Body& b : bodies) {
    CAPTURE(to_string(type_of(b)));
    const auto bytes = encode(b);
    Body back;
    REQUIRE(decode_body(type_of(b), bytes, back) == Error::ok);
    CHECK(back.index() == b.index());
    CHECK(back == b);
    // Re-encoding gives the same bytes: one canonical encoding per message.
    CHECK(encode(back) == bytes);
  }
}

TEST_CASE("every proper prefix of every body is rejected as truncated") {
  for (const Body& b : ntm::test::sample_bodies()) {
    CAPTURE(to_string(type_of(b)));
    const auto bytes = encode(b);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      Body out;
      const Error e = decode_body(type_of(b), std::span(bytes).first(n), out);
      CAPTURE(n);
      CHECK(e == Error::truncated);
    }
  }
}

TEST_CASE("a trailing byte after any body is rejected") {
  for (const Body& b : ntm::test::sample_bodies()) {
    auto bytes = encode(b);
    bytes.push_back(0);
    Body out;
    CHECK(decode_body(type_of(b), bytes, out) == Error::trailing_bytes);
  }
}

TEST_CASE("capsulated packet has no control body") {
  Body out;
  CHECK(decode_body(MsgType::capsulated_packet, {}, out) == Error::bad_type);
  CHECK(decode_body(static_cast<MsgType>(4), {}, out) == Error::bad_type);
  CHECK(decode_body(static_cast<MsgType>(200), {}, out) == Error::bad_type);
}

TEST_CASE("unknown enumerated values are rejected") {
  // RegistrationRequest starts with kind, then reason.
  auto bytes = encode(ntm::test::sample_bodies()[0]);
  Body out;
  for (int bad : {0, 3, 255}) {
    auto b = bytes;
    b[0] = static_cast<std::uint8_t>(bad);
    CHECK(decode_body(MsgType::registration_request, b, out) == Error::bad_enum);
  }
  auto b = bytes;
  b[1] = 9;
  CHECK(decode_body(MsgType::registration_request, b, out) == Error::bad_enum);
  // A boolean is 0 or 1: DirectionRequest ends with "redirect".
  auto d = encode(DirectionRequest{ntm::test::path_id(1), Fqdn{"a.b"}, false});
  d.back() = 2;
  CHECK(decode_body(MsgType::direction_request, d, out) == Error::bad_enum);
}

TEST_CASE("FQDN length and label rules are enforced when decoding") {
  auto good = encode(DirectionRequest{ntm::test::path_id(1), Fqdn{"cn.ntm.example"}, false});
  const std::size_t len_at = 16;  // after the path ID
  Body out;
  auto with_name = [&](const std::string& name) {
    std::vector<std::uint8_t> b(good.begin(), good.begin() + len_at);
    b.push_back(static_cast<std::uint8_t>(name.size()));
    b.insert(b.end(), name.begin(), name.end());
    b.push_back(0);
    return decode_body(MsgType::direction_request, b, out);
  };
  CHECK(with_name("cn.ntm.example") == Error::ok);
  CHECK(with_name("") == Error::bad_fqdn);
  CHECK(with_name("CN.ntm.example") == Error::bad_fqdn);  // not canonical
  CHECK(with_name("cn.ntm.example.") == Error::bad_fqdn);
  CHECK(with_name("cn..example") == Error::bad_fqdn);
  CHECK(with_name("-cn.example") == Error::bad_fqdn);
  CHECK(with_name("cn-.example") == Error::bad_fqdn);
  CHECK(with_name("c_n.example") == Error::bad_fqdn);
  CHECK(with_name(std::string(64, 'a') + ".example") == Error::bad_fqdn);
  CHECK(with_name(std::string(63, 'a') + ".example") == Error::ok);
  std::string l63(63, 'a');
  CHECK(with_name(l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b')) == Error::ok);  // 253
  CHECK(with_name(l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b')) == Error::bad_length);
  CHECK(with_name(std::string("a\0b", 3)) == Error::bad_fqdn);
}

TEST_CASE("addresses: unknown family and empty entries in lists are rejected") {
  RegistrationRequest r{PartyKind::node, RegistrationReason::start, Fqdn{"a.example"},
                        {ntm::test::ep4(10, 0, 0, 1, 1)}};
  auto bytes = encode(r);
  // kind, reason, fqdn (1 + 9), count, family ...
  const std::size_t fam_at = 2 + 1 + 9 + 1;
  Body out;
  auto b = bytes;
  b[fam_at] = 5;
  CHECK(decode_body(MsgType::registration_request, b, out) == Error::bad_address);
  b[fam_at] = 0;  // "none" is not allowed inside a list
  b.resize(fam_at + 1);
  CHECK(decode_body(MsgType::registration_request, b, out) == Error::bad_address);
  b = bytes;
  b[fam_at - 1] = static_cast<std::uint8_t>(kMaxEndpoints + 1);
  CHECK(decode_body(MsgType::registration_request, b, out) == Error::bad_length);
}

TEST_CASE("error reply text must be printable and bounded") {
  Body out;
  auto enc = [&](std::string text) {
    std::vector<std::uint8_t> b{static_cast<std::uint8_t>(ErrorCode::internal),
                                static_cast<std::uint8_t>(MsgType::keepalive),
                                static_cast<std::uint8_t>(text.size())};
    b.insert(b.end(), text.begin(), text.end());
    return decode_body(MsgType::error, b, out);
  };
  CHECK(enc("all fine") == Error::ok);
  CHECK(enc("bell\a") == Error::bad_text);
  CHECK(enc(std::string(Text::kMaxLen + 1, 'x')) == Error::bad_length);
  std::vector<std::uint8_t> b{static_cast<std::uint8_t>(ErrorCode::internal), 4, 0};
  CHECK(decode_body(MsgType::error, b, out) == Error::bad_enum);  // ref_type 4 is unassigned
}

TEST_CASE("encoder refuses what the decoder would refuse") {
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf{};
  Error err = Error::ok;
  CHECK(encode_body(DirectionRequest{{}, Fqdn{"Bad.Example"}, false}, buf, err) == 0);
  CHECK(err == Error::bad_fqdn);
  RegistrationRequest many{PartyKind::node, RegistrationReason::start, Fqdn{"a.b"}, {}};
  many.local.assign(kMaxEndpoints + 1, ntm::test::ep4(1, 2, 3, 4, 5));
  CHECK(encode_body(many, buf, err) == 0);
  CHECK(err == Error::bad_length);
  CHECK(encode_body(ErrorReply{ErrorCode::internal, MsgType::error, Text{"\n"}}, buf, err) == 0);
  CHECK(err == Error::bad_text);
  std::array<std::uint8_t, 8> tiny{};
  CHECK(encode_body(ntm::test::sample_bodies()[0], tiny, err) == 0);
  CHECK(err == Error::too_large);
}

TEST_CASE("the largest Route Direction fits one control datagram") {
  std::array<std::uint8_t, 2048> buf{};
  Error err = Error::ok;
  const std::size_t n = encode_body(ntm::test::largest_route_direction(), buf, err);
  REQUIRE(err == Error::ok);
  CHECK(n + NTM_CTL_HDR_LEN + NTM_TAG_LEN <= NTM_MAX_CONTROL);
  // And the forwarded form, which wraps it with a node ID.
  RouteForward f{ntm::test::node_id(1), ntm::test::largest_route_direction()};
  const std::size_t m = encode_body(f, buf, err);
  REQUIRE(err == Error::ok);
  CHECK(m + NTM_CTL_HDR_LEN + NTM_TAG_LEN <= NTM_MAX_CONTROL);
}

TEST_CASE("type/domain/role table") {
  CHECK(allowed(MsgType::registration_request, KeyDomain::node_dc, Role::node));
  CHECK_FALSE(allowed(MsgType::registration_request, KeyDomain::node_dc, Role::dc));
  CHECK_FALSE(allowed(MsgType::registration_request, KeyDomain::path, Role::initiator));
  CHECK(allowed(MsgType::route_direction, KeyDomain::node_dc, Role::dc));
  CHECK(allowed(MsgType::capsulated_packet, KeyDomain::path, Role::responder));
  CHECK_FALSE(allowed(MsgType::capsulated_packet, KeyDomain::relay_path, Role::initiator));
  CHECK(allowed(MsgType::tunnel_request, KeyDomain::relay_path, Role::responder));
  CHECK_FALSE(allowed(MsgType::tunnel_request, KeyDomain::relay_path, Role::rs_to_initiator));
  CHECK(allowed(MsgType::tunnel_response, KeyDomain::relay_path, Role::rs_to_responder));
  CHECK(allowed(MsgType::node_info_request, KeyDomain::dc_peer, Role::peer_dc));
  CHECK_FALSE(allowed(MsgType::node_info_request, KeyDomain::node_dc, Role::node));
  CHECK(allowed(MsgType::error, KeyDomain::relay_path, Role::rs_to_initiator));
  CHECK_FALSE(allowed(MsgType::error, KeyDomain::dc_peer, static_cast<Role>(1)));
}

TEST_CASE("cross-field rules are enforced on both encode and decode") {
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf{};
  Error err = Error::ok;
  auto refused = [&](const Body& b, Error want) {
    CHECK(encode_body(b, buf, err) == 0);
    CHECK(err == want);
  };
  RegistrationResponse rr{};
  rr.vip_prefix_len = 33;
  refused(rr, Error::bad_length);
  refused(Keepalive{0, 1001}, Error::bad_length);
  refused(ErrorReply{ErrorCode::internal, MsgType::capsulated_packet, Text{}}, Error::bad_enum);
  const auto samples = ntm::test::sample_bodies();
  auto rd = std::get<RouteDirection>(samples[3]);  // a relayed route with both keys
  auto no_relay = rd;
  no_relay.relay = {};
  refused(no_relay, Error::bad_address);
  auto no_krp = rd;
  no_krp.relay_key.reset();
  refused(no_krp, Error::bad_enum);
  auto general_with_krp = rd;
  general_with_krp.route = RouteType::relay_general;
  refused(general_with_krp, Error::bad_enum);
  auto direct_key_no_relay = rd;
  direct_key_no_relay.route = RouteType::direct_private;
  direct_key_no_relay.relay = {};
  refused(direct_key_no_relay, Error::bad_address);
  // A direct route over private addresses may carry a fallback relay.
  auto fallback = rd;
  fallback.route = RouteType::direct_private;
  CHECK(encode_body(fallback, buf, err) > 0);

  // The decoder applies the same rules to bytes from the wire.
  Keepalive ka{0, 1000};
  const std::size_t n = encode_body(ka, buf, err);
  REQUIRE(n == 6);
  buf[4] = 0x03;
  buf[5] = 0xe9;  // 1001
  Body out;
  CHECK(decode_body(MsgType::keepalive, std::span(buf).first(n), out) == Error::bad_length);
}
