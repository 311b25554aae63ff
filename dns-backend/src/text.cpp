// SPDX-License-Identifier: MIT
// Presentation-format helpers: names and TXT strings exactly as pdns's
// record parser reads them from a remote-backend "content" field.
#include <array>
#include <cstdio>

#include "ntm/dns/zone_data.hpp"

namespace ntm::dns {

namespace {

constexpr std::size_t kMaxName = 253;  // presentation length without the final dot
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxTxtString = 255;  // one <character-string> (RFC 1035 3.3)

// Letters, digits, '-' and '_' (underscore for labels such as _ntm-dc): no
// character that presentation format would need to escape.
bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

std::optional<std::string> canonical_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxName) return std::nullopt;
  std::string out;
  out.reserve(name.size() + 1);
  std::size_t label = 0;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c == '.') {
      if (label == 0) return std::nullopt;
      label = 0;
    } else {
      if (!name_char(c) || ++label > kMaxLabel) return std::nullopt;
    }
    out.push_back(c);
  }
  if (label == 0) return std::nullopt;
  out.push_back('.');
  return out;
}

std::string txt_content(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t in_string = 0;
  out.push_back('"');
  for (unsigned char c : text) {
    // Split on the raw byte count: each quoted string holds <= 255 bytes
    // once pdns has unescaped it.
    if (in_string == kMaxTxtString) {
      out += "\" \"";
      in_string = 0;
    }
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c > 0x7e) {
      std::array<char, 5> buf{};
      std::snprintf(buf.data(), buf.size(), "\\%03u", static_cast<unsigned>(c));
      out += buf.data();
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++in_string;
  }
  out.push_back('"');
  return out;
}

std::string ipv4_text(std::uint32_t a) {
  return std::to_string(a >> 24) + '.' + std::to_string((a >> 16) & 0xff) + '.' +
         std::to_string((a >> 8) & 0xff) + '.' + std::to_string(a & 0xff);
}

std::string marker_text(std::string_view dc_endpoint) {
  std::string s = "v=ntm1 dc=";
  s += dc_endpoint;
  return s;
}

std::string discovery_text(std::string_view endpoint, std::string_view fingerprint_hex) {
  std::string s = "v=ntm1 endpoint=";
  s += endpoint;
  s += " fp=sha256:";
  s += fingerprint_hex;
  return s;
}

}  // namespace ntm::dns
