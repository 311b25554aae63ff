// SPDX-License-Identifier: MIT
#include "dc_process.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <stdexcept>
#include <system_error>
#include <fcntl.h>

#include "ntm/common/udp_socket.hpp"
#include "pg_test_db.hpp"

extern char** environ;

namespace ntm::test {

// A port for a process the test starts later, seconds later at times (the
// CLI may start an embedded cluster first).  The kernel's own pick (port 0)
// came from the ephemeral range, which every socket another test binds to
// port 0 meanwhile draws from too: in CI one took the DC's listen port
// before the DC started.  So a random port below that range (32768-60999 by
// default), checked free now.  Two tests running at once (ctest -j) could
// still draw the same port before either process bound it (seen in CI: the
// second DC's "bind: Address already in use"), so each drawn port is also
// claimed with an flock on a file named after it, held until this test
// process exits (the kernel drops it then, also after a crash): another
// test's draw skips a claimed port.  Only a test that names ports itself
// could still take it.
unsigned free_udp_port() {
  static constexpr const char* kClaims = "/tmp/ntm-test-udp-ports";
  static std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<unsigned> pick(20000, 32000);
  for (int i = 0; i < 200; ++i) {
    wire::Endpoint e;
    e.addr = wire::IpAddr::v4(0x7f000001);
    e.port = static_cast<std::uint16_t>(pick(rng));
    // One directory of empty files, reused by every run (not removed: a
    // file unlinked while another process locks it would split the claim).
    if (::mkdir(kClaims, 01777) == 0) ::chmod(kClaims, 01777);  // past the umask: any user
    const std::string claim = std::string(kClaims) + "/" + std::to_string(e.port);
    // No claim where the directory is not ours to write (another user's
    // run made it): the port is then only checked free, as before.
    const int fd = ::open(claim.c_str(), O_CREAT | O_RDONLY | O_CLOEXEC, 0644);
    if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);  // another test process holds it: draw again
      continue;
    }
    try {
      common::UdpSocket s(e);
      return e.port;  // fd stays open: the claim lasts as long as this process
    } catch (const std::system_error&) {
      if (fd >= 0) ::close(fd);  // taken: draw again
    }
  }
  throw std::runtime_error("no free UDP port in 20000-32000 on 127.0.0.1");
}

DcProcess::DcProcess(Options o) : opt_(std::move(o)) {
  char tmpl[] = "/tmp/ntm-dc-test.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  state_ = tmpl;
  // The embedded cluster runs as the postgres user and must reach its
  // directory below this one.
  std::filesystem::permissions(state_, std::filesystem::perms::owner_all |
                                           std::filesystem::perms::group_exec |
                                           std::filesystem::perms::others_exec);
  config_ = state_ / "ntm-dc.conf";
  endpoint_.addr = wire::IpAddr::v4(0x7f000001);
  endpoint_.port = static_cast<std::uint16_t>(free_udp_port());
  write_config();
}

DcProcess::~DcProcess() {
  if (pid_ > 0) kill9();
  std::error_code ec;
  // The embedded cluster (if any) was stopped by the DC; remove its files.
  std::filesystem::remove_all(state_, ec);
}

void DcProcess::set_cluster(const std::vector<wire::Endpoint>& members) {
  cluster_.clear();
  for (const auto& m : members) cluster_ += (cluster_.empty() ? "" : ", ") + m.to_string();
  write_config();
}

void DcProcess::write_config() {
  if (opt_.dc_id.empty()) {
    wire::DcId id;
    wire::random_bytes(id.bytes);
    opt_.dc_id = id.to_hex();
  }
  std::ofstream f(config_);
  f << "[dc]\n"
    << "id = " << opt_.dc_id << "\n"
    << "zones = " << opt_.zones << "\n"
    << "listen = " << endpoint_.to_string() << "\n"
    << (cluster_.empty() ? "" : "cluster = " + cluster_ + "\n")
    << "state_dir = " << state_.string() << "\n"
    << "[database]\n"
    << "url = " << opt_.database_url << "\n"
    << "[timers]\n"
    << "keepalive_s = " << opt_.keepalive_s << "\n"
    << "lifetime_s = " << opt_.lifetime_s << "\n"
    << "direction_timeout_ms = " << opt_.direction_timeout_ms << "\n"
    << "retransmit_initial_ms = 100\n"
    << opt_.timers_extra
    << "[log]\n"
    << "level = debug\n"
    << opt_.extra;
}

void DcProcess::start() {
  if (pid_ > 0) throw std::runtime_error("already running");
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
  std::vector<std::string> args{NTM_DC_BINARY, "-c", config_.string(), "serve"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    pid_ = -1;
    throw std::runtime_error("cannot start ntm-dc");
  }
  err_fd_ = pipefd[0];
  std::size_t from;
  {
    std::lock_guard lock(mu_);
    from = log_.size();
  }
  reader_ = std::thread([this] {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n <= 0) break;
      {
        std::lock_guard lock(mu_);
        log_.append(buf, static_cast<std::size_t>(n));
      }
      cv_.notify_all();
    }
  });
  if (!wait_log("ntm-dc ready", 30000, from)) {
    kill9();
    throw std::runtime_error("ntm-dc did not become ready:\n" + log());
  }
}

int DcProcess::stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  ::close(err_fd_);
  err_fd_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void DcProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  ::close(err_fd_);
  err_fd_ = -1;
}

std::string DcProcess::cli(const std::vector<std::string>& args, int* status) {
  std::vector<std::string> argv{NTM_DC_BINARY, "-c", config_.string(), "--log-level", "warn"};
  argv.insert(argv.end(), args.begin(), args.end());
  int st = 0;
  std::string out = run_capture(argv, &st);
  if (status) *status = st;
  return out;
}

Credentials DcProcess::enroll(const std::string& name, bool relay) {
  int st = 0;
  const std::string out = cli({relay ? "relay" : "node", "add", name, "-o", "-"}, &st);
  if (st != 0) throw std::runtime_error("enrollment of " + name + " failed");
  return parse_credentials(out);
}

std::string DcProcess::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

bool DcProcess::wait_log(const std::string& text, int timeout_ms, std::size_t from) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return log_.size() > from && log_.find(text, from) != std::string::npos;
  });
}

}  // namespace ntm::test
