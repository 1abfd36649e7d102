// Workspace isolation of the organizer API: a key of workspace B against every organizer endpoint
// of workspace A's events (read, update, publish, close, add and change ticket types, list) gets
// 404 — the very answer an event that does not exist gets — and A's events are unchanged after
// B tried everything. Requests without a key or with a bad key get 401.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { assertProblem, createDatabase, dropDatabase, killAllChildren, psql, startNode } from './harness.mjs';
import {
  addTicketType,
  call,
  createEvent,
  expectStatus,
  hold,
  items,
  publishedEvent,
  signUp,
  unique,
} from './inventory_support.mjs';

const unknownEvent = 'ev_aaaaaaaaaaaaaaaaaaaa';
const unknownType = 'tt_aaaaaaaaaaaaaaaaaaaa';

// Every organizer endpoint that names an event, with a body that would be valid for it.
function eventEndpoints(eventId, ticketTypeId, version) {
  return [
    { method: 'GET', target: `/api/v1/organizer/events/${eventId}` },
    { method: 'PATCH', target: `/api/v1/organizer/events/${eventId}`, body: { version, title: 'Taken over' } },
    { method: 'PATCH', target: `/api/v1/organizer/events/${eventId}`, body: { version: version + 1, slug: 'taken-over' } },
    { method: 'POST', target: `/api/v1/organizer/events/${eventId}/publish` },
    { method: 'POST', target: `/api/v1/organizer/events/${eventId}/close` },
    {
      method: 'POST',
      target: `/api/v1/organizer/events/${eventId}/ticket-types`,
      body: { name: 'Free for B', capacity: 1000, price: { minor: 0, currency: 'EUR' } },
    },
    {
      method: 'PATCH',
      target: `/api/v1/organizer/events/${eventId}/ticket-types/${ticketTypeId}`,
      body: { capacity: 0 },
    },
    {
      method: 'PATCH',
      target: `/api/v1/organizer/events/${eventId}/ticket-types/${ticketTypeId}`,
      body: { capacity: 100000, name: 'Mine now', hidden: true, price: { minor: 1, currency: 'EUR' } },
    },
  ];
}

// What an organizer and the database see of an event: everything B must not be able to change.
async function snapshot(node, databaseUrl, key, eventId) {
  const view = expectStatus(await call(node, 'GET', `/api/v1/organizer/events/${eventId}`, { key }), 200, 'owner reads');
  const rows = await psql(
    databaseUrl,
    `SELECT e.workspace_id, e.status, e.version, e.title, e.slug,
            (SELECT string_agg(t.id || ':' || t.name || ':' || t.capacity || ':' || t.held || ':' || t.hidden || ':' || t.price_minor,
                               ',' ORDER BY t.position) FROM ticket_types t WHERE t.event_id = e.id)
       FROM events e WHERE e.id = '${eventId}'`,
  );
  return { view, rows: rows.trim() };
}

