#pragma once

#include <map>
#include <string>

namespace ballast::net {

// Plain request/response values so routing decisions are free functions, apart from
// the Beast sessions that carry them.
struct HttpRequest {
  std::string method;
  std::string target;  // path plus query string
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;

  std::string path() const { return target.substr(0, target.find('?')); }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  bool close_connection = false;  // a client told to retry should reconnect (through a Service, maybe elsewhere)
};

}  // namespace ballast::net
