// SPDX-License-Identifier: MIT
// SocketServer: acceptor, one Connection per pdns backend instance.  All
// handlers run on the io_context's thread; connections and the acceptor
// share `Shared` by shared_ptr so that handlers still queued after stop()
// (or after the SocketServer is gone) find live state.
#include "ntm/dns/socket_server.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <vector>
#include <cerrno>
#include <sstream>
#include <system_error>
#include <unordered_map>

namespace ntm::dns {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

constexpr std::string_view kFalseLine = "{\"result\":false}\n";
// Pause after a failed accept (EMFILE and the like) so a persistent error
// does not spin the I/O thread.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

// The embedded PostgreSQL and other children must not inherit our sockets.
void set_cloexec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

class Connection;

}  // namespace

struct SocketServer::Shared {
  Shared(asio::io_context& io_ctx, Backend& be, SocketServerOptions o)
      : io(io_ctx), backend(be), opts(std::move(o)), acceptor(io_ctx), retry(io_ctx),
        sweep(io_ctx) {}

  asio::io_context& io;
  Backend& backend;
  const SocketServerOptions opts;
  stream::acceptor acceptor;
  asio::steady_timer retry;
  // One timer for every connection's deadline: re-arming a timer per
  // request costs system calls (timerfd) on the hot path; a deadline is a
  // clock read.  Deadlines are therefore kept to within one sweep period.
  asio::steady_timer sweep;
  bool running = false;
  bool bound = false;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> conns;  // I/O thread only

  std::atomic<std::uint64_t> accepted{0}, evicted{0}, refused{0}, active{0}, requests{0},
      line_too_long{0}, request_timeouts{0}, idle_timeouts{0}, partial_eof{0}, io_errors{0},
      accept_errors{0};
};

namespace {

// One client.  Reads in chunks and answers one line at a time: the next
// line is looked at only once the reply to the previous one is written.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Clock = asio::steady_timer::clock_type;

  Connection(std::shared_ptr<SocketServer::Shared> s, stream::socket sock, std::uint64_t id)
      : s_(std::move(s)), sock_(std::move(sock)), id_(id) {}

  void start() { next(true); }

  void close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    sock_.close(ignored);
    s_->conns.erase(id_);
    s_->active.fetch_sub(1, std::memory_order_relaxed);
  }

  // Waiting for a new request with nothing owed either way.
  bool idle() const { return !closed_ && wait_ == Wait::idle; }
  Clock::time_point idle_since() const { return idle_since_; }

  // Called by the sweep: closes the connection if its deadline passed.
  void check_deadline(Clock::time_point now) {
    if (closed_ || now < deadline_) return;
    if (wait_ == Wait::request) {
      bump(s_->request_timeouts);
      spdlog::debug("dns-backend: connection {} stalled mid-request, closed", id_);
    } else if (wait_ == Wait::idle) {
      bump(s_->idle_timeouts);
      spdlog::debug("dns-backend: connection {} idle, closed", id_);
    } else {
      return;
    }
    close();
  }

 private:
  enum class Wait { none, idle, request };

  // What the deadline covers: `request` while the client owes us the rest
  // of a line or has our reply to take (request_timeout from the start of
  // that wait, so trickling bytes does not extend it); `idle` between
  // requests (idle_timeout, 0 = none).  Sets it from now.
  void arm(Wait w) {
    wait_ = w;
    const auto now = Clock::now();
    if (w == Wait::idle) idle_since_ = now;
    const auto d = w == Wait::idle ? s_->opts.idle_timeout : s_->opts.request_timeout;
    deadline_ = d.count() > 0 ? now + d : Clock::time_point::max();
  }

  // Answers the first buffered line, or reads more.  `fresh`: a new wait
  // starts here (connection start, reply written); otherwise more bytes of
  // a line already waited for arrived and its deadline stands.
  void next(bool fresh) {
    if (closed_) return;
    for (;;) {
      const auto nl = buf_.find('\n', scanned_);
      const std::size_t max = s_->opts.max_line_bytes;
      if (nl == std::string::npos ? buf_.size() > max : nl > max) {
        bump(s_->line_too_long);
        spdlog::debug("dns-backend: connection {} sent a line over {} bytes, closed", id_, max);
        reply_and_close();
        return;
      }
      if (nl == std::string::npos) {
        scanned_ = buf_.size();
        const Wait w = buf_.empty() ? Wait::idle : Wait::request;
        if (fresh || w != wait_) arm(w);
        read();
        return;
      }
      std::string_view line(buf_.data(), nl);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.find_first_not_of(" \t") != std::string_view::npos) {
        bump(s_->requests);
        out_ = s_->backend.handle_line(line);
        out_.push_back('\n');
        buf_.erase(0, nl + 1);
        scanned_ = 0;
        arm(Wait::request);
        write();
        return;
      }
      buf_.erase(0, nl + 1);  // a blank line is not a request
      scanned_ = 0;
    }
  }

  void read() {
    sock_.async_read_some(
        asio::buffer(chunk_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
          if (self->closed_) return;
          if (ec) {
            if (ec == asio::error::eof) {
              if (!self->buf_.empty()) bump(self->s_->partial_eof);
            } else if (ec != asio::error::operation_aborted) {
              bump(self->s_->io_errors);
              spdlog::debug("dns-backend: connection {} read: {}", self->id_, ec.message());
            }
            self->close();
            return;
          }
          self->buf_.append(self->chunk_.data(), n);
          self->next(false);
        });
  }

  void write() {
    asio::async_write(sock_, asio::buffer(out_),
                      [self = shared_from_this()](const error_code& ec, std::size_t) {
                        if (self->closed_) return;
                        if (ec) {
                          if (ec != asio::error::operation_aborted) bump(self->s_->io_errors);
                          self->close();
                          return;
                        }
                        self->next(true);
                      });
  }

  void reply_and_close() {
    out_.assign(kFalseLine);
    arm(Wait::request);
    asio::async_write(
        sock_, asio::buffer(out_),
        [self = shared_from_this()](const error_code&, std::size_t) { self->close(); });
  }

  std::shared_ptr<SocketServer::Shared> s_;
  stream::socket sock_;
  const std::uint64_t id_;
  Clock::time_point deadline_ = Clock::time_point::max();
  std::array<char, 4096> chunk_{};
  std::string buf_;
  std::size_t scanned_ = 0;  // buf_[0, scanned_) holds no newline
  std::string out_;
  Wait wait_ = Wait::none;
  Clock::time_point idle_since_{};
  bool closed_ = false;
};

