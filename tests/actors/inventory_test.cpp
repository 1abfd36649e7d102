// The inventory's promises on CAF's deterministic test coordinator and a real PostgreSQL:
// holds expire exactly at their deadline, extensions and releases work once, a checkout is
// all-or-nothing across ticket types, nothing is oversold, requests that arrive together are
// committed together, and a crashed quota comes back from the database without losing a hold.
#include <catch2/catch.hpp>

#include "actors/protocol.hpp"
#include "tests/actors/inventory_fixture.hpp"

using namespace std::chrono_literals;
using eventstripe::actors::checkout_item;
using eventstripe::actors::checkout_request;
using eventstripe::actors::checkout_view;
using eventstripe::actors::entity_kind;
using eventstripe::actors::held_line;
using eventstripe::actors::inventory_errc;
using eventstripe::test_support::answer;
using eventstripe::test_support::inventory_fixture;
using eventstripe::test_support::test_event;
namespace actors = eventstripe::actors;

namespace {

// A stand-in for the SHA-256 io computes: any hex string identifies the request here.
std::string hex_of(const std::string& text) {
  static const char* digits = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : text) hex += {digits[c >> 4], digits[c & 15]};
  return hex;
}

checkout_request request_for(const std::string& checkout_id, std::vector<checkout_item> items,
                             const std::string& email = "buyer@example.com") {
  return {checkout_id, test_event, email, "192.0.2.1", std::move(items), hex_of(checkout_id), "", "", "", {}, {}};
}

answer<checkout_view> create(inventory_fixture& fixture, const checkout_request& request) {
  return fixture.ask<checkout_view>(entity_kind::checkout, request.checkout_id,
                                    caf::make_message(actors::create_atom::value, request));
}

const checkout_view& held(const answer<checkout_view>& outcome) {
  if (auto* failure = std::get_if<caf::error>(&outcome)) FAIL("expected a checkout, got " << caf::to_string(*failure));
  REQUIRE(std::holds_alternative<checkout_view>(outcome));
  return std::get<checkout_view>(outcome);
}

template <class Reply>
inventory_errc error_of(const answer<Reply>& outcome) {
  REQUIRE(std::holds_alternative<caf::error>(outcome));
  const auto& failure = std::get<caf::error>(outcome);
  REQUIRE(actors::is_inventory_error(failure));
  return actors::inventory_code(failure);
}

// An empty batch of `type` as its quota would write it (this node's shard epoch, the type's
// writer generation), for tests that hand the storage a batch the quota would not decide.
eventstripe::storage::quota_batch direct_batch(inventory_fixture& fixture, const std::string& type) {
  auto& connection = fixture.runner.connection();
  auto epochs = eventstripe::storage::claim_all_shards(connection, eventstripe::test_support::test_node,
                                                       eventstripe::test_support::test_shard_count);
  auto snapshot = eventstripe::storage::load_quota(connection, type);
  REQUIRE(snapshot);
  auto shard = static_cast<std::int32_t>(fixture.directory.shard_of(type));
  eventstripe::storage::quota_batch batch;
  batch.ticket_type_id = type;
  batch.currency = "EUR";
  batch.shard = shard;
  batch.epoch = epochs.at(static_cast<std::size_t>(shard));
  batch.node_id = eventstripe::test_support::test_node;
  batch.writer_generation = snapshot->writer_generation;
  return batch;
}

std::string hold_status(inventory_fixture& fixture, const std::string& checkout_id, const std::string& type) {
  auto connection = fixture.database.connect();
  pqxx::nontransaction session{connection};
  auto rows = session.exec_params("SELECT status FROM holds WHERE checkout_id = $1 AND ticket_type_id = $2",
                                  checkout_id, type);
  return rows.empty() ? "none" : rows[0][0].as<std::string>();
}

int held_count(inventory_fixture& fixture, const std::string& type) {
  return fixture.query_int("SELECT held FROM ticket_types WHERE id = '" + type + "'");
}

}  // namespace

