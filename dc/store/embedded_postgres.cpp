// SPDX-License-Identifier: MIT
// Runs a private PostgreSQL cluster with the system's initdb and pg_ctl; see
// embedded_postgres.hpp.  Tools are started with posix_spawn and argv arrays;
// nothing here builds a shell command line.
#include "store/embedded_postgres.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

namespace ntm::dc::store {

namespace fs = std::filesystem;

namespace {

struct NamedSql {
  const char* name;
  const char* sql;
};

constexpr NamedSql kDatabaseExists{"ntm_embedded_database_exists",
                                   "SELECT count(*) FROM pg_database WHERE datname = $1"};
// CREATE DATABASE takes no parameters; the name is the fixed kDatabase.
constexpr const char* kCreateDatabase = "CREATE DATABASE ntm";
static_assert(std::string_view(EmbeddedPostgres::kDatabase) == "ntm");

constexpr const char* kSettingsFile = "ntm-embedded.conf";
constexpr const char* kLockFile = "ntm-embedded.lock";
constexpr const char* kLogFile = "postgres.log";
constexpr const char* kInitdbDir = "data.initdb";
// Appended once to the postgresql.conf that initdb writes, so that the
// settings file we rewrite at every start wins over initdb's defaults.
constexpr const char* kIncludeLine =
    "\n# ntm-dc: socket, port and extra settings, rewritten at every start\n"
    "include_if_exists = 'ntm-embedded.conf'\n";
// Spawned tools get a fixed environment: no PGDATA/PGPORT/PGHOST from ours
// can redirect them, and messages are predictable.
constexpr const char* kToolEnv[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"};
// The socket is <dir>/.s.PGSQL.<port>; it must fit in sun_path with its NUL.
constexpr std::size_t kMaxDirLength = sizeof(sockaddr_un::sun_path) - 1 - sizeof("/.s.PGSQL.65535");
// Tool output and log tails quoted in exceptions.
constexpr std::size_t kTailBytes = 4000;
// After a postmaster crash its children exit once they notice; allow them this long.
constexpr auto kOrphanWait = std::chrono::seconds(10);

std::string tail(const std::string& s, std::size_t n = kTailBytes) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool running_as_root() {
  return geteuid() == 0;
}

struct SystemUser {
  uid_t uid;
  gid_t gid;
};

SystemUser postgres_user() {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwnam_r("postgres", &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    throw std::runtime_error(
        "embedded PostgreSQL: ntm-dc runs as root, so the server must run as the 'postgres' "
        "system user, which does not exist (install the postgresql package)");
  }
  return {pw.pw_uid, pw.pw_gid};
}

fs::path find_runuser() {
  for (const char* p : {"/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"}) {
    if (access(p, X_OK) == 0) return p;
  }
  throw std::runtime_error("embedded PostgreSQL: runuser (util-linux) not found");
}

// "9.6" < "15" < "16": compare dotted numbers, not strings.
std::vector<int> version_key(const std::string& name) {
  std::vector<int> key;
  std::istringstream in(name);
  std::string part;
  while (std::getline(in, part, '.')) {
    try {
      key.push_back(std::stoi(part));
    } catch (const std::exception&) {
      key.push_back(-1);
    }
  }
  return key;
}

fs::path find_bin_dir() {
  const fs::path root = "/usr/lib/postgresql";
  fs::path best;
  std::vector<int> best_key;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const fs::path bin = entry.path() / "bin";
    if (access((bin / "initdb").c_str(), X_OK) != 0 ||
        access((bin / "pg_ctl").c_str(), X_OK) != 0) {
      continue;
    }
    const auto key = version_key(entry.path().filename().string());
    if (best.empty() || key > best_key) {
      best = bin;
      best_key = key;
    }
  }
  if (best.empty()) {
    throw std::runtime_error(
        "embedded PostgreSQL: no server found under /usr/lib/postgresql/*/bin "
        "(install postgresql-15, or configure an external database)");
  }
  return best;
}

// Binding port 0 on loopback asks the kernel for a free port; nothing is sent.
unsigned pick_free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int e = errno;
    close(fd);
    throw std::system_error(e, std::generic_category(), "embedded PostgreSQL: picking a port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// pg_ctl hands -D and -l to /bin/sh inside double quotes, and the socket
// directory goes into postgresql.conf: refuse characters that would need
// quoting there rather than trying to quote them.
void check_dir_path(const fs::path& dir) {
  const std::string s = dir.string();
  for (const char c : s) {
    if (c == '"' || c == '\'' || c == '$' || c == '`' || c == '\\' || c == ',' ||
        static_cast<unsigned char>(c) < 0x20) {
      throw std::invalid_argument("embedded PostgreSQL: directory '" + s +
                                  "' contains a quote, '$', '`', '\\', ',' or a control "
                                  "character; choose a plainer path");
    }
  }
  if (s.size() > kMaxDirLength) {
    throw std::invalid_argument("embedded PostgreSQL: directory '" + s + "' is longer than " +
                                std::to_string(kMaxDirLength) +
                                " bytes; its unix socket path would not fit in sun_path");
  }
}

std::string percent_encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' ||
        u == '.' || u == '_' || u == '~' || u == '/') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0x0f];
    }
  }
  return out;
}

