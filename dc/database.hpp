// SPDX-License-Identifier: MIT
// Which PostgreSQL the DC uses: the configured URL, or its own embedded
// cluster under the state directory (started with the DC, stopped with it).
// Commands run beside a serving DC (node add ...) reuse the cluster the DC
// already runs instead of starting a second server on the same directory,
// and so do commands run while another command's temporary cluster is up;
// whoever started the server stops it once nobody uses it (cluster_users.hpp).
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"

namespace ntm::dc {

namespace store {
class EmbeddedPostgres;
}
class ClusterUsers;

class Database {
 public:
  // Who asks: the serving DC owns the embedded cluster (it takes over one
  // left running by a crashed DC, and waits for a command's temporary one);
  // a command reuses the cluster of a running DC, or runs one briefly.
  enum class Role { daemon, command };
  // Resolves the URL; starts the embedded cluster when needed.
  Database(const config::Config& cfg, Role role);
  ~Database();
  const std::string& url() const noexcept { return url_; }
  bool embedded() const noexcept { return embedded_; }

 private:
  std::unique_ptr<ClusterUsers> users_;  // embedded only
  std::unique_ptr<store::EmbeddedPostgres> pg_;  // set when this process started the server
  std::string url_;
  bool embedded_ = false;
};

// Applies pending migrations (under the advisory lock); throws on a schema
// newer than this binary.  Returns a one-line summary.
std::string migrate_database(const std::string& url);

}  // namespace ntm::dc
