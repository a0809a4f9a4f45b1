#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace ballast::sessions {

// An authenticated upgrade request on `/v1/peers`, handed from the sessions listener to the
// peer component, which completes the WebSocket handshake itself. `buffer` holds any bytes
// read past the request. The stream's executor is the connection's strand.
struct PeerUpgrade {
  boost::beast::tcp_stream stream;
  boost::beast::http::request<boost::beast::http::string_body> request;
  boost::beast::flat_buffer buffer;
};

}  // namespace ballast::sessions