// A postgresql.conf string literal: single quotes doubled, backslashes escaped.
std::string conf_quote(const std::string& v) {
  std::string out = "'";
  for (const char c : v) {
    if (c == '\'') {
      out += "''";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n' || c == '\r') {
      throw std::invalid_argument("embedded PostgreSQL: setting value contains a newline");
    } else {
      out += c;
    }
  }
  return out + "'";
}

void check_setting_name(const std::string& name) {
  const bool ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
  });
  if (!ok) throw std::invalid_argument("embedded PostgreSQL: bad setting name '" + name + "'");
}

struct ToolResult {
  int status = -1;  // exit code, or 128 + signal
  std::string output;
};

// Runs argv[0] (an absolute path) with stdin from /dev/null and stdout and
// stderr captured, in `cwd`, as the postgres user when `as_postgres`.
// posix_spawn resets the signal mask and the dispositions the daemon may have
// changed (a blocked SIGTERM would otherwise reach the postmaster), and puts
// the tool in its own process group so a terminal's ^C goes to ntm-dc alone.
ToolResult run_tool(std::vector<std::string> args, const fs::path& cwd, bool as_postgres) {
  if (as_postgres) {
    args.insert(args.begin(), {find_runuser().string(), "-u", "postgres", "--"});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env(std::begin(kToolEnv), std::end(kToolEnv));
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  // A memfd rather than a pipe: no reader thread, no deadlock on large output.
  const int out = memfd_create("ntm-embedded-pg", MFD_CLOEXEC);
  if (out < 0) throw std::system_error(errno, std::generic_category(), "memfd_create");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out, STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (const int sig :
       {SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(
      &attr,
      static_cast<short>(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP));
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    close(out);
    throw std::system_error(rc, std::generic_category(), "embedded PostgreSQL: running " + args[0]);
  }

  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      const int e = errno;
      close(out);
      throw std::system_error(e, std::generic_category(), "waitpid " + args[0]);
    }
  }
  ToolResult result;
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  lseek(out, 0, SEEK_SET);
  char buf[4096];
  for (;;) {
    const ssize_t n = read(out, buf, sizeof buf);
    if (n <= 0) break;
    result.output.append(buf, static_cast<std::size_t>(n));
  }
  close(out);
  return result;
}

