// The organizers' pricing configuration (issue 4) against the real binary and its PostgreSQL:
// price tiers per ticket type (created, read back, replaced, refused when they overlap, counters
// kept by tier name), the event's tax mode, tax rate overrides and service fee, promo codes (CRUD,
// case-insensitive uniqueness, scope, deactivation, usage read-only), amounts in another currency
// than the event's, workspace isolation on every new endpoint, and a bad-input table in which every
// refused request changes nothing in the database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertProblem, createDatabase, dropDatabase, killAllChildren, psql, startNode } from './harness.mjs';
import { addTicketType, call, createEvent, dbTotals, expectStatus, signUp, unique } from './inventory_support.mjs';

const unknownEvent = 'ev_aaaaaaaaaaaaaaaaaaaa';
const unknownType = 'tt_aaaaaaaaaaaaaaaaaaaa';
const unknownCode = 'pc_aaaaaaaaaaaaaaaaaaaa';

const eur = (minor) => ({ minor, currency: 'EUR' });
const money = (minor, decimal) => ({ minor, currency: 'EUR', decimal });

// Everything the pricing configuration is stored as (columns a quota's activation or a hold
// trigger may touch, like writer_generation and updated_at of ticket types, are left out).
async function pricingState(databaseUrl) {
  const text = await psql(
    databaseUrl,
    `SELECT json_build_object(
       'events', (SELECT coalesce(json_agg(json_build_object('id', id, 'version', version, 'currency', currency,
                    'tax_mode', tax_mode, 'tax_rate_bp', tax_rate_bp, 'fee_fixed_minor', fee_fixed_minor,
                    'fee_percent_bp', fee_percent_bp, 'fee_cap_minor', fee_cap_minor, 'fee_mode', fee_mode,
                    'updated_at', updated_at) ORDER BY id), '[]') FROM events),
       'ticket_types', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name, 'price_minor', price_minor,
                    'capacity', capacity, 'tax_rate_bp', tax_rate_bp, 'hidden', hidden) ORDER BY id), '[]')
                    FROM ticket_types),
       'price_tiers', (SELECT coalesce(json_agg(t ORDER BY ticket_type_id, position), '[]') FROM price_tiers t),
       'promo_codes', (SELECT coalesce(json_agg(p ORDER BY id), '[]') FROM promo_codes p))`,
  );
  return JSON.parse(text);
}

async function dbTiers(databaseUrl, ticketTypeId) {
  const rows = await psql(
    databaseUrl,
    `SELECT coalesce(position::text, 'retired'), name, price_minor, coalesce(quantity::text, '-'), taken
       FROM price_tiers WHERE ticket_type_id = '${ticketTypeId}' ORDER BY position, name`,
  );
  return rows
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((row) => {
      const [position, name, price, quantity, taken] = row.split('|');
      return {
        position: position === 'retired' ? position : Number(position),
        name,
        price: Number(price),
        quantity,
        taken: Number(taken),
      };
    });
}

