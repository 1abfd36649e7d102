#include "actors/promo_ledger.hpp"

#include <algorithm>

namespace eventstripe::actors {

void promo_ledger::set_committed(const std::string& code_id, std::int32_t uses, std::int64_t discount_spent_minor) {
  codes_[code_id] = {uses, discount_spent_minor};
}

void promo_ledger::set_committed_buyer(const std::string& code_id, const std::string& buyer, std::int32_t uses) {
  buyers_[{code_id, buyer}] = uses;
}

void promo_ledger::adopt_line(const std::string& checkout_id, const std::string& ticket_type_id,
                              const std::string& code_id, const std::string& buyer, std::int32_t uses,
                              std::int64_t discount_minor) {
  lines_[{checkout_id, ticket_type_id}] = {code_id, buyer, uses, discount_minor};
}

pricing::promo_usage promo_ledger::usage(const std::string& code_id, const std::string& buyer) const {
  pricing::promo_usage usage;
  if (auto code = codes_.find(code_id); code != codes_.end()) {
    usage.uses = code->second.uses;
    usage.discount_spent_minor = code->second.discount_minor;
  }
  if (auto found = buyers_.find({code_id, buyer}); found != buyers_.end()) usage.buyer_uses = found->second;
  return usage;
}

void promo_ledger::reserve(const std::string& checkout_id, const std::string& ticket_type_id,
                           const std::string& code_id, const std::string& buyer, std::int32_t uses,
                           std::int64_t allowance_minor) {
  release(checkout_id, ticket_type_id);  // a retried line replaces its earlier reservation
  auto& code = codes_[code_id];
  code.uses += uses;
  code.discount_minor += allowance_minor;
  buyers_[{code_id, buyer}] += uses;
  lines_[{checkout_id, ticket_type_id}] = {code_id, buyer, uses, allowance_minor};
}

void promo_ledger::settle(const std::string& checkout_id, const std::string& ticket_type_id,
                          std::int64_t discount_minor) {
  auto found = lines_.find({checkout_id, ticket_type_id});
  if (found == lines_.end()) return;
  auto& code = codes_[found->second.code_id];
  code.discount_minor += discount_minor - found->second.discount_minor;
  found->second.discount_minor = discount_minor;
}

void promo_ledger::give_back(const line& ended) {
  auto& code = codes_[ended.code_id];
  code.uses = std::max(0, code.uses - ended.uses);
  code.discount_minor = std::max<std::int64_t>(0, code.discount_minor - ended.discount_minor);
  auto buyer = buyers_.find({ended.code_id, ended.buyer});
  if (buyer == buyers_.end()) return;
  buyer->second -= ended.uses;
  if (buyer->second <= 0) buyers_.erase(buyer);
}

void promo_ledger::release(const std::string& checkout_id, const std::string& ticket_type_id) {
  auto found = lines_.find({checkout_id, ticket_type_id});
  if (found == lines_.end()) return;
  give_back(found->second);
  lines_.erase(found);
}

void promo_ledger::release(const std::string& checkout_id) {
  auto first = lines_.lower_bound({checkout_id, std::string{}});
  while (first != lines_.end() && first->first.first == checkout_id) {
    give_back(first->second);
    first = lines_.erase(first);
  }
}

std::vector<promo_ledger::reserved_line> promo_ledger::lines_of(const std::string& checkout_id) const {
  std::vector<reserved_line> lines;
  for (auto found = lines_.lower_bound({checkout_id, std::string{}});
       found != lines_.end() && found->first.first == checkout_id; ++found)
    lines.push_back({found->first.second, found->second.code_id, found->second.buyer, found->second.uses,
                     found->second.discount_minor});
  return lines;
}

}  // namespace eventstripe::actors
