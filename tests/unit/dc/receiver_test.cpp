// SPDX-License-Identifier: MIT
#include "control/receiver.hpp"

#include <doctest/doctest.h>

#include <vector>

#include "ntm/wire/control_channel.hpp"
#include "wire/sample_messages.hpp"

using namespace ntm::wire;
using ntm::dc::control::Receiver;

namespace {

class OneNode final : public ntm::dc::control::KeyDirectory {
 public:
  explicit OneNode(NodeId id) : id_(id) {}
  bool has_key(const Header& h) const override { return h.id == id_.bytes; }

 private:
  NodeId id_;
};

}  // namespace

TEST_CASE("the DC receiver drops and counts what it cannot take") {
  const NodeId known = ntm::test::node_id(1);
  OneNode keys(known);
  Receiver rx(keys);
  const SecretKey k = SecretKey::random();
  auto sealed_by = [&](const NodeId& id, Role role, const Body& b) {
    ChannelConfig c;
    c.tx_role = role;
    c.rx_role = role == Role::node ? Role::dc : Role::node;
    c.tx_id = c.rx_id = id.bytes;
    ControlChannel ch(k, c);
    std::vector<std::uint8_t> out(NTM_MAX_CONTROL);
    Error err = Error::ok;
    out.resize(ch.seal(b, 1, 1, out, err));
    REQUIRE(err == Error::ok);
    return out;
  };
  const auto good = sealed_by(known, Role::node, Keepalive{});
  CHECK(rx.classify(good, good.size()) == Error::ok);
  const auto stranger = sealed_by(ntm::test::node_id(9), Role::node, Keepalive{});
  CHECK(rx.classify(stranger, stranger.size()) == Error::unknown_key);
  const auto from_dc = sealed_by(known, Role::dc, KeepaliveAck{});
  CHECK(rx.classify(from_dc, from_dc.size()) == Error::bad_domain);
  std::vector<std::uint8_t> junk(10, 0xff);
  CHECK(rx.classify(junk, junk.size()) == Error::truncated);
  CHECK(rx.classify(good, NTM_MAX_CONTROL + 100) == Error::too_large);
  const auto& s = rx.stats();
  CHECK(s.received == 5);
  CHECK(s.total_dropped() == 4);
  CHECK(s.oversized == 1);
  CHECK(s.dropped[static_cast<std::size_t>(Error::unknown_key)] == 1);
}
