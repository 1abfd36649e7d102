// Events, ticket types and holds against the real binary and its PostgreSQL: the organizer's
// flow end to end, drafts invisible to buyers, hold → read → release, one extension, expiry by
// the actor timer (2 s holds) heard on the checkout's WebSocket, live availability, capacity
// raised and refused below what is taken, all-or-nothing across ticket types, one hold for 50
// identical concurrent requests with one Idempotency-Key, and the per-buyer hold limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertProblem, createDatabase, dropDatabase, killAllChildren, psql, sleep, startNode, waitFor } from './harness.mjs';
import {
  addTicketType,
  call,
  createEvent,
  dbTicketType,
  expectStatus,
  hold,
  items,
  listen,
  publicAvailability,
  publish,
  publishedEvent,
  signUp,
  unique,
  waitForDbHeld,
} from './inventory_support.mjs';

const holdTtlMs = 2_000;
const expiryWarningMs = 500;
const buyerCheckoutsMax = 3;

describe('inventory', () => {
  let databaseUrl;
  let node;
  let organizer;

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({
      databaseUrl,
      args: [
        `--inventory.hold_ttl_ms=${holdTtlMs}`,
        `--inventory.expiry_warning_ms=${expiryWarningMs}`,
        `--inventory.buyer_checkouts_max=${buyerCheckoutsMax}`,
        '--inventory.address_checkouts_max=100000',
        '--inventory.availability_push_interval_ms=100',
      ],
    });
    organizer = await signUp(node, 'inventory');
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test('organizer flow: create, add ticket types, publish, public view without hidden types; drafts are invisible', async () => {
    const { key } = organizer;
    const created = await createEvent(node, key, {
      title: 'Open Air',
      description: 'Bring a coat.',
      venue: { name: 'Park', address: 'Parkstr. 1, Berlin', latitude: 52.52, longitude: 13.405 },
      images: ['https://img.example.com/a.jpg'],
    });
    assert.match(created.id, /^ev_[a-z2-7]{20}$/);
    assert.equal(created.status, 'draft');
    assert.equal(created.version, 1);
    assert.equal(created.workspace_id, organizer.workspaceId);
    assert.deepEqual(created.venue, { name: 'Park', address: 'Parkstr. 1, Berlin', latitude: 52.52, longitude: 13.405 });
    assert.deepEqual(created.images, ['https://img.example.com/a.jpg']);
    assert.equal(created.currency, 'EUR');
    assert.deepEqual(created.ticket_types, []);

    const general = await addTicketType(node, key, created.id, { name: 'General', capacity: 100, price: 4900, max_per_order: 6 });
    const crew = await addTicketType(node, key, created.id, { name: 'Crew', capacity: 5, price: 0, hidden: true });
    assert.match(general.id, /^tt_[a-z2-7]{20}$/);
    assert.equal(general.price.minor, 4900);
    assert.equal(general.price.currency, 'EUR');
    assert.equal(general.capacity, 100);
    assert.equal(general.available, 100);
    assert.equal(general.max_per_order, 6);
    assert.equal(general.hidden, false);
    assert.equal(crew.hidden, true);

    // A draft does not exist for buyers: not on the public endpoint, not on its socket, not for holds.
    assertProblem(assert, await call(node, 'GET', `/api/v1/events/${created.id}`), 404, 'not-found');
    assertProblem(assert, await hold(node, created.id, items([general, 1])), 404, 'not-found');
    const draftSocket = await listen(node, `/ws/events/${created.id}/availability`);
    await waitFor('the draft availability socket to close', () => draftSocket.closed());
    assert.equal(draftSocket.closed().code, 4404);

    const organizerView = expectStatus(await call(node, 'GET', `/api/v1/organizer/events/${created.id}`, { key }), 200);
    assert.deepEqual(organizerView.ticket_types.map((type) => type.name), ['General', 'Crew']);
    const listed = expectStatus(await call(node, 'GET', '/api/v1/organizer/events', { key }), 200);
    assert.ok(listed.data.some((event) => event.id === created.id && event.status === 'draft'));

    const published = await publish(node, key, created.id);
    assert.equal(published.status, 'published');
    assert.equal(published.version, 2);
    assertProblem(
      assert,
      await call(node, 'POST', `/api/v1/organizer/events/${created.id}/publish`, { key }),
      409,
      'invalid-transition',
    );

    const publicEvent = expectStatus(await call(node, 'GET', `/api/v1/events/${created.id}`), 200);
    assert.equal(publicEvent.status, 'published');
    assert.equal(publicEvent.title, 'Open Air');
    assert.equal(publicEvent.version, undefined, 'the public view has no version');
    assert.equal(publicEvent.workspace_id, undefined, 'the public view has no workspace');
    assert.deepEqual(publicEvent.ticket_types.map((type) => type.id), [general.id], 'hidden types are not public');
    assert.equal(publicEvent.ticket_types[0].hidden, undefined);
    const [publicType] = publicEvent.ticket_types;
    assert.deepEqual([publicType.available, publicType.held, publicType.sold, publicType.capacity], [100, 0, 0, 100]);
    assertProblem(assert, await hold(node, created.id, items([crew, 1])), 422, 'ticket-type-unavailable');

    // PATCH needs the current version; a stale one is refused and changes nothing.
    const renamed = expectStatus(
      await call(node, 'PATCH', `/api/v1/organizer/events/${created.id}`, { key, body: { version: 2, title: 'Open Air 2031' } }),
      200,
    );
    assert.equal(renamed.title, 'Open Air 2031');
    assert.equal(renamed.version, 3);
    assertProblem(
      assert,
      await call(node, 'PATCH', `/api/v1/organizer/events/${created.id}`, { key, body: { version: 2, title: 'Stale' } }),
      409,
      'version-conflict',
    );
    assert.equal(expectStatus(await call(node, 'GET', `/api/v1/events/${created.id}`), 200).title, 'Open Air 2031');

    // Closed: still visible, no longer on sale.
    const closed = expectStatus(await call(node, 'POST', `/api/v1/organizer/events/${created.id}/close`, { key }), 200);
    assert.equal(closed.status, 'closed');
    assert.equal(expectStatus(await call(node, 'GET', `/api/v1/events/${created.id}`), 200).status, 'closed');
    assertProblem(assert, await hold(node, created.id, items([general, 1])), 409, 'not-on-sale');
    const row = await psql(databaseUrl, `SELECT status, version, title FROM events WHERE id = '${created.id}'`);
    assert.equal(row.trim(), 'closed|4|Open Air 2031');
  });

  test('hold → GET → DELETE releases the seats; the checkout socket hears state and released', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 10, price: 1500 }]);
    const [type] = types;
    const held = expectStatus(await hold(node, event.id, items([type, 3]), { email: 'Buyer.One@Example.com' }), 201, 'hold');
    assert.match(held.id, /^co_[a-z2-7]{20}$/);
    assert.equal(held.status, 'held');
    assert.equal(held.event_id, event.id);
    assert.equal(held.buyer_email, 'buyer.one@example.com');
    assert.equal(held.items.length, 1);
    assert.equal(held.items[0].ticket_type_id, type.id);
    assert.equal(held.items[0].quantity, 3);
    assert.equal(held.items[0].status, 'held');
    assert.equal(held.total.minor, 4500);
    assert.equal(held.total.currency, 'EUR');
    const expiresIn = Date.parse(held.expires_at) - Date.now();
    assert.ok(expiresIn > 0 && expiresIn <= holdTtlMs + 500, `expires_at ${held.expires_at} is about ${holdTtlMs} ms away`);

    // Extend right away so the 2 s TTL does not race this test.
    expectStatus(await call(node, 'POST', `/api/v1/checkouts/${held.id}/extension`), 200, 'extension');

    assert.deepEqual((await publicAvailability(node, event.id))[type.id], { available: 7, held: 3, sold: 0, capacity: 10 });
    assert.deepEqual(await dbTicketType(databaseUrl, type.id), { capacity: 10, held: 3, sold: 0, heldRows: 1, heldQuantity: 3, allRows: 1 });

    const read = expectStatus(await call(node, 'GET', `/api/v1/checkouts/${held.id}`), 200);
    assert.equal(read.status, 'held');
    assert.equal(read.id, held.id);

    const socket = await listen(node, `/ws/checkouts/${held.id}`);
    const state = await socket.next((message) => message.type === 'state');
    assert.equal(state.checkout.status, 'held');
    assert.equal(state.checkout.id, held.id);

    const released = expectStatus(await call(node, 'DELETE', `/api/v1/checkouts/${held.id}`), 200, 'release');
    assert.equal(released.status, 'released');
    assert.equal(released.items[0].status, 'released');
    const pushed = await socket.next((message) => message.type === 'released');
    assert.equal(pushed.checkout.status, 'released');
    socket.close();

    assert.deepEqual((await publicAvailability(node, event.id))[type.id], { available: 10, held: 0, sold: 0, capacity: 10 });
    assert.deepEqual(await dbTicketType(databaseUrl, type.id), { capacity: 10, held: 0, sold: 0, heldRows: 0, heldQuantity: 0, allRows: 1 });
    assert.equal((await psql(databaseUrl, `SELECT status FROM holds WHERE checkout_id = '${held.id}'`)).trim(), 'released');
    assert.equal(expectStatus(await call(node, 'GET', `/api/v1/checkouts/${held.id}`), 200).status, 'released');
    assertProblem(assert, await call(node, 'DELETE', `/api/v1/checkouts/${held.id}`), 409, 'checkout-not-held');
    assertProblem(assert, await call(node, 'POST', `/api/v1/checkouts/${held.id}/extension`), 409, 'checkout-not-held');
    assertProblem(assert, await call(node, 'GET', '/api/v1/checkouts/co_aaaaaaaaaaaaaaaaaaaa'), 404, 'not-found');
  });

  test('a hold can be extended once; the new deadline is stored', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 4 }]);
    const held = expectStatus(await hold(node, event.id, items([types[0], 1])), 201);
    assert.equal(held.extended, false);
    const socket = await listen(node, `/ws/checkouts/${held.id}`);
    await socket.next((message) => message.type === 'state');
    const extended = expectStatus(await call(node, 'POST', `/api/v1/checkouts/${held.id}/extension`), 200, 'extension');
    assert.equal(extended.extended, true);
    assert.equal(extended.status, 'held');
    assert.ok(Date.parse(extended.expires_at) > Date.parse(held.expires_at) + 60_000, `extended to ${extended.expires_at}`);
    assert.equal((await socket.next((message) => message.type === 'extended')).checkout.expires_at, extended.expires_at);
    socket.close();
    assertProblem(assert, await call(node, 'POST', `/api/v1/checkouts/${held.id}/extension`), 409, 'extension-used');
    const stored = await psql(
      databaseUrl,
      `SELECT c.extended, (extract(epoch FROM c.expires_at) * 1000)::bigint, (extract(epoch FROM h.expires_at) * 1000)::bigint
         FROM checkouts c JOIN holds h ON h.checkout_id = c.id WHERE c.id = '${held.id}'`,
    );
    const [flag, checkoutDeadline, holdDeadline] = stored.trim().split('|');
    assert.equal(flag, 't');
    assert.equal(Number(checkoutDeadline), Date.parse(extended.expires_at));
    assert.equal(Number(holdDeadline), Date.parse(extended.expires_at));
    // Still held after the original 2 s TTL has passed.
    await sleep(holdTtlMs + 500);
    assert.equal(expectStatus(await call(node, 'GET', `/api/v1/checkouts/${held.id}`), 200).status, 'held');
    assert.equal((await dbTicketType(databaseUrl, types[0].id)).held, 1);
    expectStatus(await call(node, 'DELETE', `/api/v1/checkouts/${held.id}`), 200);
  });

  test('a hold expires after its TTL: the socket hears expiring_soon and expired, the seats return', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 3 }]);
    const [type] = types;
    const started = Date.now();
    const held = expectStatus(await hold(node, event.id, items([type, 3])), 201);
    const socket = await listen(node, `/ws/checkouts/${held.id}`);
    assert.equal((await socket.next((message) => message.type === 'state')).checkout.status, 'held');
    assertProblem(assert, await hold(node, event.id, items([type, 1])), 409, 'sold-out');

    const warning = await socket.next((message) => message.type === 'expiring_soon', holdTtlMs + 5_000);
    assert.equal(warning.checkout.status, 'held');
    const expired = await socket.next((message) => message.type === 'expired', holdTtlMs + 5_000);
    const heardAfter = Date.now() - started;
    assert.equal(expired.checkout.status, 'expired');
    assert.equal(expired.checkout.items[0].status, 'expired');
    assert.ok(heardAfter >= holdTtlMs - 100, `expired heard after ${heardAfter} ms, before the ${holdTtlMs} ms TTL`);
    socket.close();

    await waitForDbHeld(databaseUrl, type.id, 0, 5_000);
    assert.equal((await psql(databaseUrl, `SELECT status FROM holds WHERE checkout_id = '${held.id}'`)).trim(), 'expired');
    await waitFor('public availability back to 3', async () => (await publicAvailability(node, event.id))[type.id].available === 3);
    assert.equal(expectStatus(await call(node, 'GET', `/api/v1/checkouts/${held.id}`), 200).status, 'expired');
    assertProblem(assert, await call(node, 'DELETE', `/api/v1/checkouts/${held.id}`), 409, 'checkout-not-held');
    assertProblem(assert, await call(node, 'POST', `/api/v1/checkouts/${held.id}/extension`), 409, 'checkout-not-held');
    // The seats are really back: the whole capacity can be held again.
    expectStatus(await hold(node, event.id, items([type, 3])), 201, 'hold after expiry');
  });

  test('the availability socket sends a snapshot on connect and an update after a hold', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 20 }, { capacity: 7, hidden: true }]);
    const [open] = types;
    const socket = await listen(node, `/ws/events/${event.id}/availability`);
    const first = await socket.next((message) => message.type === 'availability');
    assert.equal(first.event_id, event.id);
    assert.deepEqual(first.ticket_types, [{ ticket_type_id: open.id, capacity: 20, held: 0, sold: 0, available: 20 }]);

    const held = expectStatus(await hold(node, event.id, items([open, 4])), 201);
    const update = await socket.next(
      (message) => message.type === 'availability' && message.ticket_types[0]?.held === 4,
      5_000,
    );
    assert.deepEqual(update.ticket_types, [{ ticket_type_id: open.id, capacity: 20, held: 4, sold: 0, available: 16 }]);

    expectStatus(await call(node, 'DELETE', `/api/v1/checkouts/${held.id}`), 200);
    await socket.next((message) => message.type === 'availability' && message.ticket_types[0]?.held === 0, 5_000);

    // Coalesced: 16 holds at once reach the socket as a few updates, the last one complete.
    socket.messages.length = 0;
    const burstStarted = Date.now();
    const burst = await Promise.all(Array.from({ length: 16 }, () => hold(node, event.id, items([open, 1]))));
    assert.deepEqual([...new Set(burst.map((answer) => answer.status))], [201]);
    await socket.next((message) => message.type === 'availability' && message.ticket_types[0]?.held === 16, 5_000);
    const window = Date.now() - burstStarted;
    await sleep(300);
    const updates = socket.messages.length + 1;
    const bound = Math.ceil((window + 300) / 100) + 1;
    assert.ok(updates <= bound, `${updates} updates in ${window + 300} ms at one per 100 ms (at most ${bound})`);
    socket.close();
    const missing = await listen(node, '/ws/events/ev_aaaaaaaaaaaaaaaaaaaa/availability');
    await waitFor('the unknown event socket to close', () => missing.closed());
    assert.equal(missing.closed().code, 4404);
  });

  test('capacity can be raised at any time and is refused below sold + held (409), changing nothing', async () => {
    const { key } = organizer;
    const { event, types } = await publishedEvent(node, key, [{ capacity: 5 }]);
    const [type] = types;
    const target = `/api/v1/organizer/events/${event.id}/ticket-types/${type.id}`;
    const first = expectStatus(await hold(node, event.id, items([type, 3])), 201);
    expectStatus(await call(node, 'POST', `/api/v1/checkouts/${first.id}/extension`), 200);

    const raised = expectStatus(await call(node, 'PATCH', target, { key, body: { capacity: 8 } }), 200, 'raise');
    assert.equal(raised.ticket_types[0].capacity, 8);
    assert.equal(raised.ticket_types[0].held, 3);
    assert.deepEqual(await dbTicketType(databaseUrl, type.id), { capacity: 8, held: 3, sold: 0, heldRows: 1, heldQuantity: 3, allRows: 1 });
    assert.deepEqual((await publicAvailability(node, event.id))[type.id], { available: 5, held: 3, sold: 0, capacity: 8 });

    const before = await dbTicketType(databaseUrl, type.id);
    const refused = await call(node, 'PATCH', target, { key, body: { capacity: 2, name: 'Renamed' } });
    assertProblem(assert, refused, 409, 'capacity-below-taken');
    assert.deepEqual(await dbTicketType(databaseUrl, type.id), before, 'a refused lowering changes nothing');
    assert.equal((await psql(databaseUrl, `SELECT name FROM ticket_types WHERE id = '${type.id}'`)).trim(), type.name);
    assert.deepEqual((await publicAvailability(node, event.id))[type.id], { available: 5, held: 3, sold: 0, capacity: 8 });
    const organizerView = expectStatus(await call(node, 'GET', `/api/v1/organizer/events/${event.id}`, { key }), 200);
    assert.equal(organizerView.ticket_types[0].capacity, 8);
    assert.equal(organizerView.ticket_types[0].name, type.name);

    // Down to exactly what is taken is allowed, and then nothing is left to hold.
    const lowered = expectStatus(await call(node, 'PATCH', target, { key, body: { capacity: 3 } }), 200, 'lower to taken');
    assert.equal(lowered.ticket_types[0].capacity, 3);
    assert.equal((await dbTicketType(databaseUrl, type.id)).capacity, 3);
    assertProblem(assert, await hold(node, event.id, items([type, 1])), 409, 'sold-out');

    // Releasing gives room back; raising during a live hold keeps it.
    expectStatus(await call(node, 'DELETE', `/api/v1/checkouts/${first.id}`), 200);
    expectStatus(await hold(node, event.id, items([type, 3])), 201);
  });

  test('editing a ticket type does not crash its quota, and a live hold still expires on time after many edits', async () => {
    const { key } = organizer;
    const { event, types } = await publishedEvent(node, key, [{ capacity: 5 }]);
    const [type] = types;
    const target = `/api/v1/organizer/events/${event.id}/ticket-types/${type.id}`;
    const held = expectStatus(await hold(node, event.id, items([type, 3])), 201);
    const deadline = Date.parse(held.expires_at);
    // Seven edits within a second or two (more than the region's restart budget of 5 per 10 s).
    for (let i = 0; i < 7; ++i) {
      expectStatus(await call(node, 'PATCH', target, { key, body: { description: `edit ${i}` } }), 200, `edit ${i}`);
      await sleep(50);
    }
    // The hold expires at its deadline without any other request touching the ticket type.
    await waitForDbHeld(databaseUrl, type.id, 0, Math.max(0, deadline - Date.now()) + 2_000);
    assert.equal(expectStatus(await call(node, 'GET', `/api/v1/checkouts/${held.id}`), 200).status, 'expired');
    const crashes = node.logRecords().filter((record) => record.message === 'entity crashed' && record['entity.key'] === type.id);
    assert.deepEqual(crashes.map((record) => record['error.message']), [], 'the quota crashed on ticket type edits');
  });

  test('all or nothing across two ticket types: one short refuses the whole checkout, nothing stays held', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 5 }, { capacity: 1 }]);
    const [plenty, scarce] = types;
    for (let attempt = 0; attempt < 5; ++attempt) {
      const refused = await hold(node, event.id, items([plenty, 2], [scarce, 2]));
      assertProblem(assert, refused, 409, 'sold-out');
    }
    const availability = await publicAvailability(node, event.id);
    assert.deepEqual(availability[plenty.id], { available: 5, held: 0, sold: 0, capacity: 5 });
    assert.deepEqual(availability[scarce.id], { available: 1, held: 0, sold: 0, capacity: 1 });
    for (const type of [plenty, scarce]) {
      const counts = await dbTicketType(databaseUrl, type.id);
      assert.equal(counts.held, 0, `held of ${type.name}`);
      assert.equal(counts.heldRows, 0, `held rows of ${type.name}`);
    }
    const liveCheckouts = await psql(
      databaseUrl,
      `SELECT count(*) FROM checkouts c WHERE c.event_id = '${event.id}'
          AND EXISTS (SELECT 1 FROM holds h WHERE h.checkout_id = c.id AND h.status = 'held')`,
    );
    assert.equal(liveCheckouts.trim(), '0');
    // Both types still sell in full afterwards.
    const whole = expectStatus(await hold(node, event.id, items([plenty, 5], [scarce, 1])), 201, 'the whole stock');
    assert.deepEqual(whole.items.map((item) => [item.ticket_type_id, item.quantity, item.status]).sort(), [
      [plenty.id, 5, 'held'],
      [scarce.id, 1, 'held'],
    ].sort());
    assert.equal((await dbTicketType(databaseUrl, plenty.id)).held, 5);
    assert.equal((await dbTicketType(databaseUrl, scarce.id)).held, 1);
  });

  test('300 concurrent checkouts over the same two ticket types all hold both (no deadlock between their quotas)', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 1000 }, { capacity: 1000 }]);
    const [first, second] = types;
    const answers = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        hold(node, event.id, i % 2 ? items([first, 1], [second, 2]) : items([second, 2], [first, 1])),
      ),
    );
    const statuses = {};
    for (const answer of answers) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    assert.deepEqual(statuses, { 201: 300 }, `statuses; first refusal: ${answers.find((answer) => answer.status !== 201)?.body}`);
    assert.equal((await dbTicketType(databaseUrl, first.id)).held, 300);
    assert.equal((await dbTicketType(databaseUrl, second.id)).held, 600);
    const incomplete = await psql(
      databaseUrl,
      `SELECT count(*) FROM checkouts c WHERE c.event_id = '${event.id}'
          AND (SELECT count(*) FROM holds h WHERE h.checkout_id = c.id AND h.status = 'held') <> 2`,
    );
    assert.equal(incomplete.trim(), '0', 'every checkout holds both ticket types');
  });

  test('a refused all-or-nothing checkout retried with its Idempotency-Key gets the stored refusal or a fresh hold', async () => {
    const { key } = organizer;
    const { event, types } = await publishedEvent(node, key, [{ capacity: 5 }, { capacity: 1 }]);
    const [plenty, scarce] = types;
    const headers = { 'idempotency-key': unique('retry') };
    const body = items([plenty, 2], [scarce, 2]);
    const email = `${unique('retry')}@example.com`;
    assertProblem(assert, await hold(node, event.id, body, { email, headers }), 409, 'sold-out');
    // The same request again is still a clear sold-out, not a server error.
    assertProblem(assert, await hold(node, event.id, body, { email, headers }), 409, 'sold-out');
    assertProblem(assert, await hold(node, event.id, body, { email, headers }), 409, 'sold-out');
    // Once there is room, the retry either replays the stored refusal (DESIGN.md: a repeated key
    // returns the stored outcome) or is a fresh attempt that holds both; nothing in between.
    expectStatus(
      await call(node, 'PATCH', `/api/v1/organizer/events/${event.id}/ticket-types/${scarce.id}`, { key, body: { capacity: 2 } }),
      200,
    );
    const retried = await hold(node, event.id, body, { email, headers });
    if (retried.status === 201) {
      const checkout = retried.json();
      assert.equal(checkout.status, 'held', `a 201 retry must be a live hold: ${retried.body}`);
      assert.deepEqual(checkout.items.map((item) => item.status), ['held', 'held']);
      assert.equal((await dbTicketType(databaseUrl, plenty.id)).held, 2);
      assert.equal((await dbTicketType(databaseUrl, scarce.id)).held, 2);
    } else {
      assertProblem(assert, retried, 409, 'sold-out');
      assert.equal((await dbTicketType(databaseUrl, plenty.id)).held, 0);
      assert.equal((await dbTicketType(databaseUrl, scarce.id)).held, 0);
    }
  });

  test("retrying a refused checkout's Idempotency-Key does not fail other buyers' holds on the same ticket type", async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 5000 }, { capacity: 1 }]);
    const [plenty, scarce] = types;
    const refusedBody = items([plenty, 2], [scarce, 2]);
    const email = `${unique('poison')}@example.com`;
    const headers = { 'idempotency-key': unique('poison') };
    assertProblem(assert, await hold(node, event.id, refusedBody, { email, headers }), 409, 'sold-out');
    // 300 ordinary one-seat holds with the same refused request retried once in their middle.
    const ordinary = [];
    for (let i = 0; i < 300; ++i) {
      if (i === 150) ordinary.push(hold(node, event.id, refusedBody, { email, headers }).then((answer) => ({ retry: answer })));
      ordinary.push(hold(node, event.id, items([plenty, 1])));
    }
    const answers = await Promise.all(ordinary);
    const retry = answers.find((answer) => answer.retry).retry;
    assertProblem(assert, retry, 409, 'sold-out');
    const statuses = {};
    for (const answer of answers.filter((candidate) => !candidate.retry)) statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
    assert.deepEqual(statuses, { 201: 300 }, 'every ordinary hold on a ticket type with 5000 seats succeeds');
    assert.equal((await dbTicketType(databaseUrl, plenty.id)).held, 300);
  });

  test('50 identical concurrent POSTs with one Idempotency-Key make one hold and 49 replays', async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 100 }]);
    const [type] = types;
    const key = unique('idem');
    const email = `${unique('idem')}@example.com`;
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => hold(node, event.id, items([type, 2]), { email, headers: { 'idempotency-key': key } })),
    );
    const statuses = answers.map((answer) => answer.status);
    assert.deepEqual([...new Set(statuses)], [201], `statuses: ${statuses.join(',')}; ${answers.find((a) => a.status !== 201)?.body}`);
    const ids = new Set(answers.map((answer) => answer.json().id));
    assert.equal(ids.size, 1, 'every answer names the same checkout');
    const replayed = answers.filter((answer) => answer.headers['idempotent-replayed'] === 'true').length;
    assert.equal(replayed, 49, 'one original and 49 replays');
    for (const answer of answers) {
      assert.equal(answer.json().status, 'held');
      assert.equal(answer.json().items[0].quantity, 2);
    }
    const [id] = ids;
    assert.equal((await psql(databaseUrl, `SELECT count(*) FROM checkouts WHERE idempotency_key = '${key}'`)).trim(), '1');
    assert.equal((await psql(databaseUrl, `SELECT count(*) FROM holds WHERE checkout_id = '${id}'`)).trim(), '1');
    assert.deepEqual(await dbTicketType(databaseUrl, type.id), { capacity: 100, held: 2, sold: 0, heldRows: 1, heldQuantity: 2, allRows: 1 });

    // The same key with another body is refused and changes nothing.
    const reused = await hold(node, event.id, items([type, 3]), { email, headers: { 'idempotency-key': key } });
    assertProblem(assert, reused, 422, 'idempotency-key-reused');
    assert.equal((await dbTicketType(databaseUrl, type.id)).held, 2);
    // A key is scoped to its buyer: another buyer's request with the same key is their own
    // checkout, not a replay of (or a refusal because of) this one.
    const otherBuyer = await hold(node, event.id, items([type, 2]), { headers: { 'idempotency-key': key } });
    assert.equal(otherBuyer.status, 201, otherBuyer.body);
    assert.notEqual(otherBuyer.json().id, id);
    assert.equal(otherBuyer.headers['idempotent-replayed'], undefined);
    assert.equal((await dbTicketType(databaseUrl, type.id)).held, 4);
    // And a replay after all that still answers the stored hold.
    const late = await hold(node, event.id, items([type, 2]), { email, headers: { 'idempotency-key': key } });
    assert.equal(late.status, 201, late.body);
    assert.equal(late.headers['idempotent-replayed'], 'true');
    assert.equal(late.json().id, id);
  });

  test(`a buyer may hold ${buyerCheckoutsMax} checkouts per event; the next gets 429 until one ends`, async () => {
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 50 }]);
    const [type] = types;
    const email = `${unique('limit')}@example.com`;
    const held = [];
    for (let i = 0; i < buyerCheckoutsMax; ++i) held.push(expectStatus(await hold(node, event.id, items([type, 1]), { email }), 201));
    const before = await dbTicketType(databaseUrl, type.id);
    assertProblem(assert, await hold(node, event.id, items([type, 1]), { email }), 429, 'hold-limit-reached');
    // Case does not make another buyer.
    assertProblem(assert, await hold(node, event.id, items([type, 1]), { email: email.toUpperCase() }), 429, 'hold-limit-reached');
    assert.deepEqual(await dbTicketType(databaseUrl, type.id), before, 'a refused hold writes nothing');
    // Another buyer is not limited by this one.
    const other = expectStatus(await hold(node, event.id, items([type, 1])), 201);
    // Releasing one makes room again.
    expectStatus(await call(node, 'DELETE', `/api/v1/checkouts/${held[0].id}`), 200);
    expectStatus(await hold(node, event.id, items([type, 1]), { email }), 201, 'hold after a release');
    for (const checkout of [...held.slice(1), other]) expectStatus(await call(node, 'DELETE', `/api/v1/checkouts/${checkout.id}`), 200);
  });
});