// At the cap: close the connection idle the longest.  False if none is.
bool evict_one(SocketServer::Shared& s) {
  std::shared_ptr<Connection> oldest;
  for (auto& [id, w] : s.conns) {
    auto c = w.lock();
    if (c && c->idle() && (!oldest || c->idle_since() < oldest->idle_since()))
      oldest = std::move(c);
  }
  if (!oldest) return false;
  bump(s.evicted);
  oldest->close();
  return true;
}

void accept_next(const std::shared_ptr<SocketServer::Shared>& s);

// A quarter of the shortest timeout, between 10 ms and 1 s.
std::chrono::milliseconds sweep_period(const SocketServerOptions& o) {
  auto t = o.request_timeout;
  if (o.idle_timeout.count() > 0) t = std::min(t, o.idle_timeout);
  return std::clamp(t / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
}

void sweep_next(const std::shared_ptr<SocketServer::Shared>& s) {
  if (!s->running) return;
  s->sweep.expires_after(sweep_period(s->opts));
  s->sweep.async_wait([s](const error_code& ec) {
    if (ec || !s->running) return;
    // check_deadline() may close, and close() erases from the map.
    std::vector<std::shared_ptr<Connection>> open;
    open.reserve(s->conns.size());
    for (auto& [id, w] : s->conns)
      if (auto c = w.lock()) open.push_back(std::move(c));
    const auto now = Connection::Clock::now();
    for (auto& c : open) c->check_deadline(now);
    sweep_next(s);
  });
}

void on_accept(const std::shared_ptr<SocketServer::Shared>& s, const error_code& ec,
               stream::socket sock) {
  if (!s->running) return;
  if (ec) {
    if (ec == asio::error::operation_aborted) return;
    bump(s->accept_errors);
    spdlog::warn("dns-backend: accept: {}", ec.message());
    s->retry.expires_after(kAcceptRetry);
    s->retry.async_wait([s](const error_code& wec) {
      if (!wec) accept_next(s);
    });
    return;
  }
  set_cloexec(sock.native_handle());
  if (s->conns.size() >= s->opts.max_connections && !evict_one(*s)) {
    bump(s->refused);
    spdlog::warn("dns-backend: {} connections open, none idle, refusing one more", s->conns.size());
    error_code ignored;
    sock.close(ignored);
  } else {
    bump(s->accepted);
    s->active.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t id = s->next_id++;
    auto c = std::make_shared<Connection>(s, std::move(sock), id);
    s->conns.emplace(id, c);
    c->start();
  }
  accept_next(s);
}

void accept_next(const std::shared_ptr<SocketServer::Shared>& s) {
  if (!s->running) return;
  s->acceptor.async_accept(
      [s](const error_code& ec, stream::socket sock) { on_accept(s, ec, std::move(sock)); });
}

[[noreturn]] void fail(int err, const std::string& what) {
  throw std::system_error(err, std::generic_category(), what);
}

// A socket file nobody accepts on is left over from a previous run.
void remove_stale(asio::io_context& io, const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    fail(errno, "dns-backend: " + path);
  }
  if (!S_ISSOCK(st.st_mode)) fail(EEXIST, "dns-backend: " + path + " exists and is not a socket");
  stream::socket probe(io);
  error_code ec;
  probe.connect(stream::endpoint(path), ec);
  if (!ec) fail(EADDRINUSE, "dns-backend: " + path + " is served by another process");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail(errno, "dns-backend: unlink " + path);
}

}  // namespace

