// SPDX-License-Identifier: MIT
#include "nat_rules.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace ntm::relay {

namespace {

std::string prefix(std::uint32_t net, std::uint8_t len) {
  return std::to_string(net >> 24) + "." + std::to_string((net >> 16) & 0xff) + "." +
         std::to_string((net >> 8) & 0xff) + "." + std::to_string(net & 0xff) + "/" +
         std::to_string(len);
}

}  // namespace

void write_sysctl(const std::string& path, const char* value) {
  std::ofstream f(path);
  f << value << "\n";
  f.flush();
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string nft_ruleset(const std::string& tun, std::uint32_t virtual_net,
                        std::uint8_t prefix_len) {
  const std::string range = prefix(virtual_net, prefix_len);
  // "table; delete table" first: the usual idiom that removes a stale
  // table, or nothing, inside the same atomic transaction.
  return std::string("table ip ") + kNftTable + "\n" +  //
         "delete table ip " + kNftTable + "\n" +        //
         "table ip " + kNftTable + " {\n" +             //
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ip saddr " + range + " oifname != \"" + tun + "\" masquerade\n"
         "  }\n"
         "  chain forward {\n"
         "    type filter hook forward priority filter; policy accept;\n"
         "    oifname \"" + tun + "\" ct state established,related accept\n"
         "    oifname \"" + tun + "\" drop\n"
         "  }\n"
         "}\n";
}

bool run_nft(const std::string& script, std::string* error) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) {
    if (error) *error = std::string("pipe: ") + std::strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
  std::vector<std::string> args{"nft", "-f", "-"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "nft", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in[0]);
  if (rc != 0) {
    ::close(in[1]);
    if (error) *error = std::string("cannot run nft: ") + std::strerror(rc);
    return false;
  }
  const char* p = script.data();
  std::size_t left = script.size();
  while (left) {
    const ssize_t n = ::write(in[1], p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  ::close(in[1]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  if (error) *error = "nft -f - failed (its message is above)";
  return false;
}

void install_nat(const std::string& tun, std::uint32_t virtual_net, std::uint8_t prefix_len) {
  std::string err;
  if (!run_nft(nft_ruleset(tun, virtual_net, prefix_len), &err))
    throw std::runtime_error("nftables table " + std::string(kNftTable) + ": " + err);
  write_sysctl("/proc/sys/net/ipv4/ip_forward", "1");
  write_sysctl("/proc/sys/net/ipv4/conf/" + tun + "/rp_filter", "0");
}

void remove_nat() noexcept {
  // The same idiom: succeeds whether or not the table exists.
  run_nft(std::string("table ip ") + kNftTable + "\ndelete table ip " + kNftTable + "\n", nullptr);
}

}  // namespace ntm::relay
