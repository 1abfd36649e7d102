// Helpers shared by the inventory end-to-end files (events, ticket types, checkouts and holds):
// JSON calls with and without an organizer's key, a published event in one call, the public
// availability and the database's own counters, and WebSocket listeners that keep every message.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import WebSocket from 'ws';

import { createDatabase, dropDatabase, killAllChildren, psql, request, startNode, waitFor } from './harness.mjs';

export const password = 'correct horse battery staple';

// A future event, far enough ahead that no sale window or end date gets in the way.
export const eventDefaults = {
  title: 'Spring Concert',
  time_zone: 'Europe/Berlin',
  starts_at: '2031-05-01T19:30:00+02:00',
  ends_at: '2031-05-01T23:00:00+02:00',
  currency: 'EUR',
  tax_country: 'DE',
};

export function unique(prefix = 'x') {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export function bearer(key) {
  return { authorization: `Bearer ${key}` };
}

// One JSON request on its own connection; `body` may be an object or a raw string.
export function call(node, method, target, { body, key, headers = {}, timeoutMs } = {}) {
  const all = { ...headers };
  if (key) Object.assign(all, bearer(key));
  let text;
  if (body !== undefined) {
    text = typeof body === 'string' ? body : JSON.stringify(body);
    all['content-type'] ??= 'application/json';
    all['content-length'] = Buffer.byteLength(text);
  }
  return request(node.baseUrl, target, { method, headers: all, body: text, ...(timeoutMs ? { timeoutMs } : {}) });
}

export function expectStatus(answer, status, what = '') {
  assert.equal(answer.status, status, `${what} expected ${status}, got ${answer.status}: ${answer.body}`);
  return answer.body ? answer.json() : null;
}

// Argon2id sign-ups are limited to two hashes at once: callers sign up one after the other.
export async function signUp(node, label = 'org') {
  const email = `${unique(label)}@example.com`;
  const answer = await call(node, 'POST', '/api/v1/organizers', {
    body: { email, password, workspace_name: `Workspace ${label}` },
  });
  const body = expectStatus(answer, 201, `sign-up of ${email}`);
  return { email, key: body.api_key.key, workspaceId: body.workspace.id };
}

export async function createEvent(node, key, overrides = {}) {
  const answer = await call(node, 'POST', '/api/v1/organizer/events', {
    key,
    body: { slug: unique('ev'), ...eventDefaults, ...overrides },
  });
  return expectStatus(answer, 201, 'create event');
}

// Adds a ticket type and answers the new type (the last of the event's ticket_types).
export async function addTicketType(
  node,
  key,
  eventId,
  { name = unique('tt'), capacity = 10, price = 2500, currency = 'EUR', ...rest } = {},
) {
  const answer = await call(node, 'POST', `/api/v1/organizer/events/${eventId}/ticket-types`, {
    key,
    body: { name, capacity, price: { minor: price, currency }, ...rest },
  });
  const event = expectStatus(answer, 201, 'add ticket type');
  const type = event.ticket_types.find((candidate) => candidate.name === name);
  assert.ok(type, `ticket type ${name} in ${answer.body}`);
  return type;
}

export async function publish(node, key, eventId) {
  return expectStatus(await call(node, 'POST', `/api/v1/organizer/events/${eventId}/publish`, { key }), 200, 'publish');
}

// A published event with the given ticket types (objects as addTicketType takes them).
export async function publishedEvent(node, key, types = [{}], eventFields = {}) {
  const event = await createEvent(node, key, eventFields);
  const created = [];
  for (const type of types) created.push(await addTicketType(node, key, event.id, type));
  await publish(node, key, event.id);
  return { event, types: created };
}

export function hold(node, eventId, items, { email = `${unique('buyer')}@example.com`, headers = {} } = {}) {
  return call(node, 'POST', '/api/v1/checkouts', { body: { event_id: eventId, email, items }, headers });
}

// items as [{ticket_type_id, quantity}] from [[type, quantity], ...].
export function items(...pairs) {
  return pairs.map(([type, quantity]) => ({ ticket_type_id: type.id ?? type, quantity }));
}

// The public event's counters per ticket type id.
export async function publicAvailability(node, eventId) {
  const answer = await call(node, 'GET', `/api/v1/events/${eventId}`);
  const event = expectStatus(answer, 200, 'public event');
  const byId = {};
  for (const type of event.ticket_types)
    byId[type.id] = { available: type.available, held: type.held, sold: type.sold, capacity: type.capacity };
  return byId;
}

// The database's own view of one ticket type: counters and live hold rows.
export async function dbTicketType(databaseUrl, ticketTypeId) {
  const row = await psql(
    databaseUrl,
    `SELECT capacity, held, sold,
            (SELECT count(*) FROM holds WHERE ticket_type_id = t.id AND status = 'held'),
            (SELECT coalesce(sum(quantity), 0) FROM holds WHERE ticket_type_id = t.id AND status = 'held'),
            (SELECT count(*) FROM holds WHERE ticket_type_id = t.id)
       FROM ticket_types t WHERE id = '${ticketTypeId}'`,
  );
  const [capacity, held, sold, heldRows, heldQuantity, allRows] = row.trim().split('|').map(Number);
  return { capacity, held, sold, heldRows, heldQuantity, allRows };
}

// Counts of whole tables, to show that refused requests wrote nothing at all.
export async function dbTotals(databaseUrl) {
  const row = await psql(
    databaseUrl,
    `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM ticket_types), (SELECT count(*) FROM checkouts),
            (SELECT count(*) FROM holds), (SELECT coalesce(sum(held), 0) FROM ticket_types),
            (SELECT coalesce(sum(capacity), 0) FROM ticket_types),
            (SELECT coalesce(sum(version), 0) FROM events)`,
  );
  const [events, ticketTypes, checkouts, holds, held, capacity, versions] = row.trim().split('|').map(Number);
  return { events, ticketTypes, checkouts, holds, held, capacity, versions };
}

// A WebSocket that records every JSON message; `next(predicate)` waits for a matching one
// (including ones that already arrived and were not consumed yet).
export function listen(node, path) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${node.port}${path}`);
    const messages = [];
    const waiters = [];
    let closed = null;
    socket.on('message', (data) => {
      let message;
      try {
        message = JSON.parse(data.toString('utf8'));
      } catch {
        message = { unparsed: data.toString('utf8') };
      }
      messages.push(message);
      for (const waiter of [...waiters]) waiter();
    });
    socket.on('close', (code, reason) => {
      closed = { code, reason: reason.toString('utf8') };
      for (const waiter of [...waiters]) waiter();
    });
    socket.once('error', reject);
    socket.once('open', () => {
      socket.on('error', () => {});
      resolve({
        socket,
        messages,
        closed: () => closed,
        next(predicate, timeoutMs = 10_000) {
          return new Promise((resolveNext, rejectNext) => {
            const check = () => {
              const index = messages.findIndex(predicate);
              if (index >= 0) {
                finish();
                resolveNext(messages.splice(index, 1)[0]);
              } else if (closed) {
                finish();
                rejectNext(new Error(`WebSocket ${path} closed (${closed.code}) before the message; got ${JSON.stringify(messages)}`));
              }
            };
            const timer = setTimeout(() => {
              finish();
              rejectNext(new Error(`no matching message on ${path} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`));
            }, timeoutMs);
            const finish = () => {
              clearTimeout(timer);
              const at = waiters.indexOf(check);
              if (at >= 0) waiters.splice(at, 1);
            };
            waiters.push(check);
            check();
          });
        },
        close() {
          socket.terminate();
        },
      });
    });
  });
}

export async function waitForDbHeld(databaseUrl, ticketTypeId, held, timeoutMs = 15_000) {
  return waitFor(
    `ticket type ${ticketTypeId} held = ${held} in the database`,
    async () => {
      const counts = await dbTicketType(databaseUrl, ticketTypeId);
      return counts.held === held && counts.heldQuantity === held ? counts : null;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

// For the describe block it is called in: a fresh database and a node on it with `args`, and one
// signed-up organizer; all torn down after the block. The fields are set once `before` ran.
export function suiteNode(label, args = []) {
  const suite = { databaseUrl: undefined, node: undefined, organizer: undefined };
  before(async () => {
    suite.databaseUrl = await createDatabase();
    suite.node = await startNode({ databaseUrl: suite.databaseUrl, args });
    suite.organizer = await signUp(suite.node, label);
  });
  after(async () => {
    await killAllChildren();
    if (suite.databaseUrl) await dropDatabase(suite.databaseUrl);
  });
  return suite;
}
