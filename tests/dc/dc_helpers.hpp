// SPDX-License-Identifier: MIT
// Small steps the DC integration tests share: addresses, path IDs, a
// node's and a relay's answer to the DC, a one-value SQL query.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "dc_process.hpp"

namespace ntm::test {

inline wire::Endpoint ep(const char* addr, std::uint16_t port) {
  wire::Endpoint e;
  REQUIRE(wire::IpAddr::parse(addr, e.addr));
  e.port = port;
  return e;
}

inline wire::PathId random_path() {
  wire::PathId p;
  wire::random_bytes(p.bytes);
  return p;
}

// Answers the DC's Route Direction like a node would, and returns it.
inline std::optional<wire::RouteDirection> accept_direction(NodeClient& n, int timeout_ms = 3000) {
  wire::ControlHeader h;
  auto rd = n.wait_for<wire::RouteDirection>(timeout_ms, &h);
  if (rd)
    n.send(wire::RouteDirectionAck{rd->path_id, rd->key_epoch, wire::Status::ok, n.local()},
           h.txid);
  return rd;
}

// Two nodes registered behind two NATs (MN reports 192.168.1.2, CN
// 10.0.0.2: a relayed route) and MN's Direction Request for CN, both Route
// Directions accepted (CN's comes first).  Fails the test if either is
// missing.
struct NatedDirection {
  wire::PathId path;
  wire::RouteDirection to_mn, to_cn;
};
inline NatedDirection direct_nated(NodeClient& mn, NodeClient& cn, const std::string& cn_fqdn,
                                   int timeout_ms = 8000) {
  REQUIRE(mn.register_at({ep("192.168.1.2", 4512)}));
  REQUIRE(cn.register_at({ep("10.0.0.2", 4512)}));
  NatedDirection d{random_path(), {}, {}};
  mn.send(wire::DirectionRequest{d.path, wire::Fqdn{cn_fqdn}, false});
  auto to_cn = accept_direction(cn, timeout_ms);
  REQUIRE(to_cn);
  auto to_mn = accept_direction(mn, timeout_ms);
  REQUIRE(to_mn);
  d.to_cn = *to_cn;
  d.to_mn = *to_mn;
  return d;
}

// A relay's side: answer a Relay Direction with an allocated endpoint.
inline std::optional<wire::RelayDirection> accept_relay(NodeClient& r, std::uint16_t port) {
  wire::ControlHeader h;
  auto rd = r.wait_for<wire::RelayDirection>(3000, &h);
  if (rd)
    r.send(wire::RelayResponse{rd->path_id, rd->key_epoch, wire::Status::ok,
                               ep("127.0.0.1", port)},
           h.txid);
  return rd;
}

// Sends a Direction Request and retransmits it (same txid, as a node does)
// every 400 ms until `watch` receives a message of type T, for at most
// timeout_ms; returns that message, unanswered, its header and the txid asked with.  A redirect
// asked for right after the path's last direction is held off by the DC
// until a retransmission (docs/dc.md "Moves").
template <class T>
std::optional<T> ask_until(NodeClient& asker, const wire::DirectionRequest& req, NodeClient& watch,
                           wire::ControlHeader* header = nullptr, std::uint32_t* txid_out = nullptr,
                           int timeout_ms = 4000) {
  const std::uint32_t txid = asker.send(req);
  if (txid_out) *txid_out = txid;
  for (int waited = 0; waited < timeout_ms; waited += 400) {
    if (auto m = watch.wait_for<T>(400, header)) return m;
    asker.send(req, txid);
  }
  return std::nullopt;
}

// The first column of the first row, "" for none or NULL.
inline std::string query1(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  auto r = tx.exec(sql);
  return r.empty() || r[0][0].is_null() ? std::string() : r[0][0].c_str();
}

// query1 until it returns `want` or timeout_ms passed; returns the last
// value (the DC writes paths behind its answers).
inline std::string query_until(const std::string& url, const std::string& sql,
                               const std::string& want, int timeout_ms = 2000) {
  std::string v;
  for (int waited = 0; (v = query1(url, sql)) != want && waited < timeout_ms; waited += 20)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return v;
}

// Runs a statement that changes the database, committed.
inline void execute(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec0(sql);
  tx.commit();
}

}  // namespace ntm::test
