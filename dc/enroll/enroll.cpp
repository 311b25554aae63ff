// SPDX-License-Identifier: MIT
#include "enroll/enroll.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>
#include <sstream>

#include "ntm/common/clock.hpp"
#include "state/vip_pool.hpp"

namespace ntm::dc::enroll {

namespace {

std::string canonical(const std::string& name) {
  wire::Fqdn f;
  if (!wire::Fqdn::canonicalize(name, f))
    throw EnrollError("'" + name +
                      "' is not a valid domain name (RFC 1035: labels of 1-63 letters, digits or "
                      "hyphens, 253 characters at most)");
  return f.name;
}

// Written with O_EXCL|0600: a key file is never world-readable, and an
// existing file (another node's key) is never overwritten.
void write_secret_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    throw EnrollError("cannot create " + path.string() + ": " + std::strerror(errno));
  const char* p = text.data();
  std::size_t left = text.size();
  while (left) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw EnrollError("cannot write " + path.string() + ": " + std::strerror(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    throw EnrollError("cannot write " + path.string() + ": " + std::strerror(errno));
}

std::string party_config(const char* section, const wire::NodeId& id, const std::string& name,
                         const wire::SecretKey& key, const config::Config& cfg,
                         std::uint8_t key_epoch = 0) {
  std::ostringstream os;
  os << "; NTMobile " << section << " credentials, written by ntm-dc. Keep secret (mode 0600).\n"
     << "[" << section << "]\n"
     << "id = " << id.to_hex() << "\n"
     << (std::strcmp(section, "node") == 0 ? "fqdn = " : "name = ") << name << "\n"
     << "key = " << key.to_hex() << "\n"
     << "key_epoch = " << static_cast<int>(key_epoch) << "\n\n"
     << "[dc]\n"
     << "id = " << cfg.dc_id.to_hex() << "\n"
     << "endpoint = " << cfg.advertise.to_string() << "\n";
  // A node or relay of a cluster learns every member, to fail over to.
  if (cfg.cluster.size() > 1) {
    os << "endpoints = ";
    for (std::size_t i = 0; i < cfg.cluster.size(); ++i)
      os << (i ? ", " : "") << cfg.cluster[i].to_string();
    os << "\n";
  }
  if (!cfg.probe_listen.empty()) os << "probe = " << cfg.probe_listen.to_string() << "\n";
  return os.str();
}

void emit(const std::filesystem::path& out, const std::filesystem::path& fallback,
          const std::string& text, std::string* sink, Enrolled& e) {
  if (out == "-") {
    if (sink) *sink = text;
    return;
  }
  e.config_file = out.empty() ? fallback : out;
  write_secret_file(e.config_file, text);
}

// Removes a config file written for an enrollment that did not happen.
void discard(const Enrolled& e) noexcept {
  if (e.config_file.empty()) return;
  std::error_code ec;
  std::filesystem::remove(e.config_file, ec);
}

std::string age(std::uint64_t last_seen_ms) {
  if (!last_seen_ms) return "never";
  const std::uint64_t now = common::wall_ms();
  return now > last_seen_ms ? std::to_string((now - last_seen_ms) / 1000) + " s ago" : "now";
}

}  // namespace

std::string zone_of(const std::string& fqdn, const std::vector<std::string>& zones) {
  std::string best;
  for (const auto& z : zones) {
    const bool inside = fqdn.size() > z.size() && fqdn.ends_with(z) &&
                        fqdn[fqdn.size() - z.size() - 1] == '.';
    if (inside && z.size() > best.size()) best = z;
  }
  return best;
}

Enrolled add_node(store::Store& store, const config::Config& cfg, const std::string& fqdn_in,
                  const std::filesystem::path& out, std::string* text) {
  const std::string fqdn = canonical(fqdn_in);
  const std::string zone = zone_of(fqdn, cfg.zones);
  if (zone.empty()) throw EnrollError(fqdn + " is not inside a zone this DC serves");
  int zone_id = 0;
  for (const auto& z : store.ensure_zones(cfg.zones))
    if (z.name == zone) zone_id = z.zone_id;
  if (store.load_party_by_name(fqdn, false)) throw EnrollError(fqdn + " is already enrolled");

  Enrolled e;
  e.name = fqdn;
  wire::random_bytes(e.id.bytes);
  const wire::SecretKey key = wire::SecretKey::random();
  // Start at a random place in the pool so that concurrent enrollers seldom
  // pick the same address; UNIQUE(vip) settles it when they do.
  std::uint32_t start = 0;
  wire::random_bytes({reinterpret_cast<std::uint8_t*>(&start), sizeof start});
  state::VipPool pool(cfg.vip_pool, start);
  for (std::uint32_t v : store.used_vips()) pool.mark_used(v);
  for (int attempt = 0; attempt < 64; ++attempt) {
    const auto vip = pool.allocate();
    if (!vip) {
      discard(e);
      throw EnrollError("the VIP pool " + cfg.vip_pool.to_string() + " is exhausted");
    }
    // The config file first: a node whose key nobody holds must not be
    // left in the database if the file cannot be written.
    if (attempt == 0)
      emit(out, cfg.node_config_dir / (fqdn + ".conf"),
           party_config("node", e.id, fqdn, key, cfg), text, e);
    try {
      store.insert_node(e.id, fqdn, zone_id, key, *vip);
      e.vip = *vip;
      return e;
    } catch (const store::Conflict&) {
      if (store.load_party_by_name(fqdn, false)) {
        discard(e);
        throw EnrollError(fqdn + " is already enrolled");
      }
      // Another enroller took this VIP meanwhile: try the next one.
    } catch (...) {
      discard(e);
      throw;
    }
  }
  discard(e);
  throw EnrollError("could not allocate a VIP (too much contention); try again");
}

Enrolled add_relay(store::Store& store, const config::Config& cfg, const std::string& name_in,
                   const std::filesystem::path& out, std::string* text) {
  const std::string name = canonical(name_in);
  Enrolled e;
  e.name = name;
  wire::random_bytes(e.id.bytes);
  const wire::SecretKey key = wire::SecretKey::random();
  emit(out, cfg.node_config_dir / ("relay-" + name + ".conf"),
       party_config("relay", e.id, name, key, cfg), text, e);
  try {
    store.insert_relay(e.id, name, key);
  } catch (const store::Conflict&) {
    discard(e);
    throw EnrollError("relay " + name + " is already enrolled");
  } catch (...) {
    discard(e);
    throw;
  }
  return e;
}

void remove(store::Store& store, const std::string& name_in, bool relay) {
  const std::string name = canonical(name_in);
  const auto row = store.load_party_by_name(name, relay);
  if (!row) throw EnrollError(std::string(relay ? "no relay named " : "no node named ") + name);
  store.remove_party(row->id, relay);
}

std::optional<std::uint32_t> parse_grace(std::string_view t) {
  std::uint64_t unit = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: unit = 0; break;
    }
    if (unit) t.remove_suffix(1);
    else unit = 1;
  }
  if (t.empty() || t.size() > 9) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  v *= unit;
  if (v == 0 || v > kMaxGraceS) return std::nullopt;
  return static_cast<std::uint32_t>(v);
}

