#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Percent-encoding for the bodies and paths the provider adapters send. Stripe reads
// application/x-www-form-urlencoded bodies; every byte outside the serialiser's safe set is
// encoded, so a buyer's description, a return URL with its own query, or a non-ASCII name
// arrive exactly as given.
namespace eventstripe::io::providers {

using form_fields = std::vector<std::pair<std::string, std::string>>;

// One name or value as the WHATWG URL standard's application/x-www-form-urlencoded serialiser
// writes it: ASCII letters, digits and `*-._` stay, space becomes '+', every other byte is %XX
// with upper-case hex (so `metadata[checkout_id]` becomes `metadata%5Bcheckout_id%5D`).
std::string form_encode(std::string_view text);

// `name=value&name=value`, each side form-encoded, in the given order.
std::string form_body(const form_fields& fields);

// One URL path segment: RFC 3986 unreserved characters stay, every other byte is %XX.
std::string path_segment(std::string_view text);

}  // namespace eventstripe::io::providers
