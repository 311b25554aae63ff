// SPDX-License-Identifier: MIT
// Peers known by certificate (docs/federation.md §8): Peer Hellos carry
// the DCs' certificates; a certificate our CA issued, whose key the DNS
// discovery record of each of its zones pins, makes its DC a peer under a
// key derived from the two DCs' X25519 keys.  Nothing else is said in a
// Peer Hello, and a DC answers one only after the sender's certificate
// passed: an unknown DC learns nothing but what DNS publishes anyway.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "control/directing.hpp"
#include "federation/marker.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/wire/peer_hello.hpp"

namespace ntm::dc::control {

namespace {

// Each hello costs a certificate check, an X25519 and DNS lookups; far more
// than any set of peers needs (one hello per peer and restart, and one per
// unanswered retransmission).
constexpr unsigned kHellosPerSecond = 200;

}  // namespace

void Server::greet(const wire::Endpoint& to, Greeted done) {
  const std::string key = to.to_string();
  if (auto it = greeting_.find(key); it != greeting_.end()) {
    it->second->waiting.push_back(std::move(done));
    return;
  }
  auto g = std::make_unique<Greeting>(io_);
  g->to = to;
  g->txid = next_txid();
  g->backoff_ms = cfg_.federation.peer_retransmit_ms;
  g->deadline_ms = common::mono_ms() + cfg_.federation.peer_timeout_ms;
  g->waiting.push_back(std::move(done));
  Greeting& ref = *g;
  greeting_[key] = std::move(g);
  spdlog::debug("federation: greeting the DC at {}", key);
  send_hello(to, false, ref.txid);
  arm_greeting(key);
}

void Server::arm_greeting(const std::string& key) {
  auto it = greeting_.find(key);
  if (it == greeting_.end()) return;
  Greeting& g = *it->second;
  g.timer.expires_after(std::chrono::milliseconds(g.backoff_ms));
  g.timer.async_wait([this, key](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    auto found = greeting_.find(key);
    if (found == greeting_.end()) return;
    Greeting& gr = *found->second;
    const std::uint64_t now = common::mono_ms();
    if (now >= gr.deadline_ms) {
      greeting_stats_.timeouts++;
      return end_greeting(key, nullptr,
                          gr.refusal.empty()
                              ? "peer DC at " + key + " did not answer its Peer Hello"
                              : "peer DC at " + key + ": " + gr.refusal);
    }
    stats_.retransmissions++;
    send_hello(gr.to, false, gr.txid);
    gr.backoff_ms = static_cast<unsigned>(
        std::min<std::uint64_t>(std::uint64_t{gr.backoff_ms} * 2, gr.deadline_ms - now));
    arm_greeting(key);
  });
}

void Server::find_peer(const std::string& name, Greeted done) {
  if (federation::Peer* p = peers_ ? peers_->for_name(name) : nullptr) return done(p, "");
  if (!trust_ || !txt_resolver_) return done(nullptr, "no peer DC known for " + name);
  txt_resolver_->lookup(name, [this, alive = std::weak_ptr<bool>(alive_), name,
                               done = std::move(done)](const federation::TxtAnswer& ans) {
    if (alive.expired() || stopped_) return;
    const auto marker =
        ans.status == federation::TxtStatus::ok ? federation::find_marker(ans.texts) : std::nullopt;
    if (!marker) return done(nullptr, "no NTMobile marker at " + name);
    greet_for(*marker, name, done);
  });
}

bool Server::peer_reachable_for(const std::string& name) const {
  return peers_ && (peers_->for_name(name) != nullptr || trust_ != nullptr);
}

void Server::end_greeting(const std::string& key, federation::Peer* peer, const std::string& why) {
  auto it = greeting_.find(key);
  if (it == greeting_.end()) return;
  std::vector<Greeted> waiting = std::move(it->second->waiting);
  greeting_.erase(it);
  for (auto& w : waiting) w(peer, why);
}

void Server::nudge(const federation::Peer& peer, const wire::Endpoint& to) {
  if (trust_ && peer.by_certificate() && !to.empty()) send_hello(to, false, next_txid());
}

void Server::send_hello(const wire::Endpoint& to, bool reply, std::uint32_t txid) {
  wire::ControlHeader h;
  h.common.type = wire::MsgType::peer_hello;
  h.common.domain = wire::KeyDomain::dc_peer;
  h.common.role = wire::Role::peer_dc;
  h.common.instance = instance_;
  h.common.id = cfg_.dc_id.bytes;
  h.timestamp_ms = common::wall_ms();
  h.txid = txid;
  std::array<std::uint8_t, NTM_MAX_CONTROL> buf{};
  wire::Error err = wire::Error::ok;
  const std::size_t n =
      wire::encode_peer_hello(h, wire::PeerHello{reply, trust_->own_certificate()}, buf, err);
  if (n == 0) {
    spdlog::error("federation: cannot encode a Peer Hello: {} (certificate of {} bytes)",
                  wire::to_string(err), trust_->own_certificate().size());
    return;
  }
  send_raw({buf.data(), n}, to, false);
}

void Server::on_peer_hello(std::span<const std::uint8_t> data, const wire::Endpoint& from) {
  if (!trust_) return;
  // The cheap checks first, so that malformed or stale datagrams do not use
  // up the budget of the expensive ones.
  wire::ControlHeader h;
  wire::PeerHello m;
  if (wire::decode_peer_hello(data, h, m) != wire::Error::ok ||
      !wire::fresh(h.timestamp_ms, common::wall_ms(), cfg_.max_skew_s * 1000ull)) {
    greeting_stats_.bad++;
    return;
  }
  if (!hello_rate_.allow(common::mono_ms(), kHellosPerSecond)) {
    greeting_stats_.rate_limited++;
    return;
  }
  greeting_stats_.hellos++;
  const std::string key = from.to_string();
  std::string why;
  auto cert = trust_->check(m.certificate, why);
  if (cert && cert->dc_id.bytes != h.common.id) {
    cert.reset();
    why = "sent under another DC id than its certificate's";
  }
  auto refused = [this, key](const std::string& reason) {
    greeting_stats_.refused++;
    spdlog::info("federation: refused the Peer Hello from {}: {}", key, reason);
    if (auto it = greeting_.find(key); it != greeting_.end()) it->second->refusal = reason;
  };
  if (!cert) return refused(why);
  admit(std::move(*cert),
        [this, alive = std::weak_ptr<bool>(alive_), from, key, refused, reply = m.reply,
         txid = h.txid](federation::Peer* p, const std::string& reason) {
          if (alive.expired() || stopped_) return;
          if (!p) return refused(reason);
          p->heard_from(from);
          if (!reply) send_hello(from, true, txid);
          end_greeting(key, p, "");
        });
}

void Server::admit(federation::PeerCertificate cert, Greeted done) {
  auto add = [this](const federation::PeerCertificate& c, const Greeted& finish) {
    federation::Peer* same = nullptr;
    for (auto& p : peers_->all())
      if (p->config().dc_id == c.dc_id) same = p.get();
    try {
      if (same) {
        if (same->fingerprint() == c.fingerprint_hex && same->config().zones == c.zones)
          return finish(same, "");
        if (!federation::CertificateTrust::supersedes(c, *same))
          return finish(nullptr, "an older certificate than the one in use");
        config::Config::Peer renewed = trust_->peer_config(c);
        renewed.name = same->name();
        same->rekey(renewed);
        same->set_certificate(c.fingerprint_hex, c.not_before);
        greeting_stats_.admitted++;
        spdlog::info("federation: peer {} renewed its certificate: key sha256:{}", same->name(),
                     c.fingerprint_hex);
        return finish(same, "");
      }
      // A name has exactly one DC: a zone already served by another DC
      // known by certificate stays with it until this process restarts.
      for (const auto& p : peers_->all())
        for (const auto& pz : p->config().zones)
          for (const auto& z : c.zones)
            if (federation::zones_overlap(z, pz))
              return finish(nullptr, "zone '" + z + "' is served by peer " + p->name());
      federation::Peer* np = peers_->add(trust_->peer_config(c), cfg_.federation.max_cert_peers);
      if (!np) return finish(nullptr, "max_cert_peers DCs are known by certificate already");
      np->set_certificate(c.fingerprint_hex, c.not_before);
      greeting_stats_.admitted++;
      std::string zones;
      for (const auto& z : c.zones) zones += (zones.empty() ? "" : ",") + z;
      spdlog::info("federation: peer {} (DC {}) admitted by certificate for {}: key sha256:{}",
                   np->name(), c.dc_id.to_hex(), zones, c.fingerprint_hex);
      finish(np, "");
    } catch (const std::exception& e) {
      spdlog::error("federation: cannot admit DC {}: {}", c.dc_id.to_hex(), e.what());
      finish(nullptr, "this DC cannot derive the peer key");
    }
  };
  if (!cfg_.federation.pin_dns) return add(cert, done);
  // Pinned: the discovery record of every zone the certificate names must
  // hold its key's fingerprint.  A CA's mistake, or a stolen certificate,
  // is then not enough: the zone's own DNS must agree.
  struct Pinning {
    federation::PeerCertificate cert;
    Greeted done;
    std::size_t left = 0;
    std::string failed;
  };
  auto st = std::make_shared<Pinning>(Pinning{std::move(cert), std::move(done), 0, {}});
  st->left = st->cert.zones.size();
  for (const auto& zone : st->cert.zones) {
    const std::string name = "_ntm-dc." + zone;
    txt_resolver_->lookup(name, [this, alive = std::weak_ptr<bool>(alive_), st, name,
                                 add](const federation::TxtAnswer& ans) {
      if (alive.expired() || stopped_) return;
      const auto fps = ans.status == federation::TxtStatus::ok
                           ? federation::find_fingerprints(ans.texts)
                           : std::vector<std::string>{};
      if (std::find(fps.begin(), fps.end(), st->cert.fingerprint_hex) == fps.end() &&
          st->failed.empty())
        st->failed =
            "key sha256:" + st->cert.fingerprint_hex.substr(0, 16) + "... not pinned by " + name +
            " (" +
            (fps.empty() ? std::string(federation::to_string(ans.status)) + ", no fingerprint"
                         : "another fingerprint") +
            ")";
      if (--st->left != 0) return;
      if (!st->failed.empty()) return st->done(nullptr, st->failed);
      add(st->cert, st->done);
    });
  }
}

}  // namespace ntm::dc::control
