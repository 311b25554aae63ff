// SPDX-License-Identifier: MIT
// Backend: request framing, the method table, counters and the node hook.
#include "ntm/dns/backend.hpp"

namespace ntm::dns {

using nlohmann::json;

namespace {

constexpr std::string_view kFalseReply = R"({"result":false})";
// Longer than any method pdns knows; a longer name is unknown, unread.
constexpr std::size_t kMaxMethodName = 64;

json result(json value) {
  return json{{"result", std::move(value)}};
}

}  // namespace

const std::unordered_map<std::string_view, Handler>& method_table() {
  static const std::unordered_map<std::string_view, Handler> table{
      {"initialize", &handlers::initialize},
      {"lookup", &handlers::lookup},
      {"getalldomains", &handlers::get_all_domains},
      {"getdomaininfo", &handlers::get_domain_info},
      {"getalldomainmetadata", &handlers::get_all_domain_metadata},
      {"getdomainmetadata", &handlers::get_domain_metadata},
      {"list", &handlers::list},
      {"directbackendcmd", &handlers::direct_backend_cmd},
  };
  return table;
}


std::string Backend::handle_line(std::string_view line) {
  try {
    if (auto fast = fast_lookup(line)) return std::move(*fast);
  } catch (...) {
    // Only allocation can throw there; the general path answers.
  }
  return handle_line_general(line);
}

std::string Backend::handle_line_general(std::string_view line) {
  try {
    json req = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded()) {
      bump(c_.requests);
      bump(c_.malformed_json);
      return std::string(kFalseReply);
    }
    // replace: a reply must never fail on bytes that are not UTF-8.
    return handle(req).dump(-1, ' ', false, json::error_handler_t::replace);
  } catch (...) {
    bump(c_.handler_errors);
    return std::string(kFalseReply);
  }
}

json Backend::handle(const json& request) {
  bump(c_.requests);
  try {
    const auto m = request.is_object() ? request.find("method") : request.end();
    if (!request.is_object() || m == request.end() || !m->is_string()) {
      bump(c_.malformed_json);
      return result(false);
    }
    static const json kNoParams = json::object();
    const auto p = request.find("parameters");
    const json& params = (p == request.end() || p->is_null()) ? kNoParams : *p;
    return result(dispatch(m->get_ref<const std::string&>(), params));
  } catch (...) {
    bump(c_.handler_errors);
    return result(false);
  }
}

json Backend::dispatch(std::string_view method, const json& params) {
  if (method.size() > kMaxMethodName) {
    bump(c_.unknown_method);
    return false;
  }
  std::string name(method);
  for (char& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  const auto& table = method_table();
  const auto it = table.find(name);
  if (it == table.end()) {
    bump(c_.unknown_method);
    return false;
  }
  if (!params.is_object()) {
    bump(c_.bad_params);
    return false;
  }
  // Held for the whole call: handlers and the hook point into it.
  std::shared_ptr<const Snapshot> snap = source_ ? source_() : nullptr;
  static const Snapshot kEmpty;
  if (!snap && name != "initialize") {
    bump(c_.no_snapshot);
    return false;
  }
  const bool is_lookup = name == "lookup";
  if (is_lookup) bump(c_.lookups);

  BackendStats now;
  CallContext ctx;
  if (name == "directbackendcmd") {
    now = stats();
    ctx.stats = &now;
    ctx.extra_stats = &extra_stats_;
  }
  json out;
  try {
    out = it->second(params, snap ? *snap : kEmpty, ctx);
  } catch (...) {
    bump(c_.handler_errors);
    return false;
  }
  if (out.is_null()) {
    bump(c_.bad_params);
    return false;
  }
  if (is_lookup && out.is_boolean()) bump(c_.lookup_misses);
  if (ctx.node_lookup && hook_) {
    bump(c_.node_lookups);
    try {
      hook_(ctx.lookup);
    } catch (...) {
      bump(c_.hook_errors);
    }
  }
  return out;
}

BackendStats Backend::stats() const {
  auto r = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  BackendStats s;
  s.requests = r(c_.requests);
  s.malformed_json = r(c_.malformed_json);
  s.unknown_method = r(c_.unknown_method);
  s.bad_params = r(c_.bad_params);
  s.handler_errors = r(c_.handler_errors);
  s.no_snapshot = r(c_.no_snapshot);
  s.lookups = r(c_.lookups);
  s.lookup_misses = r(c_.lookup_misses);
  s.node_lookups = r(c_.node_lookups);
  s.hook_errors = r(c_.hook_errors);
  s.fast_lookups = r(c_.fast_lookups);
  return s;
}

}  // namespace ntm::dns