TEST_CASE("a hold expires exactly at its deadline, not before, and its seats return at once") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  auto checkout = held(create(fixture, request_for("co_1", {{"tt_a", 2}})));
  CHECK(checkout.status == "held");
  CHECK(checkout.expires_at_ms == fixture.now_ms() + 600'000);
  CHECK(held_count(fixture, "tt_a") == 2);

  fixture.advance(600'000ms - 1ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "held");
  CHECK(held_count(fixture, "tt_a") == 2);

  fixture.advance(1ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "expired");
  CHECK(held_count(fixture, "tt_a") == 0);
  auto view = fixture.ask<checkout_view>(entity_kind::checkout, "co_1", caf::make_message(actors::view_atom::value));
  CHECK(held(view).status == "expired");
}

TEST_CASE("one extension moves the deadline; a second is refused; the hold then expires at the new deadline") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  auto created = held(create(fixture, request_for("co_1", {{"tt_a", 1}})));
  auto extended =
      held(fixture.ask<checkout_view>(entity_kind::checkout, "co_1", caf::make_message(actors::extend_atom::value)));
  CHECK(extended.extended);
  CHECK(extended.expires_at_ms == created.expires_at_ms + 300'000);
  CHECK(error_of(fixture.ask<checkout_view>(entity_kind::checkout, "co_1",
                                            caf::make_message(actors::extend_atom::value))) ==
        inventory_errc::extension_used);

  fixture.advance(600'000ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "held");
  fixture.advance(300'000ms - 1ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "held");
  fixture.advance(1ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "expired");
}

TEST_CASE("releasing a checkout returns its seats; releasing it again is refused") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  held(create(fixture, request_for("co_1", {{"tt_a", 3}})));
  CHECK(held_count(fixture, "tt_a") == 3);
  auto released =
      held(fixture.ask<checkout_view>(entity_kind::checkout, "co_1", caf::make_message(actors::release_atom::value)));
  CHECK(released.status == "released");
  CHECK(hold_status(fixture, "co_1", "tt_a") == "released");
  CHECK(held_count(fixture, "tt_a") == 0);
  CHECK(error_of(fixture.ask<checkout_view>(entity_kind::checkout, "co_1",
                                            caf::make_message(actors::release_atom::value))) ==
        inventory_errc::not_held);
}

TEST_CASE("a checkout is all-or-nothing across ticket types when one of them is short") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  fixture.add_ticket_type("tt_b", 1);
  held(create(fixture, request_for("co_first", {{"tt_b", 1}}, "first@example.com")));

  auto refused = create(fixture, request_for("co_second", {{"tt_a", 2}, {"tt_b", 1}}, "second@example.com"));
  CHECK(error_of(refused) == inventory_errc::sold_out);
  CHECK(held_count(fixture, "tt_a") == 0);
  CHECK(held_count(fixture, "tt_b") == 1);
  CHECK(hold_status(fixture, "co_second", "tt_b") == "none");
  CHECK(hold_status(fixture, "co_second", "tt_a") != "held");
}

TEST_CASE("requests that arrive together are committed in one transaction, and none is oversold") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 3);
  auto jobs_before = fixture.runner.jobs_run();
  std::vector<std::shared_ptr<answer<held_line>>> outcomes;
  for (int i = 0; i < 5; ++i) {
    auto out = std::make_shared<answer<held_line>>();
    actors::reserve_request reserve{"co_" + std::to_string(i), test_event, "b" + std::to_string(i) + "@example.com",
                                    "192.0.2.1", 1, 1, fixture.now_ms() + 600'000, "00", "", {}, {}};
    fixture.system.spawn(eventstripe::test_support::ask_probe<held_line>, fixture.directory.region_for("tt_a"),
                         entity_kind::quota, std::string{"tt_a"}, caf::make_message(actors::reserve_atom::value, reserve),
                         out);
    outcomes.push_back(out);
  }
  fixture.scheduler.run();
  int succeeded = 0, sold_out = 0;
  for (auto& out : outcomes) {
    if (std::holds_alternative<held_line>(*out)) ++succeeded;
    else if (error_of(*out) == inventory_errc::sold_out) ++sold_out;
  }
  CHECK(succeeded == 3);
  CHECK(sold_out == 2);
  CHECK(held_count(fixture, "tt_a") == 3);
  // One job loads the quota, one commits the three holds: sold-out answers need no transaction.
  CHECK(fixture.runner.jobs_run() - jobs_before == 2);
}

