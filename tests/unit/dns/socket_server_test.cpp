// SPDX-License-Identifier: MIT
// SocketServer over a real unix socket in a temp dir.  The server runs on
// an io_context in a thread; each test drives it with small blocking
// clients that give up after a few seconds instead of hanging the suite.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "dns/sample_zone.hpp"
#include "ntm/dns/socket_server.hpp"

using namespace ntm::dns;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/ntm-dns-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A blocking client with a receive timeout.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { close(); }
  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // One reply line without its newline; "<eof>" when the server closed,
  // "<error>" on a reset, "<timeout>" when nothing came.
  std::string line() {
    for (;;) {
      const auto nl = in_.find('\n');
      if (nl != std::string::npos) {
        std::string l = in_.substr(0, nl);
        in_.erase(0, nl + 1);
        return l;
      }
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return "<eof>";
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? "<timeout>" : "<error>";
      in_.append(buf, static_cast<std::size_t>(n));
    }
  }
  std::string request(std::string_view json_line) {
    if (!send(std::string(json_line) + "\n")) return "<send failed>";
    return line();
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string in_;
};

constexpr std::string_view kInit = R"({"method":"initialize","parameters":{"path":"x"}})";
constexpr std::string_view kLookup =
    R"({"method":"lookup","parameters":{"qtype":"A","qname":"node1.ntm.example.","zone-id":1}})";
constexpr std::string_view kFalse = R"({"result":false})";

// The server on its own I/O thread, as in the DC.
struct Harness {
  explicit Harness(SocketServerOptions opts) : server(io, backend, std::move(opts)) {
    server.start();
    thread = std::thread([this] { io.run(); });
  }
  ~Harness() {
    asio::post(io, [this] { server.stop(); });
    work.reset();
    thread.join();
  }
  // Waits until `pred(stats)` holds, or 5 s.
  template <class Pred>
  bool wait_for(Pred pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred(server.stats())) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::shared_ptr<const Snapshot> snap = ntm::test::sample_snapshot();
  Backend backend{[this] { return snap; }};
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
      asio::make_work_guard(io)};
  SocketServer server;
  std::thread thread;
};

SocketServerOptions options(const TempDir& d) {
  SocketServerOptions o;
  o.path = d.file("rb.sock");
  o.mode = 0600;
  return o;
}

}  // namespace

TEST_CASE("dns socket server: request and reply over a unix socket") {
  TempDir d;
  Harness h(options(d));
  struct stat st {};
  REQUIRE(::stat(d.file("rb.sock").c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);

  Client c(d.file("rb.sock"));
  REQUIRE(c.connected());
  CHECK(c.request(kInit) == R"({"result":true})");
  const std::string r = c.request(kLookup);
  CHECK(r.find(R"("content":"10.0.0.1")") != std::string::npos);
  CHECK(c.request(R"({"method":"getAllDomains","parameters":{"include_disabled":true}})")
            .find("ntm.example.") != std::string::npos);
  // Two requests in one write are answered in order, one after the other.
  CHECK(c.send(std::string(kInit) + "\n" + std::string(kLookup) + "\r\n"));
  CHECK(c.line() == R"({"result":true})");
  CHECK(c.line().find("10.0.0.1") != std::string::npos);
  CHECK(h.server.stats().requests == 5);
  CHECK(h.server.stats().accepted == 1);
}

TEST_CASE("dns socket server: two concurrent connections") {
  TempDir d;
  Harness h(options(d));
  Client a(d.file("rb.sock"));
  Client b(d.file("rb.sock"));
  REQUIRE(a.connected());
  REQUIRE(b.connected());
  // a leaves half a request pending; b is served meanwhile.
  CHECK(a.send(R"({"method":"initial)"));
  CHECK(b.request(kInit) == R"({"result":true})");
  CHECK(b.request(kLookup).find("10.0.0.1") != std::string::npos);
  CHECK(a.send(R"(ize","parameters":{}})"
               "\n"));
  CHECK(a.line() == R"({"result":true})");
  CHECK(h.wait_for([](const SocketServerStats& s) { return s.active == 2; }));
}

