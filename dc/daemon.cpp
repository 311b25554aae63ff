// SPDX-License-Identifier: MIT
#include "daemon.hpp"

#include <malloc.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <thread>

#include "cluster/change_listener.hpp"
#include "control/server.hpp"
#include "database.hpp"
#include "dns/publisher.hpp"
#include "identity/dc_key.hpp"
#include "ntm/common/clock.hpp"
#include "ntm/common/service_notify.hpp"
#include "store/change_note.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

namespace ntm::dc {

namespace asio = boost::asio;

namespace {

struct Loaded {
  std::vector<store::ZoneRow> zones;
  std::size_t parties = 0, paths = 0;
};

// Loads everything into the view.
Loaded load_view(store::Store& store, state::View& view, const config::Config& cfg) {
  Loaded out;
  out.zones = store.ensure_zones(cfg.zones);
  std::size_t& parties = out.parties;
  std::size_t& paths = out.paths;
  // In a cluster, which parties registered here last is not in the
  // database: none is taken for this member's own until it registers here
  // (docs/operations.md "DC cluster": a restarted member never writes or
  // judges another member's node).  A DC of one is every party's home.
  const bool home_of_all = cfg.cluster.size() <= 1;
  for (const auto& row : store.load_parties()) {
    view.upsert(row).home_here = home_of_all;
    ++parties;
  }
  for (const auto& p : store.load_paths()) {
    view.put_path(p);
    ++paths;
  }
  return out;
}

}  // namespace

int serve(const config::Config& cfg) {
  Database db(cfg, Database::Role::daemon);
  spdlog::info("database: {}", migrate_database(db.url()));

  state::View view;
  Loaded loaded;
  // The listener's connection LISTENs before the view is loaded, through
  // it: a change committed after the load's snapshot is then a queued
  // notification, and the listener need not load everything a second time
  // once it runs (at 100,000 nodes that second pass cost as much as this
  // one, on the I/O thread, while nodes re-register).  A change committed
  // between LISTEN and the snapshot comes twice; applying it again is
  // harmless.
  auto listening = std::make_unique<store::Store>(db.url());
  {
    const auto t0 = common::mono_ms();
    listening->listen();
    loaded = load_view(*listening, view, cfg);
    spdlog::info("view: {} nodes, {} relays, {} paths loaded in {} ms", view.node_count(),
                 loaded.parties - view.node_count(), loaded.paths, common::mono_ms() - t0);
  }
  // The load's query results and row vectors are gone; hand their pages
  // back rather than leave them to glibc's trim heuristics, which keep
  // tens of MB with 100,000 nodes whenever a small block sits above them.
  ::malloc_trim(0);
  const auto dc_key = identity::load_or_create(cfg.state_dir / "dc-key.pem");
  spdlog::info("dc key: sha256:{}", dc_key.fingerprint_hex());

  asio::io_context io(1);
  // The token this process's writes carry in their notifications, so that
  // its own listener skips them (docs/operations.md "DC cluster").
  const std::string sender = store::new_sender_token();
  // In a cluster the members' commits must not wait for each other's WAL
  // flushes (Store::set_notify_sender); a lone DC keeps one transaction per
  // batch.
  store::Writer writer(db.url(), cfg.group_commit_max, sender,
                       std::chrono::milliseconds(cfg.group_commit_linger_ms),
                       cfg.cluster.size() > 1);
  control::Server server(io, cfg, view, writer);
  server.start();

  // DNS: published from the view on this thread; pdns connects once the
  // socket accepts (it exits if we are not there at its start).
  std::unique_ptr<zone::Publisher> publisher;
  if (!cfg.dns.socket.empty()) {
    publisher = std::make_unique<zone::Publisher>(
        io, cfg, writer, loaded.zones, dc_key,
        [&server](const std::string& fqdn) { server.prompt(fqdn); });
    publisher->start(view);
    server.set_node_observer(publisher.get());
  }

  cluster::ChangeListener listener(db.url(), sender, io, server, std::move(listening));
  listener.start();

  // The counters while running, not only at stop: cumulative since start,
  // in the same lines as at stop (docs/dc.md §14).
  auto log_all_stats = [&] {
    server.log_stats();
    listener.log_stats();
    if (publisher) publisher->log_stats();
    const auto& ws = writer.stats();
    spdlog::info("store: {} operations in {} transactions, {} failed", ws.ops.load(),
                 ws.batches.load(), ws.failed_ops.load());
  };
  asio::steady_timer stats_timer(io);
  std::function<void()> arm_stats = [&] {
    if (cfg.stats_interval_s == 0) return;
    stats_timer.expires_after(std::chrono::seconds(cfg.stats_interval_s));
    stats_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      log_all_stats();
      arm_stats();
    });
  };
  arm_stats();
  // SIGTERM drains: no new datagrams are taken, every queued write is
  // committed and its answer sent, then the DC stops (bounded: 5 s).
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer drain_timer(io);
  const auto drain_deadline = std::make_shared<std::uint64_t>(0);
  std::function<void()> wait_drained = [&] {
    if (writer.pending() == 0 || common::mono_ms() >= *drain_deadline) {
      if (writer.pending()) spdlog::warn("drain: {} writes still pending", writer.pending());
      // Completions of the last commits were posted before pending() fell
      // to zero: stop behind them, so their answers still go out.
      asio::post(io, [&] {
        if (publisher) publisher->stop();
        server.stop();
        io.stop();
      });
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(10));
    drain_timer.async_wait([&](const boost::system::error_code&) { wait_drained(); });
  };
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: draining and stopping", sig);
    stats_timer.cancel();
    common::service_notify("STOPPING=1");
    server.drain();
    *drain_deadline = common::mono_ms() + 5000;
    // Let completions already posted run before checking.
    asio::post(io, wait_drained);
  });
  // Ready line: tests and operators wait for it.
  spdlog::info("ntm-dc ready: control {} dc-id {}", server.local_endpoint().to_string(),
               cfg.dc_id.to_hex());
  // systemd (Type=notify) starts pdns.service only now: the DNS socket
  // accepts, so pdns's getAllDomains at its start succeeds.
  common::service_notify("READY=1");
  io.run();

  listener.stop();
  // Drain: every queued write is applied before the database goes away.
  writer.stop();
  log_all_stats();
  return 0;
}

}  // namespace ntm::dc
