// SPDX-License-Identifier: MIT
#include "server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <spdlog/spdlog.h>
#include <system_error>
#include <vector>

#include "dc_link.hpp"
#include "forwarder.hpp"
#include "kernel_forward.hpp"
#include "nat_rules.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/common/service_notify.hpp"
#include "ntm/common/tun_device.hpp"
#include "ntm/common/udp_socket.hpp"
#include "status.hpp"

namespace ntm::relay {

namespace {

constexpr std::size_t kBatch = 32;
constexpr std::size_t kSlot = 2048;  // > NTM_CAPSULE_OVERHEAD + NTM_MAX_INNER: MSG_TRUNC is oversized
constexpr std::size_t kMaxOut = 64;

Now now() { return Now{common::mono_ms(), common::wall_ms()}; }

using common::from_sockaddr;
using common::to_sockaddr;

// Queues UDP sends for one sendmmsg; TUN packets are written at once.
class BatchSink final : public Sink {
 public:
  BatchSink(int udp_fd, int tun_fd, Drops& drops)
      : udp_(udp_fd), tun_(tun_fd), drops_(drops), scratch_(kMaxOut * kReplyBufferSize) {}

  std::span<std::uint8_t> buffer() override {
    if (used_ == kMaxOut) flush();
    return {scratch_.data() + (used_++) * kReplyBufferSize, kReplyBufferSize};
  }
  void send(std::span<const std::uint8_t> d, const wire::Endpoint& to) override {
    if (n_ == kMaxOut) flush();
    iov_[n_] = {const_cast<std::uint8_t*>(d.data()), d.size()};
    std::memset(&msgs_[n_], 0, sizeof msgs_[n_]);
    msgs_[n_].msg_hdr.msg_name = &addrs_[n_];
    msgs_[n_].msg_hdr.msg_namelen = to_sockaddr(to, addrs_[n_]);
    msgs_[n_].msg_hdr.msg_iov = &iov_[n_];
    msgs_[n_].msg_hdr.msg_iovlen = 1;
    ++n_;
  }
  void write_tun(std::span<const std::uint8_t> p) override {
    if (tun_ < 0 || ::write(tun_, p.data(), p.size()) != static_cast<ssize_t>(p.size()))
      ++drops_.send_failed;
  }
  void flush() {
    std::size_t done = 0;
    while (done < n_) {
      const int r = ::sendmmsg(udp_, &msgs_[done], static_cast<unsigned>(n_ - done), 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        ++drops_.send_failed;  // this one failed (unreachable, buffer full): skip it
        ++done;
        continue;
      }
      done += static_cast<std::size_t>(r);
    }
    n_ = 0;
    used_ = 0;
  }

 private:
  int udp_, tun_;
  Drops& drops_;
  std::vector<std::uint8_t> scratch_;
  std::size_t used_ = 0;
  std::size_t n_ = 0;
  std::array<mmsghdr, kMaxOut> msgs_{};
  std::array<iovec, kMaxOut> iov_{};
  std::array<sockaddr_storage, kMaxOut> addrs_{};
};

int signal_fd() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
    throw std::system_error(errno, std::generic_category(), "sigprocmask");
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "signalfd");
  return fd;
}

// Removes the nftables table however run_server leaves.
struct NatGuard {
  bool active = false;
  ~NatGuard() {
    if (active) remove_nat();
  }
};

// SIGHUP: the file again.  Only the relay key is taken while running
// (`ntm-dc relay rekey` wrote a new one); anything else needs a restart.
void reload(const std::filesystem::path& file, const Config& running, DcLink& dc, Now now) {
  if (file.empty()) return;
  Config fresh;
  try {
    fresh = load_config(file);
  } catch (const std::exception& e) {
    spdlog::error("SIGHUP: {}; the running configuration stays", e.what());
    return;
  }
  if (!(fresh.id == running.id) || fresh.name != running.name) {
    spdlog::error("SIGHUP: {} now names another relay; not taken (restart to change it)",
                  file.string());
    return;
  }
  if (!dc.reload_key(fresh.key, fresh.key_epoch, now))
    spdlog::info("SIGHUP: the relay key is unchanged");
}

}  // namespace