TEST_CASE("dns socket server: malformed JSON is answered false and the connection stays") {
  TempDir d;
  Harness h(options(d));
  Client c(d.file("rb.sock"));
  REQUIRE(c.connected());
  CHECK(c.request("this is not json") == kFalse);
  CHECK(c.request(R"({"method":"nosuchmethod","parameters":{}})") == kFalse);
  CHECK(c.request(R"({"method":"lookup","parameters":[]})") == kFalse);
  CHECK(c.request(kInit) == R"({"result":true})");
  CHECK(h.backend.stats().malformed_json == 1);
  CHECK(h.backend.stats().unknown_method == 1);
}

TEST_CASE("dns socket server: an over-long line closes that connection only") {
  TempDir d;
  SocketServerOptions o = options(d);
  o.max_line_bytes = 1024;
  Harness h(o);
  Client good(d.file("rb.sock"));
  Client bad(d.file("rb.sock"));
  REQUIRE(good.connected());
  REQUIRE(bad.connected());
  CHECK(good.request(kInit) == R"({"result":true})");
  // Exactly the limit is fine.
  const std::string fits =
      R"({"method":"initialize","parameters":{"pad":")" + std::string(1024 - 47, 'p') + R"("}})";
  REQUIRE(fits.size() == 1024);
  CHECK(good.request(fits) == R"({"result":true})");
  bad.send(std::string(4096, 'x'));
  const std::string first = bad.line();
  // The false reply, unless the kernel reported the reset first.
  CHECK((first == kFalse || first == "<error>"));
  if (first == kFalse) {
    const std::string after = bad.line();
    CHECK((after == "<eof>" || after == "<error>"));
  }
  CHECK(h.wait_for([](const SocketServerStats& s) { return s.line_too_long == 1; }));
  CHECK(good.request(kLookup).find("10.0.0.1") != std::string::npos);
  Client again(d.file("rb.sock"));
  CHECK(again.request(kInit) == R"({"result":true})");
}

