// Ticket signing keys wrapped at rest (payments.ticket_key_wrapping_key): the database then holds
// no usable seed; a key stored raw before is wrapped on its first use and keeps signing tickets
// that verify with the same public key; a node without the wrapping key, with another one or with
// a malformed one refuses to start and says why.
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';

import { psql, runBinary, startNode } from './harness.mjs';
import { call, expectStatus } from './inventory_support.mjs';
import { heldCheckout, pay, paymentNodeArgs, paymentsSuite, ticketsWhen } from './payments_support.mjs';

const wrappingKey = '4f'.repeat(32);
const otherKey = '50'.repeat(32);
const kekId = (hex) => `kek_${createHash('sha256').update(Buffer.from(hex, 'hex')).digest('hex').slice(0, 16)}`;

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

  it('a key stored raw is wrapped on its first use under a wrapping key, and signs as before', async () => {
    first = await paidTickets();
    const raw = await storedKey(first.held.event.id);
    assert.deepEqual([raw.wrappedBy, raw.length], ['', 32], 'no wrapping key configured yet: the raw seed');

    await restartWith([`--payments.ticket_key_wrapping_key=${wrappingKey}`]);
    const later = await paidTickets({ event: first.held.made });
    const wrapped = await storedKey(first.held.event.id);
    assert.deepEqual(wrapped, { keyId: raw.keyId, wrappedBy: kekId(wrappingKey), length: 72 });
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
    assert.match(none.stdout + none.stderr, /ticket keys are wrapped under another key than none/);
    const other = await attempt([`--payments.ticket_key_wrapping_key=${otherKey}`]);
    assert.equal(other.code, 2, other.stdout + other.stderr);
    assert.match(other.stdout + other.stderr, new RegExp(`wrapped under another key than ${kekId(otherKey)}`));
    const malformed = await attempt(['--payments.ticket_key_wrapping_key=not-hex']);
    assert.equal(malformed.code, 2, malformed.stdout + malformed.stderr);
    assert.match(malformed.stdout + malformed.stderr, /payments.ticket_key_wrapping_key must be 64 hex digits/);
    // Nothing changed: the running node still issues tickets with the stored keys.
    const still = await paidTickets({ event: first.held.made });
    assert.ok(verifies(still.tickets[0].qr_payload, first.key.public_key_pem));
  });
});
