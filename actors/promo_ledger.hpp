#pragma once

// An event's account of how much its promo codes are used: what PostgreSQL counted when the
// event loaded (live holds and sales), plus what its live checkouts have reserved since. The event
// actor is its only user, so a code with 100 uses is used exactly 100 times however many buyers
// ask at once: a use is reserved here before any quota holds a seat with it, and given back when
// that line's hold ends (expired, released, or never taken).
//
// A line reserves its uses and a discount allowance (the most its discount can be, clipped to
// the code's remaining budget); once the quota has priced the hold, the actual discount replaces
// the allowance.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "actors/pricing/promo_code.hpp"

namespace eventstripe::actors {

class promo_ledger {
 public:
  // Counters as PostgreSQL has them (they include every live hold and sale).
  void set_committed(const std::string& code_id, std::int32_t uses, std::int64_t discount_spent_minor);
  void set_committed_buyer(const std::string& code_id, const std::string& buyer, std::int32_t uses);
  // A live line PostgreSQL already counted, so that its end gives its share back.
  void adopt_line(const std::string& checkout_id, const std::string& ticket_type_id, const std::string& code_id,
                  const std::string& buyer, std::int32_t uses, std::int64_t discount_minor);

  // What apply_promo needs for this code and buyer, reservations included.
  pricing::promo_usage usage(const std::string& code_id, const std::string& buyer) const;

  void reserve(const std::string& checkout_id, const std::string& ticket_type_id, const std::string& code_id,
               const std::string& buyer, std::int32_t uses, std::int64_t allowance_minor);
  // The quota priced the line: its actual discount replaces the allowance.
  void settle(const std::string& checkout_id, const std::string& ticket_type_id, std::int64_t discount_minor);
  // The line's hold ended (or was never taken): its uses and discount are given back.
  void release(const std::string& checkout_id, const std::string& ticket_type_id);
  // Every line of the checkout.
  void release(const std::string& checkout_id);

  // A checkout's lines as reserved, to put back if re-pricing it fails.
  struct reserved_line {
    std::string ticket_type_id;
    std::string code_id;
    std::string buyer;
    std::int32_t uses = 0;
    std::int64_t discount_minor = 0;
  };
  std::vector<reserved_line> lines_of(const std::string& checkout_id) const;

 private:
  struct totals {
    std::int32_t uses = 0;
    std::int64_t discount_minor = 0;
  };
  struct line {
    std::string code_id;
    std::string buyer;
    std::int32_t uses = 0;
    std::int64_t discount_minor = 0;
  };
  void give_back(const line& ended);

  std::map<std::string, totals> codes_;                                     // code id -> counters
  std::map<std::pair<std::string, std::string>, std::int32_t> buyers_;      // (code id, buyer) -> uses
  std::map<std::pair<std::string, std::string>, line> lines_;               // (checkout, ticket type) -> line
};

}  // namespace eventstripe::actors
