#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace eventstripe::actors {

// Amounts are integers in the currency's minor unit; the exponent says how many decimals the
// minor unit has (ISO 4217: JPY 0, EUR 2, KWD 3). nullopt: not an ISO 4217 currency code.
std::optional<int> currency_exponent(std::string_view code);

// Whether `code` is an ISO 3166-1 alpha-2 country code ("DE", "GB").
bool is_country_code(std::string_view code);

// "1234" minor units of EUR -> "12.34"; of JPY -> "1234"; of KWD -> "1.234". Negative amounts
// keep their sign. The currency must be known.
std::string decimal_string(std::int64_t minor, std::string_view currency);

// {"minor": 1234, "currency": "EUR", "decimal": "12.34"}: the API shows both forms.
nlohmann::json money_json(std::int64_t minor, const std::string& currency);

// The same object appended as JSON text (json_text.hpp), for answers written by hand.
void append_money_json(std::string& out, std::int64_t minor, const std::string& currency);

}  // namespace eventstripe::actors
