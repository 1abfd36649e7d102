#include "bench/ticket-drop/sandbox_provider.hpp"

#include <fstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bench/ticket-drop/setup_client.hpp"

namespace eventstripe::bench {
namespace {

// Test credentials shared by the sandbox's configuration and the node's flags.
constexpr const char* stripe_secret_key = "sk_test_ticket_drop";
constexpr const char* stripe_webhook_secret = "whsec_ticket_drop";
constexpr const char* adyen_api_key = "AQE_ticket_drop";
constexpr const char* adyen_hmac_key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
constexpr const char* adyen_merchant_account = "EventStripeTest";
constexpr std::chrono::milliseconds stats_reply_timeout_ms{10'000};

// The events a real Stripe endpoint of the node is configured with: those the node acts on (a
// Stripe event is only a hint to read the payment again), as ./run.sh configures the sandbox.
// payment_intent.created is left out: it tells the node of a create it made itself, and would
// cost it one more verified, recorded webhook per payment. (The sandbox filters Stripe events
// only: an Adyen account sends every notification, and the node needs each of them.)
const char* const stripe_enabled_events[] = {
    "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
    "payment_intent.requires_action", "payment_intent.processing", "charge.refunded",
    "refund.created", "refund.updated", "refund.failed"};

// Webhooks are retried quickly (the node must see every one before the run is checked), and the
// limits leave room for every purchase of a long closed loop.
nlohmann::json sandbox_config(std::uint16_t node_port) {
  auto webhook_base = "http://127.0.0.1:" + std::to_string(node_port) + "/webhooks/";
  return {
      {"host", "127.0.0.1"},
      {"port", 0},
      {"accounts",
       {{{"name", "stripe"},
         {"format", "stripe"},
         {"api_key", stripe_secret_key},
         {"webhook_secret", stripe_webhook_secret},
         {"webhook_url", webhook_base + "stripe"},
         {"enabled_events", nlohmann::json(stripe_enabled_events)}},
        {{"name", "adyen"},
         {"format", "adyen"},
         {"api_key", adyen_api_key},
         {"hmac_key", adyen_hmac_key},
         {"merchant_account", adyen_merchant_account},
         {"webhook_url", webhook_base + "adyen"}}}},
      {"webhooks", {{"attempts_max", 8}, {"initial_delay_ms", 200}, {"max_delay_ms", 2'000}, {"request_timeout_ms", 10'000}}},
      {"limits",
       {{"payments_max", 2'000'000},
        {"idempotency_keys_max", 8'000'000},
        {"webhook_log_max", 200'000},
        {"webhook_deliveries_pending_max", 200'000}}},
  };
}

std::int64_t number_at(const nlohmann::json& object, const char* key) {
  return object.contains(key) && object[key].is_number_integer() ? object[key].get<std::int64_t>() : 0;
}

}  // namespace

sandbox_provider::sandbox_provider(std::string interpreter, std::string script, std::string directory,
                                   std::string name, std::uint16_t node_port)
    : config_path_(directory + "/" + name + ".json"),
      node_port_(node_port),
      process_(std::move(interpreter), {std::move(script), "--config", config_path_}, directory + "/" + name + ".log",
               "sandbox listening on http://") {}

std::uint16_t sandbox_provider::start(std::chrono::seconds timeout) {
  std::ofstream{config_path_} << sandbox_config(node_port_).dump(2) << "\n";
  port_ = process_.start(timeout);
  return port_;
}

int sandbox_provider::stop(std::chrono::seconds timeout) { return process_.stop(timeout); }

std::vector<std::string> sandbox_provider::node_flags() const {
  auto base = "http://127.0.0.1:" + std::to_string(port_);
  return {
      "--payments.stripe.api_base=" + base,
      std::string{"--payments.stripe.secret_key="} + stripe_secret_key,
      std::string{"--payments.stripe.webhook_secrets="} + stripe_webhook_secret,
      "--payments.adyen.api_base=" + base,
      std::string{"--payments.adyen.api_key="} + adyen_api_key,
      std::string{"--payments.adyen.hmac_keys="} + adyen_hmac_key,
      std::string{"--payments.adyen.merchant_account="} + adyen_merchant_account,
  };
}

sandbox_stats sandbox_provider::stats() const {
  setup_client client{port_, stats_reply_timeout_ms};
  auto reply = client.call("GET", "/_sandbox/stats", "");
  auto json = nlohmann::json::parse(reply.body, nullptr, false);
  if (reply.status != 200 || json.is_discarded())
    throw std::runtime_error("GET /_sandbox/stats answered " + std::to_string(reply.status) + ": " + reply.body);
  sandbox_stats stats;
  stats.created = number_at(json, "created");
  stats.captured = number_at(json, "captured");
  stats.refunded = number_at(json, "refunded");
  stats.declined = number_at(json, "declined");
  stats.canceled = number_at(json, "canceled");
  if (json.contains("captured_amount")) stats.captured_minor = number_at(json["captured_amount"], "EUR");
  if (json.contains("refunded_amount")) stats.refunded_minor = number_at(json["refunded_amount"], "EUR");
  if (json.contains("accounts") && json["accounts"].is_object())
    for (const auto& [name, totals] : json["accounts"].items()) stats.captured_by_account[name] = number_at(totals, "captured");
  if (json.contains("webhooks")) {
    const auto& hooks = json["webhooks"];
    stats.webhooks_emitted = number_at(hooks, "emitted");
    stats.webhooks_delivered = number_at(hooks, "delivered");
    stats.webhooks_failed = number_at(hooks, "failed");
    stats.webhooks_dropped = number_at(hooks, "dropped");
    stats.webhooks_pending = number_at(hooks, "pending") + number_at(hooks, "held");
  }
  return stats;
}

}  // namespace eventstripe::bench