TEST_CASE("a crashed quota restarts from PostgreSQL without losing or doubling a hold, and still expires it") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 2);
  held(create(fixture, request_for("co_1", {{"tt_a", 1}})));
  caf::anon_send(fixture.directory.region_for("tt_a"), actors::tell_atom::value, entity_kind::quota,
                 std::string{"tt_a"}, caf::make_message(actors::crash_atom::value));
  fixture.scheduler.run();

  // The restarted quota knows the hold: one seat is left, not two, and the repeated request
  // for co_1 is answered from the existing hold instead of taking a second seat.
  held(create(fixture, request_for("co_2", {{"tt_a", 1}}, "other@example.com")));
  CHECK(error_of(create(fixture, request_for("co_3", {{"tt_a", 1}}, "third@example.com"))) ==
        inventory_errc::sold_out);
  CHECK(held_count(fixture, "tt_a") == 2);
  CHECK(fixture.query_int("SELECT count(*) FROM holds WHERE status = 'held'") == 2);

  fixture.advance(600'000ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "expired");
  CHECK(hold_status(fixture, "co_2", "tt_a") == "expired");
  CHECK(held_count(fixture, "tt_a") == 0);
}

TEST_CASE("a hold whose answer is lost is released at the creation's deadline: nothing stays held") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 2);
  fixture.add_ticket_type("tt_b", 2);
  held(create(fixture, request_for("co_warm", {{"tt_a", 1}}, "warm@example.com")));  // the quota is active
  caf::anon_send(fixture.directory.region_for("tt_a"), actors::tell_atom::value, entity_kind::quota,
                 std::string{"tt_a"}, caf::make_message(actors::mute_atom::value, std::int32_t{1}));
  fixture.scheduler.run();

  auto out = std::make_shared<answer<checkout_view>>();
  auto request = request_for("co_1", {{"tt_a", 1}, {"tt_b", 1}});
  fixture.system.spawn(eventstripe::test_support::ask_probe<checkout_view>, fixture.directory.region_for("co_1"), entity_kind::checkout,
                       std::string{"co_1"}, caf::make_message(actors::create_atom::value, request), out);
  fixture.scheduler.run();
  // Both holds committed; tt_a's answer never came, so the checkout is still waiting.
  CHECK(std::holds_alternative<std::monostate>(*out));
  CHECK(hold_status(fixture, "co_1", "tt_a") == "held");
  CHECK(hold_status(fixture, "co_1", "tt_b") == "held");

  fixture.advance(fixture.shared->limits.request_timeout_ms * 2);
  REQUIRE(std::holds_alternative<caf::error>(*out));
  CHECK(std::get<caf::error>(*out) == caf::sec::request_timeout);
  // All or nothing: the hold whose answer was lost is given back with the other one.
  CHECK(hold_status(fixture, "co_1", "tt_a") == "released");
  CHECK(hold_status(fixture, "co_1", "tt_b") == "released");
  CHECK(held_count(fixture, "tt_a") == 1);
  CHECK(held_count(fixture, "tt_b") == 0);
  // The buyer is not counted as holding anything: a new checkout goes through.
  held(create(fixture, request_for("co_2", {{"tt_b", 2}})));
}

