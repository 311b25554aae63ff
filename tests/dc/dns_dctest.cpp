// SPDX-License-Identifier: MIT
// ntm-dc's DNS endpoint as pdns sees it, spoken to directly over its unix
// socket: the A policy (global, NAT with and without a relay address,
// offline), the prompt a lookup sends to the node, the serial that is
// stored, and the bad clients the socket must survive while the UDP
// control port keeps answering.  (dns/dc_dns_test.sh covers the same
// daemon through a real pdns_server.)
#include <doctest/doctest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "dc_helpers.hpp"
#include "pg_test_db.hpp"

using namespace ntm;
using namespace ntm::test;
using nlohmann::json;

namespace {

// One connection to the DC's socket, as pdns's unix connector.
class DnsClient {
 public:
  explicit DnsClient(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    REQUIRE(path.string().size() < sizeof a.sun_path);
    std::strcpy(a.sun_path, path.c_str());
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~DnsClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  DnsClient(const DnsClient&) = delete;
  DnsClient& operator=(const DnsClient&) = delete;

  bool send_raw(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  // The next reply line; "" on close or timeout.
  std::string read_line(int timeout_ms = 3000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      if (auto nl = buf_.find('\n'); nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                            deadline - std::chrono::steady_clock::now())
                            .count();
      if (left <= 0) return {};
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) return {};
      char tmp[65536];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) {
        closed_ = true;
        return {};
      }
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  json call(const json& request) {
    if (!send_raw(request.dump() + "\n")) return nullptr;
    const std::string line = read_line();
    return line.empty() ? json(nullptr) : json::parse(line);
  }
  json lookup(const std::string& qname, const std::string& qtype = "ANY") {
    return call({{"method", "lookup"},
                 {"parameters",
                  {{"qname", qname}, {"qtype", qtype}, {"zone-id", -1},
                   {"remote", "192.0.2.1"}, {"local", "0.0.0.0"},
                   {"real-remote", "192.0.2.1/32"}}}});
  }
  // Waits for the server to close this connection.
  bool closed_by_peer(int timeout_ms = 3000) {
    while (!closed_ && !read_line(timeout_ms).empty()) {
    }
    return closed_;
  }

 private:
  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
};

// The content of the records of one type in a lookup reply.
std::vector<std::string> contents(const json& reply, const std::string& qtype) {
  std::vector<std::string> out;
  if (!reply.is_object() || !reply["result"].is_array()) return out;
  for (const auto& r : reply["result"])
    if (r["qtype"] == qtype) out.push_back(r["content"].get<std::string>());
  return out;
}

std::string dns_section(const std::filesystem::path& sock, const std::string& more = "") {
  return "[dns]\nsocket = " + sock.string() +
         "\nnameservers = ns1.test.example\nns_addresses = ns1.test.example=192.0.2.53\n" + more;
}

// A DC on the test database serving DNS on `sock`.
DcProcess::Options dns_options(const std::string& db_url, const std::filesystem::path& sock,
                               const std::string& more = "") {
  DcProcess::Options o(db_url);
  o.extra = dns_section(sock, more);
  return o;
}

std::filesystem::path socket_path(const char* tag) {
  return std::filesystem::temp_directory_path() /
         ("ntm-dns-" + std::string(tag) + "-" + std::to_string(::getpid()) + ".sock");
}

std::uint32_t soa_serial(DnsClient& c) {
  const auto soa = contents(c.lookup("test.example.", "SOA"), "SOA");
  REQUIRE(soa.size() == 1);
  std::istringstream in(soa[0]);
  std::string mname, rname;
  std::uint32_t serial = 0;
  in >> mname >> rname >> serial;
  return serial;
}

}  // namespace

TEST_CASE("dns: A policy follows registration, NAT, the relay address and going offline") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const auto sock = socket_path("policy");
  auto o = dns_options(db.url(), sock, "nat_address = 192.0.2.77\n");
  o.keepalive_s = 1;
  o.lifetime_s = 2;
  DcProcess dc(o);
  dc.start();
  const auto g = dc.enroll("global.test.example");
  const auto n = dc.enroll("natted.test.example");
  DnsClient c(sock);
  CHECK(c.call({{"method", "initialize"}, {"parameters", json::object()}})["result"] == true);

  // Enrolled, never registered: the marker, no address.
  auto r = c.lookup("global.test.example.");
  CHECK(contents(r, "A").empty());
  REQUIRE(contents(r, "TXT").size() == 1);
  CHECK(contents(r, "TXT")[0] == "\"v=ntm1 dc=" + dc.endpoint().to_string() + "\"");