int run_server(const Config& cfg, const std::filesystem::path& config_file) {
  const int sig = signal_fd();
  common::UdpSocket sock(cfg.listen);
  // Bursts from many ends meet in this one socket: the default buffers
  // (~200 KB) overflow under one TCP flow, and each drop is a retransmission
  // inside a tunnel.  Root may exceed net.core.[rw]mem_max (FORCE).
  {
    const int bytes = 8 << 20;
    if (::setsockopt(sock.fd(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0)
      (void)::setsockopt(sock.fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    if (::setsockopt(sock.fd(), SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0)
      (void)::setsockopt(sock.fd(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
  NatGuard nat;
  std::optional<common::TunDevice> tun;
  if (cfg.translate) {
    tun.emplace(cfg.tun);
    tun->disable_ipv6();
    tun->set_mtu(NTM_MAX_INNER);
    tun->up();
    tun->add_route(cfg.virtual_net, cfg.virtual_prefix_len);
    tun->set_nonblocking(true);
    nat.active = true;
    install_nat(tun->name(), cfg.virtual_net, cfg.virtual_prefix_len);
    spdlog::info("translate: tun {} routes {}/{}, nftables table {} installed", tun->name(),
                 wire::IpAddr::v4(cfg.virtual_net).to_string(), cfg.virtual_prefix_len,
                 kNftTable);
  }
  StatusServer status(cfg.status_socket);

  PathTable paths(cfg.max_paths);
  Drops drops;
  DcLink dc(cfg, paths, drops);
  Forwarder fwd(cfg, paths, dc, drops);
  BatchSink sink(sock.fd(), tun ? tun->fd() : -1, drops);
  std::unique_ptr<KernelForward> kfwd = start_kernel_forward(cfg);

  // Receive batch: buffers allocated once; slot i's datagram stays valid
  // until the sink is flushed after the batch.
  std::vector<std::uint8_t> rx(kBatch * kSlot);
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_storage, kBatch> from{};
  std::vector<std::uint8_t> tunbuf(kBatch * kSlot);

  spdlog::info("ntm-rs: listening on {}, relay endpoint {}, DC {} ({} members)",
               sock.local().to_string(), cfg.advertise.to_string(), cfg.dc.to_string(),
               std::max<std::size_t>(1, cfg.dc_members.size()));
  std::uint64_t next_sweep = common::mono_ms() + 1000;
  for (;;) {
    Now t = now();
    dc.on_timer(sink, t);
    sink.flush();
    if (kfwd) kfwd->sync(paths);  // directions the DC link took
    if (dc.take_first_registration()) {
      spdlog::info("ntm-rs ready: relay endpoint {}", cfg.advertise.to_string());
      common::service_notify("READY=1");
    }
    if (t.mono_ms >= next_sweep) {
      // What the kernel carried keeps its paths alive: its counters are
      // read before a path it carries could expire.
      if (kfwd && kfwd->counters_due(paths, t.mono_ms, 2000)) kfwd->read_counters(paths, t.mono_ms);
      paths.expire(t.mono_ms, [](const RelayPath& p) {
        spdlog::info("relay: path {} expired (idle {} s)", p.id.to_hex(), p.idle_timeout_ms / 1000);
      });
      next_sweep = t.mono_ms + 1000;
      // A full pass: the previous epoch's keys also end by time
      // (kSwitchGraceMs), which no touch() reports.
      if (kfwd) kfwd->sync(paths, true);
    }
    const std::uint64_t due = std::min(dc.next_due_ms(), next_sweep);
    const int timeout = due > t.mono_ms ? static_cast<int>(std::min<std::uint64_t>(due - t.mono_ms, 1000)) : 0;

    pollfd pf[4] = {{sock.fd(), POLLIN, 0}, {sig, POLLIN, 0}, {status.fd(), POLLIN, 0},
                    {tun ? tun->fd() : -1, POLLIN, 0}};
    const int r = ::poll(pf, tun ? 4 : 3, timeout);
    if (r < 0 && errno != EINTR) throw std::system_error(errno, std::generic_category(), "poll");
    if (r <= 0) continue;
    if (pf[1].revents) {
      signalfd_siginfo si;
      if (::read(sig, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGHUP) {
          reload(config_file, cfg, dc, now());
        } else {
          spdlog::info("ntm-rs: signal {}, exiting", si.ssi_signo);
          break;
        }
      }
    }
    if (pf[0].revents & POLLIN) {
      for (std::size_t i = 0; i < kBatch; ++i) {
        iov[i] = {rx.data() + i * kSlot, kSlot};
        std::memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = ::recvmmsg(sock.fd(), msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      t = now();
      for (int i = 0; i < n; ++i) {
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
          ++drops.malformed;
          continue;
        }
        fwd.on_datagram({rx.data() + i * kSlot, msgs[i].msg_len}, from_sockaddr(from[i]), sink, t);
      }
      sink.flush();
      // After the answers left: an end just recorded or moved is carried by
      // the kernel before the next datagram is read.
      if (kfwd) kfwd->sync(paths);
    }
    if (tun && (pf[3].revents & POLLIN)) {
      t = now();
      for (std::size_t i = 0; i < kBatch; ++i) {
        std::uint8_t* frame = tunbuf.data() + i * kSlot;
        const ssize_t n = ::read(tun->fd(), frame + NTM_HDR_LEN, kSlot - NTM_CAPSULE_OVERHEAD);
        if (n <= 0) break;
        fwd.on_tun_packet({frame, kSlot}, static_cast<std::size_t>(n), sink, t);
      }
      sink.flush();
    }
    if (pf[2].revents & POLLIN) {
      if (kfwd) kfwd->read_counters(paths, now().mono_ms);
      status.serve_one([&](bool json) {
        return render_status(cfg, dc, paths, drops, json, kfwd && kfwd->active());
      });
    }
  }
  common::service_notify("STOPPING=1");
  spdlog::info(
      "ntm-rs: stopped; {} paths; drops malformed {} unknown_path {} foreign_source {} "
      "peer_unknown {} auth_failed {} bad_inner {} refused {} send_failed {} wrong_sender {} "
      "rate_limited {}",
      paths.size(), drops.malformed, drops.unknown_path, drops.foreign_source, drops.peer_unknown,
      drops.auth_failed, drops.bad_inner, drops.refused, drops.send_failed, drops.wrong_sender,
      drops.rate_limited);
  const Mobility& m = paths.mobility();
  spdlog::info(
      "ntm-rs: mobility: updates accepted {} repeated {} stale {} refused {} rate_limited {}, "
      "roams {}, redirections {}, old directions {}, redirected anew {}, held {} (released {})",
      m.accepted, m.repeated, m.stale, m.refused, m.rate_limited, m.roams, m.redirections,
      m.old_directions, m.redirected_anew, m.held, m.held_released);
  spdlog::info("ntm-rs: dc {} (failovers {})", dc.home().to_string(), dc.failovers());
  ::close(sig);
  return 0;
}

}  // namespace ntm::relay