TEST_CASE("a quantity tier gives exactly its seats, takes them back from ended holds, and survives a restart") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 10, 2500);
  {
    auto connection = fixture.database.connect();
    pqxx::work transaction{connection};
    transaction.exec("INSERT INTO price_tiers (ticket_type_id, name, position, price_minor, quantity) "
                     "VALUES ('tt_a', 'Early bird', 0, 1000, 2)");
    transaction.commit();
  }
  auto price_of = [&](const std::string& checkout_id, const std::string& email) {
    auto answer = create(fixture, request_for(checkout_id, {{"tt_a", 1}}, email));
    const auto& view = held(answer);
    return std::make_pair(view.lines.at(0).line.unit_price_minor, view.lines.at(0).line.pricing.tier);
  };
  auto tier_taken = [&] { return fixture.query_int("SELECT taken FROM price_tiers WHERE ticket_type_id = 'tt_a'"); };
  CHECK(price_of("co_1", "a@example.com") == std::make_pair(std::int64_t{1000}, std::string{"Early bird"}));
  CHECK(price_of("co_2", "b@example.com") == std::make_pair(std::int64_t{1000}, std::string{"Early bird"}));
  // The tier's two seats are taken: the next buyer pays the fixed price.
  CHECK(price_of("co_3", "c@example.com") == std::make_pair(std::int64_t{2500}, std::string{}));
  CHECK(tier_taken() == 2);
  // A released tier seat is sold at the tier again.
  held(fixture.ask<checkout_view>(entity_kind::checkout, "co_1", caf::make_message(actors::release_atom::value)));
  CHECK(tier_taken() == 1);
  CHECK(price_of("co_4", "d@example.com") == std::make_pair(std::int64_t{1000}, std::string{"Early bird"}));
  // After a restart the quota counts the tier from PostgreSQL, not from zero.
  fixture.restart_regions();
  CHECK(price_of("co_5", "e@example.com") == std::make_pair(std::int64_t{2500}, std::string{}));
  // A hold keeps the price it was taken at: read back, co_2 is still at the tier's price.
  auto answer = fixture.ask<checkout_view>(entity_kind::checkout, "co_2", caf::make_message(actors::view_atom::value));
  const auto& read = held(answer);
  CHECK(read.lines.at(0).line.unit_price_minor == 1000);
  CHECK(read.lines.at(0).line.pricing.tier == "Early bird");
  // Expiry gives the tier seats back as well.
  fixture.advance(600'000ms);
  CHECK(tier_taken() == 0);
  CHECK(held_count(fixture, "tt_a") == 0);
}

TEST_CASE("after a restart, quotas with live holds are activated and expire them on time without any request") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  held(create(fixture, request_for("co_1", {{"tt_a", 2}})));
  fixture.advance(300'000ms);
  fixture.restart_regions();
  CHECK(hold_status(fixture, "co_1", "tt_a") == "held");
  fixture.advance(300'000ms - 1ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "held");
  fixture.advance(1ms);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "expired");
  CHECK(held_count(fixture, "tt_a") == 0);
}

TEST_CASE("a write of the previous owner after a restart is fenced and changes nothing") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  held(create(fixture, request_for("co_1", {{"tt_a", 1}})));
  auto shard = static_cast<std::int32_t>(fixture.directory.shard_of("tt_a"));
  auto old_epoch = fixture.query_int("SELECT owner_epoch FROM shards WHERE shard_id = " + std::to_string(shard));
  fixture.restart_regions();
  eventstripe::storage::quota_batch stale;
  stale.ticket_type_id = "tt_a";
  stale.currency = "EUR";
  stale.shard = shard;
  stale.epoch = old_epoch;
  stale.node_id = eventstripe::test_support::test_node;
  stale.releases = {"co_1"};
  auto connection = fixture.database.connect();
  CHECK(eventstripe::storage::commit_quota_batch(connection, stale).outcome ==
        eventstripe::storage::batch_outcome::fenced);
  CHECK(hold_status(fixture, "co_1", "tt_a") == "held");
}

TEST_CASE("a crashed checkout actor comes back from PostgreSQL with its hold, and can still release it") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  auto created = held(create(fixture, request_for("co_1", {{"tt_a", 2}})));
  caf::anon_send(fixture.directory.region_for("co_1"), actors::tell_atom::value, entity_kind::checkout,
                 std::string{"co_1"}, caf::make_message(actors::crash_atom::value));
  fixture.scheduler.run();
  auto again = held(fixture.ask<checkout_view>(entity_kind::checkout, "co_1", caf::make_message(actors::view_atom::value)));
  CHECK(again.status == "held");
  CHECK(again.expires_at_ms == created.expires_at_ms);
  REQUIRE(again.lines.size() == 1);
  CHECK(again.lines[0].line.quantity == 2);
  CHECK(held_count(fixture, "tt_a") == 2);
  // A retry of the original request replays it rather than taking two more seats.
  auto replay = held(create(fixture, request_for("co_1", {{"tt_a", 2}})));
  CHECK(replay.replayed);
  CHECK(held_count(fixture, "tt_a") == 2);
  held(fixture.ask<checkout_view>(entity_kind::checkout, "co_1", caf::make_message(actors::release_atom::value)));
  CHECK(held_count(fixture, "tt_a") == 0);
}