Enrolled rekey(store::Store& store, const config::Config& cfg, const std::string& name_in,
               bool relay, const std::filesystem::path& out, std::string* text,
               std::uint32_t grace_s) {
  const std::string name = canonical(name_in);
  const auto row = store.load_party_by_name(name, relay);
  if (!row) throw EnrollError(std::string(relay ? "no relay named " : "no node named ") + name);
  Enrolled e;
  e.id = row->id;
  e.name = name;
  e.vip = row->vip;
  e.key_epoch = static_cast<std::uint8_t>(row->key_epoch + 1);
  const wire::SecretKey key = wire::SecretKey::random();
  const std::string conf = party_config(relay ? "relay" : "node", e.id, name, key, cfg, e.key_epoch);
  // The new file is written beside the old one first: the old key stays
  // on disk until the database has the new one, and the file is replaced
  // whole (rename), never left half-written.
  std::filesystem::path staged;
  if (out != "-") {
    e.config_file = !out.empty() ? out
                    : relay      ? cfg.node_config_dir / ("relay-" + name + ".conf")
                                 : cfg.node_config_dir / (name + ".conf");
    staged = e.config_file;
    staged += ".new";
    write_secret_file(staged, conf);  // O_EXCL: a rekey under way elsewhere fails here
  } else if (text) {
    *text = conf;
  }
  bool done = false;
  try {
    done = store.rekey_party(e.id, relay, key, row->key_epoch, grace_s);
  } catch (...) {
    if (!staged.empty()) std::filesystem::remove(staged);
    throw;
  }
  if (!done) {
    if (!staged.empty()) std::filesystem::remove(staged);
    throw EnrollError(name + " was removed or re-keyed meanwhile; nothing changed");
  }
  if (!staged.empty()) {
    std::error_code ec;
    std::filesystem::rename(staged, e.config_file, ec);
    if (ec)
      throw EnrollError("the new key is in the database, but " + staged.string() +
                        " could not replace " + e.config_file.string() + ": " + ec.message() +
                        "; move it there by hand");
  }
  return e;
}

