// SPDX-License-Identifier: MIT
// A private PostgreSQL cluster inside ntm-dc's state directory, used when no
// database is configured.  It runs the system's PostgreSQL server (the newest
// /usr/lib/postgresql/*/bin), listens only on a unix socket in `dir` (no TCP
// port is exposed) and trusts local connections, which the directory's 0700
// mode restricts to its owner and root.
//
// Layout of `dir` (owned by the postgres user when ntm-dc runs as root, since
// initdb and the server refuse to run as root):
//   data/               the cluster (PGDATA); created once by initdb
//   data/ntm-embedded.conf  socket, port and extra settings, rewritten at start
//   postgres.log(.1)    server log of this run (and of the previous one)
//   .s.PGSQL.<port>     the socket
//   ntm-embedded.lock   flock held while this object runs the server
//
// The cluster holds real data, so it keeps PostgreSQL's durable defaults
// (fsync on); only tests relax them through Options::settings.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ntm::dc::store {

// Another process (a serving ntm-dc, or a command's temporary cluster)
// runs the cluster in this directory now.
class DirectoryInUse : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class EmbeddedPostgres {
 public:
  struct Options {
    // Extra postgresql.conf settings (name, value), e.g. {"fsync", "off"} in
    // tests.  Names are [a-z0-9_.]; values are quoted when written.
    std::vector<std::pair<std::string, std::string>> settings;
    // initdb flushes the new cluster to disk before returning; tests may skip that.
    bool sync_initdb = true;
    // Bound for pg_ctl start/stop to wait (pg_ctl -t).
    std::chrono::seconds timeout{60};
    // Directory with initdb/pg_ctl/postgres; empty = newest /usr/lib/postgresql/*/bin.
    std::filesystem::path bin_dir;
  };

  // Name of the database created on first start; url() points at it.
  static constexpr const char* kDatabase = "ntm";
  // Database superuser created by initdb.
  static constexpr const char* kSuperuser = "postgres";

  // `dir` must be absolute or is made so.  port 0 picks a free loopback port
  // at construction: the server opens no TCP socket, but the number names the
  // unix socket and stays clear of anything already on loopback should a
  // developer enable TCP through Options::settings.
  EmbeddedPostgres(std::filesystem::path dir, unsigned port);
  EmbeddedPostgres(std::filesystem::path dir, unsigned port, Options options);
  // Stops the server if this object started it (errors are logged, not thrown).
  ~EmbeddedPostgres();

  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // Initialises the cluster if needed, starts the server, waits until it
  // accepts connections and creates database `ntm` if absent.  A server left
  // running by a crashed ntm-dc is stopped and restarted with this object's
  // settings; a stale postmaster.pid is cleared.  Throws std::runtime_error
  // with the tool's output and the log tail on failure, and when another
  // EmbeddedPostgres (another process) holds the directory.
  void start();

  // pg_ctl stop -m fast: disconnects clients, checkpoints, shuts down.
  // No-op when no server runs.  Throws std::runtime_error if it will not stop.
  void stop();

  // True when a live postmaster serves this directory's cluster.
  bool running() const;

  // libpq URL of database `ntm` over the unix socket.
  std::string url() const { return url_for(kDatabase); }
  std::string url_for(const std::string& database) const;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  std::filesystem::path data_dir() const { return dir_ / "data"; }
  unsigned port() const noexcept { return port_; }
  // PID recorded in data/postmaster.pid, if any (it may be stale).
  std::optional<pid_t> postmaster_pid() const;

 private:
  void prepare_dir();
  void init_cluster();
  void write_settings();
  void clear_leftover_server();
  void start_server();
  void pg_ctl_stop();
  void ensure_database();
  void lock_dir();
  void unlock_dir() noexcept;

  std::filesystem::path dir_;
  unsigned port_;
  Options options_;
  std::filesystem::path bin_dir_;
  int lock_fd_ = -1;
  bool started_ = false;
};

}  // namespace ntm::dc::store