describe('pricing configuration', () => {
  let databaseUrl;
  let node;
  let a;
  let b;

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({ databaseUrl });
    a = await signUp(node, 'pricing-a');
    b = await signUp(node, 'pricing-b');
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  const typePath = (eventId, typeId) => `/api/v1/organizer/events/${eventId}/ticket-types/${typeId}`;
  const codesPath = (eventId) => `/api/v1/organizer/events/${eventId}/promo-codes`;
  const codePath = (eventId, codeId) => `${codesPath(eventId)}/${codeId}`;
  const readEvent = async (key, eventId) =>
    expectStatus(await call(node, 'GET', `/api/v1/organizer/events/${eventId}`, { key }), 200, 'read event');

  test('tiers: created with their ticket type, read back in order, replaced as a whole, counters kept by name', async () => {
    const event = await createEvent(node, a.key);
    const type = await addTicketType(node, a.key, event.id, {
      name: 'Standard',
      capacity: 200,
      price: 5000,
      tiers: [
        { name: 'Early bird', price: eur(3000), until: '2031-03-01T00:00:00+01:00' },
        { name: 'First 50', price: eur(4000), quantity: 50 },
        { name: 'Regular', price: eur(4500), from: '2031-03-01T00:00:00+01:00' },
      ],
    });
    assert.deepEqual(type.tiers, [
      { name: 'Early bird', price: money(3000, '30.00'), from: null, until: '2031-02-28T23:00:00.000Z', quantity: null },
      { name: 'First 50', price: money(4000, '40.00'), from: null, until: null, quantity: 50 },
      { name: 'Regular', price: money(4500, '45.00'), from: '2031-02-28T23:00:00.000Z', until: null, quantity: null },
    ]);
    assert.deepEqual((await readEvent(a.key, event.id)).ticket_types[0].tiers, type.tiers, 'GET shows the same');
    assert.deepEqual(
      (await dbTiers(databaseUrl, type.id)).map((tier) => [tier.position, tier.name, tier.price, tier.quantity]),
      [
        [0, 'Early bird', 3000, '-'],
        [1, 'First 50', 4000, '50'],
        [2, 'Regular', 4500, '-'],
      ],
    );

    // Seats already taken at tiers (the holds keep these counters): simulate 7 and 2.
    await psql(databaseUrl, `UPDATE price_tiers SET taken = 7 WHERE ticket_type_id = '${type.id}' AND name = 'First 50'`);
    await psql(databaseUrl, `UPDATE price_tiers SET taken = 2 WHERE ticket_type_id = '${type.id}' AND name = 'Regular'`);
    // Reordered, one left out, one new: "First 50" keeps its 7, the new tier starts at 0, and
    // "Regular" is retired (no longer offered) but keeps the 2 its live holds will give back.
    const replaced = expectStatus(
      await call(node, 'PATCH', typePath(event.id, type.id), {
        key: a.key,
        body: {
          tiers: [
            { name: 'First 50', price: eur(3900), quantity: 60 },
            { name: 'Early bird', price: eur(3000), until: '2031-03-01T00:00:00+01:00' },
            { name: 'Late', price: eur(5500) },
          ],
        },
      }),
      200,
      'replace tiers',
    );
    assert.deepEqual(
      replaced.ticket_types[0].tiers.map((tier) => tier.name),
      ['First 50', 'Early bird', 'Late'],
    );
    assert.deepEqual(
      (await dbTiers(databaseUrl, type.id)).map((tier) => [tier.position, tier.name, tier.price, tier.taken]),
      [
        [0, 'First 50', 3900, 7],
        [1, 'Early bird', 3000, 0],
        [2, 'Late', 5500, 0],
        ['retired', 'Regular', 4500, 2],
      ],
    );

    // A quantity below what the tier already has is refused, naming it, and nothing changes.
    const before = await pricingState(databaseUrl);
    const below = await call(node, 'PATCH', typePath(event.id, type.id), {
      key: a.key,
      body: { tiers: [{ name: 'First 50', price: eur(3900), quantity: 5 }] },
    });
    const problem = assertProblem(assert, below, 409, 'tier-below-taken');
    assert.match(problem.detail, /First 50/);
    // Also when the capacity changes in the same request: the capacity stays as it was.
    const belowWithCapacity = await call(node, 'PATCH', typePath(event.id, type.id), {
      key: a.key,
      body: { capacity: 150, tiers: [{ name: 'First 50', price: eur(3900), quantity: 6 }] },
    });
    assertProblem(assert, belowWithCapacity, 409, 'tier-below-taken');
    assert.deepEqual(await pricingState(databaseUrl), before);

    // A tier added back under its old name carries on with its count; a tier left out with nothing
    // taken is gone.
    const revived = expectStatus(
      await call(node, 'PATCH', typePath(event.id, type.id), {
        key: a.key,
        body: {
          tiers: [
            { name: 'First 50', price: eur(3900), quantity: 60 },
            { name: 'Early bird', price: eur(3000), until: '2031-03-01T00:00:00+01:00' },
            { name: 'Regular', price: eur(4600), from: '2031-03-01T00:00:00+01:00' },
          ],
        },
      }),
      200,
    );
    assert.deepEqual(revived.ticket_types[0].tiers.map((tier) => tier.name), ['First 50', 'Early bird', 'Regular']);
    assert.deepEqual(
      (await dbTiers(databaseUrl, type.id)).map((tier) => [tier.position, tier.name, tier.taken]),
      [
        [0, 'First 50', 7],
        [1, 'Early bird', 0],
        [2, 'Regular', 2],
      ],
    );

    // A PATCH without tiers keeps them; [] removes them all (the fixed price again).
    const renamed = expectStatus(
      await call(node, 'PATCH', typePath(event.id, type.id), { key: a.key, body: { name: 'Standard admission' } }),
      200,
    );
    assert.equal(renamed.ticket_types[0].tiers.length, 3);
    const cleared = expectStatus(
      await call(node, 'PATCH', typePath(event.id, type.id), { key: a.key, body: { tiers: [] } }),
      200,
    );
    assert.deepEqual(cleared.ticket_types[0].tiers, []);
    assert.deepEqual(
      (await dbTiers(databaseUrl, type.id)).map((tier) => [tier.position, tier.name, tier.taken]),
      [
        ['retired', 'First 50', 7],
        ['retired', 'Regular', 2],
      ],
      'only tiers with tickets taken are kept, retired',
    );
  });

  test('overlapping tiers are refused at setup naming the tier, on create and on change, and nothing changes', async () => {
    const event = await createEvent(node, a.key);
    const type = await addTicketType(node, a.key, event.id, {
      name: 'Seated',
      tiers: [{ name: 'Early', price: eur(2000), until: '2031-02-01T00:00:00Z' }],
    });
    const before = await pricingState(databaseUrl);
    const overlapping = [
      { name: 'Early', price: eur(2000), from: '2031-01-01T00:00:00Z', until: '2031-03-01T00:00:00Z' },
      { name: 'Spring', price: eur(2500), from: '2031-02-01T00:00:00+01:00', until: '2031-04-01T00:00:00+02:00' },
    ];
    const created = await call(node, 'POST', `/api/v1/organizer/events/${event.id}/ticket-types`, {
      key: a.key,
      body: { name: 'Overlap', capacity: 10, price: eur(3000), tiers: overlapping },
    });
    const problem = assertProblem(assert, created, 422, 'overlapping-tiers');
    assert.match(problem.detail, /'Spring'/);
    assert.match(problem.detail, /'Early'/);
    const changed = await call(node, 'PATCH', typePath(event.id, type.id), { key: a.key, body: { tiers: overlapping } });
    assert.match(assertProblem(assert, changed, 422, 'overlapping-tiers').detail, /'Spring'/);
    // A tier after one with neither window nor quantity could never apply.
    const unreachable = await call(node, 'PATCH', typePath(event.id, type.id), {
      key: a.key,
      body: { tiers: [{ name: 'Always', price: eur(2000) }, { name: 'Never', price: eur(1000), quantity: 5 }] },
    });
    assert.match(assertProblem(assert, unreachable, 422, 'overlapping-tiers').detail, /'Never' would never apply/);
    assert.deepEqual(await pricingState(databaseUrl), before);
    // Quantity tiers may share a window: the next takes over when one sells out.
    const sharing = expectStatus(
      await call(node, 'PATCH', typePath(event.id, type.id), {
        key: a.key,
        body: {
          tiers: [
            { name: 'First 10', price: eur(1000), quantity: 10, until: '2031-04-01T00:00:00Z' },
            { name: 'Next 10', price: eur(1500), quantity: 10, until: '2031-04-01T00:00:00Z' },
            { name: 'Door', price: eur(3000) },
          ],
        },
      }),
      200,
    );
    assert.equal(sharing.ticket_types[0].tiers.length, 3);
  });

  test("the event's tax mode, tax rate overrides and fee: set, read back, cleared; amounts in another currency are refused", async () => {
    const event = await createEvent(node, a.key, {
      tax_mode: 'exclusive',
      tax_rate: '5.5',
      fees: { fixed: eur(150), percent: '2.5', cap: eur(500), mode: 'absorbed' },
    });
    assert.equal(event.tax_mode, 'exclusive');
    assert.equal(event.tax_rate, '5.5');
    assert.equal(event.tax_rate_effective, '5.5');
    assert.deepEqual(event.fees, { fixed: money(150, '1.50'), percent: '2.5', cap: money(500, '5.00'), mode: 'absorbed' });
    assert.equal(
      (await psql(databaseUrl, `SELECT tax_mode, tax_rate_bp, fee_fixed_minor, fee_percent_bp, fee_cap_minor, fee_mode
                                  FROM events WHERE id = '${event.id}'`)).trim(),
      'exclusive|550|150|250|500|absorbed',
    );

    // Defaults: tax included, the shipped table's admission rate (Germany: 7 %), no fee.
    const plain = await createEvent(node, a.key);
    assert.equal(plain.tax_mode, 'inclusive');
    assert.equal(plain.tax_rate, null);
    assert.equal(plain.tax_rate_effective, '7');
    assert.deepEqual(plain.fees, { fixed: money(0, '0.00'), percent: '0', cap: null, mode: 'added' });
    const outside = await createEvent(node, a.key, { tax_country: 'US', currency: 'USD' });
    assert.equal(outside.tax_rate_effective, null, 'a country outside the table has no rate without an override');

    // A ticket type's own rate wins over the event's; null removes it again.
    const type = await addTicketType(node, a.key, event.id, { name: 'Merch bundle', tax_rate: '19' });
    assert.equal(type.tax_rate, '19');
    assert.equal(type.tax_rate_effective, '19');
    const typeCleared = expectStatus(
      await call(node, 'PATCH', typePath(event.id, type.id), { key: a.key, body: { tax_rate: null } }),
      200,
    );
    assert.equal(typeCleared.ticket_types[0].tax_rate, null);
    assert.equal(typeCleared.ticket_types[0].tax_rate_effective, '5.5', "then the event's override applies");

    // PATCH: null goes back to the table and removes the fee; other settings stay.
    const patched = expectStatus(
      await call(node, 'PATCH', `/api/v1/organizer/events/${event.id}`, {
        key: a.key,
        body: { version: event.version, tax_rate: null, fees: null, tax_mode: 'inclusive' },
      }),
      200,
    );
    assert.equal(patched.tax_rate, null);
    assert.equal(patched.tax_rate_effective, '7');
    assert.equal(patched.tax_mode, 'inclusive');
    assert.deepEqual(patched.fees, { fixed: money(0, '0.00'), percent: '0', cap: null, mode: 'added' });
    const withFee = expectStatus(
      await call(node, 'PATCH', `/api/v1/organizer/events/${event.id}`, {
        key: a.key,
        body: { version: patched.version, fees: { percent: '10', cap: eur(99) } },
      }),
      200,
    );
    assert.deepEqual(withFee.fees, { fixed: money(0, '0.00'), percent: '10', cap: money(99, '0.99'), mode: 'added' });

    // Amounts in another currency than the event's: a clear 422, nothing written. (The last case
    // needs a fee with amounts on an event without ticket types: `plain` gets one first.)
    const feeOnly = expectStatus(
      await call(node, 'PATCH', `/api/v1/organizer/events/${plain.id}`, {
        key: a.key,
        body: { version: plain.version, fees: { fixed: eur(100) } },
      }),
      200,
    );
    const usd = (minor) => ({ minor, currency: 'USD' });
    const newEvent = { slug: unique('ev'), title: 'x', time_zone: 'Europe/Berlin', starts_at: '2031-05-01T19:30:00+02:00',
      ends_at: '2031-05-01T23:00:00+02:00', currency: 'EUR', tax_country: 'DE' };
    const typesPath = `/api/v1/organizer/events/${event.id}/ticket-types`;
    const mismatches = [
      ['fee in USD on create', { method: 'POST', target: '/api/v1/organizer/events', body: { ...newEvent, fees: { fixed: usd(100) } } }, /'fees\.fixed\.currency' is 'USD'/],
      ['fee cap in USD on change', { method: 'PATCH', target: `/api/v1/organizer/events/${event.id}`, body: { version: withFee.version, fees: { percent: '1', cap: usd(100) } } }, /fees\.cap/],
      ['tier price in USD on create', { method: 'POST', target: typesPath, body: { name: 'x', capacity: 1, price: eur(100), tiers: [{ name: 'T', price: usd(50) }] } }, /tiers\[0\]\.price/],
      ['tier price in GBP on change', { method: 'PATCH', target: typePath(event.id, type.id), body: { tiers: [{ name: 'T', price: eur(50), quantity: 1 }, { name: 'U', price: { minor: 50, currency: 'GBP' } }] } }, /tiers\[1\]\.price/],
      ['price and tiers in USD on an EUR event', { method: 'POST', target: typesPath, body: { name: 'x', capacity: 1, price: usd(100), tiers: [{ name: 'T', price: usd(50) }] } }, /currency/],
      ['promo amount in USD', { method: 'POST', target: codesPath(event.id), body: { code: 'DOLLARS', kind: 'amount_off', amount: usd(100) } }, /currency/],
      ['promo budget in another currency than its amount', { method: 'POST', target: codesPath(event.id), body: { code: 'MIXED', kind: 'amount_off', amount: eur(100), budget: usd(1000) } }, /budget/],
      ['new currency without the fee in it', { method: 'PATCH', target: `/api/v1/organizer/events/${plain.id}`, body: { version: feeOnly.version, currency: 'USD' } }, /fees/],
    ];
    const baseline = await pricingState(databaseUrl);
    const totals = await dbTotals(databaseUrl);
    for (const [name, { method, target, body }, detail] of mismatches) {
      const problem = assertProblem(assert, await call(node, method, target, { key: a.key, body }), 422, 'currency-mismatch');
      assert.match(problem.detail, detail, name);
      assert.deepEqual(await pricingState(databaseUrl), baseline, `${name} changed the database`);
    }
    assert.deepEqual(await dbTotals(databaseUrl), totals, 'nothing was created');
    // The same currency change with the fee in the new currency is accepted.
    const moved = expectStatus(
      await call(node, 'PATCH', `/api/v1/organizer/events/${plain.id}`, {
        key: a.key, body: { version: feeOnly.version, currency: 'USD', fees: { fixed: { minor: 120, currency: 'USD' } } },
      }),
      200,
    );
    assert.deepEqual(moved.fees.fixed, { minor: 120, currency: 'USD', decimal: '1.20' });
  });

  test('promo codes: create, read, list, change, deactivate; codes are case-insensitive and unique per event; usage is read-only', async () => {
    const event = await createEvent(node, a.key);
    const standard = await addTicketType(node, a.key, event.id, { name: 'Standard' });
    const backstage = await addTicketType(node, a.key, event.id, { name: 'Backstage', hidden: true });
    const created = expectStatus(
      await call(node, 'POST', codesPath(event.id), {
        key: a.key,
        body: {
          code: '  early-10 ',
          kind: 'percent_off',
          percent_off: '10',
          ticket_type_ids: [standard.id],
          valid_from: '2031-01-01T00:00:00+01:00',
          valid_until: '2031-03-01T00:00:00+01:00',
          max_uses: 100,
          max_uses_per_buyer: 2,
        },
      }),
      201,
      'create code',
    );
    assert.match(created.id, /^pc_[a-z2-7]{20}$/);
    assert.equal(created.code, 'EARLY-10');
    assert.equal(created.kind, 'percent_off');
    assert.equal(created.percent_off, '10');
    assert.equal(created.amount, null);
    assert.deepEqual(created.ticket_type_ids, [standard.id]);
    assert.equal(created.valid_from, '2030-12-31T23:00:00.000Z');
    assert.equal(created.valid_until, '2031-02-28T23:00:00.000Z');
    assert.equal(created.max_uses, 100);
    assert.equal(created.max_uses_per_buyer, 2);
    assert.equal(created.budget, null);
    assert.equal(created.active, true);
    assert.deepEqual(created.usage, { uses: 0, discount_spent: money(0, '0.00') });

    const amountOff = expectStatus(
      await call(node, 'POST', codesPath(event.id), {
        key: a.key,
        body: { code: 'FIVE-OFF', kind: 'amount_off', amount: eur(500), budget: eur(10_000) },
      }),
      201,
    );
    assert.deepEqual(amountOff.amount, money(500, '5.00'));
    assert.deepEqual(amountOff.budget, money(10_000, '100.00'));
    assert.deepEqual(amountOff.ticket_type_ids, [], 'no scope: every ticket type');
    const free = expectStatus(
      await call(node, 'POST', codesPath(event.id), { key: a.key, body: { code: 'GUEST', kind: 'fixed_price', amount: eur(0) } }),
      201,
    );
    assert.deepEqual(free.amount, money(0, '0.00'));
    const access = expectStatus(
      await call(node, 'POST', codesPath(event.id), {
        key: a.key,
        body: { code: 'crew_2031', kind: 'access', ticket_type_ids: [backstage.id] },
      }),
      201,
    );
    assert.equal(access.code, 'CREW_2031');

    // The same code in any case, or with spaces around it, is a duplicate.
    const before = await pricingState(databaseUrl);
    for (const text of ['Early-10', 'EARLY-10', ' early-10']) {
      const duplicate = await call(node, 'POST', codesPath(event.id), {
        key: a.key,
        body: { code: text, kind: 'amount_off', amount: eur(100) },
      });
      assert.match(assertProblem(assert, duplicate, 409, 'duplicate-promo-code').detail, /EARLY-10/);
    }
    const renamedOnto = await call(node, 'PATCH', codePath(event.id, amountOff.id), { key: a.key, body: { code: 'early-10' } });
    assertProblem(assert, renamedOnto, 409, 'duplicate-promo-code');
    assert.deepEqual(await pricingState(databaseUrl), before);
    // Another event may have the same code.
    const other = await createEvent(node, a.key);
    expectStatus(
      await call(node, 'POST', codesPath(other.id), { key: a.key, body: { code: 'early-10', kind: 'access' } }),
      201,
    );

    // Read one, list all (oldest first).
    assert.deepEqual(expectStatus(await call(node, 'GET', codePath(event.id, created.id), { key: a.key }), 200), created);
    const listed = expectStatus(await call(node, 'GET', codesPath(event.id), { key: a.key }), 200);
    assert.deepEqual(listed.data.map((code) => code.code), ['EARLY-10', 'FIVE-OFF', 'GUEST', 'CREW_2031']);

    // Change: limits cleared with null, scope widened, then deactivated (there is no delete).
    const changed = expectStatus(
      await call(node, 'PATCH', codePath(event.id, created.id), {
        key: a.key,
        body: { percent_off: '12.5', max_uses: null, valid_until: null, ticket_type_ids: [] },
      }),
      200,
    );
    assert.equal(changed.percent_off, '12.5');
    assert.equal(changed.max_uses, null);
    assert.equal(changed.valid_until, null);
    assert.equal(changed.max_uses_per_buyer, 2, 'what the body leaves out stays');
    assert.deepEqual(changed.ticket_type_ids, []);
    const deactivated = expectStatus(
      await call(node, 'PATCH', codePath(event.id, created.id), { key: a.key, body: { active: false } }),
      200,
    );
    assert.equal(deactivated.active, false);
    assert.equal(
      (await psql(databaseUrl, `SELECT active, percent_off_bp, max_uses IS NULL FROM promo_codes WHERE id = '${created.id}'`)).trim(),
      'f|1250|t',
    );
    assertProblem(assert, await call(node, 'DELETE', codePath(event.id, created.id), { key: a.key }), 405, 'method-not-allowed');

    // Usage is kept by the holds (simulated here): shown read-only, and limits cannot go below it.
    await psql(databaseUrl, `UPDATE promo_codes SET uses = 5, discount_spent_minor = 2500 WHERE id = '${amountOff.id}'`);
    const used = expectStatus(await call(node, 'GET', codePath(event.id, amountOff.id), { key: a.key }), 200);
    assert.deepEqual(used.usage, { uses: 5, discount_spent: money(2500, '25.00') });
    const usageBefore = await pricingState(databaseUrl);
    assertProblem(
      assert,
      await call(node, 'PATCH', codePath(event.id, amountOff.id), { key: a.key, body: { max_uses: 4 } }),
      409,
      'promo-below-usage',
    );
    assertProblem(
      assert,
      await call(node, 'PATCH', codePath(event.id, amountOff.id), { key: a.key, body: { budget: eur(2000) } }),
      409,
      'promo-below-usage',
    );
    assertProblem(
      assert,
      await call(node, 'PATCH', codePath(event.id, amountOff.id), { key: a.key, body: { usage: { uses: 0 } } }),
      422,
      'unknown-field',
    );
    assert.deepEqual(await pricingState(databaseUrl), usageBefore);
    const raised = expectStatus(
      await call(node, 'PATCH', codePath(event.id, amountOff.id), { key: a.key, body: { max_uses: 5 } }),
      200,
    );
    assert.equal(raised.usage.uses, 5, 'a write never resets the counters');
  });

  test("a promo code's scope must name ticket types of its own event", async () => {
    const event = await createEvent(node, a.key);
    const own = await addTicketType(node, a.key, event.id, { name: 'Own' });
    const sibling = await createEvent(node, a.key);
    const siblingType = await addTicketType(node, a.key, sibling.id, { name: 'Sibling' });
    const foreign = await createEvent(node, b.key);
    const foreignType = await addTicketType(node, b.key, foreign.id, { name: 'Foreign' });
    const code = expectStatus(
      await call(node, 'POST', codesPath(event.id), { key: a.key, body: { code: 'SCOPED', kind: 'access', ticket_type_ids: [own.id] } }),
      201,
    );
    const before = await pricingState(databaseUrl);
    for (const typeId of [siblingType.id, foreignType.id, unknownType, 'not-an-id']) {
      assertProblem(
        assert,
        await call(node, 'POST', codesPath(event.id), {
          key: a.key,
          body: { code: unique('S').toUpperCase(), kind: 'percent_off', percent_off: '5', ticket_type_ids: [own.id, typeId] },
        }),
        422,
        'unknown-ticket-type',
      );
      assertProblem(
        assert,
        await call(node, 'PATCH', codePath(event.id, code.id), { key: a.key, body: { ticket_type_ids: [typeId] } }),
        422,
        'unknown-ticket-type',
      );
    }
    assert.deepEqual(await pricingState(databaseUrl), before);
  });

  test("workspace B gets 404 on every pricing endpoint of A's events, exactly as for no event, and nothing of A changes", async () => {
    const event = await createEvent(node, a.key, { fees: { fixed: eur(100) } });
    const type = await addTicketType(node, a.key, event.id, {
      name: 'A type',
      tiers: [{ name: 'A early', price: eur(1000), quantity: 5 }],
    });
    const code = expectStatus(
      await call(node, 'POST', codesPath(event.id), { key: a.key, body: { code: 'A-CODE', kind: 'percent_off', percent_off: '50' } }),
      201,
    );
    const own = await createEvent(node, b.key);
    const version = (await readEvent(a.key, event.id)).version;
    const endpoints = (eventId, typeId, codeId) => [
      { method: 'GET', target: codesPath(eventId) },
      { method: 'POST', target: codesPath(eventId), body: { code: 'B-CODE', kind: 'percent_off', percent_off: '100' } },
      { method: 'GET', target: codePath(eventId, codeId) },
      { method: 'PATCH', target: codePath(eventId, codeId), body: { active: false } },
      { method: 'PATCH', target: codePath(eventId, codeId), body: { percent_off: '100', max_uses: null } },
      { method: 'PATCH', target: `/api/v1/organizer/events/${eventId}`, body: { version, fees: null, tax_rate: '0' } },
      {
        method: 'POST',
        target: `/api/v1/organizer/events/${eventId}/ticket-types`,
        body: { name: 'B type', capacity: 5, price: eur(0), tiers: [{ name: 'B tier', price: eur(0) }], tax_rate: '0' },
      },
      { method: 'PATCH', target: typePath(eventId, typeId), body: { tiers: [{ name: 'Free', price: eur(0) }], tax_rate: '0' } },
    ];
    const before = await pricingState(databaseUrl);
    const attempts = endpoints(event.id, type.id, code.id);
    const baselines = endpoints(unknownEvent, unknownType, unknownCode);
    for (const [i, attempt] of attempts.entries()) {
      const answer = await call(node, attempt.method, attempt.target, { key: b.key, body: attempt.body });
      const what = `${attempt.method} ${attempt.target} with B's key`;
      const problem = assertProblem(assert, answer, 404, 'not-found');
      assert.ok(!answer.body.includes('A-CODE') && !answer.body.includes(a.workspaceId), `${what} leaks A's data`);
      const baseline = await call(node, baselines[i].method, baselines[i].target, { key: b.key, body: baselines[i].body });
      assertProblem(assert, baseline, 404, 'not-found');
      assert.equal(problem.detail, baseline.json().detail, `${what} answers like an event that does not exist`);
    }
    // A's code under B's own event is not B's either; nor may B scope a code to A's ticket type.
    assertProblem(assert, await call(node, 'GET', codePath(own.id, code.id), { key: b.key }), 404, 'not-found');
    assertProblem(
      assert,
      await call(node, 'PATCH', codePath(own.id, code.id), { key: b.key, body: { active: false } }),
      404,
      'not-found',
    );
    assertProblem(
      assert,
      await call(node, 'POST', codesPath(own.id), { key: b.key, body: { code: 'STEAL', kind: 'access', ticket_type_ids: [type.id] } }),
      422,
      'unknown-ticket-type',
    );
    // And no key at all is 401 on the new endpoints.
    for (const attempt of attempts.slice(0, 5))
      assertProblem(assert, await call(node, attempt.method, attempt.target, { body: attempt.body }), 401, 'unauthenticated');
    assert.deepEqual(await pricingState(databaseUrl), before);
    assert.deepEqual(expectStatus(await call(node, 'GET', codesPath(own.id), { key: b.key }), 200).data, []);
  });

  test('bad input: every refused pricing request gets its problem and changes nothing', async () => {
    const event = await createEvent(node, a.key);
    const type = await addTicketType(node, a.key, event.id, {
      name: 'Standard',
      tiers: [{ name: 'Early', price: eur(1000), until: '2031-02-01T00:00:00Z' }],
    });
    const code = expectStatus(
      await call(node, 'POST', codesPath(event.id), { key: a.key, body: { code: 'TAKEN', kind: 'percent_off', percent_off: '10' } }),
      201,
    );
    const { version } = await readEvent(a.key, event.id);
    const key = a.key;
    const patchEvent = (body) => () =>
      call(node, 'PATCH', `/api/v1/organizer/events/${event.id}`, { key, body: typeof body === 'string' ? body : { version, ...body } });
    const newType = (fields) => () =>
      call(node, 'POST', `/api/v1/organizer/events/${event.id}/ticket-types`, {
        key,
        body: typeof fields === 'string' ? fields : { name: 'New', capacity: 5, price: eur(2000), ...fields },
      });
    const patchType = (body) => () => call(node, 'PATCH', typePath(event.id, type.id), { key, body });
    const newCode = (body) => () => call(node, 'POST', codesPath(event.id), { key, body });
    const patchCode = (body) => () => call(node, 'PATCH', codePath(event.id, code.id), { key, body });
    const tier = (fields) => ({ name: 'T', price: eur(1000), ...fields });
    const cases = [
      // JSON and shapes
      ['malformed JSON (type)', newType('{"name": "x", "tiers": ['), 400, 'malformed-json'],
      ['malformed JSON (code)', newCode('{"code": '), 400, 'malformed-json'],
      ['malformed JSON (event)', patchEvent('{"fees": {'), 400, 'malformed-json'],
      ['unknown tier member', patchType({ tiers: [tier({ colour: 'gold' })] }), 422, 'unknown-field'],
      ['unknown fee member', patchEvent({ fees: { fixed: eur(1), waived: true } }), 422, 'unknown-field'],
      ['unknown code member', newCode({ code: 'NEWONE', kind: 'access', discount: 5 }), 422, 'unknown-field'],
      ['tiers not an array', patchType({ tiers: { name: 'T' } }), 422, 'invalid-field'],
      ['tier not an object', patchType({ tiers: ['Early'] }), 422, 'invalid-field'],
      ['tier price as a number', patchType({ tiers: [{ name: 'T', price: 1000 }] }), 422, 'invalid-field'],
      ['tier price as a string', patchType({ tiers: [tier({ price: { minor: '1000', currency: 'EUR' } })] }), 422, 'invalid-field'],
      ['tier without a price', patchType({ tiers: [{ name: 'T' }] }), 422, 'missing-field'],
      ['tier without a name', patchType({ tiers: [{ price: eur(1) }] }), 422, 'missing-field'],
      ['fractional tier quantity', patchType({ tiers: [tier({ quantity: 1.5 })] }), 422, 'invalid-field'],
      ['tier time without an offset', patchType({ tiers: [tier({ from: '2031-01-01T10:00:00' })] }), 422, 'invalid-field'],
      ['tier time as a date only', patchType({ tiers: [tier({ until: '2031-01-01' })] }), 422, 'invalid-field'],
      ['tax rate as a number', patchEvent({ tax_rate: 19 }), 422, 'invalid-field'],
      ['tax rate above 100', patchEvent({ tax_rate: '100.01' }), 422, 'invalid-field'],
      ['tax rate with 3 decimals', patchEvent({ tax_rate: '5.555' }), 422, 'invalid-field'],
      ['negative tax rate', patchType({ tax_rate: '-1' }), 422, 'invalid-field'],
      ['tax rate with an exponent', patchType({ tax_rate: '1e1' }), 422, 'invalid-field'],
      ['unknown tax mode', patchEvent({ tax_mode: 'gross' }), 422, 'invalid-field'],
      ['fee percent above 100', patchEvent({ fees: { percent: '150' } }), 422, 'invalid-field'],
      ['unknown fee mode', patchEvent({ fees: { mode: 'split' } }), 422, 'invalid-field'],
      ['fees not an object', patchEvent({ fees: '2.5' }), 422, 'invalid-field'],
      ['active as a string', patchCode({ active: 'no' }), 422, 'invalid-field'],
      ['scope as a string', patchCode({ ticket_type_ids: type.id }), 422, 'invalid-field'],
      ['code as a number', newCode({ code: 12345, kind: 'access' }), 422, 'invalid-field'],
      ['code missing', newCode({ kind: 'access' }), 422, 'missing-field'],
      ['kind missing', newCode({ code: 'NOKIND' }), 422, 'missing-field'],
      ['kind changed', patchCode({ kind: 'amount_off', amount: eur(100), percent_off: null }), 422, 'invalid-field'],
      ['percent off above 100', newCode({ code: 'MORE', kind: 'percent_off', percent_off: '101' }), 422, 'invalid-field'],
      ['percent off as a number', newCode({ code: 'NUMBER', kind: 'percent_off', percent_off: 10 }), 422, 'invalid-field'],
      ['over-long code text', newCode({ code: 'X'.repeat(1000), kind: 'access' }), 422, 'invalid-field'],
      // the pricing rules, which name the tier or code
      ['overlapping tiers', patchType({ tiers: [tier({ name: 'A', until: '2031-03-01T00:00:00Z' }), tier({ name: 'B', from: '2031-02-01T00:00:00Z' })] }), 422, 'overlapping-tiers'],
      ['negative tier price', patchType({ tiers: [tier({ price: eur(-1) })] }), 422, 'invalid-tier'],
      ['negative tier price on create', newType({ tiers: [tier({ price: eur(-100) })] }), 422, 'invalid-tier'],
      ['duplicate tier names', patchType({ tiers: [tier({ quantity: 1 }), tier({})] }), 422, 'invalid-tier'],
      ['empty tier window', patchType({ tiers: [tier({ from: '2031-02-01T00:00:00Z', until: '2031-02-01T01:00:00+01:00' })] }), 422, 'invalid-tier'],
      ['zero tier quantity', patchType({ tiers: [tier({ quantity: 0 })] }), 422, 'invalid-tier'],
      ['21 tiers', patchType({ tiers: Array.from({ length: 21 }, (_, i) => tier({ name: `T${i}`, quantity: 1 })) }), 422, 'too-many-tiers'],
      ['negative fixed fee', patchEvent({ fees: { fixed: eur(-1) } }), 422, 'invalid-fee'],
      ['negative fee cap', patchEvent({ fees: { cap: eur(-5) } }), 422, 'invalid-fee'],
      ['code with a space', newCode({ code: 'TWO WORDS', kind: 'access' }), 422, 'invalid-promo-code'],
      ['code with an umlaut', newCode({ code: 'GRÜN', kind: 'access' }), 422, 'invalid-promo-code'],
      ['code too short', newCode({ code: 'AB', kind: 'access' }), 422, 'invalid-promo-code'],
      ['unknown kind', newCode({ code: 'KINDLESS', kind: 'bogo' }), 422, 'invalid-promo-code'],
      ['percent off zero', newCode({ code: 'ZERO', kind: 'percent_off', percent_off: '0' }), 422, 'invalid-promo-code'],
      ['percent code without a percentage', newCode({ code: 'NOPCT', kind: 'percent_off' }), 422, 'invalid-promo-code'],
      ['percent code with an amount', newCode({ code: 'BOTH', kind: 'percent_off', percent_off: '5', amount: eur(5) }), 422, 'invalid-promo-code'],
      ['amount code without an amount', newCode({ code: 'NOAMOUNT', kind: 'amount_off' }), 422, 'invalid-promo-code'],
      ['negative amount off', newCode({ code: 'NEGATIVE', kind: 'amount_off', amount: eur(-500) }), 422, 'invalid-promo-code'],
      ['access code with a budget', newCode({ code: 'BUDGET', kind: 'access', budget: eur(100) }), 422, 'invalid-promo-code'],
      ['empty validity window', newCode({ code: 'WINDOW', kind: 'access', valid_from: '2031-02-01T00:00:00Z', valid_until: '2031-01-01T00:00:00Z' }), 422, 'invalid-promo-code'],
      ['zero max uses', newCode({ code: 'NOUSE', kind: 'access', max_uses: 0 }), 422, 'invalid-promo-code'],
      ['negative uses per buyer', patchCode({ max_uses_per_buyer: -1 }), 422, 'invalid-promo-code'],
      ['percent off zero on change', patchCode({ percent_off: '0' }), 422, 'invalid-promo-code'],
      ['duplicate code', newCode({ code: 'taken', kind: 'access' }), 409, 'duplicate-promo-code'],
      ['scope to an unknown ticket type', newCode({ code: 'SCOPE', kind: 'access', ticket_type_ids: [unknownType] }), 422, 'unknown-ticket-type'],
      ['amount in another currency', newCode({ code: 'USD', kind: 'amount_off', amount: { minor: 1, currency: 'USD' } }), 422, 'currency-mismatch'],
      ['stale event version', () => call(node, 'PATCH', `/api/v1/organizer/events/${event.id}`, { key, body: { version: version + 7, tax_rate: '1' } }), 409, 'version-conflict'],
      ['unknown promo code', () => call(node, 'PATCH', codePath(event.id, unknownCode), { key, body: { active: false } }), 404, 'not-found'],
      ['malformed promo code id', () => call(node, 'GET', codePath(event.id, 'TAKEN'), { key }), 404, 'not-found'],
    ];
    const baseline = await pricingState(databaseUrl);
    const totals = await dbTotals(databaseUrl);
    for (const [name, send, status, slug] of cases) {
      const answer = await send();
      assert.equal(answer.status, status, `${name}: expected ${status} ${slug}, got ${answer.status} ${answer.body}`);
      assertProblem(assert, answer, status, slug);
      assert.deepEqual(await pricingState(databaseUrl), baseline, `${name} changed the pricing configuration`);
    }
    assert.deepEqual(await dbTotals(databaseUrl), totals);
    // The refusals that come from the rules name what they refuse.
    const named = await patchType({ tiers: [tier({ name: 'Cheap', price: eur(-1) })] })();
    assert.match(assertProblem(assert, named, 422, 'invalid-tier').detail, /tier 'Cheap'/);
    const offsetless = await patchType({ tiers: [tier({ from: '2031-01-01T10:00:00' })] })();
    assert.match(assertProblem(assert, offsetless, 422, 'invalid-field').detail, /tiers\[0\]\.from.*offset/);
    // And the event actor still serves the event.
    assert.equal((await readEvent(key, event.id)).ticket_types[0].tiers[0].name, 'Early');
  });
});
