#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "nodepool/reconciler/nodepool_reconciler.h"
#include "providers/provider_http.h"

namespace ballast::kube {
class KubeApi;
}

namespace ballast::app {

// The provider a NodeGroup's spec.provider asks for, with the credentials of its
// Secret (keys: dispatch `token`; vpsie `token`, or `clientId` + `clientSecret`, and
// `accountPassword` for deletes; contabo `clientId`, `clientSecret`, `username`,
// `password`). Pure apart from the context it hands the provider; tested without I/O.
Result<std::unique_ptr<nodepool::NodeProvider>> make_node_provider(const nlohmann::json& node_group,
                                                                   const std::map<std::string, std::string>& credentials,
                                                                   const providers::ProviderContext& context);

// The reconciler's factory: reads the credentials Secret through `api`, then
// make_node_provider(). `api` and `context` must outlive the factory.
nodepool::ProviderFactory provider_factory(kube::KubeApi& api, std::string default_namespace,
                                           providers::ProviderContext context);

}  // namespace ballast::app
