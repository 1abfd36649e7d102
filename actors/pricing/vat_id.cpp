#include "actors/pricing/vat_id.hpp"

#include <array>
#include <initializer_list>

#include "actors/pricing/tax_table.hpp"

namespace eventstripe::actors::pricing {
namespace {

// Formats after the prefix, from the European Commission's VIES "VAT number validation" FAQ.
// Pattern letters: d = digit, a = letter, x = letter or digit, c = letter, '+' or '*';
// anything else (upper-case letters, digits) must appear literally.
struct vat_format {
  std::string_view prefix;
  std::string_view country;
  std::array<std::string_view, 9> patterns;  // unused entries are empty
};

constexpr std::array<vat_format, 27> formats{{
    {"AT", "AT", {"Udddddddd"}},
    {"BE", "BE", {"0ddddddddd", "1ddddddddd"}},
    {"BG", "BG", {"ddddddddd", "dddddddddd"}},
    {"CY", "CY", {"dddddddda"}},
    {"CZ", "CZ", {"dddddddd", "ddddddddd", "dddddddddd"}},
    {"DE", "DE", {"ddddddddd"}},
    {"DK", "DK", {"dddddddd"}},
    {"EE", "EE", {"ddddddddd"}},
    {"EL", "GR", {"ddddddddd"}},
    {"ES", "ES", {"xdddddddx"}},  // first and last not both digits: checked below
    {"FI", "FI", {"dddddddd"}},
    {"FR", "FR", {"xxddddddddd"}},
    {"HR", "HR", {"ddddddddddd"}},
    {"HU", "HU", {"dddddddd"}},
    {"IE", "IE", {"ddddddda", "dddddddaa", "dcddddda"}},
    {"IT", "IT", {"ddddddddddd"}},
    {"LT", "LT", {"ddddddddd", "dddddddddddd"}},
    {"LU", "LU", {"dddddddd"}},
    {"LV", "LV", {"ddddddddddd"}},
    {"MT", "MT", {"dddddddd"}},
    {"NL", "NL", {"dddddddddBdd"}},
    {"PL", "PL", {"dddddddddd"}},
    {"PT", "PT", {"ddddddddd"}},
    {"RO", "RO", {"dd", "ddd", "dddd", "ddddd", "dddddd", "ddddddd", "dddddddd", "ddddddddd", "dddddddddd"}},
    {"SE", "SE", {"dddddddddd01"}},
    {"SI", "SI", {"dddddddd"}},
    {"SK", "SK", {"dddddddddd"}},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return c >= 'A' && c <= 'Z'; }

bool matches(std::string_view pattern, std::string_view body) {
  if (pattern.empty() || pattern.size() != body.size()) return false;
  for (std::size_t at = 0; at < body.size(); ++at) {
    char c = body[at];
    bool ok = false;
    switch (pattern[at]) {
      case 'd': ok = is_digit(c); break;
      case 'a': ok = is_letter(c); break;
      case 'x': ok = is_digit(c) || is_letter(c); break;
      case 'c': ok = is_letter(c) || c == '+' || c == '*'; break;
      default: ok = c == pattern[at];
    }
    if (!ok) return false;
  }
  return true;
}

bool body_is_valid(const vat_format& format, std::string_view body) {
  bool any = false;
  for (auto pattern : format.patterns) any = any || matches(pattern, body);
  if (any && format.prefix == "ES") return !(is_digit(body.front()) && is_digit(body.back()));
  return any;
}

const vat_format* format_by_prefix(std::string_view prefix) {
  if (prefix == "GR") prefix = "EL";  // people type Greece's ISO code; VIES wants EL
  for (const auto& format : formats)
    if (format.prefix == prefix) return &format;
  return nullptr;
}

const vat_format* format_by_country(std::string_view country) {
  for (const auto& format : formats)
    if (format.country == country) return &format;
  return nullptr;
}

// Upper-cased, without spaces, dots and dashes; nullopt when too long to be an id.
std::optional<std::string> normalise(std::string_view text) {
  if (text.size() > vat_id_text_length_max) return std::nullopt;
  std::string out;
  for (char c : text) {
    if (c == ' ' || c == '.' || c == '-' || c == '\t') continue;
    out += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  return out;
}

pricing_error malformed(std::string why) { return make_pricing_error(pricing_errc::malformed_vat_id, std::move(why)); }

expected<vat_id> with_format(const vat_format& format, std::string_view body, std::string_view shown) {
  if (!body_is_valid(format, body))
    return malformed("'" + std::string(shown) + "' is not in the format of a " + std::string(format.country) +
                     " VAT id");
  return vat_id{std::string(format.country), std::string(format.prefix) + std::string(body)};
}

}  // namespace

std::string_view vat_prefix(std::string_view country) {
  const auto* format = format_by_country(country);
  return format == nullptr ? std::string_view{} : format->prefix;
}

expected<vat_id> parse_vat_id(std::string_view text) {
  auto clean = normalise(text);
  if (!clean) return malformed("a VAT id has at most " + std::to_string(vat_id_text_length_max) + " characters");
  if (clean->size() < 3) return malformed("'" + *clean + "' is too short for a VAT id");
  const auto* format = format_by_prefix(std::string_view(*clean).substr(0, 2));
  if (format == nullptr)
    return malformed("'" + clean->substr(0, 2) + "' is not the prefix of an EU member state's VAT id");
  return with_format(*format, std::string_view(*clean).substr(2), *clean);
}

expected<vat_id> parse_vat_id(std::string_view country, std::string_view text) {
  const auto* format = format_by_country(country);
  if (format == nullptr) return malformed("'" + std::string(country) + "' is not an EU member state");
  auto clean = normalise(text);
  if (!clean) return malformed("a VAT id has at most " + std::to_string(vat_id_text_length_max) + " characters");
  std::string_view body = *clean;
  // Strip a leading prefix when the rest is valid; a French body may itself start with letters.
  for (std::string_view prefix : {format->prefix, std::string_view(format->country)}) {
    if (body.size() > 2 && body.substr(0, 2) == prefix && body_is_valid(*format, body.substr(2)))
      return with_format(*format, body.substr(2), *clean);
  }
  return with_format(*format, body, *clean);
}

vat_check_status format_vat_id_checker::check(std::string_view country, std::string_view number) const {
  return parse_vat_id(country, number) ? vat_check_status::valid : vat_check_status::invalid;
}

expected<tax_treatment> buyer_tax_treatment(std::string_view event_tax_country, std::string_view buyer_vat_id_text,
                                            const vat_id_checker& checker) {
  auto clean = normalise(buyer_vat_id_text);
  if (clean && clean->empty()) return tax_treatment{};  // a consumer
  auto id = parse_vat_id(buyer_vat_id_text);
  if (!id) return id.error();
  switch (checker.check(id->country, id->number)) {
    case vat_check_status::valid: break;
    case vat_check_status::invalid:
      return make_pricing_error(pricing_errc::vat_id_rejected, "VAT id " + id->number + " is not registered");
    case vat_check_status::unavailable:
      return make_pricing_error(pricing_errc::vat_check_unavailable,
                                "VAT id " + id->number + " could not be checked now: retry, or buy without it");
  }
  bool reverse = is_eu_member_state(event_tax_country) && id->country != event_tax_country;
  return tax_treatment{reverse, std::move(id.value())};
}

}  // namespace eventstripe::actors::pricing