describe('inventory: the per-address hold limit', () => {
  let databaseUrl;
  let node;

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({ databaseUrl, args: ['--inventory.address_checkouts_max=2', '--inventory.hold_ttl_ms=60000'] });
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test('one client address may hold --inventory.address_checkouts_max checkouts per event, whatever the emails', async () => {
    const organizer = await signUp(node, 'address');
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 10 }]);
    const first = expectStatus(await hold(node, event.id, items([types[0], 1])), 201);
    expectStatus(await hold(node, event.id, items([types[0], 1])), 201);
    assertProblem(assert, await hold(node, event.id, items([types[0], 1])), 429, 'hold-limit-reached');
    assert.equal((await dbTicketType(databaseUrl, types[0].id)).held, 2);
    // Another event has its own budget.
    const second = await publishedEvent(node, organizer.key, [{ capacity: 10 }]);
    expectStatus(await hold(node, second.event.id, items([second.types[0], 1])), 201);
    expectStatus(await call(node, 'DELETE', `/api/v1/checkouts/${first.id}`), 200);
    expectStatus(await hold(node, event.id, items([types[0], 1])), 201, 'after a release');
  });
});

describe('inventory: replays of refused checkouts after the checkout actor passivates', () => {
  let databaseUrl;
  let node;

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({ databaseUrl, args: ['--inventory.entity_idle_timeout_ms=1000'] });
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test('an Idempotency-Key whose checkout was refused (409) is never replayed as a 201 checkout', async () => {
    const organizer = await signUp(node, 'replay');
    const { event, types } = await publishedEvent(node, organizer.key, [{ capacity: 5 }, { capacity: 1 }]);
    const [plenty, scarce] = types;
    const body = items([plenty, 2], [scarce, 2]);
    const email = `${unique('replay')}@example.com`;
    const headers = { 'idempotency-key': unique('replay') };
    assertProblem(assert, await hold(node, event.id, body, { email, headers }), 409, 'sold-out');
    await sleep(2_500); // the checkout actor passivates after 1 s idle and reloads from PostgreSQL
    const again = await hold(node, event.id, body, { email, headers });
    assertProblem(assert, again, 409, 'sold-out');
  });
});
