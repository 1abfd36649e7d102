#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/payment_provider.hpp"

namespace eventstripe::config {
struct settings;
}

// The node's configured provider accounts, built once at start from config::settings and handed
// to the payment actors and the webhook ingress: stripe when payments.stripe.api_base is set,
// adyen when payments.adyen.api_base is set, offline always.
namespace eventstripe::io::providers {

// "a, b,,c " -> {"a", "b", "c"}: comma-separated, trimmed of spaces and tabs, empty items dropped.
std::vector<std::string> split_comma_list(std::string_view text);

class provider_registry {
 public:
  // Throws std::invalid_argument, naming the configuration key, when a configured account cannot
  // be set up: a base URL that is not http(s), a missing secret key or API key, an Adyen HMAC key
  // that is not hex, an empty merchant account, or a CA file that cannot be loaded.
  explicit provider_registry(const config::settings& values);

  const std::vector<std::shared_ptr<actors::payment_provider>>& providers() const { return providers_; }
  // The account named `name` ("stripe", "adyen", "offline"), or null.
  std::shared_ptr<actors::payment_provider> find(std::string_view name) const;

 private:
  std::vector<std::shared_ptr<actors::payment_provider>> providers_;
};

}  // namespace eventstripe::io::providers
