// SPDX-License-Identifier: MIT
// Cluster members' commits overlap (dc.md §12.2): PostgreSQL holds its
// notify lock from before a notifying commit to its end, so a member whose
// notes commit with the batch's WAL flush keeps every other member's batch
// waiting behind that flush.  Here the flush never ends on its own: the
// private cluster names a synchronous standby that does not exist, so every
// synchronous commit waits until the test clears the name.  Both members'
// notes must still reach a listener meanwhile, and neither batch may be
// acknowledged before its flush.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <system_error>
#include <thread>

#include "ntm/wire/secret_key.hpp"
#include "state/path.hpp"
#include "store/change_note.hpp"
#include "store/embedded_postgres.hpp"
#include "store/migrate.hpp"
#include "store/store.hpp"
#include "store/writer.hpp"

using namespace ntm;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using dc::store::EmbeddedPostgres;

namespace {

EmbeddedPostgres::Options options() {
  EmbeddedPostgres::Options o;
  // fsync off for speed; synchronous_commit stays on (the default), which
  // is what makes a commit wait for the standby.
  o.settings = {{"fsync", "off"}};
  o.sync_initdb = false;
  o.timeout = std::chrono::seconds(30);
  return o;
}

// A private cluster in a scratch directory, stopped and removed whatever
// the test did.
class PrivateCluster {
 public:
  PrivateCluster() {
    char name[] = "/tmp/ntm-notify-lock.XXXXXX";
    if (::mkdtemp(name) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp");
    dir_ = name;
    pg_ = std::make_unique<EmbeddedPostgres>(dir_, 0, options());
    pg_->start();
  }
  ~PrivateCluster() {
    try {
      pg_->stop();
    } catch (const std::exception& e) {
      MESSAGE("private cluster: stop failed: " << e.what());
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  PrivateCluster(const PrivateCluster&) = delete;
  PrivateCluster& operator=(const PrivateCluster&) = delete;
  std::string url() const { return pg_->url(); }

 private:
  fs::path dir_;
  std::unique_ptr<EmbeddedPostgres> pg_;
};

void set_standby(const std::string& url, bool on) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  tx.exec(on ? "ALTER SYSTEM SET synchronous_standby_names = 'ntm_absent_standby'"
             : "ALTER SYSTEM RESET synchronous_standby_names");
  tx.exec("SELECT pg_reload_conf()");
}

// Names (or clears) a synchronous standby and waits until commits see it:
// a probe commit that waits for the standby shows the wait event SyncRep,
// and is then cancelled (it stays committed locally, with a warning).
void require_standby(const std::string& url, bool on) {
  set_standby(url, on);
  const auto until = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    pqxx::connection probe(url), watch(url);
    const int pid = pqxx::nontransaction(probe).exec1("SELECT pg_backend_pid()")[0].as<int>();
    std::atomic<bool> done{false};
    std::thread t([&] {
      try {
        pqxx::work tx(probe);
        tx.exec("INSERT INTO probe VALUES (1)");
        tx.commit();
      } catch (const std::exception&) {
      }
      done = true;
    });
    bool waited = false;
    const auto look_until = std::chrono::steady_clock::now() + 500ms;
    while (!done && std::chrono::steady_clock::now() < look_until) {
      pqxx::nontransaction w(watch);
      if (!w.exec_params("SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event = 'SyncRep'",
                         pid)
               .empty()) {
        waited = true;
        break;
      }
      std::this_thread::sleep_for(10ms);
    }
    while (!done) {
      pqxx::nontransaction(watch).exec_params("SELECT pg_cancel_backend($1)", pid);
      std::this_thread::sleep_for(20ms);
    }
    t.join();
    if (waited == on) return;
    REQUIRE(std::chrono::steady_clock::now() < until);
    std::this_thread::sleep_for(50ms);
  }
}

// Clears the standby however the test ends, so that nothing waits forever.
struct StandbyGuard {
  std::string url;
  ~StandbyGuard() {
    try {
      set_standby(url, false);
    } catch (const std::exception& e) {
      MESSAGE("standby not cleared: " << e.what());
    }
  }
};

dc::state::Path path_between(const wire::NodeId& a, const wire::NodeId& b) {
  dc::state::Path p;
  wire::random_bytes(p.id.bytes);
  p.initiator = a;
  p.responder = b;
  p.responder_fqdn = "b.w.example";
  p.state = dc::state::PathState::established;
  return p;
}

long flush_marks_of(const std::string& url, const std::string& sender) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  auto r = tx.exec_params("SELECT batches FROM flush_marks WHERE sender = $1", sender);
  return r.empty() ? 0 : r[0][0].as<long>();
}

}  // namespace