TEST_CASE("the schema refuses an oversell even if an actor were wrong") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 1);
  auto connection = fixture.database.connect();
  pqxx::work transaction{connection};
  transaction.exec(
      "INSERT INTO checkouts (id, event_id, buyer_email, client_address, item_count, request_hash, expires_at) "
      "VALUES ('co_x', '" + test_event + "', 'x@example.com', '192.0.2.1', 1, '\\x00', now() + interval '1 hour')");
  CHECK_THROWS_AS(transaction.exec("INSERT INTO holds (checkout_id, ticket_type_id, quantity, unit_price_minor, currency, "
                                   "status, expires_at) VALUES ('co_x', 'tt_a', 2, 100, 'EUR', 'held', now())"),
                  pqxx::check_violation);
}

TEST_CASE("the schema refuses holds and checkouts that name rows which do not exist") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 5);
  auto connection = fixture.database.connect();
  auto insert_checkout = [&](const std::string& id, const std::string& event_id) {
    pqxx::work transaction{connection};
    transaction.exec(
        "INSERT INTO checkouts (id, event_id, buyer_email, client_address, item_count, request_hash, expires_at) "
        "VALUES ('" + id + "', '" + event_id + "', 'x@example.com', '192.0.2.1', 1, '\\x00', now() + interval '1 hour')");
    transaction.commit();
  };
  auto insert_hold = [&](const std::string& checkout_id, const std::string& ticket_type_id) {
    pqxx::work transaction{connection};
    transaction.exec("INSERT INTO holds (checkout_id, ticket_type_id, quantity, unit_price_minor, currency, status, "
                     "expires_at) VALUES ('" + checkout_id + "', '" + ticket_type_id + "', 1, 100, 'EUR', 'held', "
                     "now() + interval '1 hour')");
    transaction.commit();
  };
  CHECK_THROWS_AS(insert_checkout("co_orphan", "ev_does_not_exist"), pqxx::foreign_key_violation);
  insert_checkout("co_x", test_event);
  CHECK_THROWS_AS(insert_hold("co_x", "tt_does_not_exist"), pqxx::foreign_key_violation);
  CHECK_THROWS_AS(insert_hold("co_does_not_exist", "tt_a"), pqxx::foreign_key_violation);
  CHECK(held_count(fixture, "tt_a") == 0);
  insert_hold("co_x", "tt_a");
  CHECK(held_count(fixture, "tt_a") == 1);
}

TEST_CASE("a batch may hold the seat, tier place and code use that a release in the same batch gives back") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 1);
  {
    auto connection = fixture.database.connect();
    pqxx::work transaction{connection};
    transaction.exec("INSERT INTO price_tiers (ticket_type_id, name, position, price_minor, quantity) "
                     "VALUES ('tt_a', 'Early bird', 0, 1000, 1)");
    transaction.commit();
  }
  held(create(fixture, request_for("co_1", {{"tt_a", 1}})));  // the seat and the tier place are taken
  CHECK(fixture.query_int("SELECT taken FROM price_tiers WHERE ticket_type_id = 'tt_a'") == 1);

  // What the quota would commit when a release and a new hold meet in one batch.
  auto& connection = fixture.runner.connection();
  auto batch = direct_batch(fixture, "tt_a");
  batch.releases.push_back("co_1");
  eventstripe::storage::hold_pricing_row at_tier;
  at_tier.tier_name = "Early bird";
  batch.holds.push_back({"co_2", test_event, "second@example.com", "192.0.2.1", 1, "00", "", 1, 1000,
                         fixture.now_ms() + 600'000, at_tier, {}});
  auto result = eventstripe::storage::commit_quota_batch(connection, batch);
  CHECK(result.outcome == eventstripe::storage::batch_outcome::committed);
  CHECK(result.refused_holds.empty());
  CHECK(hold_status(fixture, "co_1", "tt_a") == "released");
  CHECK(hold_status(fixture, "co_2", "tt_a") == "held");
  CHECK(held_count(fixture, "tt_a") == 1);
  CHECK(fixture.query_int("SELECT taken FROM price_tiers WHERE ticket_type_id = 'tt_a'") == 1);
}

TEST_CASE("a checkout with several lines counts against its buyer until its last line ends") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 10);
  fixture.add_ticket_type("tt_b", 10);
  auto limit = static_cast<int>(fixture.shared->limits.buyer_checkouts_max);
  for (int i = 0; i < limit; ++i)
    held(create(fixture, request_for("co_" + std::to_string(i), {{"tt_a", 1}, {"tt_b", 1}})));
  CHECK(error_of(create(fixture, request_for("co_over", {{"tt_a", 1}}))) == inventory_errc::buyer_limit);
  // One line of the first checkout ends (its quotas tell the event line by line).
  auto event_region = fixture.directory.region_for(eventstripe::test_support::test_event);
  caf::anon_send(event_region, eventstripe::actors::tell_atom::value, entity_kind::event,
                 eventstripe::test_support::test_event,
                 caf::make_message(eventstripe::actors::holds_ended_atom::value, std::string{"co_0"}, std::string{"tt_a"}));
  fixture.scheduler.run();
  CHECK(error_of(create(fixture, request_for("co_over2", {{"tt_a", 1}}))) == inventory_errc::buyer_limit);
  // Its last line ends too: the buyer may hold again.
  caf::anon_send(event_region, eventstripe::actors::tell_atom::value, entity_kind::event,
                 eventstripe::test_support::test_event,
                 caf::make_message(eventstripe::actors::holds_ended_atom::value, std::string{"co_0"}, std::string{"tt_b"}));
  fixture.scheduler.run();
  held(create(fixture, request_for("co_again", {{"tt_a", 1}})));
}

