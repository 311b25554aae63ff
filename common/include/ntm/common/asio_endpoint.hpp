// SPDX-License-Identifier: MIT
// A wire endpoint as an Asio UDP endpoint, for the daemons that send with
// Asio sockets (ntm-dc's control socket and resolver, ntmd's control
// client).  Header-only: ntm_common itself does not use Asio.
#pragma once

#include <boost/asio/ip/udp.hpp>

#include <algorithm>

#include "ntm/wire/types.hpp"

namespace ntm::common {

inline boost::asio::ip::udp::endpoint to_asio(const wire::Endpoint& e) {
  namespace ip = boost::asio::ip;
  if (e.addr.family == wire::Family::v6) {
    ip::address_v6::bytes_type b;
    std::copy(e.addr.bytes.begin(), e.addr.bytes.end(), b.begin());
    return {ip::address_v6(b), e.port};
  }
  ip::address_v4::bytes_type b;
  std::copy_n(e.addr.bytes.begin(), 4, b.begin());
  return {ip::address_v4(b), e.port};
}

}  // namespace ntm::common