std::string describe(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

// The postmaster chdirs into its data directory and its children inherit that,
// so "cwd is our data directory" identifies our server's processes without
// trusting a PID file that may name a recycled PID.
bool process_uses_dir(pid_t pid, const fs::path& data) {
  const fs::path proc = fs::path("/proc") / std::to_string(pid);
  const std::string stat = read_file(proc / "stat");
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;  // gone
  const char state = stat[paren + 2];
  if (state == 'Z' || state == 'X') return false;  // dead, not yet reaped
  std::error_code ec;
  const fs::path cwd = fs::read_symlink(proc / "cwd", ec);
  if (ec) return false;  // not ours: our server runs as a user we can inspect
  return fs::equivalent(cwd, data, ec) && !ec;
}

// Live processes working in `data`; empty when /proc cannot tell.
std::vector<pid_t> processes_using(const fs::path& data) {
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() ||
        !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (process_uses_dir(pid, data)) pids.push_back(pid);
  }
  return pids;
}

void fsync_dir(const fs::path& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  fsync(fd);
  close(fd);
}

// Writes `text` to `path` atomically, readable by the server.
void write_server_file(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("embedded PostgreSQL: cannot write " + tmp.string());
  }
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write);
  if (running_as_root()) {
    const SystemUser pg = postgres_user();
    if (chown(tmp.c_str(), pg.uid, pg.gid) != 0) {
      throw std::system_error(errno, std::generic_category(), "chown " + tmp.string());
    }
  }
  fs::rename(tmp, path);
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(fs::path dir, unsigned port)
    : EmbeddedPostgres(std::move(dir), port, Options{}) {}

EmbeddedPostgres::EmbeddedPostgres(fs::path dir, unsigned port, Options options)
    : dir_(fs::absolute(dir).lexically_normal()), port_(port), options_(std::move(options)) {
  // lexically_normal keeps a trailing separator ("/x/" -> "/x/"); drop it so
  // the socket path and URL have one form.
  if (!dir_.has_filename() && dir_.has_parent_path() && dir_ != dir_.root_path()) {
    dir_ = dir_.parent_path();
  }
  check_dir_path(dir_);
  if (port_ > 65535) throw std::invalid_argument("embedded PostgreSQL: port out of range");
  if (port_ == 0) port_ = pick_free_port();
  for (const auto& [name, value] : options_.settings) {
    check_setting_name(name);
    conf_quote(value);  // validates
  }
  bin_dir_ = options_.bin_dir.empty() ? find_bin_dir() : options_.bin_dir;
}

EmbeddedPostgres::~EmbeddedPostgres() {
  if (started_) {
    try {
      stop();
    } catch (const std::exception& e) {
      spdlog::error("embedded PostgreSQL in {}: stop failed: {}", dir_.string(), e.what());
    }
  }
  unlock_dir();
}

std::string EmbeddedPostgres::url_for(const std::string& database) const {
  return "postgresql://" + std::string(kSuperuser) + "@/" + percent_encode(database) +
         "?host=" + percent_encode(dir_.string()) + "&port=" + std::to_string(port_);
}

