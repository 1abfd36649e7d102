#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace eventstripe::config {

// Every tunable of a node, with its default. Names carry their unit so a reader of a config
// file never has to guess whether 30 means seconds or milliseconds.
struct settings {
  // --- HTTP / WebSocket gateway -------------------------------------------------------------
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 8080;
  std::size_t http_threads = 2;
  std::size_t http_header_size_max_bytes = 16 * 1024;
  std::size_t http_body_size_max_bytes = 1024 * 1024;
  std::chrono::milliseconds http_read_timeout_ms{10'000};
  std::chrono::milliseconds http_idle_timeout_ms{60'000};
  std::size_t http_connections_max = 10'000;
  bool http_debug_endpoints = false;
  std::string http_client_address_header;  // empty: the TCP peer is the client
  std::size_t websocket_message_size_max_bytes = 64 * 1024;
  std::size_t websocket_send_queue_max = 64;

  // --- PostgreSQL ---------------------------------------------------------------------------
  std::string database_url = "postgresql://postgres@127.0.0.1:5432/eventstripe";
  std::string database_password;  // secret; used when database_url carries no password
  std::size_t database_pool_size = 8;
  // Payments' own connections: a wave of payments never queues ahead of the quotas' hold batches.
  std::size_t database_payments_pool_size = 4;
  std::size_t database_queue_size_max = 4096;
  std::chrono::milliseconds database_connect_timeout_ms{5'000};
  std::chrono::milliseconds readiness_probe_interval_ms{1'000};

  // --- inventory (events, ticket types, holds) -----------------------------------------------
  std::chrono::milliseconds hold_ttl_ms{600'000};
  std::chrono::milliseconds hold_extension_ms{300'000};
  std::size_t quota_batch_size_max = 512;
  std::chrono::milliseconds entity_request_timeout_ms{10'000};
  std::size_t buyer_checkouts_max = 3;
  std::size_t address_checkouts_max = 50;
  std::size_t checkout_items_max = 10;
  std::chrono::milliseconds availability_push_interval_ms{250};
  std::chrono::milliseconds expiry_warning_ms{60'000};
  std::chrono::milliseconds entity_idle_timeout_ms{900'000};
  std::size_t shard_count = 256;
  bool fault_injection = false;

  // --- payments (providers, retries, webhooks) ----------------------------------------------
  // A provider account is configured when its api_base is set; each one serves
  // POST /webhooks/{name} (names: stripe, adyen; offline is always there).
  std::string stripe_api_base;        // e.g. https://api.stripe.com or the sandbox's URL
  std::string stripe_secret_key;      // secret
  std::string stripe_webhook_secrets; // secret; comma-separated, several during a rotation
  std::string adyen_api_base;
  std::string adyen_api_key;          // secret
  std::string adyen_hmac_keys;        // secret; comma-separated hex keys, several during a rotation
  std::string adyen_merchant_account = "EventStripeTest";
  std::string payments_ca_file;       // PEM bundle trusted for provider TLS; empty: the system's
  std::string ticket_key_wrapping_key; // secret; 64 hex digits: wraps ticket signing seeds at rest
  std::string payments_default_providers = "stripe,adyen,offline";  // routing when a workspace has none
  std::chrono::milliseconds provider_timeout_ms{5'000};
  std::size_t provider_threads = 8;
  std::size_t payment_attempts_max = 4;  // provider calls per step before the payment fails
  std::chrono::milliseconds payment_retry_initial_ms{200};
  std::chrono::milliseconds payment_retry_max_ms{5'000};
  std::size_t webhook_tolerance_s = 300;
  std::size_t webhook_future_skew_s = 60;
  std::chrono::milliseconds reconciliation_interval_ms{300'000};
  std::chrono::milliseconds payment_action_recheck_ms{30'000};

  // --- process ------------------------------------------------------------------------------
  std::string node_id;  // empty: derived from the host name and port at start
  std::string log_level = "info";
  std::size_t actor_threads = 2;
  std::chrono::milliseconds shutdown_deadline_ms{10'000};
};

}  // namespace eventstripe::config
