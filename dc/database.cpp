// SPDX-License-Identifier: MIT
#include "database.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "cluster_users.hpp"
#include "store/embedded_postgres.hpp"
#include "store/migrate.hpp"

namespace ntm::dc {

namespace {

// The port of a postmaster already serving dir (4th line of postmaster.pid),
// or 0.  Used to find the cluster of a DC that is running now.
unsigned running_port(const std::filesystem::path& dir) {
  std::ifstream f(dir / "data" / "postmaster.pid");
  std::string line;
  for (int i = 0; i < 4 && std::getline(f, line); ++i) {
  }
  if (!f) return 0;
  try {
    const unsigned port = static_cast<unsigned>(std::stoul(line));
    return std::filesystem::exists(dir / (".s.PGSQL." + std::to_string(port))) ? port : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

Database::Database(const config::Config& cfg, Role role) {
  if (!cfg.database_url.empty()) {
    url_ = cfg.database_url;
    return;
  }
  embedded_ = true;
  const auto dir = cfg.state_dir / "postgres";
  users_ = std::make_unique<ClusterUsers>(cfg.state_dir);
  // A command's temporary cluster holds the directory for a moment: wait
  // for it (or, as a command, join it) rather than fail.
  for (int attempt = 0;; ++attempt) {
    if (role == Role::command) {
      if (const unsigned port = running_port(dir)) {
        // A serving ntm-dc or another command runs this cluster: use it,
        // leave it running.  Joined first, then checked again: its owner
        // may have been stopping it.
        store::EmbeddedPostgres probe(dir, port);
        users_->join();
        if (running_port(dir) == port && store::can_connect(probe.url())) {
          url_ = probe.url();
          return;
        }
        users_->leave();
        // stopped meanwhile, or a stale pid file: start a cluster of our own
      }
    }
    // pg_ only once started: the destructor stops what pg_ names, and a
    // command that joins after a refused start must not stop its host's.
    auto pg = std::make_unique<store::EmbeddedPostgres>(dir, cfg.embedded_port);
    try {
      pg->start();
      pg_ = std::move(pg);
      break;
    } catch (const store::DirectoryInUse&) {
      if (attempt >= 60) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  // Counted in only now: a DC waiting for a command's cluster to go must
  // not keep that command from stopping it.
  users_->join();
  url_ = pg_->url();
  spdlog::info("database: embedded PostgreSQL in {}", dir.string());
}

Database::~Database() {
  if (pg_) {
    // Commands that joined this cluster finish first (they are short; a
    // DC told to stop waits for them a bounded time).
    if (!users_->wait_alone(std::chrono::seconds(30)))
      spdlog::warn("database: stopping the embedded cluster while another command still uses it");
    try {
      pg_->stop();
    } catch (const std::exception& e) {
      spdlog::warn("database: stopping the embedded cluster: {}", e.what());
    }
  }
  // users_ closes its file after the stop: a command waiting to join sees
  // the server gone and starts its own.
}

std::string migrate_database(const std::string& url) { return store::migrate_url(url); }

}  // namespace ntm::dc