  NodeClient gn(g, dc.endpoint());
  NodeClient nn(n, dc.endpoint());
  REQUIRE(gn.register_at());
  REQUIRE(nn.register_at({ep("10.0.0.2", 4512)}));
  CHECK(contents(c.lookup("global.test.example."), "A") == std::vector<std::string>{"127.0.0.1"});
  // Behind NAT with nat_address set: the relay's address.
  CHECK(contents(c.lookup("natted.test.example."), "A") == std::vector<std::string>{"192.0.2.77"});
  // Records carry TTL 0 and the scope mask that keeps them out of pdns's caches.
  const auto rec = c.lookup("global.test.example.", "A")["result"][0];
  CHECK(rec["ttl"] == 0);
  CHECK(rec["scopeMask"] == 32);
  CHECK(rec["domain_id"].is_number_integer());

  // Silent past the lifetime: offline, so no address any more; still a node.
  bool gone = false;
  for (int i = 0; i < 60 && !gone; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    gone = contents(c.lookup("global.test.example."), "A").empty();
  }
  CHECK(gone);
  CHECK(contents(c.lookup("global.test.example."), "TXT").size() == 1);
  // Registering again brings it back at once.
  REQUIRE(gn.register_at());
  CHECK(contents(c.lookup("global.test.example."), "A") == std::vector<std::string>{"127.0.0.1"});
}

