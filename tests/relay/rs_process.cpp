// SPDX-License-Identifier: MIT
#include "rs_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "ntm/common/clock.hpp"

#include "pg_test_db.hpp"

extern char** environ;

namespace ntm::test {

RsProcess::RsProcess(const std::string& relay_conf, const std::string& rs_section) {
  char tmpl[] = "/tmp/ntm-rs-test.XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  config_ = dir_ / "relay.conf";
  std::ofstream f(config_);
  f << relay_conf << "\n[rs]\nstatus_socket = " << (dir_ / "rs.sock").string() << "\n"
    << "log_level = debug\n"
    << rs_section;
}

RsProcess::~RsProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();
  if (err_fd_ >= 0) ::close(err_fd_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void RsProcess::start(int ready_timeout_ms) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
  std::vector<std::string> args{NTM_RS_BINARY, "-c", config_.string(), "run"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int rc = ::posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    pid_ = -1;
    throw std::runtime_error("cannot start ntm-rs");
  }
  err_fd_ = pipefd[0];
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
  if (ready_timeout_ms > 0 && !wait_log("ntm-rs ready: relay endpoint", ready_timeout_ms))
    throw std::runtime_error("ntm-rs did not become ready:\n" + log());
}

int RsProcess::stop() {
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

std::string RsProcess::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

bool RsProcess::wait_log(const std::string& text, int timeout_ms, std::size_t from) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return log_.size() > from && log_.find(text, from) != std::string::npos;
  });
}

std::string RsProcess::status(bool json, int* exit_status) {
  std::vector<std::string> argv{NTM_RS_BINARY, "-c", config_.string(), "status"};
  if (json) argv.push_back("--json");
  int st = 0;
  std::string out = run_capture(argv, &st);
  if (exit_status) *exit_status = st;
  return out;
}

std::optional<std::vector<std::uint8_t>> receive_within(common::UdpSocket& s, int timeout_ms) {
  std::vector<std::uint8_t> buf(4096);
  const auto deadline = common::mono_ms() + static_cast<std::uint64_t>(timeout_ms);
  for (;;) {
    wire::Endpoint from;
    const long n = s.receive(buf, from);
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    const auto now = common::mono_ms();
    if (now >= deadline) return std::nullopt;
    pollfd p{s.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(deadline - now));
  }
}

}  // namespace ntm::test