TEST_CASE("cluster writers: a member's notes are heard while another member's flush still waits") {
  std::unique_ptr<PrivateCluster> pg;
  try {
    pg = std::make_unique<PrivateCluster>();
  } catch (const std::exception& e) {
    // Only where the PostgreSQL server binaries are missing (CI installs them).
    MESSAGE("SKIP: no private PostgreSQL cluster: " << e.what());
    return;
  }
  const std::string url = pg->url();
  {
    pqxx::connection c(url);
    dc::store::migrate(c);
    pqxx::nontransaction tx(c);
    tx.exec("CREATE TABLE probe (n int)");  // require_standby's
  }
  wire::NodeId a, b;
  wire::random_bytes(a.bytes);
  wire::random_bytes(b.bytes);
  {
    dc::store::Store setup(url);
    const int zone = setup.ensure_zones({"w.example"}).at(0).zone_id;
    setup.insert_node(a, "a.w.example", zone, wire::SecretKey::random(), 0x64400001);
    setup.insert_node(b, "b.w.example", zone, wire::SecretKey::random(), 0x64400002);
  }
  dc::store::Store listener(url);
  listener.listen();
  (void)listener.wait_notifications(10);

  const std::string first = dc::store::new_sender_token(), second = dc::store::new_sender_token();
  dc::store::Writer one(url, 64, first, 0ms, true), two(url, 64, second, 0ms, true);
  // Both writers have connected and made one batch durable (a mark each),
  // and the listener has heard of both.
  {
    std::atomic<int> ready{0};
    one.submit(dc::store::PathWrite{path_between(a, b)}, [&](bool ok) { ready += ok; });
    two.submit(dc::store::PathWrite{path_between(b, a)}, [&](bool ok) { ready += ok; });
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (ready < 2 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    REQUIRE(ready == 2);
    REQUIRE(flush_marks_of(url, first) == 1);
    REQUIRE(flush_marks_of(url, second) == 1);
    // Everything heard so far goes, up to a quiet 300 ms.
    for (int i = 0; i < 50 && !listener.wait_notifications(300).empty(); ++i) {
    }
  }

  StandbyGuard guard{url};
  require_standby(url, true);
  std::atomic<int> acked_one{0}, acked_two{0};
  one.submit(dc::store::PathWrite{path_between(a, b)}, [&](bool ok) { acked_one = ok ? 1 : -1; });
  // The first member's batch is in its flush (or about to be) when the
  // second one commits.
  std::this_thread::sleep_for(200ms);
  two.submit(dc::store::PathWrite{path_between(b, a)}, [&](bool ok) { acked_two = ok ? 1 : -1; });

  std::set<std::string> heard;
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (heard.size() < 2 && std::chrono::steady_clock::now() < until)
    for (const auto& payload : listener.wait_notifications(100))
      for (const auto* s : {&first, &second})
        if (dc::store::note_from(payload, *s)) heard.insert(*s);
  CHECK_MESSAGE(heard.count(first) == 1, "the first member's note was not delivered");
  CHECK_MESSAGE(heard.count(second) == 1,
                "the second member's note waited for the first member's flush");
  // Committed and heard, but not on disk: nobody is told it is done.
  CHECK(acked_one == 0);
  CHECK(acked_two == 0);
  CHECK(flush_marks_of(url, first) == 1);  // still the batch before the standby

  require_standby(url, false);
  const auto done_by = std::chrono::steady_clock::now() + 10s;
  while ((acked_one == 0 || acked_two == 0) && std::chrono::steady_clock::now() < done_by)
    std::this_thread::sleep_for(10ms);
  CHECK(acked_one == 1);
  CHECK(acked_two == 1);
  CHECK(flush_marks_of(url, first) == 2);
  CHECK(flush_marks_of(url, second) == 2);
  one.stop();
  two.stop();
  // A member that stops removes its mark.
  CHECK(flush_marks_of(url, first) == 0);
  CHECK(flush_marks_of(url, second) == 0);
}
