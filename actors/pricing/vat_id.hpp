#pragma once

// EU VAT identification numbers: normalising and checking them against the official format of
// their member state, the reverse-charge decision for business buyers, and the seam where an online
// check (VIES) can be plugged in later.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/pricing/pricing_error.hpp"

namespace eventstripe::actors::pricing {

// Longest text accepted before normalising (the longest real id has 14 characters).
inline constexpr std::size_t vat_id_text_length_max = 64;

inline constexpr std::string_view reverse_charge_note =
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Directive 2006/112/EC).";

struct vat_id {
  std::string country;  // ISO 3166-1 alpha-2 of the member state ("GR" for Greece)
  std::string number;   // normalised, with its VIES prefix: "DE123456789", "EL123456789", "ATU12345678"
  friend bool operator==(const vat_id&, const vat_id&) = default;
};

// The VIES prefix of an EU member state ("EL" for "GR", otherwise the ISO code); empty when the
// country is not a member state.
std::string_view vat_prefix(std::string_view country);

// Reads a VAT id that starts with its member state's prefix ("de 123.456.789", "EL-123456789").
// Spaces, dots and dashes are dropped and letters upper-cased; "GR" is accepted for "EL".
// Error: malformed_vat_id (detail says why).
expected<vat_id> parse_vat_id(std::string_view text);

// Same, for a number given with its member state; the prefix may be present or left out.
expected<vat_id> parse_vat_id(std::string_view country, std::string_view text);

enum class vat_check_status : std::uint8_t { valid, invalid, unavailable };

// Decides whether a VAT id is registered. The shipped implementation checks the format only; an
// online VIES client can implement this later (it blocks, so callers run it off the actor threads).
class vat_id_checker {
 public:
  virtual ~vat_id_checker() = default;
  virtual vat_check_status check(std::string_view country, std::string_view number) const = 0;
};

class format_vat_id_checker final : public vat_id_checker {
 public:
  vat_check_status check(std::string_view country, std::string_view number) const override;
};

// How a buyer's VAT id affects an event's tax.
struct tax_treatment {
  bool reverse_charge = false;
  std::optional<vat_id> buyer_vat_id;  // shown on the quote and invoice when given
};

// No VAT id: a consumer, taxed normally. A VAT id of an EU member state other than the event's
// (EU) tax country: reverse charge (rate 0 and reverse_charge_note on the quote). A VAT id of the
// event's own country, or any VAT id for an event taxed outside the EU: taxed normally.
// Errors: malformed_vat_id, vat_id_rejected (checker: not registered), vat_check_unavailable.
expected<tax_treatment> buyer_tax_treatment(std::string_view event_tax_country, std::string_view buyer_vat_id_text,
                                            const vat_id_checker& checker);

}  // namespace eventstripe::actors::pricing
