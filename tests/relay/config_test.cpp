// SPDX-License-Identifier: MIT
// ntm-rs's config: what `ntm-dc relay add` writes, the [rs] section, and
// errors that name the section and key.
#include <doctest/doctest.h>

#include <string>

#include "config.hpp"

using namespace ntm::relay;

namespace {

const std::string kKey(64, 'a');
const std::string kBase =
    "; NTMobile relay credentials, written by ntm-dc. Keep secret (mode 0600).\n"
    "[relay]\n"
    "id = 00112233445566778899aabbccddeeff\n"
    "name = relay1.test.example\n"
    "key = " + kKey + "\n"
    "key_epoch = 0\n\n"
    "[dc]\n"
    "id = ffeeddccbbaa99887766554433221100\n"
    "endpoint = 127.0.0.1:4510\n";

std::string error_of(const std::string& text) {
  try {
    parse_config(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config: the relay add file with an [rs] section") {
  const Config c = parse_config(kBase +
                                "probe = 127.0.0.1:4511\n"
                                "[rs]\n"
                                "listen = 127.0.0.1:4999\n"
                                "tun = rs7\n"
                                "virtual_range = 100.96.0.0/12\n"
                                "max_paths = 5\n"
                                "translate = off\n"
                                "kernel_forward = off\n"
                                "status_socket = /tmp/x.sock\n");
  CHECK(c.name == "relay1.test.example");
  CHECK(c.id.to_hex() == "00112233445566778899aabbccddeeff");
  CHECK(c.key_epoch == 0);
  CHECK(c.dc.to_string() == "127.0.0.1:4510");
  CHECK(c.dc_probe.to_string() == "127.0.0.1:4511");
  CHECK(c.listen.to_string() == "127.0.0.1:4999");
  CHECK(c.advertise == c.listen);  // not a wildcard: advertised as is
  CHECK(c.tun == "rs7");
  CHECK(c.virtual_net == 0x64600000);
  CHECK(c.virtual_prefix_len == 12);
  CHECK(c.max_paths == 5);
  CHECK_FALSE(c.translate);
  CHECK_FALSE(c.kernel_forward);
  CHECK(c.status_socket == "/tmp/x.sock");
}

TEST_CASE("config: defaults, and advertise required for a wildcard listen") {
  CHECK(error_of(kBase) == "[rs] advertise: missing: required when [rs] listen is a wildcard "
                           "address or port 0");
  const Config c = parse_config(kBase + "[rs]\nadvertise = 198.51.100.1:4530\n");
  CHECK(c.listen.to_string() == "0.0.0.0:4530");
  CHECK(c.advertise.to_string() == "198.51.100.1:4530");
  CHECK(c.tun == "ntmrs0");
  CHECK(c.virtual_net == 0x64400000);
  CHECK(c.virtual_prefix_len == 10);
  CHECK(c.max_paths == 10000);
  CHECK(c.translate);
  CHECK(c.kernel_forward);
  CHECK(c.status_socket == "/run/ntm-rs/ntm-rs.sock");
}

TEST_CASE("config: bad input names the section and key") {
  const std::string rs = kBase + "[rs]\nadvertise = 198.51.100.1:4530\n";
  CHECK(error_of(rs + "colour = blue\n") == "[rs] colour: unknown key");
  CHECK(error_of(kBase + "[rs]\nadvertise = 1.2.3.4:5\n[extra]\n") == "[extra]: unknown section");
  CHECK(error_of(rs + "max_paths = 0\n") == "[rs] max_paths: must be between 1 and 1000000");
  CHECK(error_of(rs + "max_paths = lots\n") ==
        "[rs] max_paths: must be a decimal number, got 'lots'");
  CHECK(error_of(rs + "translate = maybe\n") == "[rs] translate: must be on or off, got 'maybe'");
  CHECK(error_of(rs + "kernel_forward = 2\n") ==
        "[rs] kernel_forward: must be on or off, got '2'");
  CHECK(error_of(rs + "virtual_range = 100.64.0.1/10\n") ==
        "[rs] virtual_range: host bits set in '100.64.0.1/10'");
  CHECK(error_of(rs + "virtual_range = nope\n").starts_with("[rs] virtual_range: "));
  CHECK(error_of(rs + "listen = nowhere\n").starts_with("[rs] listen: "));
  CHECK(error_of(rs + "status_socket = relative.sock\n") ==
        "[rs] status_socket: must be an absolute path");
  CHECK(error_of(rs + "tun = much-too-long-name\n") == "[rs] tun: must have 1-15 characters");
  CHECK(error_of(rs + "tun = a\ntun = b\n") == "[rs] tun: given twice");
  CHECK(error_of("x = 1\n" + rs) == "key 'x' is outside any [section]");
  CHECK(error_of(rs + "garbage line\n").find("expected key = value") != std::string::npos);
  // A bad key is reported without its value: keys are never echoed.
  std::string bad = kBase;
  bad.replace(bad.find(kKey), kKey.size(), "secretsecret");
  const std::string e = error_of(bad + "[rs]\nadvertise = 1.2.3.4:5\n");
  CHECK(e == "[relay] key: must be 64 hex digits");
  CHECK(e.find("secretsecret") == std::string::npos);
  CHECK(error_of("[relay]\nname = r.test.example\n") == "[relay] id: missing");
  CHECK(error_of(rs + "[relay]\nkey_epoch = 300\n").find("[relay] key_epoch: given twice") == 0);
  auto no_dc = rs;
  no_dc.replace(no_dc.find("endpoint = "), 10, "probe    =");
  CHECK(error_of(no_dc) == "[dc] endpoint: missing");
}

TEST_CASE("config: [dc] endpoints lists the cluster's members, the home first") {
  const std::string rs = "[rs]\nadvertise = 198.51.100.1:4530\n";
  // Absent: the home alone.
  CHECK(parse_config(kBase + rs).dc_members.size() == 1);
  const Config c =
      parse_config(kBase + "endpoints = 127.0.0.9:4510, 127.0.0.1:4510 ,127.0.0.5:4510\n" + rs);
  REQUIRE(c.dc_members.size() == 3);
  // Rotated to start at [dc] endpoint; the order after it is kept.
  CHECK(c.dc_members[0].to_string() == "127.0.0.1:4510");
  CHECK(c.dc_members[1].to_string() == "127.0.0.5:4510");
  CHECK(c.dc_members[2].to_string() == "127.0.0.9:4510");
  CHECK(error_of(kBase + "endpoints = 127.0.0.9:4510\n" + rs) ==
        "[dc] endpoints: must include [dc] endpoint (127.0.0.1:4510)");
  CHECK(error_of(kBase + "endpoints = 127.0.0.1:4510, 127.0.0.1:4510\n" + rs) ==
        "[dc] endpoints: '127.0.0.1:4510' listed twice");
  CHECK(error_of(kBase + "endpoints = 127.0.0.1:4510, here\n" + rs) ==
        "[dc] endpoints: not ADDRESS:PORT: 'here'");
  CHECK(error_of(kBase + "endpoints = 127.0.0.1:4510, 127.0.0.2:0\n" + rs) ==
        "[dc] endpoints: not ADDRESS:PORT: '127.0.0.2:0'");
  std::string nine = "127.0.0.1:4510";
  for (int i = 2; i <= 9; ++i) nine += ", 127.0.0." + std::to_string(i) + ":4510";
  CHECK(error_of(kBase + "endpoints = " + nine + "\n" + rs) ==
        "[dc] endpoints: at most 8 members");
}