namespace {

answer<caf::ok_atom> sell(inventory_fixture& fixture, const std::string& type, const std::string& checkout, int quantity) {
  return fixture.ask<caf::ok_atom>(entity_kind::quota, type,
                                   caf::make_message(eventstripe::actors::sell_atom::value, checkout,
                                                     std::int32_t{quantity}, std::string{}));
}

answer<caf::ok_atom> give_back(inventory_fixture& fixture, const std::string& type, const std::string& checkout,
                               int quantity) {
  return fixture.ask<caf::ok_atom>(entity_kind::quota, type,
                                   caf::make_message(eventstripe::actors::give_back_atom::value, checkout,
                                                     std::int32_t{quantity}, std::string{}));
}

bool done(const answer<caf::ok_atom>& outcome) { return std::holds_alternative<caf::ok_atom>(outcome); }

int sold_count(inventory_fixture& fixture, const std::string& type) {
  return fixture.query_int("SELECT sold FROM ticket_types WHERE id = '" + type + "'");
}

}  // namespace

TEST_CASE("a paid hold is sold; an expired one is sold again only while a seat is free; a returned seat is on sale") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 2);
  held(create(fixture, request_for("co_1", {{"tt_a", 1}})));
  REQUIRE(done(sell(fixture, "tt_a", "co_1", 1)));
  CHECK(hold_status(fixture, "co_1", "tt_a") == "sold");
  CHECK(held_count(fixture, "tt_a") == 0);
  CHECK(sold_count(fixture, "tt_a") == 1);

  // co_2's hold expires while its payment is under way; co_3 takes the last seat meanwhile.
  held(create(fixture, request_for("co_2", {{"tt_a", 1}})));
  fixture.advance(600'000ms);
  CHECK(hold_status(fixture, "co_2", "tt_a") == "expired");
  held(create(fixture, request_for("co_3", {{"tt_a", 1}})));
  CHECK(error_of(sell(fixture, "tt_a", "co_2", 1)) == inventory_errc::sold_out);
  CHECK(hold_status(fixture, "co_2", "tt_a") == "expired");
  CHECK(sold_count(fixture, "tt_a") == 1);
  CHECK(held_count(fixture, "tt_a") == 1);

  // The seat comes free: the late payment's hold is sold again, and nothing is oversold.
  held(fixture.ask<checkout_view>(entity_kind::checkout, "co_3", caf::make_message(eventstripe::actors::release_atom::value)));
  REQUIRE(done(sell(fixture, "tt_a", "co_2", 1)));
  CHECK(hold_status(fixture, "co_2", "tt_a") == "sold");
  CHECK(sold_count(fixture, "tt_a") == 2);
  CHECK(error_of(create(fixture, request_for("co_4", {{"tt_a", 1}}))) == inventory_errc::sold_out);

  // A refunded line's seat goes back on sale once; a second give-back changes nothing.
  REQUIRE(done(give_back(fixture, "tt_a", "co_1", 1)));
  CHECK(hold_status(fixture, "co_1", "tt_a") == "refunded");
  CHECK(sold_count(fixture, "tt_a") == 1);
  CHECK(error_of(give_back(fixture, "tt_a", "co_1", 1)) == inventory_errc::not_held);
  CHECK(sold_count(fixture, "tt_a") == 1);
  held(create(fixture, request_for("co_5", {{"tt_a", 1}})));
  CHECK(sold_count(fixture, "tt_a") + held_count(fixture, "tt_a") == 2);
}

