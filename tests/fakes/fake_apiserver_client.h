#pragma once

#include <memory>

#include "fakes/fake_apiserver.h"
#include "kube/kube_client.h"
#include "net/io_pool.h"

namespace ballast::testing {

// The fake apiserver, started, with a KubeClient of it and the I/O pool the client runs on.
// What uses the client (informers, Event recorders, reconcilers) must be gone before this
// is: a test's locals made after it, or the members of a rig derived from it, are.
struct FakeApiServerWithClient {
  FakeApiServerWithClient() {
    server.start();
    pool.start();
    kube::KubeConfig config;
    config.server = server.url();
    client = std::make_unique<kube::KubeClient>(pool, config);
  }
  ~FakeApiServerWithClient() {
    client.reset();
    pool.stop();
  }
  FakeApiServerWithClient(const FakeApiServerWithClient&) = delete;
  FakeApiServerWithClient& operator=(const FakeApiServerWithClient&) = delete;

  FakeApiServer server;
  net::IoPool pool{1};
  std::unique_ptr<kube::KubeClient> client;
};

}  // namespace ballast::testing