std::optional<pid_t> EmbeddedPostgres::postmaster_pid() const {
  std::ifstream in(data_dir() / "postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 0) return std::nullopt;
  return static_cast<pid_t>(pid);
}

bool EmbeddedPostgres::running() const {
  const auto pid = postmaster_pid();
  return pid && process_uses_dir(*pid, data_dir());
}

void EmbeddedPostgres::start() {
  if (started_ && running()) return;
  lock_dir();
  try {
    prepare_dir();
    init_cluster();
    clear_leftover_server();
    write_settings();
    start_server();
    started_ = true;
    ensure_database();
  } catch (...) {
    if (!started_) unlock_dir();
    throw;
  }
}

void EmbeddedPostgres::stop() {
  if (running()) {
    pg_ctl_stop();
    spdlog::info("embedded PostgreSQL in {} stopped", dir_.string());
  }
  started_ = false;
  unlock_dir();
}

// Only called after running() confirmed that postmaster.pid names our live
// server, so pg_ctl never signals a recycled PID.
void EmbeddedPostgres::pg_ctl_stop() {
  const std::vector<std::string> args = {(bin_dir_ / "pg_ctl").string(),
                                         "stop",
                                         "-D",
                                         data_dir().string(),
                                         "-m",
                                         "fast",
                                         "-w",
                                         "-t",
                                         std::to_string(options_.timeout.count())};
  const ToolResult r = run_tool(args, dir_, running_as_root());
  if (r.status != 0 && running()) {
    throw std::runtime_error("embedded PostgreSQL: '" + describe(args) + "' failed (status " +
                             std::to_string(r.status) + "): " + tail(r.output));
  }
}

void EmbeddedPostgres::lock_dir() {
  if (lock_fd_ >= 0) return;
  fs::create_directories(dir_);
  const fs::path path = dir_ / kLockFile;
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path.string());
  // flock, not the postmaster.pid: it vanishes with the holder, even after
  // kill -9, so a crashed ntm-dc never blocks the next one.
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int e = errno;
    close(fd);
    if (e == EWOULDBLOCK) {
      throw DirectoryInUse("embedded PostgreSQL in " + dir_.string() +
                           " is in use by another ntm-dc");
    }
    throw std::system_error(e, std::generic_category(), "flock " + path.string());
  }
  lock_fd_ = fd;
}

void EmbeddedPostgres::unlock_dir() noexcept {
  if (lock_fd_ >= 0) {
    close(lock_fd_);
    lock_fd_ = -1;
  }
}

void EmbeddedPostgres::prepare_dir() {
  fs::create_directories(dir_);
  if (running_as_root()) {
    const SystemUser pg = postgres_user();
    if (chown(dir_.c_str(), pg.uid, pg.gid) != 0) {
      throw std::system_error(errno, std::generic_category(), "chown " + dir_.string());
    }
  }
  // Only the server's user (and root) may reach the socket: local connections
  // are trusted, so this mode is the access control.
  fs::permissions(dir_, fs::perms::owner_all);
}

void EmbeddedPostgres::init_cluster() {
  const fs::path data = data_dir();
  if (fs::exists(data / "PG_VERSION")) return;
  if (fs::exists(data)) {
    throw std::runtime_error("embedded PostgreSQL: " + data.string() +
                             " exists but holds no cluster (no PG_VERSION); move it away");
  }
  // initdb into a side directory and rename: an interrupted initdb leaves only
  // the side directory, which the next attempt discards, never a half cluster.
  const fs::path tmp = dir_ / kInitdbDir;
  fs::remove_all(tmp);
  std::vector<std::string> args = {(bin_dir_ / "initdb").string(),
                                   "-D",
                                   tmp.string(),
                                   "-U",
                                   kSuperuser,
                                   "--auth-local=trust",
                                   "--auth-host=reject",
                                   "-E",
                                   "UTF8",
                                   "--locale=C.UTF-8",
                                   "--no-instructions"};
  if (!options_.sync_initdb) args.emplace_back("--no-sync");
  spdlog::info("embedded PostgreSQL: initialising a cluster in {}", data.string());
  const ToolResult r = run_tool(args, dir_, running_as_root());
  if (r.status != 0) {
    std::string hint;
    if (running_as_root()) {
      hint = " (initdb runs as the postgres user, which must be able to enter every parent of " +
             dir_.string() + ")";
    }
    throw std::runtime_error("embedded PostgreSQL: '" + describe(args) + "' failed (status " +
                             std::to_string(r.status) + ")" + hint + ": " + tail(r.output));
  }
  {
    std::ofstream conf(tmp / "postgresql.conf", std::ios::app);
    conf << kIncludeLine;
    if (!conf.flush())
      throw std::runtime_error("embedded PostgreSQL: cannot extend postgresql.conf");
  }
  fs::rename(tmp, data);
  fsync_dir(dir_);
}

