// SPDX-License-Identifier: MIT
#include "database.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <thread>

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
  if (role == Role::command) {
    if (const unsigned port = running_port(dir)) {
      // A serving ntm-dc runs this cluster: use it, leave it running.
      store::EmbeddedPostgres probe(dir, port);
      if (store::can_connect(probe.url())) {
        url_ = probe.url();
        return;
      }
      // a stale pid file: start a cluster of our own below
    }
  }
  pg_ = std::make_unique<store::EmbeddedPostgres>(dir, cfg.embedded_port);
  // A command's temporary cluster holds the directory for a moment: wait
  // for it rather than fail the DC's start.
  for (int attempt = 0;; ++attempt) {
    try {
      pg_->start();
      break;
    } catch (const store::DirectoryInUse&) {
      if (attempt >= 60) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  url_ = pg_->url();
  spdlog::info("database: embedded PostgreSQL in {}", dir.string());
}

Database::~Database() {
  if (pg_) {
    try {
      pg_->stop();
    } catch (const std::exception& e) {
      spdlog::warn("database: stopping the embedded cluster: {}", e.what());
    }
  }
}

std::string migrate_database(const std::string& url) { return store::migrate_url(url); }

}  // namespace ntm::dc
