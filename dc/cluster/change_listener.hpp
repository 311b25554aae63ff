// SPDX-License-Identifier: MIT
// The listener thread: follows PostgreSQL notifications on ntm_changes
// (store/change_note.hpp) from enrollment commands and from the other DC
// processes of the cluster, reloads the rows they name (one round trip per
// note), or takes the registrations and path changes they carry, and hands
// them to the I/O thread.  After a lost connection it cannot know what it
// missed, so it reloads every party and path.  At start it needs no such
// reload when it is handed the connection that was LISTENing before the
// view was loaded (daemon.cpp): every change committed after the load's
// snapshot is then a notification queued on that connection.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ntm/wire/types.hpp"

namespace ntm::dc::control {
class Server;
}
namespace ntm::dc::store {
class Store;
}

namespace ntm::dc::cluster {

struct ListenerStats {
  std::atomic<std::uint64_t> notes{0};    // received, own included
  std::atomic<std::uint64_t> own{0};      // this process's own writes: ignored
  std::atomic<std::uint64_t> garbage{0};  // not a ChangeNote: ignored
  std::atomic<std::uint64_t> carried{0};  // registrations taken from notes
  std::atomic<std::uint64_t> unplaced{0};  // carried, but not a node of the view: reloaded
  std::atomic<std::uint64_t> parties{0};  // party rows reloaded
  std::atomic<std::uint64_t> paths_carried{0};  // path writes and deletions taken from notes
  std::atomic<std::uint64_t> paths{0};    // path IDs reloaded
  std::atomic<std::uint64_t> resyncs{0};  // full reloads (start, reconnect)
};

class ChangeListener {
 public:
  // sender: this process's token, the one its Writer notifies with.
  // listening: a Store whose connection LISTENed before the view was
  // loaded from the database, or null (then the listener connects and
  // reloads everything once it listens).
  ChangeListener(std::string url, std::string sender, boost::asio::io_context& io,
                 control::Server& server, std::unique_ptr<store::Store> listening = nullptr);
  ~ChangeListener();
  ChangeListener(const ChangeListener&) = delete;
  ChangeListener& operator=(const ChangeListener&) = delete;

  void start();
  void stop();  // joins the thread
  const ListenerStats& stats() const noexcept { return stats_; }
  void log_stats() const;

 private:
  void run();
  // Carried registrations of parties the view does not hold as nodes: the
  // I/O thread asks for their rows, the listener thread loads them the
  // next time it wakes (at most 500 ms later; a rare case: the enrollment
  // note comes first).
  void request_reload(std::vector<wire::NodeId> ids);
  void reload_requested(store::Store& store);
  std::string url_;
  std::string sender_;
  boost::asio::io_context& io_;
  control::Server& server_;
  std::unique_ptr<store::Store> store_;  // the listening connection
  bool resync_ = true;  // reload everything once LISTEN is in place
  std::atomic<bool> stop_{false};
  ListenerStats stats_;
  std::mutex reload_mu_;
  std::vector<wire::NodeId> reload_;
  std::thread thread_;
};

}  // namespace ntm::dc::cluster
