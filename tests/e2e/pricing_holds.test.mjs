// Prices at hold time (issue 4) against the real binary and its PostgreSQL: a quantity tier of
// 100 under 2,000 concurrent holds gives exactly 100 holds at the tier's price; a promo code with
// 100 uses under 1,000 concurrent holds discounts exactly 100; expired holds give back their tier
// seat and their code use; the quote is locked when the hold is taken; reverse charge for a
// business buyer of another EU country; and bad promo codes and VAT ids get a clear error and
// hold nothing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertProblem, psql } from './harness.mjs';
import {
  addTicketType,
  call,
  createEvent,
  dbTotals,
  expectStatus,
  publish,
  suiteNode,
  unique,
  waitForDbHeld,
} from './inventory_support.mjs';

const eur = (minor) => ({ minor, currency: 'EUR' });

function holdWith(node, eventId, ticketTypeId, { email = `${unique('buyer')}@example.com`, promo, vat, quantity = 1 } = {}) {
  const body = { event_id: eventId, email, items: [{ ticket_type_id: ticketTypeId, quantity }] };
  if (promo !== undefined) body.promo_code = promo;
  if (vat !== undefined) body.vat_id = vat;
  return call(node, 'POST', '/api/v1/checkouts', { body, timeoutMs: 120_000 });
}

async function addCode(node, key, eventId, body) {
  return expectStatus(
    await call(node, 'POST', `/api/v1/organizer/events/${eventId}/promo-codes`, { key, body }),
    201,
    'create promo code',
  );
}

async function pricedEvent(node, key, type, eventFields = {}) {
  const event = await createEvent(node, key, eventFields);
  const created = await addTicketType(node, key, event.id, type);
  await publish(node, key, event.id);
  return { event, type: created };
}

const queryInt = async (databaseUrl, sql) => Number((await psql(databaseUrl, sql)).trim());