SocketServer::SocketServer(asio::io_context& io, Backend& backend, SocketServerOptions opts)
    : shared_(std::make_shared<Shared>(io, backend, std::move(opts))) {}

SocketServer::~SocketServer() {
  stop();
}

void SocketServer::start() {
  Shared& s = *shared_;
  if (s.running) return;
  const std::string& path = s.opts.path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path))
    fail(ENAMETOOLONG, "dns-backend: socket path empty or too long: " + path);
  remove_stale(s.io, path);
  error_code ec;
  s.acceptor.open(stream(), ec);
  if (!ec) set_cloexec(s.acceptor.native_handle());
  if (!ec) s.acceptor.bind(stream::endpoint(path), ec);
  if (ec) {
    error_code ignored;
    s.acceptor.close(ignored);
    throw std::system_error(ec, "dns-backend: bind " + path);
  }
  s.bound = true;
  if (::chmod(path.c_str(), static_cast<mode_t>(s.opts.mode)) != 0) {
    const int err = errno;
    stop();
    fail(err, "dns-backend: chmod " + path);
  }
  s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    stop();
    throw std::system_error(ec, "dns-backend: listen " + path);
  }
  s.running = true;
  spdlog::info("dns-backend: listening on {}", path);
  accept_next(shared_);
  sweep_next(shared_);
}

void SocketServer::stop() {
  Shared& s = *shared_;
  s.running = false;
  error_code ignored;
  s.acceptor.close(ignored);
  s.retry.cancel();
  s.sweep.cancel();
  // close() erases from the map: collect first.
  std::vector<std::shared_ptr<Connection>> open;
  for (auto& [id, w] : s.conns)
    if (auto c = w.lock()) open.push_back(std::move(c));
  for (auto& c : open) c->close();
  s.conns.clear();
  if (s.bound) {
    ::unlink(s.opts.path.c_str());
    s.bound = false;
  }
}

SocketServerStats SocketServer::stats() const {
  const Shared& s = *shared_;
  auto r = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  SocketServerStats o;
  o.accepted = r(s.accepted);
  o.evicted = r(s.evicted);
  o.refused = r(s.refused);
  o.active = r(s.active);
  o.requests = r(s.requests);
  o.line_too_long = r(s.line_too_long);
  o.request_timeouts = r(s.request_timeouts);
  o.idle_timeouts = r(s.idle_timeouts);
  o.partial_eof = r(s.partial_eof);
  o.io_errors = r(s.io_errors);
  o.accept_errors = r(s.accept_errors);
  return o;
}

std::string SocketServer::stats_text() const {
  const SocketServerStats s = stats();
  std::ostringstream o;
  o << "socket_accepted " << s.accepted << "\nsocket_evicted " << s.evicted << "\nsocket_refused "
    << s.refused << "\nsocket_active " << s.active << "\nsocket_requests " << s.requests
    << "\nsocket_line_too_long " << s.line_too_long << "\nsocket_request_timeouts "
    << s.request_timeouts << "\nsocket_idle_timeouts " << s.idle_timeouts << "\nsocket_partial_eof "
    << s.partial_eof << "\nsocket_io_errors " << s.io_errors << "\nsocket_accept_errors "
    << s.accept_errors << '\n';
  return o.str();
}

}  // namespace ntm::dns
