#pragma once

// A value or an error: the subset of C++23 std::expected the rules need (GCC 12 has no <expected>
// under C++20). The pricing rules use it with pricing_error, the payment rules each with their
// own small error enum.
#include <cassert>
#include <utility>
#include <variant>

namespace eventstripe::actors {

template <class T, class Error>
class expected {
 public:
  expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}       // NOLINT: implicit on purpose
  expected(Error error) : state_(std::in_place_index<1>, std::move(error)) {}   // NOLINT: implicit on purpose

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() {
    assert(has_value());
    return std::get<0>(state_);
  }
  const T& value() const {
    assert(has_value());
    return std::get<0>(state_);
  }
  const Error& error() const {
    assert(!has_value());
    return std::get<1>(state_);
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace eventstripe::actors
