#pragma once

// The payment methods EventStripe can offer at checkout: which countries and currencies each
// works in, which providers offer it and whether the buyer leaves the page. Shipped as
// actors/payments/methods.json, embedded in the binary at build time and checked when first
// read. The checkout asks `methods_for(currency, buyer country)`; a workspace's provider routes
// then pick among the providers listed here.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/expected.hpp"

namespace eventstripe::actors::payments {

inline constexpr std::size_t catalogue_methods_max = 500;
inline constexpr std::size_t method_id_length_max = 40;
inline constexpr std::size_t method_name_length_max = 80;
inline constexpr std::size_t method_codes_max = 300;  // countries or currencies of one method

enum class method_category : std::uint8_t {
  card = 1,       // card brands; 3-D Secure is part of the card flow
  wallet,         // Apple Pay, PayPal, Alipay, TWINT, ...
  bank_redirect,  // the buyer approves in their online bank: iDEAL, Bancontact, ...
  direct_debit,   // a mandate on a bank account: SEPA, Bacs, ACH, ...
  bnpl,           // buy now, pay later: Klarna, Affirm, ...
  voucher,        // paid later in cash or by bank: Boleto, OXXO, Konbini, ...
  regional,       // national real-time schemes and local wallets: Pix, UPI, PayNow, ...
  bank_transfer,  // offline: a transfer to the organizer's account, no provider
};

// Stable snake_case name, as written in methods.json ("bank_redirect").
const char* to_string(method_category category);
std::optional<method_category> parse_method_category(std::string_view text);

struct method {
  std::string id;    // "ideal"; what payment_request::method carries
  std::string name;  // "iDEAL", shown to buyers
  method_category category = method_category::card;
  bool any_country = false;  // "*" in the file: buyers from every country
  std::vector<std::string> countries;  // ISO 3166-1 alpha-2, when not any_country
  bool any_currency = false;  // "*" in the file
  std::vector<std::string> currencies;  // ISO 4217, when not any_currency
  std::vector<std::string> providers;   // subset of "stripe", "adyen", "offline" (payment_provider::kind())
  bool needs_redirect = false;  // the buyer leaves the page (or an app takes over) to approve
  std::string note;             // why a row looks the way it does, when that is not obvious

  bool offered_in(std::string_view country) const;
  bool accepts(std::string_view currency) const;
  bool offered_by(std::string_view provider_kind) const;
};

class catalogue {
 public:
  explicit catalogue(std::vector<method> methods) : methods_(std::move(methods)) {}

  const std::vector<method>& methods() const { return methods_; }
  const method* find(std::string_view id) const;
  // The methods valid for both the currency and the buyer's country (upper-case codes), in the
  // file's order. A code no method lists matches only the methods with "*".
  std::vector<const method*> methods_for(std::string_view currency, std::string_view country) const;

 private:
  std::vector<method> methods_;
};

struct catalogue_error {
  std::string detail;  // names the method and the field
};

// Reads and checks a catalogue: version 1, at most catalogue_methods_max methods, ids unique and
// [a-z0-9_], names non-empty, known categories, countries two upper-case letters and currencies
// three (or "*"), no duplicates, at least one provider out of stripe/adyen/offline, no unknown
// fields.
expected<catalogue, catalogue_error> parse_method_catalogue(std::string_view json_text);

// The shipped catalogue, parsed once (thread-safe). The file is part of the build and tested, so
// a failure here is a build defect: it is reported on stderr and the process aborts.
const catalogue& method_catalogue();
std::vector<const method*> methods_for(std::string_view currency, std::string_view country);
const method* find_method(std::string_view id);

// The text of methods.json as embedded at build time (defined in the generated source).
std::string_view embedded_method_catalogue_json();

}  // namespace eventstripe::actors::payments
