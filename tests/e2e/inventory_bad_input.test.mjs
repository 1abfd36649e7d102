// The bad-input table of the inventory API, checkouts and organizer endpoints alike: each bad
// request gets its own status and problem type, and changes nothing — the database's counts,
// the public availability and the organizer's view are the same before and after every one.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertProblem, createDatabase, dropDatabase, killAllChildren, request, startNode } from './harness.mjs';
import {
  addTicketType,
  call,
  createEvent,
  dbTotals,
  eventDefaults,
  expectStatus,
  hold,
  items,
  publicAvailability,
  publish,
  publishedEvent,
  signUp,
  unique,
} from './inventory_support.mjs';

const bodySizeMaxBytes = 65_536;
const unknownType = 'tt_aaaaaaaaaaaaaaaaaaaa';

describe('inventory: bad input', () => {
  let databaseUrl;
  let node;
  let organizer;
  let other;

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({
      databaseUrl,
      args: [`--http.body_size_max_bytes=${bodySizeMaxBytes}`, '--inventory.hold_ttl_ms=600000', '--inventory.address_checkouts_max=100000'],
    });
    organizer = await signUp(node, 'bad-input');
    other = await signUp(node, 'bad-input-other');
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  // What a refused request must not change: the database's counts and the public availability.
  async function stateOf(eventIds) {
    const availability = [];
    for (const id of eventIds) availability.push(await publicAvailability(node, id));
    return { totals: await dbTotals(databaseUrl), availability };
  }

  // Sends each case and checks its problem answer and that nothing changed anywhere.
  async function refusedWithoutChange(cases, { eventIds = [], key } = {}) {
    const baseline = await stateOf(eventIds);
    for (const [name, send, status, slug] of cases) {
      const answer = await send();
      assert.equal(answer.status, status, `${name}: expected ${status} ${slug}, got ${answer.status} ${answer.body}`);
      assertProblem(assert, answer, status, slug);
      assert.deepEqual(await stateOf(eventIds), baseline, `${name} changed the database or the availability`);
    }
    if (key) for (const id of eventIds) expectStatus(await call(node, 'GET', `/api/v1/organizer/events/${id}`, { key }), 200);
  }

  test('checkouts: every kind of bad request gets its problem and holds nothing', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [
      { name: 'Standard', capacity: 50, max_per_order: 4 },
      { name: 'Backstage', capacity: 5, hidden: true },
      { name: 'Pairs', capacity: 20, min_per_order: 2, max_per_order: 6 },
      { name: 'Later', capacity: 5, sale_starts_at: '2030-01-01T00:00:00Z' },
      { name: 'Over', capacity: 5, sale_starts_at: '2020-01-01T00:00:00Z', sale_ends_at: '2021-01-01T00:00:00Z' },
    ]);
    const [standard, hidden, pairs, later, over] = types;
    const draft = await createEvent(node, organizer.key);
    const draftType = await addTicketType(node, organizer.key, draft.id, { capacity: 5 });
    const closed = await publishedEvent(node, organizer.key, [{ capacity: 5 }]);
    expectStatus(await call(node, 'POST', `/api/v1/organizer/events/${closed.event.id}/close`, { key: organizer.key }), 200);
    const foreign = await publishedEvent(node, other.key, [{ capacity: 5 }]);
    // One live hold, so "nothing changes" is judged against a non-empty state.
    expectStatus(await hold(node, event.id, items([standard, 1])), 201);

    const email = 'buyer@example.com';
    const good = { event_id: event.id, email, items: items([standard, 1]) };
    const post = (body, headers = {}) => () => call(node, 'POST', '/api/v1/checkouts', { body, headers });
    const withItem = (item) => ({ ...good, items: [item] });
    const item = (quantity, type = standard) => ({ ticket_type_id: type.id ?? type, quantity });
    const cases = [
      ['negative quantity', post(withItem(item(-1))), 422, 'invalid-field'],
      ['zero quantity', post(withItem(item(0))), 422, 'invalid-field'],
      ['huge quantity', post(withItem(item(1_000_000_000_000))), 422, 'invalid-field'],
      ['quantity beyond 2^64', post('{"event_id":"' + event.id + '","email":"b@example.com","items":[{"ticket_type_id":"' + standard.id + '","quantity":1e30}]}'), 422, 'invalid-field'],
      ['fractional quantity', post(withItem(item(1.5))), 422, 'invalid-field'],
      ['quantity as a string', post(withItem(item('1'))), 422, 'invalid-field'],
      ['quantity above max_per_order', post(withItem(item(5))), 422, 'quantity-out-of-range'],
      ['quantity below min_per_order', post(withItem(item(1, pairs))), 422, 'quantity-out-of-range'],
      ['unknown ticket type', post(withItem(item(1, unknownType))), 422, 'unknown-ticket-type'],
      ['malformed ticket type id', post(withItem(item(1, 'standard'))), 422, 'invalid-field'],
      ['hidden ticket type', post(withItem(item(1, hidden))), 422, 'ticket-type-unavailable'],
      ['hidden next to a good item', post({ ...good, items: [item(1), item(1, hidden)] }), 422, 'ticket-type-unavailable'],
      ['sale not started', post(withItem(item(1, later))), 409, 'not-on-sale'],
      ['sale ended', post(withItem(item(1, over))), 409, 'not-on-sale'],
      ['ticket type of another workspace', post(withItem(item(1, foreign.types[0]))), 422, 'unknown-ticket-type'],
      ['event of another workspace with our type', post({ ...good, event_id: foreign.event.id }), 422, 'unknown-ticket-type'],
      ['unpublished event', post({ ...good, event_id: draft.id, items: items([draftType, 1]) }), 404, 'not-found'],
      ['closed event', post({ ...good, event_id: closed.event.id, items: items([closed.types[0], 1]) }), 409, 'not-on-sale'],
      ['unknown event', post({ ...good, event_id: 'ev_aaaaaaaaaaaaaaaaaaaa' }), 404, 'not-found'],
      ['malformed event id', post({ ...good, event_id: '../../etc' }), 422, 'invalid-field'],
      ['malformed JSON', post('{"event_id": "' + event.id + '", "items": ['), 400, 'malformed-json'],
      ['empty body', post(''), 400, 'malformed-json'],
      ['body not an object', post('[1,2,3]'), 422, 'invalid-body'],
      ['unknown field', post({ ...good, coupon: 'FREE' }), 422, 'unknown-field'],
      ['unknown item field', post(withItem({ ...item(1), price: 0 })), 422, 'unknown-field'],
      ['event_id of the wrong type', post({ ...good, event_id: 42 }), 422, 'invalid-field'],
      ['email of the wrong type', post({ ...good, email: ['a@example.com'] }), 422, 'invalid-field'],
      ['items not an array', post({ ...good, items: item(1) }), 422, 'invalid-field'],
      ['item not an object', post({ ...good, items: [standard.id] }), 422, 'invalid-field'],
      ['empty items', post({ ...good, items: [] }), 422, 'invalid-field'],
      ['eleven items', post({ ...good, items: Array.from({ length: 11 }, () => item(1)) }), 422, 'invalid-field'],
      ['missing event_id', post({ email, items: good.items }), 422, 'missing-field'],
      ['missing email', post({ event_id: event.id, items: good.items }), 422, 'missing-field'],
      ['missing items', post({ event_id: event.id, email }), 422, 'missing-field'],
      ['null email', post({ ...good, email: null }), 422, 'missing-field'],
      ['missing quantity', post(withItem({ ticket_type_id: standard.id })), 422, 'missing-field'],
      ['missing ticket type', post(withItem({ quantity: 1 })), 422, 'missing-field'],
      ['duplicate ticket types', post({ ...good, items: [item(1), item(2)] }), 422, 'invalid-field'],
      ['bad email', post({ ...good, email: 'not-an-email' }), 422, 'invalid-field'],
      ['email with two @', post({ ...good, email: 'a@b@example.com' }), 422, 'invalid-field'],
      ['huge email', post({ ...good, email: `${'a'.repeat(300)}@example.com` }), 422, 'invalid-field'],
      ['huge body', post({ ...good, padding: 'x'.repeat(bodySizeMaxBytes + 1) }), 413, 'body-too-large'],
      ['Idempotency-Key too long', post(good, { 'idempotency-key': 'k'.repeat(256) }), 400, 'invalid-idempotency-key'],
      ['Idempotency-Key with a space', post(good, { 'idempotency-key': 'two words' }), 400, 'invalid-idempotency-key'],
      ['empty Idempotency-Key', post(good, { 'idempotency-key': '' }), 400, 'invalid-idempotency-key'],
    ];
    await refusedWithoutChange(cases, { eventIds: [event.id, foreign.event.id] });

    // Still serving, and the good request works.
    expectStatus(await call(node, 'POST', '/api/v1/checkouts', { body: good }), 201, 'the good request');
  });

  test('checkouts: one item with a quantity above its maximum refuses the whole checkout without writing anything', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [
      { name: 'Standard', capacity: 50 },
      { name: 'Limited', capacity: 50, max_per_order: 2 },
    ]);
    const [standard, limited] = types;
    await refusedWithoutChange(
      [['a good item next to one above its max_per_order', () => hold(node, event.id, items([standard, 1], [limited, 3])), 422, 'quantity-out-of-range']],
      { eventIds: [event.id] },
    );
  });

  test('the answers for checkouts that do not exist', async () => {
    for (const [method, suffix] of [['GET', ''], ['DELETE', ''], ['POST', '/extension']]) {
      assertProblem(assert, await call(node, method, `/api/v1/checkouts/co_aaaaaaaaaaaaaaaaaaaa${suffix}`), 404, 'not-found');
      assertProblem(assert, await call(node, method, `/api/v1/checkouts/not-an-id${suffix}`), 404, 'not-found');
    }
    assertProblem(assert, await call(node, 'GET', '/api/v1/events/not-an-id'), 404, 'not-found');
  });

  test('organizer: bad events get their problem and create or change nothing', async () => {
    const { key } = organizer;
    const existing = await createEvent(node, key, { slug: unique('taken') });
    const valid = { slug: unique('new'), ...eventDefaults };
    const post = (body) => () => call(node, 'POST', '/api/v1/organizer/events', { key, body });
    const cases = [
      ['malformed JSON', post('{"slug": "x",'), 400, 'malformed-json'],
      ['body not an object', post('"event"'), 422, 'invalid-body'],
      ['unknown field', post({ ...valid, status: 'published' }), 422, 'unknown-field'],
      ['unknown venue field', post({ ...valid, venue: { name: 'x', capacity: 5 } }), 422, 'unknown-field'],
      ['missing slug', post({ ...valid, slug: undefined }), 422, 'missing-field'],
      ['missing title', post({ ...valid, title: undefined }), 422, 'missing-field'],
      ['missing time zone', post({ ...valid, time_zone: undefined }), 422, 'missing-field'],
      ['missing starts_at', post({ ...valid, starts_at: undefined }), 422, 'missing-field'],
      ['missing currency', post({ ...valid, currency: undefined }), 422, 'missing-field'],
      ['missing tax country', post({ ...valid, tax_country: undefined }), 422, 'missing-field'],
      ['slug with spaces', post({ ...valid, slug: 'spring concert' }), 422, 'invalid-field'],
      ['slug in upper case', post({ ...valid, slug: 'Spring' }), 422, 'invalid-field'],
      ['slug with a double hyphen', post({ ...valid, slug: 'a--b' }), 422, 'invalid-field'],
      ['slug with a leading hyphen', post({ ...valid, slug: '-a' }), 422, 'invalid-field'],
      ['slug of 101 characters', post({ ...valid, slug: 'a'.repeat(101) }), 422, 'invalid-field'],
      ['slug taken', post({ ...valid, slug: existing.slug }), 409, 'slug-taken'],
      ['slug of the wrong type', post({ ...valid, slug: 7 }), 422, 'invalid-field'],
      ['empty title', post({ ...valid, title: '' }), 422, 'invalid-field'],
      ['huge title', post({ ...valid, title: 't'.repeat(201) }), 422, 'invalid-field'],
      ['title of the wrong type', post({ ...valid, title: 42 }), 422, 'invalid-field'],
      ['unknown time zone', post({ ...valid, time_zone: 'Mars/Olympus_Mons' }), 422, 'invalid-field'],
      ['offset as time zone', post({ ...valid, time_zone: '+02:00' }), 422, 'invalid-field'],
      ['date without a zone', post({ ...valid, starts_at: '2031-05-01T19:30:00' }), 422, 'invalid-field'],
      ['date only', post({ ...valid, starts_at: '2031-05-01' }), 422, 'invalid-field'],
      ['month 13', post({ ...valid, starts_at: '2031-13-01T19:30:00Z' }), 422, 'invalid-field'],
      ['February 30', post({ ...valid, starts_at: '2031-02-30T19:30:00Z' }), 422, 'invalid-field'],
      ['hour 25', post({ ...valid, starts_at: '2031-05-01T25:30:00Z' }), 422, 'invalid-field'],
      ['date as a number', post({ ...valid, starts_at: 1_900_000_000 }), 422, 'invalid-field'],
      ['ends before it starts', post({ ...valid, ends_at: '2031-05-01T18:00:00+02:00' }), 422, 'invalid-field'],
      ['ends when it starts', post({ ...valid, ends_at: valid.starts_at }), 422, 'invalid-field'],
      ['unknown currency', post({ ...valid, currency: 'ZZZ' }), 422, 'invalid-field'],
      ['currency in lower case', post({ ...valid, currency: 'eur' }), 422, 'invalid-field'],
      ['currency of four letters', post({ ...valid, currency: 'EURO' }), 422, 'invalid-field'],
      ['country of three letters', post({ ...valid, tax_country: 'DEU' }), 422, 'invalid-field'],
      ['unknown country', post({ ...valid, tax_country: 'Q1' }), 422, 'invalid-field'],
      ['latitude beyond 90', post({ ...valid, venue: { latitude: 91 } }), 422, 'invalid-field'],
      ['longitude as a string', post({ ...valid, venue: { longitude: '13.4' } }), 422, 'invalid-field'],
      ['image that is not a URL', post({ ...valid, images: ['javascript:alert(1)'] }), 422, 'invalid-field'],
      ['21 images', post({ ...valid, images: Array.from({ length: 21 }, (_, i) => `https://img.example.com/${i}.jpg`) }), 422, 'invalid-field'],
      ['huge description', post({ ...valid, description: 'd'.repeat(20_001) }), 422, 'invalid-field'],
      ['huge body', post({ ...valid, description: 'd'.repeat(bodySizeMaxBytes + 1) }), 413, 'body-too-large'],
    ];
    await refusedWithoutChange(cases, { key });
    expectStatus(await post(valid)(), 201, 'the valid event');
  });

  test('organizer: bad event updates get their problem and change nothing', async () => {
    const { key } = organizer;
    const { event, types } = await publishedEvent(node, key, [{ capacity: 10 }]);
    const target = `/api/v1/organizer/events/${event.id}`;
    const current = expectStatus(await call(node, 'GET', target, { key }), 200);
    const taken = await createEvent(node, key);
    const patch = (body) => () => call(node, 'PATCH', target, { key, body });
    const { version } = current;
    const cases = [
      ['malformed JSON', patch('{"version":'), 400, 'malformed-json'],
      ['missing version', patch({ title: 'New' }), 422, 'missing-field'],
      ['version as a string', patch({ version: String(version), title: 'New' }), 422, 'invalid-field'],
      ['stale version', patch({ version: version - 1, title: 'New' }), 409, 'version-conflict'],
      ['future version', patch({ version: version + 1, title: 'New' }), 409, 'version-conflict'],
      ['status by PATCH', patch({ version, status: 'draft' }), 422, 'unknown-field'],
      ['id by PATCH', patch({ version, id: 'ev_bbbbbbbbbbbbbbbbbbbb' }), 422, 'unknown-field'],
      ['bad slug', patch({ version, slug: 'No Spaces' }), 422, 'invalid-field'],
      ['slug taken', patch({ version, slug: taken.slug }), 409, 'slug-taken'],
      ['bad time zone', patch({ version, time_zone: 'Europe/Atlantis' }), 422, 'invalid-field'],
      ['end before start', patch({ version, ends_at: '2031-04-01T00:00:00Z' }), 422, 'invalid-field'],
      ['bad country', patch({ version, tax_country: 'de' }), 422, 'invalid-field'],
      ['bad currency', patch({ version, currency: 'EU' }), 422, 'invalid-field'],
      ['another currency with priced ticket types', patch({ version, currency: 'USD' }), 422, 'invalid-request'],
      ['huge body', patch({ version, description: 'd'.repeat(bodySizeMaxBytes + 1) }), 413, 'body-too-large'],
    ];
    await refusedWithoutChange(cases, { eventIds: [event.id], key });
    assert.deepEqual(expectStatus(await call(node, 'GET', target, { key }), 200), current, 'the event is unchanged');
    assert.equal(types.length, 1);
  });

  test('organizer: bad ticket types and ticket type changes get their problem and change nothing', async () => {
    const { key } = organizer;
    const { event, types } = await publishedEvent(node, key, [{ capacity: 10, price: 1000 }]);
    const [type] = types;
    const add = (body) => () => call(node, 'POST', `/api/v1/organizer/events/${event.id}/ticket-types`, { key, body });
    const change = (body, typeId = type.id) => () =>
      call(node, 'PATCH', `/api/v1/organizer/events/${event.id}/ticket-types/${typeId}`, { key, body });
    const valid = { name: 'Balcony', capacity: 10, price: { minor: 1000, currency: 'EUR' } };
    const cases = [
      ['add: malformed JSON', add('{"name":"x"'), 400, 'malformed-json'],
      ['add: unknown field', add({ ...valid, held: 0 }), 422, 'unknown-field'],
      ['add: unknown price field', add({ ...valid, price: { minor: 1, currency: 'EUR', decimal: '0.01' } }), 422, 'unknown-field'],
      ['add: missing name', add({ ...valid, name: undefined }), 422, 'missing-field'],
      ['add: missing capacity', add({ ...valid, capacity: undefined }), 422, 'missing-field'],
      ['add: missing price', add({ ...valid, price: undefined }), 422, 'missing-field'],
      ['add: missing price currency', add({ ...valid, price: { minor: 1 } }), 422, 'missing-field'],
      ['add: empty name', add({ ...valid, name: '' }), 422, 'invalid-field'],
      ['add: negative capacity', add({ ...valid, capacity: -1 }), 422, 'invalid-field'],
      ['add: huge capacity', add({ ...valid, capacity: 1_000_001 }), 422, 'invalid-field'],
      ['add: capacity as a string', add({ ...valid, capacity: '10' }), 422, 'invalid-field'],
      ['add: negative price', add({ ...valid, price: { minor: -1, currency: 'EUR' } }), 422, 'invalid-field'],
      ['add: fractional price', add({ ...valid, price: { minor: 10.5, currency: 'EUR' } }), 422, 'invalid-field'],
      ['add: huge price', add({ ...valid, price: { minor: 1e15, currency: 'EUR' } }), 422, 'invalid-field'],
      ['add: price as a number', add({ ...valid, price: 1000 }), 422, 'invalid-field'],
      ['add: price in the wrong currency', add({ ...valid, price: { minor: 1000, currency: 'USD' } }), 422, 'currency-mismatch'],
      ['add: min_per_order 0', add({ ...valid, min_per_order: 0 }), 422, 'invalid-field'],
      ['add: max_per_order above 100', add({ ...valid, max_per_order: 101 }), 422, 'invalid-field'],
      ['add: max below min', add({ ...valid, min_per_order: 5, max_per_order: 4 }), 422, 'invalid-field'],
      ['add: hidden as a string', add({ ...valid, hidden: 'yes' }), 422, 'invalid-field'],
      ['add: sale window backwards', add({ ...valid, sale_starts_at: '2030-02-01T00:00:00Z', sale_ends_at: '2030-01-01T00:00:00Z' }), 422, 'invalid-field'],
      ['add: sale start without a zone', add({ ...valid, sale_starts_at: '2030-02-01T00:00:00' }), 422, 'invalid-field'],
      ['add: to an unknown event', () => call(node, 'POST', '/api/v1/organizer/events/ev_aaaaaaaaaaaaaaaaaaaa/ticket-types', { key, body: valid }), 404, 'not-found'],
      ['add: huge body', add({ ...valid, description: 'd'.repeat(bodySizeMaxBytes + 1) }), 413, 'body-too-large'],
      ['change: malformed JSON', change('{"capacity":'), 400, 'malformed-json'],
      ['change: unknown field', change({ sold: 0 }), 422, 'unknown-field'],
      ['change: negative capacity', change({ capacity: -5 }), 422, 'invalid-field'],
      ['change: price in the wrong currency', change({ price: { minor: 1, currency: 'USD' } }), 422, 'currency-mismatch'],
      ['change: max below min', change({ min_per_order: 8, max_per_order: 2 }), 422, 'invalid-field'],
      ['change: max below the stored min', change({ max_per_order: 0 }), 422, 'invalid-field'],
      ['change: unknown ticket type', change({ capacity: 5 }, unknownType), 404, 'not-found'],
      ['change: malformed ticket type id', change({ capacity: 5 }, 'balcony'), 404, 'not-found'],
    ];
    await refusedWithoutChange(cases, { eventIds: [event.id], key });

    // A closed event takes no new ticket types.
    const closed = await publishedEvent(node, key, [{ capacity: 1 }]);
    expectStatus(await call(node, 'POST', `/api/v1/organizer/events/${closed.event.id}/close`, { key }), 200);
    await refusedWithoutChange(
      [['add: to a closed event', () => call(node, 'POST', `/api/v1/organizer/events/${closed.event.id}/ticket-types`, { key, body: valid }), 409, 'invalid-transition']],
      { key },
    );
    expectStatus(await add(valid)(), 201, 'the valid ticket type');
  });

  test('the node keeps serving after all of it', async () => {
    const health = await request(node.baseUrl, '/healthz');
    assert.equal(health.status, 200);
    const fresh = await createEvent(node, organizer.key);
    await addTicketType(node, organizer.key, fresh.id, { capacity: 1 });
    await publish(node, organizer.key, fresh.id);
  });
});
