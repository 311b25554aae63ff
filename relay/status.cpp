// SPDX-License-Identifier: MIT
#include "status.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

namespace ntm::relay {

namespace {

nlohmann::json endpoint_json(const std::optional<wire::Endpoint>& e) {
  return e ? nlohmann::json(e->to_string()) : nlohmann::json(nullptr);
}

sockaddr_un address_of(const std::filesystem::path& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string s = path.string();
  if (s.size() >= sizeof a.sun_path)
    throw std::system_error(ENAMETOOLONG, std::generic_category(), "status socket " + s);
  std::memcpy(a.sun_path, s.data(), s.size());
  return a;
}

}  // namespace

std::string render_status(const Config& cfg, const DcLink& dc, const PathTable& paths,
                          const Drops& drops, bool json, bool kernel_forward) {
  if (json) {
    nlohmann::json j;
    j["registered"] = dc.registered();
    j["relay_endpoint"] = cfg.advertise.to_string();
    j["dc"] = dc.home().to_string();
    j["dc_failovers"] = dc.failovers();
    j["translate"] = cfg.translate;
    j["kernel_forward"] = kernel_forward;
    j["max_paths"] = paths.max();
    auto& arr = j["paths"] = nlohmann::json::array();
    paths.for_each([&](const RelayPath& p) {
      arr.push_back({{"path_id", p.id.to_hex()},
                     {"key_epoch", p.key_epoch},
                     {"mode", p.mode == wire::RelayMode::forward ? "forward" : "translate"},
                     {"initiator", endpoint_json(p.endpoint[kInitiator])},
                     {"responder", endpoint_json(p.endpoint[kResponder])},
                     {"update_seq", {p.update_seq[kInitiator], p.update_seq[kResponder]}},
                     {"moves", p.moves},
                     {"redirections", p.redirections},
                     {"previous_epoch", p.previous ? nlohmann::json(p.previous->epoch)
                                                   : nlohmann::json(nullptr)},
                     {"forwarded", p.forwarded},
                     {"bytes", p.bytes},
                     {"in_kernel", p.in_kernel},
                     {"kernel_forwarded", p.kernel_forwarded},
                     {"drops", p.drops}});
    });
    j["drops"] = {{"malformed", drops.malformed},         {"unknown_path", drops.unknown_path},
                  {"foreign_source", drops.foreign_source}, {"peer_unknown", drops.peer_unknown},
                  {"auth_failed", drops.auth_failed},     {"bad_inner", drops.bad_inner},
                  {"refused", drops.refused},             {"send_failed", drops.send_failed},
                  {"wrong_sender", drops.wrong_sender},   {"rate_limited", drops.rate_limited}};
    const Mobility& m = paths.mobility();
    j["mobility"] = {{"updates_accepted", m.accepted},
                     {"updates_repeated", m.repeated},
                     {"updates_stale", m.stale},
                     {"updates_refused", m.refused},
                     {"updates_rate_limited", m.rate_limited},
                     {"roams", m.roams},
                     {"redirections", m.redirections},
                     {"old_directions", m.old_directions},
                     {"redirected_anew", m.redirected_anew},
                     {"held", m.held},
                     {"held_released", m.held_released}};
    return j.dump() + "\n";
  }
  std::ostringstream os;
  os << "registered:     " << (dc.registered() ? "yes" : "no") << "\n"
     << "relay endpoint: " << cfg.advertise.to_string() << "\n"
     << "dc:             " << dc.home().to_string()
     << (dc.failovers() ? " (" + std::to_string(dc.failovers()) + " failovers)" : std::string())
     << "\n"
     << "translate:      " << (cfg.translate ? "on" : "off") << "\n"
     << "kernel forward: " << (kernel_forward ? "on" : "off") << "\n"
     << "paths:          " << paths.size() << " of " << paths.max() << "\n";
  paths.for_each([&](const RelayPath& p) {
    auto ep = [](const std::optional<wire::Endpoint>& e) {
      return e ? e->to_string() : std::string("-");
    };
    os << "  " << p.id.to_hex() << " "
       << (p.mode == wire::RelayMode::forward ? "forward" : "translate") << " "
       << ep(p.endpoint[kInitiator]) << " <-> "
       << (p.mode == wire::RelayMode::forward ? ep(p.endpoint[kResponder])
                                               : p.responder.real.addr.to_string())
       << " epoch " << int(p.key_epoch);
    if (p.previous) os << " (switching from " << int(p.previous->epoch) << ")";
    os << " seq " << p.update_seq[kInitiator] << "/" << p.update_seq[kResponder] << " moves "
       << p.moves << " forwarded " << p.forwarded << " bytes " << p.bytes << " drops " << p.drops;
    if (p.in_kernel) os << " (kernel: " << p.kernel_forwarded << ")";
    os << "\n";
  });
  os << "drops: malformed " << drops.malformed << ", unknown_path " << drops.unknown_path
     << ", foreign_source " << drops.foreign_source << ", peer_unknown " << drops.peer_unknown
     << ", auth_failed " << drops.auth_failed << ", bad_inner " << drops.bad_inner
     << ", refused " << drops.refused << ", send_failed " << drops.send_failed
     << ", wrong_sender " << drops.wrong_sender << ", rate_limited " << drops.rate_limited << "\n";
  const Mobility& m = paths.mobility();
  os << "mobility: updates accepted " << m.accepted << ", repeated " << m.repeated << ", stale "
     << m.stale << ", refused " << m.refused << ", rate_limited " << m.rate_limited << ", roams "
     << m.roams << ", redirections " << m.redirections << ", old_directions " << m.old_directions
     << ", redirected_anew " << m.redirected_anew
     << ", held " << m.held << " (released " << m.held_released << ")\n";
  return os.str();
}

StatusServer::StatusServer(const std::filesystem::path& path) : path_(path) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  const sockaddr_un a = address_of(path);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "status socket");
  ::unlink(path.c_str());  // left behind by a run that did not exit cleanly
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 8) != 0) {
    const int err = errno;
    ::close(fd_);
    throw std::system_error(err, std::generic_category(), "status socket " + path.string());
  }
}

StatusServer::~StatusServer() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

int StatusServer::accept_request(bool& json) {
  const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return -1;
  // A short wait for the request line: a client that sends nothing gets
  // the text form, and never holds the loop for long.
  pollfd p{c, POLLIN, 0};
  char buf[16] = {};
  if (::poll(&p, 1, 100) > 0) {
    const ssize_t n = ::recv(c, buf, sizeof buf - 1, MSG_DONTWAIT);
    json = n >= 4 && std::strncmp(buf, "json", 4) == 0;
  }
  return c;
}

void StatusServer::answer(int c, const std::string& text) {
  const char* p = text.data();
  std::size_t left = text.size();
  while (left) {
    pollfd pf{c, POLLOUT, 0};
    if (::poll(&pf, 1, 200) <= 0) break;
    const ssize_t n = ::send(c, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(c);
}

int query_status(const std::filesystem::path& socket, bool json) {
  const sockaddr_un a = address_of(socket);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    std::fprintf(stderr, "ntm-rs: cannot reach the daemon at %s: %s\n", socket.c_str(),
                 std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return 1;
  }
  const char* req = json ? "json\n" : "text\n";
  (void)!::send(fd, req, std::strlen(req), MSG_NOSIGNAL);
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::fwrite(buf, 1, static_cast<std::size_t>(n), stdout);
  }
  ::close(fd);
  return 0;
}

}  // namespace ntm::relay