void EmbeddedPostgres::write_settings() {
  std::string text =
      "# Written by ntm-dc (EmbeddedPostgres) at every start; edits are lost.\n"
      "# Unix socket only: no TCP listener.\n"
      "listen_addresses = ''\n";
  // Double quotes inside the value: the setting is a list, and a quoted
  // element keeps spaces literal.
  text += "unix_socket_directories = " + conf_quote("\"" + dir_.string() + "\"") + "\n";
  text += "unix_socket_permissions = 0700\n";
  text += "port = " + std::to_string(port_) + "\n";
  for (const auto& [name, value] : options_.settings) {
    text += name + " = " + conf_quote(value) + "\n";
  }
  write_server_file(data_dir() / kSettingsFile, text);
}

// Makes sure no server process of an earlier run is around, then clears what
// such a run may have left behind.
void EmbeddedPostgres::clear_leftover_server() {
  const fs::path data = data_dir();
  // A postmaster left running by a crashed ntm-dc (we hold the directory lock,
  // so it is nobody else's): stop it so that this run's settings apply.
  if (running()) {
    spdlog::warn(
        "embedded PostgreSQL in {}: a server from an earlier run is still up; restarting it",
        dir_.string());
    pg_ctl_stop();
  }
  // After a postmaster crash (kill -9, OOM) its children exit on their own
  // once they notice; a new postmaster must not start beside them.
  const auto deadline = std::chrono::steady_clock::now() + kOrphanWait;
  std::vector<pid_t> left = processes_using(data);
  while (!left.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::string pids;
      for (const pid_t p : left) pids += " " + std::to_string(p);
      throw std::runtime_error("embedded PostgreSQL: processes still use " + data.string() +
                               " (PIDs" + pids + "); stop them first");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    left = processes_using(data);
  }
  // Nothing uses the cluster now, so lock files naming a dead or recycled PID
  // are stale.  PostgreSQL clears a stale postmaster.pid itself unless the PID
  // was recycled, or belongs to an unreaped zombie postmaster (kill(pid, 0)
  // still succeeds for both); removing it here covers those cases.
  const fs::path pid_file = data / "postmaster.pid";
  if (fs::exists(pid_file)) {
    spdlog::warn("embedded PostgreSQL in {}: removing stale postmaster.pid (server crashed?)",
                 dir_.string());
    fs::remove(pid_file);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().filename().string().rfind(".s.PGSQL.", 0) == 0) fs::remove(entry.path(), ec);
  }
}

void EmbeddedPostgres::start_server() {
  const fs::path log = dir_ / kLogFile;
  std::error_code ec;
  if (fs::exists(log, ec)) fs::rename(log, dir_ / (std::string(kLogFile) + ".1"), ec);
  const std::vector<std::string> args = {(bin_dir_ / "pg_ctl").string(),
                                         "start",
                                         "-D",
                                         data_dir().string(),
                                         "-l",
                                         log.string(),
                                         "-w",
                                         "-t",
                                         std::to_string(options_.timeout.count()),
                                         "-s"};
  const ToolResult r = run_tool(args, dir_, running_as_root());
  if (r.status != 0) {
    throw std::runtime_error("embedded PostgreSQL: '" + describe(args) + "' failed (status " +
                             std::to_string(r.status) + "): " + tail(r.output) + "\nserver log:\n" +
                             tail(read_file(log)));
  }
  spdlog::info("embedded PostgreSQL in {} started (socket port {})", dir_.string(), port_);
}

void EmbeddedPostgres::ensure_database() {
  pqxx::connection conn(url_for("postgres"));
  conn.prepare(kDatabaseExists.name, kDatabaseExists.sql);
  // CREATE DATABASE cannot run inside a transaction block.
  pqxx::nontransaction tx(conn, "ntm_embedded_ensure_database");
  if (tx.exec_prepared1(kDatabaseExists.name, kDatabase)[0].as<long>() == 0) {
    tx.exec0(kCreateDatabase);
    spdlog::info("embedded PostgreSQL: created database {}", kDatabase);
  }
}

}  // namespace ntm::dc::store
