#pragma once

// Internal to src/net: the Beast side of HttpRequest, for the servers' .cc files only.

#include <cctype>
#include <string>

#include <boost/beast/http.hpp>

#include "net/http_types.h"

namespace ballast::net {

inline HttpRequest to_plain(const boost::beast::http::request<boost::beast::http::string_body>& request) {
  HttpRequest plain;
  plain.method = std::string(request.method_string());
  plain.target = std::string(request.target());
  for (const auto& field : request) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    plain.headers[name] = std::string(field.value());
  }
  plain.body = request.body();
  return plain;
}

}  // namespace ballast::net
