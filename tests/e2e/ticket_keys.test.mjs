// Ticket signing keys wrapped at rest (payments.ticket_key_wrapping_key): the database then holds
// no usable seed; keys stored raw before are wrapped when a node with the key starts and keep
// signing tickets that verify with the same public key; a node without the deployment's wrapping
// key, with another one or with a malformed one refuses to start and says why; a key that cannot
// be opened stops ticket issue loudly and leaves the order refundable.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';

import { psql, runBinary, startNode, waitFor } from './harness.mjs';
import { call, expectStatus } from './inventory_support.mjs';
import { heldCheckout, pay, paymentNodeArgs, paymentsSuite, ticketsWhen } from './payments_support.mjs';

const wrappingKey = 'f7dc3db253e038042caee1a73fba669bea7722853a4dbc926e4b5d34846b4aa9';
const otherKey = 'db4fa887f78d2592a25c31d9ee906396d26e684301a3481a2836f1976dc7ca15';
const kekId = (hex) => `kek_${createHash('sha256').update('eventstripe/ticket-key-wrapping/v1').update(Buffer.from(hex, 'hex'))
  .digest('hex').slice(0, 16)}`;

// Verifies a ticket payload with Node's own Ed25519, independently of the node's code.
function verifies(payload, publicKeyPem) {
  const [prefix, claims, signature] = payload.split('.');
  return verify(null, Buffer.from(`${prefix}.${claims}`), createPublicKey(publicKeyPem), Buffer.from(signature, 'base64url'));
}

describe('ticket signing keys wrapped at rest', () => {
  const suite = paymentsSuite('ticket-keys');

  async function restartWith(args) {
    await suite.node.stop();
    suite.node = await startNode({ databaseUrl: suite.databaseUrl, args: [...paymentNodeArgs(suite.sandbox, suite.port), ...args] });
    // The node serves a moment before its regions take entity traffic (503 shard-moving until
    // then): wait until a stored checkout answers.
    await waitFor('the regions to serve', async () =>
      (await call(suite.node, 'GET', `/api/v1/checkouts/${first.held.checkout.id}`)).status === 200);
  }

  const storedKey = async (eventId) => {
    const [keyId, wrappedBy, length] = (await psql(suite.databaseUrl,
      `SELECT key_id, coalesce(wrapped_by, ''), length(private_key) FROM event_ticket_keys WHERE event_id = '${eventId}'`))
      .trim().split('|');
    return { keyId, wrappedBy, length: Number(length) };
  };

  async function paidTickets(options) {
    const held = await heldCheckout(suite, { quantity: 1, ...options });
    expectStatus(await pay(suite, held.checkout.id), 201, 'pay');
    const body = await ticketsWhen(suite, held.checkout.id);
    const key = expectStatus(await call(suite.node, 'GET', `/api/v1/events/${held.event.id}/ticket-key`), 200, 'ticket key');
    return { held, tickets: body.tickets, key };
  }

  let first;

  it('keys stored raw are wrapped when a node with a wrapping key starts, and sign as before', async () => {
    first = await paidTickets();
    const raw = await storedKey(first.held.event.id);
    assert.deepEqual([raw.wrappedBy, raw.length], ['', 32], 'no wrapping key configured yet: the raw seed');

    await restartWith([`--payments.ticket_key_wrapping_key=${wrappingKey}`]);
    assert.deepEqual(await storedKey(first.held.event.id), { keyId: raw.keyId, wrappedBy: kekId(wrappingKey), length: 72 });
    assert.ok(suite.node.logRecords().some((record) => record.message.startsWith('ticket keys stored raw were wrapped')));
    const later = await paidTickets({ event: first.held.made });
    assert.equal(later.key.public_key_pem, first.key.public_key_pem, 'the same key pair');
    for (const ticket of [...first.tickets, ...later.tickets]) assert.ok(verifies(ticket.qr_payload, later.key.public_key_pem));
  });

  it('a new event\'s key is stored wrapped from the start', async () => {
    const fresh = await paidTickets();
    const stored = await storedKey(fresh.held.event.id);
    assert.equal(stored.wrappedBy, kekId(wrappingKey));
    assert.equal(stored.length, 72);
    assert.ok(verifies(fresh.tickets[0].qr_payload, fresh.key.public_key_pem));
  });

  it('a node that could not open the stored keys refuses to start, and says why', async () => {
    const attempt = (args) => runBinary({ args: [`--database.url=${suite.databaseUrl}`, '--http.port=0', ...args] });
    const none = await attempt([]);
    assert.equal(none.code, 2, none.stdout + none.stderr);
    assert.match(none.stdout + none.stderr, new RegExp(`wrapped under ${kekId(wrappingKey)}, not under none`));
    const other = await attempt([`--payments.ticket_key_wrapping_key=${otherKey}`]);
    assert.equal(other.code, 2, other.stdout + other.stderr);
    assert.match(other.stdout + other.stderr, new RegExp(`wrapped under ${kekId(wrappingKey)}, not under ${kekId(otherKey)}`));
    for (const bad of ['not-hex', '77'.repeat(32)]) {
      const malformed = await attempt([`--payments.ticket_key_wrapping_key=${bad}`]);
      assert.equal(malformed.code, 2, malformed.stdout + malformed.stderr);
      assert.match(malformed.stdout + malformed.stderr, /payments.ticket_key_wrapping_key must be 64 hex digits/);
    }
    // Nothing changed: a restarted node (nothing cached) still opens the stored keys.
    await restartWith([`--payments.ticket_key_wrapping_key=${wrappingKey}`]);
    const still = await paidTickets({ event: first.held.made });
    assert.ok(verifies(still.tickets[0].qr_payload, first.key.public_key_pem));
  });

  it('a stored key that was altered stops ticket issue loudly; the paid order can still be refunded', async () => {
    const made = (await paidTickets()).held.made;
    await psql(suite.databaseUrl, `UPDATE event_ticket_keys SET private_key = set_byte(private_key, 40, get_byte(private_key, 40) # 1)
      WHERE event_id = '${made.event.id}'`);
    await restartWith([`--payments.ticket_key_wrapping_key=${wrappingKey}`]);
    const held = await heldCheckout(suite, { quantity: 1, event: made });
    assert.equal(expectStatus(await pay(suite, held.checkout.id), 201, 'pay').status, 'succeeded');
    await waitFor('the ticket issue to fail on the key', () => suite.node.logRecords().some((record) =>
      record.message === "cannot issue tickets: the event's signing key cannot be used" && record['checkout.id'] === held.checkout.id
      && /cannot open the ticket key of event .*: cannot_open/.test(record['error.message'])));
    const order = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${held.checkout.id}/tickets`), 200, 'tickets');
    assert.equal(order.order_status, 'paid');
    assert.equal(order.tickets.length, 0);
    expectStatus(await call(suite.node, 'POST', `/api/v1/organizer/orders/${held.checkout.id}/refunds`, {
      key: suite.organizer.key, body: {}, headers: { 'idempotency-key': `refund-${held.checkout.id}` }, timeoutMs: 30_000,
    }), 201, 'refund');
    await ticketsWhen(suite, held.checkout.id, 'refunded');
  });
});
