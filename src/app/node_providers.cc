#include "app/node_providers.h"

#include "core/base64.h"
#include "kube/kube_api.h"
#include "providers/contabo_provider.h"
#include "providers/dispatch_provider.h"
#include "providers/vpsie_provider.h"

namespace ballast::app {
namespace {

using nlohmann::json;

std::string setting(const json& section, const char* key, std::string fallback = {}) {
  return section.is_object() && section.contains(key) && section[key].is_string() ? section[key].get<std::string>()
                                                                                   : fallback;
}

std::string credential(const std::map<std::string, std::string>& credentials, const char* key) {
  const auto it = credentials.find(key);
  return it == credentials.end() ? std::string() : it->second;
}

template <typename Provider>
Result<std::unique_ptr<nodepool::NodeProvider>> upcast(Result<std::unique_ptr<Provider>> made) {
  if (!made) return made.error();
  return std::unique_ptr<nodepool::NodeProvider>(std::move(*made));
}

}  // namespace

Result<std::unique_ptr<nodepool::NodeProvider>> make_node_provider(const json& node_group,
                                                                   const std::map<std::string, std::string>& credentials,
                                                                   const providers::ProviderContext& context) {
  const json provider = node_group.contains("spec") ? node_group["spec"].value("provider", json::object()) : json::object();
  const std::string type = setting(provider, "type");
  const json section = provider.value(type, json::object());
  if (type == "dispatch") {
    providers::DispatchSettings settings;
    settings.url = setting(section, "url");
    settings.event_type = setting(section, "eventType", settings.event_type);
    settings.scale_down_event_type = setting(section, "scaleDownEventType");
    settings.token = credential(credentials, "token");
    if (settings.url.empty()) return invalid_argument("spec.provider.dispatch.url is required");
    return upcast(providers::DispatchProvider::make(std::move(settings), context));
  }
  if (type == "vpsie") {
    providers::VpsieSettings settings;
    settings.api_url = setting(section, "apiURL", settings.api_url);
    settings.datacenter = setting(section, "datacenter");
    settings.os_identifier = setting(section, "osIdentifier");
    settings.project_id = setting(section, "projectId");
    settings.token = credential(credentials, "token");
    settings.client_id = credential(credentials, "clientId");
    settings.client_secret = credential(credentials, "clientSecret");
    settings.account_password = credential(credentials, "accountPassword");
    return upcast(providers::VpsieProvider::make(std::move(settings), context));
  }
  if (type == "contabo") {
    providers::ContaboSettings settings;
    settings.api_url = setting(section, "apiURL", settings.api_url);
    settings.auth_url = setting(section, "authURL", settings.auth_url);
    settings.region = setting(section, "region", settings.region);
    settings.image_id = setting(section, "imageId");
    if (section.is_object() && section.contains("period") && section["period"].is_number_integer()) {
      settings.period = section["period"].get<int>();
    }
    settings.client_id = credential(credentials, "clientId");
    settings.client_secret = credential(credentials, "clientSecret");
    settings.username = credential(credentials, "username");
    settings.password = credential(credentials, "password");
    return upcast(providers::ContaboProvider::make(std::move(settings), context));
  }
  return invalid_argument("spec.provider.type \"" + type + "\" is not one of vpsie, contabo, dispatch");
}

nodepool::ProviderFactory provider_factory(kube::KubeApi& api, std::string default_namespace,
                                           providers::ProviderContext context) {
  return [&api, default_namespace = std::move(default_namespace),
          context = std::move(context)](const json& node_group) -> Result<std::unique_ptr<nodepool::NodeProvider>> {
    std::map<std::string, std::string> credentials;
    const json provider = node_group.contains("spec") ? node_group["spec"].value("provider", json::object()) : json::object();
    const json ref = provider.value("credentialsSecret", json::object());
    if (ref.is_object() && ref.contains("name")) {
      const std::string ns = setting(ref, "namespace", default_namespace);
      const std::string name = setting(ref, "name");
      auto secret = api.get(kube::secrets(), ns, name);
      if (!secret) return Error{secret.error().code, "credentialsSecret " + ns + "/" + name + ": " + secret.error().message};
      const json empty = json::object();
      const json* data = secret->contains("data") && (*secret)["data"].is_object() ? &(*secret)["data"] : &empty;
      for (auto entry = data->begin(); entry != data->end(); ++entry) {
        const std::string& key = entry.key();
        if (!entry->is_string()) continue;
        auto decoded = base64_decode(entry->get<std::string>());
        if (!decoded) return invalid_argument("credentialsSecret " + ns + "/" + name + " key " + key + ": " + decoded.error().message);
        credentials[key] = std::move(*decoded);
      }
    }
    return make_node_provider(node_group, credentials, context);
  };
}

}  // namespace ballast::app