TEST_CASE("dns: a lookup prompts a node gone quiet, once until it answers") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const auto sock = socket_path("prompt");
  // keepalive_s = 1: a node silent for 0.5 s counts as quiet.
  auto o = dns_options(db.url(), sock, "prompt_interval_ms = 1000\n");
  o.keepalive_s = 1;
  DcProcess dc(o);
  dc.start();
  NodeClient node(dc.enroll("phone.test.example"), dc.endpoint());
  REQUIRE(node.register_at({ep("10.0.0.9", 4512)}));
  DnsClient c(sock);
  auto lookup = [&](const char* name) {
    REQUIRE(contents(c.lookup(name), "TXT").size() == 1);
  };

  // Just registered: its binding is fresh, no prompt.
  lookup("phone.test.example.");
  CHECK_FALSE(node.wait_for<wire::Keepalive>(300));
  // Quiet now.  pdns looks a name up two or three times per query: one prompt.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  lookup("phone.test.example.");
  lookup("phone.test.example.");
  wire::ControlHeader h;
  auto ka = node.wait_for<wire::Keepalive>(2000, &h);
  REQUIRE(ka);  // authenticated with the node's key: it opened
  // Unanswered: no second prompt, even past the interval.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  lookup("phone.test.example.");
  CHECK_FALSE(node.wait_for<wire::Keepalive>(300));
  // The node answers with its own Keepalive; the DC acknowledges it.
  node.send(wire::Keepalive{});
  auto ack = node.wait_for<wire::KeepaliveAck>(2000);
  REQUIRE(ack);
  CHECK_FALSE(ack->reregister);
  // Fresh again right after; quiet again later: prompted again.
  lookup("PHONE.test.example.");
  CHECK_FALSE(node.wait_for<wire::Keepalive>(300));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  lookup("PHONE.test.example.");
  CHECK(node.wait_for<wire::Keepalive>(2000));
  // SOA lookups and the apex never prompt.
  node.send(wire::Keepalive{});
  REQUIRE(node.wait_for<wire::KeepaliveAck>(2000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  c.lookup("test.example.", "SOA");
  c.lookup("test.example.");
  CHECK_FALSE(node.wait_for<wire::Keepalive>(500));
}

TEST_CASE("dns: the serial advances with changes and is stored, so a restart never lowers it") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const auto sock = socket_path("serial");
  DcProcess dc(dns_options(db.url(), sock));
  dc.start();
  NodeClient node(dc.enroll("mover.test.example"), dc.endpoint());
  REQUIRE(node.register_at());
  std::uint32_t s0 = 0, s1 = 0;
  {
    DnsClient c(sock);
    s0 = soa_serial(c);
    // At least unix time: a restart whose stored serial lags still goes up.
    CHECK(s0 >= static_cast<std::uint32_t>(std::time(nullptr)) - 5);
    node.move();
    REQUIRE(node.register_at());
    for (int i = 0; i < 30 && s1 <= s0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      s1 = soa_serial(c);
    }
    CHECK(s1 > s0);
    // getAllDomains and getDomainInfo report the same serial.
    auto all = c.call({{"method", "getAllDomains"}, {"parameters", json::object()}});
    REQUIRE(all["result"].size() == 1);
    CHECK(all["result"][0]["serial"] == s1);
  }
  // Stored (the writer commits it with the next batch).
  bool stored = false;
  for (int i = 0; i < 50 && !stored; ++i) {
    stored = std::stoll(query1(db.url(), "SELECT serial FROM zones")) >= s1;
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(stored);
  REQUIRE(dc.stop() == 0);
  // Pretend the clock went back a day: the stored serial still wins.
  pqxx::connection conn(db.url());
  {
    pqxx::work tx(conn);
    tx.exec("UPDATE zones SET serial = serial + 86400");
    tx.commit();
  }
  dc.start();
  DnsClient c(sock);
  CHECK(soa_serial(c) >= s1 + 86400);
}

TEST_CASE("dns: bad clients on the socket cost their own connection only") {
  NTM_REQUIRE_PG_OR_SKIP();
  TestDatabase db;
  const auto sock = socket_path("bad");
  DcProcess dc(dns_options(db.url(), sock, "request_timeout_ms = 500\nmax_connections = 16\n"));
  dc.start();
  NodeClient node(dc.enroll("steady.test.example"), dc.endpoint());
  REQUIRE(node.register_at());
  DnsClient good(sock);
  auto healthy = [&] {
    return contents(good.lookup("steady.test.example."), "A") ==
           std::vector<std::string>{"127.0.0.1"};
  };
  REQUIRE(healthy());

  // Malformed JSON, not an object, unknown method, wrong parameter types:
  // each answered false on a connection that stays usable.
  DnsClient junk(sock);
  for (const char* line : {"{not json", "[1,2,3]", "42", "{\"method\":7}",
                           "{\"method\":\"launchMissiles\",\"parameters\":{}}",
                           "{\"method\":\"lookup\",\"parameters\":{\"qname\":5}}",
                           "{\"method\":\"lookup\",\"parameters\":\"x\"}",
                           "{\"method\":\"list\",\"parameters\":{\"zonename\":\"nope.\"}}"}) {
    REQUIRE(junk.send_raw(std::string(line) + "\n"));
    CHECK(junk.read_line() == "{\"result\":false}");
  }
  CHECK(contents(junk.lookup("steady.test.example."), "A").size() == 1);

  // A huge line: false, then closed.
  DnsClient huge(sock);
  huge.send_raw(std::string(200 * 1024, 'x'));
  CHECK(huge.read_line() == "{\"result\":false}");
  CHECK(huge.closed_by_peer());

  // A client that stalls mid-request is closed after request_timeout_ms.
  DnsClient stall(sock);
  REQUIRE(stall.send_raw("{\"method\":\"lookup\",\"para"));
  CHECK(healthy());  // meanwhile everyone else is served
  CHECK(stall.closed_by_peer(3000));

  // Clients that vanish mid-line, and a crowd of idle connections past the cap.
  for (int i = 0; i < 20; ++i) {
    DnsClient gone(sock);
    gone.send_raw("{\"method\":\"getAllDomains\"");
  }
  // Each newcomer past the cap evicts the connection idle the longest.
  std::vector<std::unique_ptr<DnsClient>> crowd;
  for (int i = 0; i < 24; ++i) {
    crowd.push_back(std::make_unique<DnsClient>(sock));
    CHECK(crowd.back()->call({{"method", "initialize"}, {"parameters", json::object()}})["result"] ==
          true);
  }

  // The DC is still answering DNS on a new connection and UDP control messages.
  DnsClient fresh(sock);
  CHECK(contents(fresh.lookup("steady.test.example."), "A") ==
        std::vector<std::string>{"127.0.0.1"});
  node.move();
  auto r = node.register_at();
  REQUIRE(r);
  CHECK(r->observed == node.local());
  auto stats = fresh.call({{"method", "directBackendCmd"}, {"parameters", {{"query", "stats"}}}});
  const std::string text = stats["result"].get<std::string>();
  CHECK(text.find("socket_line_too_long 1\n") != std::string::npos);
  CHECK(text.find("socket_request_timeouts 1\n") != std::string::npos);
  CHECK(text.find("\nmalformed_json 4\n") != std::string::npos);
  CHECK(text.find("socket_evicted 0\n") == std::string::npos);  // the crowd evicted idle ones
  CHECK(good.closed_by_peer(100));                                // good was idle the longest
  CHECK(dc.stop() == 0);
}
