#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "sources/sessions/session_server.h"

namespace ballast::sessions {

// A blocking WebSocket client of the session counters protocol, for the demo, tests and
// benchmarks. Each publisher runs its own io_context on the calling thread, only inside its
// own calls; it is not thread-safe. Every call is bounded in time.
class SessionPublisher {
 public:
  // Connects and upgrades. An empty token sends no Authorization header. A refused upgrade
  // is an Error whose message carries the HTTP status ("HTTP 401 Unauthorized").
  // A non-empty `publisher` is sent as X-Ballast-Publisher.
  static Result<std::unique_ptr<SessionPublisher>> connect(const std::string& host, uint16_t port,
                                                           const std::string& token,
                                                           std::string_view target = kSessionsPath,
                                                           const std::string& publisher = {});
  ~SessionPublisher();
  SessionPublisher(const SessionPublisher&) = delete;
  SessionPublisher& operator=(const SessionPublisher&) = delete;

  // Sends one text frame.
  Status send(std::string_view text);
  // Sends one binary frame, which the protocol refuses (lets tests exercise that path).
  Status send_binary(std::string_view bytes);
  // The next text frame from the server. kUnavailable on timeout (the connection stays
  // usable); kIo once the connection is gone, with the close code in the message when the
  // server closed it ("closed by server with code 1008").
  Result<std::string> receive(std::chrono::milliseconds timeout);
  Status ping();
  // Closes with 1000 (normal), waiting briefly for the server's reply. Idempotent.
  void close();

  // The code of the server's close frame, once one has been received.
  std::optional<int> close_code() const;

 private:
  struct Impl;
  explicit SessionPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::sessions