TEST_CASE("dns socket server: a client that vanishes mid-line is dropped quietly") {
  TempDir d;
  Harness h(options(d));
  {
    Client gone(d.file("rb.sock"));
    REQUIRE(gone.connected());
    CHECK(gone.send(R"({"method":"look)"));
  }
  CHECK(h.wait_for([](const SocketServerStats& s) { return s.partial_eof == 1 && s.active == 0; }));
  {
    Client quits(d.file("rb.sock"));  // clean close between requests: no error
    CHECK(quits.request(kInit) == R"({"result":true})");
  }
  CHECK(h.wait_for([](const SocketServerStats& s) { return s.active == 0; }));
  CHECK(h.server.stats().partial_eof == 1);
  Client c(d.file("rb.sock"));
  CHECK(c.request(kInit) == R"({"result":true})");
}

TEST_CASE("dns socket server: idle connections stay open by default") {
  // pdns keeps its connections idle between queries; closing one costs a
  // SERVFAIL, so without an idle timeout only a stalled request is cut.
  TempDir d;
  SocketServerOptions o = options(d);
  o.request_timeout = 200ms;
  Harness h(o);
  Client quiet(d.file("rb.sock"));
  CHECK(quiet.request(kInit) == R"({"result":true})");
  std::this_thread::sleep_for(500ms);
  CHECK(quiet.request(kLookup).find("10.0.0.1") != std::string::npos);
  CHECK(h.server.stats().idle_timeouts == 0);
  CHECK(h.server.stats().request_timeouts == 0);
}

TEST_CASE("dns socket server: a client stalled mid-request is closed") {
  TempDir d;
  SocketServerOptions o = options(d);
  o.request_timeout = 300ms;
  Harness h(o);
  Client stalled(d.file("rb.sock"));
  Client trickle(d.file("rb.sock"));
  Client busy(d.file("rb.sock"));
  CHECK(stalled.send("{\"method\":"));
  // Trickling bytes does not extend the deadline of the line.
  for (int i = 0; i < 8; ++i) {
    trickle.send(" ");
    CHECK(busy.request(kInit) == R"({"result":true})");
    std::this_thread::sleep_for(60ms);
  }
  CHECK(stalled.line() == "<eof>");
  CHECK(trickle.line() == "<eof>");
  CHECK(busy.request(kInit) == R"({"result":true})");
  CHECK(h.server.stats().request_timeouts == 2);
}

TEST_CASE("dns socket server: idle timeout with a short configured value") {
  TempDir d;
  SocketServerOptions o = options(d);
  o.idle_timeout = 200ms;
  Harness h(o);
  Client silent(d.file("rb.sock"));
  Client after_one(d.file("rb.sock"));
  Client busy(d.file("rb.sock"));
  REQUIRE(silent.connected());
  CHECK(after_one.request(kInit) == R"({"result":true})");
  // busy keeps asking: every request restarts its clock.
  for (int i = 0; i < 6; ++i) {
    CHECK(busy.request(kInit) == R"({"result":true})");
    std::this_thread::sleep_for(60ms);
  }
  CHECK(silent.line() == "<eof>");
  CHECK(after_one.line() == "<eof>");
  CHECK(busy.request(kInit) == R"({"result":true})");
  CHECK(h.server.stats().idle_timeouts == 2);
}

TEST_CASE("dns socket server: at the cap the longest-idle connection makes room") {
  TempDir d;
  SocketServerOptions o = options(d);
  o.max_connections = 2;
  Harness h(o);
  Client a(d.file("rb.sock"));
  CHECK(a.request(kInit) == R"({"result":true})");
  std::this_thread::sleep_for(20ms);
  Client b(d.file("rb.sock"));
  CHECK(b.request(kInit) == R"({"result":true})");
  Client c(d.file("rb.sock"));  // evicts a, idle the longest
  CHECK(c.request(kInit) == R"({"result":true})");
  CHECK(a.line() == "<eof>");
  CHECK(b.request(kInit) == R"({"result":true})");
  CHECK(h.server.stats().evicted == 1);
  // Nobody idle (both owe the rest of a line): the newcomer is refused.
  // The reply proves the server has read the "{" sent with the request.
  CHECK(b.send(std::string(kInit) + "\n{"));
  CHECK(b.line() == R"({"result":true})");
  CHECK(c.send(std::string(kInit) + "\n{"));
  CHECK(c.line() == R"({"result":true})");
  Client e(d.file("rb.sock"));
  CHECK(e.line() == "<eof>");
  CHECK(h.server.stats().refused == 1);
  CHECK(h.server.stats().active == 2);
}

TEST_CASE("dns socket server: stale socket file is replaced and a live one is not") {
  TempDir d;
  const std::string path = d.file("rb.sock");
  {
    // A socket file left behind by a dead process.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    ::close(fd);
  }
  Harness h(options(d));
  Client c(path);
  CHECK(c.request(kInit) == R"({"result":true})");

  // A second server on the same path while the first one serves.
  asio::io_context io2;
  Backend be2([] { return ntm::test::sample_snapshot(); });
  SocketServer second(io2, be2, options(d));
  CHECK_THROWS_AS(second.start(), std::system_error);
  CHECK(c.request(kInit) == R"({"result":true})");

  // A regular file is never deleted.
  const std::string other = d.file("not-a-socket");
  std::ofstream(other) << "keep";
  SocketServerOptions o = options(d);
  o.path = other;
  SocketServer third(io2, be2, o);
  CHECK_THROWS_AS(third.start(), std::system_error);
  CHECK(std::filesystem::exists(other));
}

TEST_CASE("dns socket server: stop closes everything and removes the socket file") {
  TempDir d;
  asio::io_context io;
  Backend be([] { return ntm::test::sample_snapshot(); });
  SocketServer server(io, be, options(d));
  server.start();
  auto serve = std::async(std::launch::async, [&] { io.run_for(3s); });
  Client c(d.file("rb.sock"));
  CHECK(c.request(kInit) == R"({"result":true})");
  asio::post(io, [&] { server.stop(); });
  CHECK(c.line() == "<eof>");
  serve.wait();
  CHECK_FALSE(std::filesystem::exists(d.file("rb.sock")));
  Client late(d.file("rb.sock"));
  CHECK_FALSE(late.connected());
}