TEST_CASE("the schema refuses a sold hold moving back, and an expired one sold beyond capacity") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 1);
  held(create(fixture, request_for("co_1", {{"tt_a", 1}})));
  fixture.advance(600'000ms);
  held(create(fixture, request_for("co_2", {{"tt_a", 1}})));
  auto connection = fixture.database.connect();
  {
    pqxx::work transaction{connection};
    CHECK_THROWS(transaction.exec("UPDATE holds SET status = 'sold' WHERE checkout_id = 'co_1'"));
  }
  REQUIRE(done(sell(fixture, "tt_a", "co_2", 1)));
  pqxx::work transaction{connection};
  CHECK_THROWS(transaction.exec("UPDATE holds SET status = 'held' WHERE checkout_id = 'co_2'"));
}

TEST_CASE("a resale the schema refuses is refused alone: the rest of its batch commits") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 1);
  held(create(fixture, request_for("co_1", {{"tt_a", 1}})));
  fixture.advance(600'000ms);
  held(create(fixture, request_for("co_2", {{"tt_a", 1}})));  // the seat co_1's hold gave back
  REQUIRE(hold_status(fixture, "co_1", "tt_a") == "expired");

  // A batch the quota would not decide (it knows the seat is taken), written directly: the
  // CHECK on capacity refuses co_1's resale, and co_2's extension must still commit with it.
  auto& connection = fixture.runner.connection();
  auto batch = direct_batch(fixture, "tt_a");
  auto extended_to_s = fixture.now_ms() / 1000 + 900;
  batch.extensions.push_back({"co_2", extended_to_s * 1000});
  batch.resales.push_back("co_1");
  auto result = eventstripe::storage::commit_quota_batch(connection, batch);
  CHECK(result.outcome == eventstripe::storage::batch_outcome::committed);
  CHECK(result.refused_changes == std::vector<std::string>{"co_1"});
  CHECK(hold_status(fixture, "co_1", "tt_a") == "expired");
  CHECK(fixture.query_int("SELECT extract(epoch FROM expires_at)::integer FROM holds WHERE checkout_id = 'co_2'") ==
        extended_to_s);
  CHECK(held_count(fixture, "tt_a") == 1);
  CHECK(fixture.query_int("SELECT sold FROM ticket_types WHERE id = 'tt_a'") == 0);
}

TEST_CASE("several resales in one batch: each refused alone, the others sold") {
  inventory_fixture fixture;
  fixture.add_ticket_type("tt_a", 3);
  held(create(fixture, request_for("co_1", {{"tt_a", 1}})));
  held(create(fixture, request_for("co_2", {{"tt_a", 1}})));
  held(create(fixture, request_for("co_3", {{"tt_a", 1}})));
  fixture.advance(600'000ms);  // all three expire: three seats free
  held(create(fixture, request_for("co_4", {{"tt_a", 1}})));
  held(create(fixture, request_for("co_5", {{"tt_a", 1}})));  // one seat left

  // Late payments for all three: only the first finds the seat; the savepoints of the refused
  // ones must not undo it, nor each other.
  auto& connection = fixture.runner.connection();
  auto batch = direct_batch(fixture, "tt_a");
  batch.resales = {"co_1", "co_2", "co_3"};
  auto result = eventstripe::storage::commit_quota_batch(connection, batch);
  CHECK(result.outcome == eventstripe::storage::batch_outcome::committed);
  CHECK(result.refused_changes == std::vector<std::string>{"co_2", "co_3"});
  CHECK(hold_status(fixture, "co_1", "tt_a") == "sold");
  CHECK(hold_status(fixture, "co_2", "tt_a") == "expired");
  CHECK(hold_status(fixture, "co_3", "tt_a") == "expired");
  CHECK(fixture.query_int("SELECT sold FROM ticket_types WHERE id = 'tt_a'") == 1);
  CHECK(held_count(fixture, "tt_a") == 2);
}
