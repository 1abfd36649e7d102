#pragma once

// The errors a generator reports (drop_result, purchase_result, and their merge over a spread
// drop's processes): how many, how many of each kind, and the first few verbatim, enough to tell
// a run's failures apart without keeping every answer.
#include <cstddef>
#include <string>

namespace eventstripe::bench {

inline constexpr std::size_t error_samples_max = 5;
inline constexpr std::size_t error_sample_size_max_bytes = 300;

// Counts `how_many` errors of `kind` into a result's errors, error_kinds and error_samples.
template <typename result_type>
void count_error(result_type& result, const std::string& kind, const std::string& sample, std::size_t how_many = 1) {
  result.errors += how_many;
  result.error_kinds[kind] += how_many;
  if (result.error_samples.size() < error_samples_max)
    result.error_samples.push_back(kind + (sample.empty() ? "" : ": " + sample.substr(0, error_sample_size_max_bytes)));
}

}  // namespace eventstripe::bench