describe('inventory: workspace isolation', () => {
  let databaseUrl;
  let node;
  let a;
  let b;

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({ databaseUrl, args: ['--inventory.hold_ttl_ms=600000'] });
    a = await signUp(node, 'workspace-a');
    b = await signUp(node, 'workspace-b');
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test("workspace B's key gets 404 on every organizer endpoint of A's events, exactly as for no event, and A's events are unchanged", async () => {
    // A: a published event with a live hold, and a draft.
    const published = await publishedEvent(node, a.key, [{ name: 'Standard', capacity: 10, price: 3000 }]);
    const heldByBuyer = expectStatus(await hold(node, published.event.id, items([published.types[0], 2])), 201);
    const draft = await createEvent(node, a.key, { title: 'Secret draft' });
    const draftType = await addTicketType(node, a.key, draft.id, { name: 'Early', capacity: 3 });
    // B has an event of its own, to show the key itself works.
    const own = await createEvent(node, b.key);
    expectStatus(await call(node, 'GET', `/api/v1/organizer/events/${own.id}`, { key: b.key }), 200);

    const targets = [
      { eventId: published.event.id, typeId: published.types[0].id },
      { eventId: draft.id, typeId: draftType.id },
    ];
    const before = [];
    for (const target of targets) before.push(await snapshot(node, databaseUrl, a.key, target.eventId));

    for (const [index, target] of targets.entries()) {
      const version = before[index].view.version;
      const attempts = eventEndpoints(target.eventId, target.typeId, version);
      const baselines = eventEndpoints(unknownEvent, unknownType, version);
      for (const [i, attempt] of attempts.entries()) {
        const answer = await call(node, attempt.method, attempt.target, { key: b.key, body: attempt.body });
        const what = `${attempt.method} ${attempt.target} with B's key`;
        assert.equal(answer.status, 404, `${what}: ${answer.status} ${answer.body}`);
        const problem = assertProblem(assert, answer, 404, 'not-found');
        assert.ok(!answer.body.includes(a.workspaceId), `${what} names A's workspace`);
        assert.ok(!answer.body.includes('Secret draft') && !answer.body.includes('Standard'), `${what} leaks A's data`);
        const baseline = await call(node, baselines[i].method, baselines[i].target, { key: b.key, body: baselines[i].body });
        assert.equal(baseline.status, 404, `${baselines[i].method} ${baselines[i].target}: ${baseline.body}`);
        assert.equal(problem.detail, baseline.json().detail, `${what} answers like an event that does not exist`);
      }
      // A's ticket type under B's own event is no more B's than under A's.
      const crossed = await call(node, 'PATCH', `/api/v1/organizer/events/${own.id}/ticket-types/${target.typeId}`, {
        key: b.key,
        body: { capacity: 0 },
      });
      assertProblem(assert, crossed, 404, 'not-found');
    }

    // The list shows B's event and none of A's.
    const listed = expectStatus(await call(node, 'GET', '/api/v1/organizer/events', { key: b.key }), 200);
    assert.deepEqual(listed.data.map((event) => event.id), [own.id]);
    const listedByA = expectStatus(await call(node, 'GET', '/api/v1/organizer/events', { key: a.key }), 200);
    assert.deepEqual(listedByA.data.map((event) => event.id).sort(), [published.event.id, draft.id].sort());

    // Everything of A is as it was; the buyer's hold still stands.
    for (const [index, target] of targets.entries())
      assert.deepEqual(await snapshot(node, databaseUrl, a.key, target.eventId), before[index], `event ${target.eventId}`);
    assert.equal(expectStatus(await call(node, 'GET', `/api/v1/checkouts/${heldByBuyer.id}`), 200).status, 'held');
    assertProblem(assert, await call(node, 'GET', `/api/v1/events/${draft.id}`), 404, 'not-found');
    assert.equal(
      (await psql(databaseUrl, `SELECT count(*) FROM ticket_types WHERE name = 'Free for B'`)).trim(),
      '0',
      'no ticket type was added by B',
    );
    // And A can still do everything B could not.
    expectStatus(await call(node, 'POST', `/api/v1/organizer/events/${draft.id}/publish`, { key: a.key }), 200, 'A publishes');
  });

  test("a checkout cannot use a ticket type of another event (another workspace's)", async () => {
    const ofA = await publishedEvent(node, a.key, [{ capacity: 5 }]);
    const ofB = await publishedEvent(node, b.key, [{ capacity: 5 }]);
    assertProblem(assert, await hold(node, ofB.event.id, items([ofA.types[0], 1])), 422, 'unknown-ticket-type');
    assertProblem(assert, await hold(node, ofA.event.id, items([ofA.types[0], 1], [ofB.types[0], 1])), 422, 'unknown-ticket-type');
    const held = await psql(databaseUrl, `SELECT held FROM ticket_types WHERE id IN ('${ofA.types[0].id}', '${ofB.types[0].id}')`);
    assert.deepEqual(held.trim().split('\n'), ['0', '0']);
  });

  test('no key, a malformed key, a wrong secret or a revoked key gets 401 on every organizer endpoint', async () => {
    const { event, types } = await publishedEvent(node, a.key, [{ capacity: 5 }]);
    const before = await snapshot(node, databaseUrl, a.key, event.id);
    const endpoints = [
      { method: 'GET', target: '/api/v1/organizer/events' },
      { method: 'POST', target: '/api/v1/organizer/events', body: { slug: unique('x'), title: 'x' } },
      ...eventEndpoints(event.id, types[0].id, before.view.version),
    ];
    const wrongSecret = a.key.slice(0, -1) + (a.key.endsWith('0') ? '1' : '0');
    const created = expectStatus(await call(node, 'POST', '/api/v1/api-keys', { key: a.key, body: { name: 'short-lived' } }), 201);
    expectStatus(await call(node, 'DELETE', `/api/v1/api-keys/${created.id}`, { key: a.key }), 204);
    const credentials = [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Bearer es_nonsense' },
      { authorization: `Bearer ${wrongSecret}` },
      { authorization: `Bearer ${created.key}` },
      { authorization: `Basic ${Buffer.from(`${a.email}:correct horse battery staple`).toString('base64')}` },
    ];
    for (const endpoint of endpoints)
      for (const headers of credentials) {
        const answer = await call(node, endpoint.method, endpoint.target, { headers, body: endpoint.body });
        assertProblem(assert, answer, 401, 'unauthenticated');
        assert.match(String(answer.headers['www-authenticate'] ?? ''), /^Bearer /);
      }
    assert.deepEqual(await snapshot(node, databaseUrl, a.key, event.id), before);
  });
});
