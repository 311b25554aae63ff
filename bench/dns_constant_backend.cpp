// SPDX-License-Identifier: MIT
// The ceiling of the DNS benchmark (issue 4): a do-nothing PowerDNS remote
// backend on a unix socket that answers from a constant table.
//
//   ntm_bench_dns_constant SOCKET RECORDS
//
// RECORDS holds one record per line, "name<TAB>type<TAB>ttl<TAB>scope<TAB>
// content" (bench/run_dns_bench.sh writes it from the AXFR of the DC's
// zone, so this backend serves exactly the DC's records).  The zone is the
// owner of the SOA record, with id 1 and the SOA's serial.
//
// Everything a request can cost is paid at start-up: each name's complete
// reply line ({"result":[...]}\n, records in the form the DC sends them:
// nlohmann's sorted keys, auth 1, scopeMask when non-zero) is built once.
// Per request it only finds the method and, for a lookup, the qname (and
// whether qtype is SOA) by string search, lower-cases the qname, makes one
// hash lookup and writes the stored line with one send().  No JSON parser,
// no event loop: one thread per connection, blocking reads, which is what
// pdns's strictly synchronous connector (one request in flight per
// connection) needs.  Any other method gets the answers the DC gives
// (initialize true, getAllDomains, getAllDomainMetadata {}, getDomainInfo,
// getDomainMetadata []) or false.
//
// It is therefore the cost of the remote-backend path itself (pdns's
// connector, the socket, a trivial responder), not a DNS server: it trusts
// its input and does none of the DC's validation.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct Table {
  std::unordered_map<std::string, std::string> any;  // name -> reply line
  std::string apex;                                  // lower case, trailing dot
  std::string soa_only;                              // SOA lookup of the apex
  std::string all_domains;
  std::string domain_info;
};

const std::string kFalse = "{\"result\":false}\n";
const std::string kTrue = "{\"result\":true}\n";
const std::string kEmptyObject = "{\"result\":{}}\n";
const std::string kEmptyArray = "{\"result\":[]}\n";

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "ntm_bench_dns_constant: %s\n", why.c_str());
  std::exit(1);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string record_json(const std::string& name, const std::string& type, const std::string& ttl,
                        const std::string& scope, const std::string& content) {
  std::string r = "{\"auth\":1,\"content\":" + json_string(content) +
                  ",\"domain_id\":1,\"qname\":" + json_string(name) +
                  ",\"qtype\":" + json_string(type);
  if (scope != "0") r += ",\"scopeMask\":" + scope;
  r += ",\"ttl\":" + ttl + "}";
  return r;
}

Table load(const char* path) {
  std::ifstream in(path);
  if (!in) die(std::string("cannot read ") + path);
  std::unordered_map<std::string, std::vector<std::string>> recs;
  std::vector<std::string> order;
  Table t;
  std::string soa_rec, serial;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::size_t pos = 0;
    for (int i = 0; i < 4; ++i) {
      std::size_t tab = line.find('\t', pos);
      if (tab == std::string::npos) die("bad line: " + line);
      f.push_back(line.substr(pos, tab - pos));
      pos = tab + 1;
    }
    f.push_back(line.substr(pos));
    const std::string name = lower(f[0]);
    std::string rec = record_json(name, f[1], f[2], f[3], f[4]);
    if (f[1] == "SOA") {
      t.apex = name;
      soa_rec = rec;
      std::istringstream soa(f[4]);
      std::string mname, rname;
      soa >> mname >> rname >> serial;
    }
    if (!recs.count(name)) order.push_back(name);
    recs[name].push_back(std::move(rec));
  }
  if (t.apex.empty()) die("no SOA record in the table");
  for (auto& [name, list] : recs) {
    std::string reply = "{\"result\":[";
    for (std::size_t i = 0; i < list.size(); ++i) reply += (i ? "," : "") + list[i];
    reply += "]}\n";
    t.any.emplace(name, std::move(reply));
  }
  t.soa_only = "{\"result\":[" + soa_rec + "]}\n";
  const std::string info = "{\"id\":1,\"kind\":\"native\",\"serial\":" + serial +
                           ",\"zone\":" + json_string(t.apex) + "}";
  t.all_domains = "{\"result\":[" + info + "]}\n";
  t.domain_info = "{\"result\":" + info + "}\n";
  std::fprintf(stderr, "ntm_bench_dns_constant: %zu names in %s\n", t.any.size(), t.apex.c_str());
  return t;
}

// The string value of "key" in a request line: pdns's json11 writes
// "key": "value" (with or without the space); values here never contain
// escaped quotes.
std::string_view value_of(std::string_view line, std::string_view key) {
  std::size_t k = line.find(key);
  if (k == std::string_view::npos) return {};
  std::size_t p = k + key.size();
  while (p < line.size() && (line[p] == ' ' || line[p] == ':')) ++p;
  if (p >= line.size() || line[p] != '"') return {};
  std::size_t end = line.find('"', p + 1);
  if (end == std::string_view::npos) return {};
  return line.substr(p + 1, end - p - 1);
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const std::string& answer(const Table& t, std::string_view line, std::string& key) {
  const std::string_view method = value_of(line, "\"method\"");
  if (iequals(method, "lookup")) {
    const std::string_view qname = value_of(line, "\"qname\"");
    key.assign(qname);
    for (char& c : key)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (key.empty() || key.back() != '.') key.push_back('.');
    if (value_of(line, "\"qtype\"") == "SOA") return key == t.apex ? t.soa_only : kFalse;
    auto it = t.any.find(key);
    return it == t.any.end() ? kFalse : it->second;
  }
  if (iequals(method, "initialize")) return kTrue;
  if (iequals(method, "getAllDomainMetadata")) return kEmptyObject;
  if (iequals(method, "getAllDomains")) return t.all_domains;
  if (iequals(method, "getDomainMetadata")) return kEmptyArray;
  if (iequals(method, "getDomainInfo"))
    return lower(value_of(line, "\"name\"")) == t.apex ? t.domain_info : kFalse;
  return kFalse;
}

bool send_all(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

void serve(const Table& t, int fd) {
  std::string buf;
  std::string key;
  char chunk[16384];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t start = 0, nl;
    bool ok = true;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      std::string_view line(buf.data() + start, nl - start);
      start = nl + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      if (!send_all(fd, answer(t, line, key))) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
    buf.erase(0, start);
    if (buf.size() > (1u << 20)) break;  // no line is that long
  }
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) die("usage: ntm_bench_dns_constant SOCKET RECORDS");
  ::signal(SIGPIPE, SIG_IGN);
  static const Table table = load(argv[2]);

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(argv[1]) >= sizeof addr.sun_path) die("socket path too long");
  std::strcpy(addr.sun_path, argv[1]);
  ::unlink(argv[1]);
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0) die(std::string("socket: ") + std::strerror(errno));
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0)
    die(std::string("bind: ") + std::strerror(errno));
  if (::listen(lfd, 128) < 0) die(std::string("listen: ") + std::strerror(errno));
  std::fprintf(stderr, "ntm_bench_dns_constant: listening on %s\n", argv[1]);
  for (;;) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        ::usleep(100000);
        continue;
      }
      die(std::string("accept: ") + std::strerror(errno));
    }
    std::thread(serve, std::cref(table), fd).detach();
  }
}
