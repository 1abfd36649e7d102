#include "io/providers/registry.hpp"

#include <stdexcept>

#include "config/settings.hpp"
#include "io/providers/adyen_provider.hpp"
#include "io/providers/offline_provider.hpp"
#include "io/providers/stripe_provider.hpp"
#include "io/providers/wire_fields.hpp"

namespace eventstripe::io::providers {

namespace {

// Builds an adapter; its configuration errors name the account's key prefix.
template <class Provider, class Settings>
std::shared_ptr<actors::payment_provider> construct(const char* prefix, Settings settings) {
  try {
    return std::make_shared<Provider>(std::move(settings));
  } catch (const std::invalid_argument& problem) {
    throw std::invalid_argument(std::string{prefix} + ": " + problem.what());
  }
}

std::shared_ptr<actors::payment_provider> make_stripe(const config::settings& values) {
  if (values.stripe_secret_key.empty()) {
    throw std::invalid_argument("payments.stripe.secret_key is required when payments.stripe.api_base is set");
  }
  stripe_settings settings;
  settings.api_base = values.stripe_api_base;
  settings.secret_key = values.stripe_secret_key;
  settings.webhook_secrets = split_comma_list(values.stripe_webhook_secrets);
  settings.ca_file = values.payments_ca_file;
  settings.timeout_ms = values.provider_timeout_ms;
  settings.webhook_tolerance_s = std::chrono::seconds{values.webhook_tolerance_s};
  settings.webhook_future_skew_s = std::chrono::seconds{values.webhook_future_skew_s};
  return construct<stripe_provider>("payments.stripe", std::move(settings));
}

std::shared_ptr<actors::payment_provider> make_adyen(const config::settings& values) {
  if (values.adyen_api_key.empty()) {
    throw std::invalid_argument("payments.adyen.api_key is required when payments.adyen.api_base is set");
  }
  adyen_settings settings;
  settings.api_base = values.adyen_api_base;
  settings.api_key = values.adyen_api_key;
  settings.hmac_keys = split_comma_list(values.adyen_hmac_keys);
  settings.merchant_account = values.adyen_merchant_account;
  settings.ca_file = values.payments_ca_file;
  settings.timeout_ms = values.provider_timeout_ms;
  return construct<adyen_provider>("payments.adyen", std::move(settings));
}

}  // namespace

std::vector<std::string> split_comma_list(std::string_view text) {
  std::vector<std::string> items;
  while (true) {
    auto comma = text.find(',');
    auto item = trim_spaces(text.substr(0, comma));
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) return items;
    text.remove_prefix(comma + 1);
  }
}

provider_registry::provider_registry(const config::settings& values) {
  if (!values.stripe_api_base.empty()) providers_.push_back(make_stripe(values));
  if (!values.adyen_api_base.empty()) providers_.push_back(make_adyen(values));
  providers_.push_back(std::make_shared<offline_provider>());
}

std::shared_ptr<actors::payment_provider> provider_registry::find(std::string_view name) const {
  for (const auto& provider : providers_) {
    if (provider->name() == name) return provider;
  }
  return nullptr;
}

}  // namespace eventstripe::io::providers