describe('pricing at hold time', () => {
  const suite = suiteNode('pricing-holds', ['--inventory.address_checkouts_max=100000', '--http.connections_max=20000']);

  test('a quantity tier of 100 under 2,000 concurrent one-ticket holds: exactly 100 get the tier price', async () => {
    const { event, type } = await pricedEvent(suite.node, suite.organizer.key, {
      capacity: 2000,
      price: 5000,
      tiers: [{ name: 'First 100', price: eur(2500), quantity: 100 }],
    });
    const answers = await Promise.all(Array.from({ length: 2000 }, () => holdWith(suite.node, event.id, type.id)));
    const bodies = answers.map((answer) => expectStatus(answer, 201, 'hold'));
    const atTier = bodies.filter((body) => body.quote.lines[0].tier === 'First 100');
    assert.equal(atTier.length, 100);
    assert.ok(atTier.every((body) => body.items[0].unit_price.minor === 2500 && body.quote.totals.gross.minor === 2500));
    const atList = bodies.filter((body) => body.quote.lines[0].tier === null);
    assert.equal(atList.length, 1900);
    assert.ok(atList.every((body) => body.items[0].unit_price.minor === 5000));
    assert.equal(await queryInt(suite.databaseUrl, `SELECT taken FROM price_tiers WHERE ticket_type_id = '${type.id}'`), 100);
    assert.equal(
      await queryInt(suite.databaseUrl, `SELECT sum(quantity) FROM holds WHERE ticket_type_id = '${type.id}' AND tier_name = 'First 100'`),
      100,
    );
  });

  test('a promo code with 100 uses under 1,000 concurrent holds: exactly 100 are discounted, the rest refused', async () => {
    const { event, type } = await pricedEvent(suite.node, suite.organizer.key, { capacity: 1000, price: 4000 });
    const code = await addCode(suite.node, suite.organizer.key, event.id, { code: 'HALF-OFF', kind: 'percent_off', percent_off: '50', max_uses: 100 });
    const answers = await Promise.all(Array.from({ length: 1000 }, () => holdWith(suite.node, event.id, type.id, { promo: 'half-off' })));
    const held = answers.filter((answer) => answer.status === 201).map((answer) => answer.json());
    assert.equal(held.length, 100);
    assert.ok(held.every((body) => body.quote.lines[0].promo_code === 'HALF-OFF' && body.quote.lines[0].discount.minor === 2000));
    assert.ok(held.every((body) => body.quote.totals.gross.minor === 2000));
    const refused = answers.filter((answer) => answer.status !== 201);
    assert.equal(refused.length, 900);
    for (const answer of refused) assertProblem(assert, answer, 409, 'promo-code-exhausted');
    assert.equal(await queryInt(suite.databaseUrl, `SELECT uses FROM promo_codes WHERE id = '${code.id}'`), 100);
    assert.equal(await queryInt(suite.databaseUrl, `SELECT discount_spent_minor FROM promo_codes WHERE id = '${code.id}'`), 200_000);
    assert.equal(await queryInt(suite.databaseUrl, `SELECT count(*) FROM holds WHERE promo_code_id = '${code.id}' AND status = 'held'`), 100);
    assert.equal(await queryInt(suite.databaseUrl, `SELECT held FROM ticket_types WHERE id = '${type.id}'`), 100);
  });

  test('the quote: 119.00 including 19 % is 100.00 net; lines add up; it stays locked when the price changes', async () => {
    const { event, type } = await pricedEvent(
      suite.node,
      suite.organizer.key,
      { capacity: 10, price: 11900, tax_rate: '19' },
      { fees: { fixed: eur(100), percent: '2', cap: eur(250), mode: 'added' } },
    );
    const body = expectStatus(await holdWith(suite.node, event.id, type.id, { quantity: 2 }), 201, 'hold');
    const [line] = body.quote.lines;
    // Per ticket: fee 1.00 + 2 % of 119.00 = 3.38, capped at 2.50. Charged: 2 × (119.00 + 2.50).
    assert.equal(line.fee.minor, 500);
    assert.equal(line.gross.minor, 24300);
    assert.equal(line.tax_rate, '19');
    assert.equal(line.tax.minor, 3880); // round(24300 × 19 / 119)
    assert.equal(line.net.minor, 20420);
    assert.equal(body.quote.totals.gross.minor, line.gross.minor);
    assert.equal(body.quote.totals.net.minor + body.quote.totals.tax.minor, body.quote.totals.gross.minor);
    assert.equal(body.quote.tax_mode, 'inclusive');

    // A single ticket at 119.00 without the fee is the known answer.
    const plain = await pricedEvent(suite.node, suite.organizer.key, { capacity: 5, price: 11900, tax_rate: '19' });
    const one = expectStatus(await holdWith(suite.node, plain.event.id, plain.type.id), 201, 'hold');
    assert.deepEqual(
      [one.quote.lines[0].net.decimal, one.quote.lines[0].tax.decimal, one.quote.lines[0].gross.decimal],
      ['100.00', '19.00', '119.00'],
    );

    // The organizer raises the price: the live hold keeps its quote, a new hold gets the new price.
    expectStatus(
      await call(suite.node, 'PATCH', `/api/v1/organizer/events/${event.id}/ticket-types/${type.id}`, {
        key: suite.organizer.key,
        body: { price: eur(15000) },
      }),
      200,
      'raise price',
    );
    const read = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${body.id}`), 200, 'read checkout');
    assert.deepEqual(read.quote, body.quote);
    const later = expectStatus(await holdWith(suite.node, event.id, type.id), 201, 'hold after the change');
    assert.equal(later.quote.lines[0].unit_price.minor, 15000);
  });

  test('a business buyer of another EU country gets reverse charge: 0 % and the note', async () => {
    const { event, type } = await pricedEvent(suite.node, suite.organizer.key, { capacity: 5, price: 10700 }); // DE admission 7 %
    const consumer = expectStatus(await holdWith(suite.node, event.id, type.id), 201, 'consumer');
    assert.equal(consumer.quote.lines[0].tax_rate, '7');
    assert.equal(consumer.quote.lines[0].tax.minor, 700);
    const business = expectStatus(await holdWith(suite.node, event.id, type.id, { vat: 'FR 12 345678901' }), 201, 'business');
    assert.equal(business.quote.reverse_charge, true);
    assert.equal(business.quote.buyer_vat_id, 'FR12345678901');
    assert.equal(business.quote.lines[0].tax.minor, 0);
    assert.equal(business.quote.totals.gross.minor, 10000); // the price without the tax it contained
    assert.equal(business.quote.notes.length, 1);
    assert.match(business.quote.notes[0], /Reverse charge/);
  });

  test('bad promo codes and VAT ids get a clear error and hold nothing', async () => {
    const { event, type } = await pricedEvent(suite.node, suite.organizer.key, { capacity: 10, price: 3000 });
    const other = await addTicketType(suite.node, suite.organizer.key, event.id, { capacity: 10, price: 3000 });
    await addCode(suite.node, suite.organizer.key, event.id, { code: 'OLD', kind: 'amount_off', amount: eur(500), valid_until: '2020-01-01T00:00:00Z' });
    await addCode(suite.node, suite.organizer.key, event.id, { code: 'OTHER-ONLY', kind: 'amount_off', amount: eur(500), ticket_type_ids: [other.id] });
    await addCode(suite.node, suite.organizer.key, event.id, { code: 'ONCE', kind: 'amount_off', amount: eur(500), max_uses_per_buyer: 1 });
    await addCode(suite.node, suite.organizer.key, event.id, { code: 'RETIRED', kind: 'amount_off', amount: eur(500), active: false });
    const before = await dbTotals(suite.databaseUrl);
    const cases = [
      ['an unknown code', { promo: 'NOPE' }, 422, 'unknown-promo-code'],
      ['a retired code', { promo: 'retired' }, 422, 'unknown-promo-code'],
      ['an expired code', { promo: 'OLD' }, 422, 'promo-code-expired'],
      ['a code for another ticket type', { promo: 'OTHER-ONLY' }, 422, 'promo-code-not-applicable'],
      ['a malformed VAT id', { vat: 'DE12' }, 422, 'invalid-vat-id'],
      ['a VAT id of no EU country', { vat: 'XX123456789' }, 422, 'invalid-vat-id'],
      ['an empty promo code', { promo: '' }, 422, 'invalid-field'],
    ];
    for (const [what, options, status, slug] of cases) {
      const answer = await holdWith(suite.node, event.id, type.id, options);
      assert.equal(answer.status, status, `${what}: ${answer.body}`);
      assertProblem(assert, answer, status, slug);
    }
    assert.deepEqual(await dbTotals(suite.databaseUrl), before, 'refused holds changed nothing');

    // The per-buyer limit: one ticket with ONCE per buyer.
    const email = `${unique('once')}@example.com`;
    expectStatus(await holdWith(suite.node, event.id, type.id, { email, promo: 'once' }), 201, 'first use');
    assertProblem(assert, await holdWith(suite.node, event.id, type.id, { email, promo: 'ONCE' }), 409, 'promo-code-buyer-limit');
    expectStatus(await holdWith(suite.node, event.id, type.id, { promo: 'ONCE' }), 201, 'another buyer');
  });
});

describe('pricing at hold time: applying and removing a code on a live checkout', () => {
  const suite = suiteNode('pricing-requote');

  test('PUT and DELETE .../promo-code re-quote the checkout, and the code counts its uses exactly', async () => {
    const { event, type } = await pricedEvent(suite.node, suite.organizer.key, { capacity: 10, price: 4000 });
    const code = await addCode(suite.node, suite.organizer.key, event.id, { code: 'HALF', kind: 'percent_off', percent_off: '50', max_uses: 1 });
    const uses = () => queryInt(suite.databaseUrl, `SELECT uses FROM promo_codes WHERE id = '${code.id}'`);
    const first = expectStatus(await holdWith(suite.node, event.id, type.id), 201, 'first hold');
    const second = expectStatus(await holdWith(suite.node, event.id, type.id), 201, 'second hold');
    assert.equal(first.quote.totals.gross.minor, 4000);
    const promoPath = (id) => `/api/v1/checkouts/${id}/promo-code`;

    const applied = expectStatus(await call(suite.node, 'PUT', promoPath(first.id), { body: { promo_code: 'half' } }), 200, 'apply');
    assert.equal(applied.quote.lines[0].promo_code, 'HALF');
    assert.equal(applied.quote.lines[0].discount.minor, 2000);
    assert.equal(applied.quote.totals.gross.minor, 2000);
    assert.equal(await uses(), 1);
    assert.deepEqual(expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${first.id}`), 200).quote, applied.quote);

    // The code's one use is taken: the second checkout is refused and keeps its quote.
    assertProblem(assert, await call(suite.node, 'PUT', promoPath(second.id), { body: { promo_code: 'HALF' } }), 409, 'promo-code-exhausted');
    assert.deepEqual(expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${second.id}`), 200).quote, second.quote);
    assertProblem(assert, await call(suite.node, 'PUT', promoPath(second.id), { body: { promo_code: 'NOPE' } }), 422, 'unknown-promo-code');
    assertProblem(assert, await call(suite.node, 'PUT', promoPath(second.id), { body: { code: 'HALF' } }), 422, 'unknown-field');
    assert.equal(await uses(), 1);

    // Removing it gives the use back, and the other buyer can have it.
    const removed = expectStatus(await call(suite.node, 'DELETE', promoPath(first.id)), 200, 'remove');
    assert.equal(removed.quote.lines[0].promo_code, null);
    assert.equal(removed.quote.totals.gross.minor, 4000);
    assert.equal(await uses(), 0);
    const moved = expectStatus(await call(suite.node, 'PUT', promoPath(second.id), { body: { promo_code: 'HALF' } }), 200, 'apply to second');
    assert.equal(moved.quote.totals.gross.minor, 2000);
    assert.equal(await uses(), 1);

    // A released checkout cannot be re-quoted.
    expectStatus(await call(suite.node, 'DELETE', `/api/v1/checkouts/${first.id}`), 200, 'release');
    assertProblem(assert, await call(suite.node, 'PUT', promoPath(first.id), { body: { promo_code: 'HALF' } }), 409, 'checkout-not-held');
  });
});

describe('pricing at hold time: expired holds', () => {
  const suite = suiteNode('pricing-expiry', ['--inventory.hold_ttl_ms=1500', '--inventory.expiry_warning_ms=500']);

  test('an expired hold gives back its tier seat and its code use', async () => {
    const { event, type } = await pricedEvent(suite.node, suite.organizer.key, {
      capacity: 5,
      price: 3000,
      tiers: [{ name: 'Early', price: eur(1000), quantity: 1 }],
    });
    const code = await addCode(suite.node, suite.organizer.key, event.id, { code: 'FIVER', kind: 'amount_off', amount: eur(500), max_uses: 1 });
    const first = expectStatus(await holdWith(suite.node, event.id, type.id, { promo: 'fiver' }), 201, 'first');
    assert.equal(first.quote.lines[0].tier, 'Early');
    assert.equal(first.quote.lines[0].discount.minor, 500);
    assert.equal(first.quote.totals.gross.minor, 500);
    assertProblem(assert, await holdWith(suite.node, event.id, type.id, { promo: 'FIVER' }), 409, 'promo-code-exhausted');
    const second = expectStatus(await holdWith(suite.node, event.id, type.id), 201, 'second');
    assert.equal(second.quote.lines[0].tier, null);
    assert.equal(second.quote.totals.gross.minor, 3000);

    await waitForDbHeld(suite.databaseUrl, type.id, 0);
    assert.equal(await queryInt(suite.databaseUrl, `SELECT taken FROM price_tiers WHERE ticket_type_id = '${type.id}'`), 0);
    assert.equal(await queryInt(suite.databaseUrl, `SELECT uses FROM promo_codes WHERE id = '${code.id}'`), 0);
    const again = expectStatus(await holdWith(suite.node, event.id, type.id, { promo: 'FIVER' }), 201, 'after expiry');
    assert.equal(again.quote.lines[0].tier, 'Early');
    assert.equal(again.quote.lines[0].discount.minor, 500);
  });
});