void list(store::Store& store, bool relays, std::ostream& os) {
  os << (relays ? "NAME" : "FQDN") << "\tID\t" << (relays ? "LOAD" : "VIP")
     << "\tONLINE\tSEEN AT\tNAT\tLAST SEEN\n";
  for (const auto& p : store.load_parties()) {
    if (p.relay != relays) continue;
    os << p.name << '\t' << p.id.to_hex() << '\t'
       << (relays ? std::to_string(p.load_permille) + "/1000" : wire::Vip{p.vip}.to_string())
       << '\t' << (p.online ? "yes" : "no") << '\t' << p.observed.to_string() << '\t'
       << (p.behind_nat ? (p.symmetric_nat ? "symmetric" : "yes") : "no") << '\t'
       << age(p.last_seen_ms) << '\n';
  }
}

void show(store::Store& store, const std::string& name_in, bool relay, std::ostream& os) {
  const std::string name = canonical(name_in);
  const auto p = store.load_party_by_name(name, relay);
  if (!p) throw EnrollError(std::string(relay ? "no relay named " : "no node named ") + name);
  os << (relay ? "relay:      " : "fqdn:       ") << p->name << '\n'
     << "id:         " << p->id.to_hex() << '\n';
  if (!relay) os << "vip:        " << wire::Vip{p->vip}.to_string() << '\n';
  os << "key epoch:  " << static_cast<int>(p->key_epoch) << '\n'
     << "online:     " << (p->online ? "yes" : "no") << '\n'
     << "seen at:    " << p->observed.to_string() << '\n'
     << "behind NAT: " << (p->behind_nat ? (p->symmetric_nat ? "yes (symmetric)" : "yes") : "no")
     << '\n'
     << "local:     ";
  for (const auto& e : p->local) os << ' ' << e.to_string();
  os << "\nlast seen:  " << age(p->last_seen_ms) << '\n';
  if (p->prev_key) {
    const std::uint64_t now = common::wall_ms();
    os << "old key:    epoch " << static_cast<int>(static_cast<std::uint8_t>(p->key_epoch - 1))
       << (now < p->prev_key_until_ms
               ? ", taken for " + std::to_string((p->prev_key_until_ms - now + 999) / 1000) +
                     " s more"
               : std::string(", grace period over"))
       << '\n';
  }
  if (relay)
    os << "load:       " << p->load_permille << "/1000, " << p->active_paths << " paths\n";
}

}  // namespace ntm::dc::enroll
