#include "actors/payments/method_catalogue.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

namespace eventstripe::actors::payments {
namespace {

using json = nlohmann::json;

constexpr int catalogue_version = 1;
constexpr std::array<std::string_view, 3> provider_kinds = {"stripe", "adyen", "offline"};
constexpr std::array<std::string_view, 8> method_fields = {"id",        "name",      "category",       "countries",
                                                           "currencies", "providers", "needs_redirect", "note"};

bool is_upper_code(std::string_view text, std::size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool is_method_id(std::string_view text) {
  return !text.empty() && text.size() <= method_id_length_max &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Reads "*" or a list of distinct codes of `length` upper-case letters.
std::optional<std::string> read_codes(const json& value, std::size_t length, bool& any, std::vector<std::string>& out) {
  if (value.is_string() && value.get<std::string>() == "*") {
    any = true;
    return std::nullopt;
  }
  if (!value.is_array() || value.empty() || value.size() > method_codes_max)
    return "must be \"*\" or a list of 1.." + std::to_string(method_codes_max) + " codes";
  for (const auto& code : value) {
    if (!code.is_string() || !is_upper_code(code.get<std::string>(), length))
      return code.dump() + " is not " + std::to_string(length) + " upper-case letters";
    if (contains(out, code.get<std::string>())) return code.dump() + " is listed twice";
    out.push_back(code.get<std::string>());
  }
  return std::nullopt;
}

std::optional<std::string> read_providers(const json& value, std::vector<std::string>& out) {
  if (!value.is_array() || value.empty() || value.size() > provider_kinds.size())
    return std::string("must list 1..3 of stripe, adyen, offline");
  for (const auto& provider : value) {
    if (!provider.is_string() ||
        std::find(provider_kinds.begin(), provider_kinds.end(), provider.get<std::string>()) == provider_kinds.end())
      return provider.dump() + " is not stripe, adyen or offline";
    if (contains(out, provider.get<std::string>())) return provider.dump() + " is listed twice";
    out.push_back(provider.get<std::string>());
  }
  return std::nullopt;
}

// One method object; the error says which field is wrong.
expected<method, std::string> read_method(const json& entry) {
  if (!entry.is_object()) return std::string("is not an object");
  for (const auto& [key, value] : entry.items())
    if (std::find(method_fields.begin(), method_fields.end(), key) == method_fields.end())
      return "has an unknown field \"" + key + "\"";
  method read;
  const auto field = [&](const char* name) -> const json* {
    auto found = entry.find(name);
    return found == entry.end() ? nullptr : &*found;
  };
  const json* id = field("id");
  if (id == nullptr || !id->is_string() || !is_method_id(id->get<std::string>()))
    return "has no id of 1.." + std::to_string(method_id_length_max) + " characters [a-z0-9_]";
  read.id = id->get<std::string>();
  const json* name = field("name");
  if (name == nullptr || !name->is_string() || name->get<std::string>().empty() ||
      name->get<std::string>().size() > method_name_length_max)
    return std::string("name must be 1..") + std::to_string(method_name_length_max) + " characters";
  read.name = name->get<std::string>();
  const json* category = field("category");
  auto parsed_category = category != nullptr && category->is_string()
                             ? parse_method_category(category->get<std::string>())
                             : std::nullopt;
  if (!parsed_category) return std::string("category is not a known category");
  read.category = *parsed_category;
  const json* countries = field("countries");
  if (countries == nullptr) return std::string("has no countries");
  if (auto why = read_codes(*countries, 2, read.any_country, read.countries)) return "countries: " + *why;
  const json* currencies = field("currencies");
  if (currencies == nullptr) return std::string("has no currencies");
  if (auto why = read_codes(*currencies, 3, read.any_currency, read.currencies)) return "currencies: " + *why;
  const json* providers = field("providers");
  if (providers == nullptr) return std::string("has no providers");
  if (auto why = read_providers(*providers, read.providers)) return "providers: " + *why;
  const json* redirect = field("needs_redirect");
  if (redirect == nullptr || !redirect->is_boolean()) return std::string("needs_redirect must be true or false");
  read.needs_redirect = redirect->get<bool>();
  if (const json* note = field("note")) {
    if (!note->is_string()) return std::string("note must be text");
    read.note = note->get<std::string>();
  }
  return read;
}

catalogue_error failure(std::string detail) { return catalogue_error{"methods.json: " + std::move(detail)}; }

}  // namespace

const char* to_string(method_category category) {
  switch (category) {
    case method_category::card: return "card";
    case method_category::wallet: return "wallet";
    case method_category::bank_redirect: return "bank_redirect";
    case method_category::direct_debit: return "direct_debit";
    case method_category::bnpl: return "bnpl";
    case method_category::voucher: return "voucher";
    case method_category::regional: return "regional";
    case method_category::bank_transfer: return "bank_transfer";
  }
  return "unknown_method_category";
}

std::optional<method_category> parse_method_category(std::string_view text) {
  for (auto category : {method_category::card, method_category::wallet, method_category::bank_redirect,
                        method_category::direct_debit, method_category::bnpl, method_category::voucher,
                        method_category::regional, method_category::bank_transfer})
    if (text == to_string(category)) return category;
  return std::nullopt;
}

bool method::offered_in(std::string_view country) const { return any_country || contains(countries, country); }
bool method::accepts(std::string_view currency) const { return any_currency || contains(currencies, currency); }
bool method::offered_by(std::string_view provider_kind) const { return contains(providers, provider_kind); }

const method* catalogue::find(std::string_view id) const {
  auto found = std::find_if(methods_.begin(), methods_.end(), [&](const method& m) { return m.id == id; });
  return found == methods_.end() ? nullptr : &*found;
}

std::vector<const method*> catalogue::methods_for(std::string_view currency, std::string_view country) const {
  std::vector<const method*> offered;
  for (const auto& m : methods_)
    if (m.accepts(currency) && m.offered_in(country)) offered.push_back(&m);
  return offered;
}

expected<catalogue, catalogue_error> parse_method_catalogue(std::string_view json_text) {
  auto document = json::parse(json_text.begin(), json_text.end(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) return failure("not a JSON object");
  auto version = document.find("version");
  if (version == document.end() || !version->is_number_integer() || version->get<int>() != catalogue_version)
    return failure("version must be " + std::to_string(catalogue_version));
  auto entries = document.find("methods");
  if (entries == document.end() || !entries->is_array() || entries->empty() ||
      entries->size() > catalogue_methods_max)
    return failure("methods must be a list of 1.." + std::to_string(catalogue_methods_max) + " methods");
  std::vector<method> methods;
  std::set<std::string, std::less<>> ids;
  for (std::size_t at = 0; at < entries->size(); ++at) {
    auto read = read_method((*entries)[at]);
    if (!read) {
      auto id = (*entries)[at].is_object() ? (*entries)[at].value("id", json("?")).dump() : std::string("?");
      return failure("method " + std::to_string(at) + " (" + id + ") " + read.error());
    }
    if (!ids.insert(read->id).second) return failure("method id \"" + read->id + "\" is used twice");
    methods.push_back(std::move(read.value()));
  }
  return catalogue(std::move(methods));
}

const catalogue& method_catalogue() {
  static const catalogue shipped = [] {
    auto parsed = parse_method_catalogue(embedded_method_catalogue_json());
    if (!parsed) {
      std::fprintf(stderr, "eventstripe: the embedded payment-method catalogue is invalid: %s\n",
                   parsed.error().detail.c_str());
      std::abort();
    }
    return std::move(parsed.value());
  }();
  return shipped;
}

std::vector<const method*> methods_for(std::string_view currency, std::string_view country) {
  return method_catalogue().methods_for(currency, country);
}

const method* find_method(std::string_view id) { return method_catalogue().find(id); }

}  // namespace eventstripe::actors::payments
