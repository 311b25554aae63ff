// SPDX-License-Identifier: MIT
#include "cluster/change_listener.hpp"

#include <malloc.h>

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>

#include "control/server.hpp"
#include "store/change_note.hpp"
#include "store/store.hpp"

namespace ntm::dc::cluster {

namespace asio = boost::asio;

ChangeListener::ChangeListener(std::string url, std::string sender, asio::io_context& io,
                               control::Server& server, std::unique_ptr<store::Store> listening)
    : url_(std::move(url)),
      sender_(std::move(sender)),
      io_(io),
      server_(server),
      store_(std::move(listening)),
      resync_(!store_) {
  if (!store_) store_ = std::make_unique<store::Store>(url_);
}

ChangeListener::~ChangeListener() { stop(); }

void ChangeListener::start() {
  thread_ = std::thread([this] { run(); });
}

void ChangeListener::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ChangeListener::log_stats() const {
  spdlog::info("cluster: notes={} own={} garbage={} registrations_carried={} unplaced={} "
               "paths_carried={} parties_reloaded={} paths_reloaded={} resyncs={}",
               stats_.notes.load(), stats_.own.load(), stats_.garbage.load(),
               stats_.carried.load(), stats_.unplaced.load(), stats_.paths_carried.load(),
               stats_.parties.load(), stats_.paths.load(),
               stats_.resyncs.load());
}

void ChangeListener::request_reload(std::vector<wire::NodeId> ids) {
  stats_.unplaced += ids.size();
  std::lock_guard lock(reload_mu_);
  reload_.insert(reload_.end(), ids.begin(), ids.end());
}

void ChangeListener::reload_requested(store::Store& store) {
  std::vector<wire::NodeId> ids;
  {
    std::lock_guard lock(reload_mu_);
    ids.swap(reload_);
  }
  if (ids.empty()) return;
  auto rows = store.load_parties(ids);
  spdlog::debug("listener: reloaded {} of {} parties carried notes named but the view lacks",
                rows.size(), ids.size());
  stats_.parties += rows.size();
  asio::post(io_, [&server = server_, rows = std::move(rows)] {
    server.on_cluster_parties(rows, false);
  });
}

void ChangeListener::run() {
  store::Store& store = *store_;
  auto& server = server_;
  // Resync once LISTEN is in place: that covers whatever changed between
  // loading the view and listening (unless LISTEN came first: see the
  // constructor), and after a reconnect whatever changed while the
  // connection was down (removals included).
  bool resync = resync_;
  while (!stop_) {
    try {
      store.listen();
      if (resync) {
        auto rows = store.load_parties();
        auto paths = store.load_paths();
        stats_.resyncs++;
        asio::post(io_, [&server, rows = std::move(rows), paths = std::move(paths)]() mutable {
          {
            const auto all_rows = std::move(rows);
            const auto all_paths = std::move(paths);
            server.sync_parties(all_rows);
            // Paths the database holds now, where newer than the view's;
            // one deleted meanwhile stays until its ends direct it again (a
            // deletion while disconnected is rare).
            server.on_cluster_paths({}, all_paths, true);
          }
          // A copy of every row has just been freed (once per connection):
          // give its pages back, as after the first load (daemon.cpp).
          ::malloc_trim(0);
        });
        resync = false;
      }
      reload_requested(store);
      for (const auto& payload : store.wait_notifications(500)) {
        stats_.notes++;
        if (store::note_from(payload, sender_)) {
          stats_.own++;  // already in this view
          continue;
        }
        auto note = store::parse_change_note(payload);
        if (!note) {
          // Only a database user can send on the channel: a bug or an
          // operator's mistake, never worth a crash; counted, logged once.
          if (stats_.garbage++ == 0)
            spdlog::warn("listener: ignored a malformed notification ({} bytes)", payload.size());
          continue;
        }
        switch (note->kind) {
          case store::ChangeNote::Kind::party: {
            const wire::NodeId id = note->parties.front();
            auto row = store.load_party(id);
            stats_.parties++;
            asio::post(io_, [&server, id, row] { server.on_party_changed(id, row); });
            break;
          }
          case store::ChangeNote::Kind::registrations: {
            stats_.carried += note->registrations.size();
            // No database round trip: the note holds what the row now does.
            asio::post(io_, [this, &server, regs = std::move(note->registrations)] {
              auto unknown = server.on_cluster_registrations(regs);
              if (!unknown.empty()) request_reload(std::move(unknown));
            });
            break;
          }
          case store::ChangeNote::Kind::parties:
          case store::ChangeNote::Kind::seen: {
            auto rows = store.load_parties(note->parties);
            stats_.parties += rows.size();
            const bool seen = note->kind == store::ChangeNote::Kind::seen;
            asio::post(io_, [&server, rows = std::move(rows), seen] {
              server.on_cluster_parties(rows, seen);
            });
            break;
          }
          case store::ChangeNote::Kind::path_rows: {
            stats_.paths_carried += note->path_rows.size();
            asio::post(io_, [&server, rows = std::move(note->path_rows)] {
              server.on_cluster_paths({}, rows);
            });
            break;
          }
          case store::ChangeNote::Kind::gone: {
            stats_.paths_carried += note->paths.size();
            // IDs without rows: erased from the view (unless directed here now).
            asio::post(io_, [&server, ids = std::move(note->paths)] {
              server.on_cluster_paths(ids, {});
            });
            break;
          }
          case store::ChangeNote::Kind::paths: {
            auto rows = store.load_paths(note->paths);
            stats_.paths += note->paths.size();
            asio::post(io_, [&server, ids = note->paths, rows = std::move(rows)] {
              server.on_cluster_paths(ids, rows);
            });
            break;
          }
        }
      }
    } catch (const store::Unavailable& e) {
      spdlog::warn("listener: {}; retrying", e.what());
      resync = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    } catch (const std::exception& e) {
      spdlog::error("listener: {}", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

}  // namespace ntm::dc::cluster
