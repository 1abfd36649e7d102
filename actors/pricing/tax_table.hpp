#pragma once

// The shipped, dated table of VAT/GST rates for the countries EventStripe sells in: the standard
// rate and the rate for admission to concerts and cultural events, with the source of each row.
// Organizers override a rate per event or ticket type by passing it to line_tax_rate.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "actors/pricing/amount.hpp"
#include "actors/pricing/pricing_error.hpp"

namespace eventstripe::actors::pricing {

// The day the figures below were last checked against their sources.
inline constexpr std::string_view tax_table_as_of = "2026-01-01";

enum class tax_category : std::uint8_t {
  standard,   // anything without a reduction (merchandise, parking, ...)
  admission,  // admission to concerts, theatre and similar cultural events
};

struct tax_country {
  std::string_view country;  // ISO 3166-1 alpha-2 ("GR", "GB")
  std::string_view name;
  std::string_view tax_name;  // "VAT", "GST", "MWST", ...
  basis_points standard_rate;
  std::optional<basis_points> admission_rate;  // nullopt: admission pays the standard rate
  bool eu_member = false;
  std::string_view source;  // where the figures come from
  std::string_view note;    // what the admission rate covers, exemptions the table cannot model
};

// All rows: EU-27, GB, CH, NO, AU, NZ, CA (federal GST only).
std::span<const tax_country> tax_table();

// The row of an ISO 3166-1 alpha-2 code (upper case), or nullptr.
const tax_country* find_tax_country(std::string_view country);

// The table's rate for a country and category; admission falls back to the standard rate where
// the country has no reduction. nullopt: the country is not in the table.
std::optional<basis_points> tax_rate(std::string_view country, tax_category category);

bool is_eu_member_state(std::string_view country);

// The rate a line is taxed at: the organizer's override (event or ticket type) when given, else
// the table's. Errors: rate_out_of_range (override outside 0..100 %), unknown_tax_country.
expected<basis_points> line_tax_rate(std::string_view country, tax_category category,
                                     std::optional<basis_points> override_rate);

}  // namespace eventstripe::actors::pricing
