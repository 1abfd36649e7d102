// Payments end to end: a real node pays held checkouts through the sandbox provider (Stripe and
// Adyen wire formats), takes its webhooks, issues signed tickets and admits each one once.
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';

import Stripe from 'stripe';

import { assertProblem, psql, request, sleep, waitFor } from './harness.mjs';
import { call, expectStatus, hold, items, listen, publishedEvent, signUp } from './inventory_support.mjs';
import {
  captures, decodeQr, eventNow, fetchBytes, heldCheckout, pay, paymentsSuite, sandboxPayments, scenario, stripeOldSecret,
  stripeSecret, ticketsWhen, unique,
} from './payments_support.mjs';

const stripe = new Stripe('sk_test_unused_for_signing');

function base64url(text) {
  return Buffer.from(text, 'base64url');
}

// Verifies a ticket payload with Node's own Ed25519, independently of the node's code.
function verifyPayload(payload, publicKeyPem) {
  const [prefix, claims, signature] = payload.split('.');
  assert.equal(prefix, 'ES1');
  const signed = Buffer.from(`${prefix}.${claims}`);
  const ok = verify(null, signed, createPublicKey(publicKeyPem), base64url(signature));
  return { ok, claims: base64url(claims).toString('utf8').split('|') };
}

async function dbOrder(suite, checkoutId) {
  const row = await psql(
    suite.databaseUrl,
    `SELECT coalesce(c.order_status, ''),
            (SELECT count(*) FROM tickets WHERE checkout_id = c.id),
            (SELECT count(*) FROM payments WHERE checkout_id = c.id AND status = 'succeeded'),
            (SELECT count(*) FROM payment_attempts WHERE checkout_id = c.id AND status = 'succeeded'),
            (SELECT string_agg(DISTINCT status, ',') FROM holds WHERE checkout_id = c.id)
       FROM checkouts c WHERE c.id = '${checkoutId}'`,
  );
  const [orderStatus, tickets, succeededPayments, succeededAttempts, holdStatuses] = row.trim().split('|');
  return {
    orderStatus, tickets: Number(tickets), succeededPayments: Number(succeededPayments),
    succeededAttempts: Number(succeededAttempts), holdStatuses,
  };
}

describe('payments through the sandbox provider', () => {
  const suite = paymentsSuite('payments');

  it('pays a held checkout, sells its seats and issues tickets signed with the event key', async () => {
    const { event, type, checkout } = await heldCheckout(suite, { quantity: 2, price: 2500 });
    const methods = expectStatus(
      await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}/payment-methods?country=DE`), 200, 'methods');
    assert.equal(methods.currency, 'EUR');
    assert.ok(methods.methods.some((method) => method.id === 'visa'));
    assert.ok(!methods.methods.some((method) => method.id === 'pix'), 'pix is for BRL in Brazil');

    const payment = expectStatus(await pay(suite, checkout.id), 201, 'pay');
    assert.equal(payment.status, 'succeeded');
    assert.equal(payment.provider, 'stripe');
    assert.deepEqual(payment.amount, checkout.quote.total ?? payment.amount);
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 2);

    const key = expectStatus(await call(suite.node, 'GET', `/api/v1/events/${event.id}/ticket-key`), 200, 'key');
    assert.equal(key.algorithm, 'Ed25519');
    for (const ticket of body.tickets) {
      const { ok, claims } = verifyPayload(ticket.qr_payload, key.public_key_pem);
      assert.ok(ok, 'Node verifies the ticket signature with the downloaded public key');
      assert.deepEqual([claims[0], claims[1], claims[2], claims[5]], [ticket.id, event.id, type.id, key.key_id]);
    }
    const order = await dbOrder(suite, checkout.id);
    assert.deepEqual(order, { orderStatus: 'tickets_issued', tickets: 2, succeededPayments: 1, succeededAttempts: 1, holdStatuses: 'sold' });
    const sold = await psql(suite.databaseUrl, `SELECT held, sold FROM ticket_types WHERE id = '${type.id}'`);
    assert.equal(sold.trim(), '0|2');
    assert.equal(captures(await sandboxPayments(suite, checkout.id)), 1);

    const view = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}`), 200, 'checkout');
    assert.equal(view.status, 'tickets_issued');
    // Released, extended or re-quoted no more.
    assertProblem(assert, await call(suite.node, 'DELETE', `/api/v1/checkouts/${checkout.id}`), 409, 'order-in-progress');
  });

  it('the buyer\'s socket hears each order state after it is committed, in order', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const socket = await listen(suite.node, `/ws/checkouts/${checkout.id}`);
    await socket.next((message) => message.type === 'state');
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    const pushes = [];
    for (let i = 0; i < 3; ++i) pushes.push(await socket.next(() => true));
    assert.deepEqual(pushes.map((push) => [push.type, push.checkout.status]),
      [['payment_pending', 'payment_pending'], ['paid', 'paid'], ['tickets_issued', 'tickets_issued']]);
    // Each push's state was already committed when it was sent.
    assert.equal((await psql(suite.databaseUrl, `SELECT order_status FROM checkouts WHERE id = '${checkout.id}'`)).trim(),
      'tickets_issued');
    socket.socket.close();
  });

  it('draws QR codes a real decoder reads back as the signed payload', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    const [ticket] = (await ticketsWhen(suite, checkout.id)).tickets;
    const png = await fetchBytes(suite.node.baseUrl, ticket.qr_png_url);
    assert.equal(png.status, 200);
    assert.equal(png.headers['content-type'], 'image/png');
    assert.equal(await decodeQr(png.bytes), ticket.qr_payload);
    const svg = await request(suite.node.baseUrl, ticket.qr_svg_url);
    assert.equal(svg.status, 200);
    assert.match(svg.body, /^<\?xml|^<svg/);
    const missing = await request(suite.node.baseUrl, `/api/v1/checkouts/${checkout.id}/tickets/tkt_nope/qr.png`);
    assert.equal(missing.status, 404);
  });

  it('a decline ends the payment without trying another provider, and the buyer may pay again', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const declined = expectStatus(await pay(suite, checkout.id, { token: 'pm_card_chargeDeclined' }), 201, 'declined');
    assert.equal(declined.status, 'declined');
    assert.equal(declined.decline_code, 'generic_decline');
    assert.deepEqual(declined.attempts.map((attempt) => attempt.provider), ['stripe']);
    const charged = await sandboxPayments(suite, checkout.id);
    assert.ok(charged.every((payment) => payment.account === 'stripe'), 'adyen was never asked');
    const view = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}`), 200, 'checkout');
    assert.equal(view.status, 'held');
    const second = expectStatus(await pay(suite, checkout.id), 201, 'second payment');
    assert.equal(second.status, 'succeeded');
    await ticketsWhen(suite, checkout.id);
    assert.equal(captures(await sandboxPayments(suite, checkout.id)), 1);
  });

  it('a 500 before acceptance fails over to the next provider: exactly one capture', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    await scenario(suite, checkout.id, { accounts: { stripe: { create: 'error_500' } } });
    const payment = expectStatus(await pay(suite, checkout.id), 201, 'pay');
    assert.equal(payment.status, 'succeeded');
    assert.equal(payment.provider, 'adyen');
    assert.deepEqual(payment.attempts.map((attempt) => [attempt.provider, attempt.status]),
      [['stripe', 'failed_before_acceptance'], ['adyen', 'succeeded']]);
    await ticketsWhen(suite, checkout.id);
    const charged = await sandboxPayments(suite, checkout.id);
    assert.equal(captures(charged), 1);
    assert.deepEqual(charged.filter((p) => p.captures > 0).map((p) => p.account), ['adyen']);
  });

  it('a timeout after acceptance is resolved by asking the same provider: no failover, one capture', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    await scenario(suite, checkout.id, { accounts: { stripe: { confirm: 'timeout_after_accept', delay_ms: 4000 } } });
    const answer = await pay(suite, checkout.id);
    assert.ok([201, 202].includes(answer.status), answer.body);
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 1);
    const payment = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}/payment`), 200, 'payment');
    assert.equal(payment.provider, 'stripe');
    assert.ok(payment.attempts.every((attempt) => attempt.provider === 'stripe'), JSON.stringify(payment.attempts));
    const charged = await sandboxPayments(suite, checkout.id);
    assert.equal(captures(charged), 1);
    assert.ok(charged.every((p) => p.account === 'stripe'), 'adyen was never asked');
  });

  it('50 identical concurrent requests with one Idempotency-Key make one payment', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const key = unique('pay');
    const answers = await Promise.all(Array.from({ length: 50 }, () => pay(suite, checkout.id, { key })));
    const ids = new Set();
    for (const answer of answers) {
      assert.ok([200, 201, 202].includes(answer.status), `${answer.status} ${answer.body}`);
      ids.add(answer.json().id);
    }
    assert.equal(ids.size, 1);
    await ticketsWhen(suite, checkout.id);
    assert.equal((await sandboxPayments(suite, checkout.id)).length, 1);
    const other = await pay(suite, checkout.id, { key, holder: 'Someone Else' });
    assertProblem(assert, other, 422, 'idempotency-key-reused');
    assertProblem(assert, await pay(suite, checkout.id, { key: unique('pay') }), 409, 'payment-in-progress');
  });

  it('duplicated and reordered webhooks give one final state', async () => {
    for (const webhook of ['duplicate', 'reorder']) {
      const { checkout } = await heldCheckout(suite, { quantity: 2 });
      await scenario(suite, checkout.id, { default: { webhook } });
      expectStatus(await pay(suite, checkout.id), 201, `pay (${webhook})`);
      await ticketsWhen(suite, checkout.id);
      await sleep(800);  // let late copies arrive
      const order = await dbOrder(suite, checkout.id);
      assert.deepEqual(order, { orderStatus: 'tickets_issued', tickets: 2, succeededPayments: 1, succeededAttempts: 1, holdStatuses: 'sold' });
      assert.equal(captures(await sandboxPayments(suite, checkout.id)), 1);
    }
  });

  it('3-D Secure: the payment waits for the buyer, the webhook hint completes it', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const payment = expectStatus(await pay(suite, checkout.id, { token: 'pm_card_threeDSecure2Required' }), 201, 'pay');
    assert.equal(payment.status, 'requires_action');
    assert.match(payment.next_action.url, /\/sandbox\/3ds\//);
    const url = new URL(payment.next_action.url);
    const done = await request(suite.sandbox.url, `${url.pathname}/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: 'approve' }),
    });
    assert.equal(done.status, 200, done.body);
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 1);
  });

});

describe('late payments', () => {
  // Holds last 2 s here: the 3-D Secure step outlasts them.
  const suite = paymentsSuite('late', ['--inventory.hold_ttl_ms=2000', '--inventory.expiry_warning_ms=500',
    '--payments.action_recheck_ms=300']);

  it('a 3-D Secure step left for twice as long as a hold lasts is cancelled at the provider, nothing charged', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const pending = expectStatus(await pay(suite, checkout.id, { token: 'pm_card_threeDSecure2Required' }), 201, 'pay');
    assert.equal(pending.status, 'requires_action');
    await waitFor('the abandoned payment to be cancelled', async () =>
      expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}/payment`), 200, 'payment').status === 'cancelled',
    { timeoutMs: 15_000 });
    const charged = await sandboxPayments(suite, checkout.id);
    assert.equal(captures(charged), 0);
    assert.deepEqual(charged.map((payment) => payment.status), ['canceled']);
    const view = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}`), 200, 'checkout');
    assert.equal(view.status, 'expired');
  });


  it('a late payment is sold again when seats are left, and refunded when they are not', async () => {
    const made = await publishedEvent(suite.node, suite.organizer.key, [{ capacity: 1, price: 1000 }], eventNow());
    const type = made.types[0];
    const first = expectStatus(await hold(suite.node, made.event.id, items([type, 1])), 201, 'first hold');
    const pending = expectStatus(await pay(suite, first.id, { token: 'pm_card_threeDSecure2Required' }), 201, 'pay');
    await waitFor('the first hold to expire', async () =>
      (await psql(suite.databaseUrl, `SELECT status FROM holds WHERE checkout_id = '${first.id}'`)).trim() === 'expired',
    { timeoutMs: 10_000 });
    // Seats left: completing the payment sells the expired hold again.
    const url = new URL(pending.next_action.url);
    await request(suite.sandbox.url, `${url.pathname}/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: 'approve' }),
    });
    assert.equal((await ticketsWhen(suite, first.id)).tickets.length, 1);

    // No seat left: another buyer took it while this payment waited.
    const made2 = await publishedEvent(suite.node, suite.organizer.key, [{ capacity: 1, price: 1000 }], eventNow());
    const late = expectStatus(await hold(suite.node, made2.event.id, items([made2.types[0], 1])), 201, 'late hold');
    const waiting = expectStatus(await pay(suite, late.id, { token: 'pm_card_threeDSecure2Required' }), 201, 'pay');
    await waitFor('the late hold to expire', async () =>
      (await psql(suite.databaseUrl, `SELECT status FROM holds WHERE checkout_id = '${late.id}'`)).trim() === 'expired',
    { timeoutMs: 10_000 });
    expectStatus(await hold(suite.node, made2.event.id, items([made2.types[0], 1])), 201, 'the seat goes to another buyer');
    const url2 = new URL(waiting.next_action.url);
    await request(suite.sandbox.url, `${url2.pathname}/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: 'approve' }),
    });
    const refunded = await ticketsWhen(suite, late.id, 'refunded');
    assert.equal(refunded.tickets.length, 0);
    const charged = await sandboxPayments(suite, late.id);
    assert.equal(captures(charged), 1);
    assert.equal(charged[0].amount_refunded, charged[0].amount_captured);
    const counters = await psql(suite.databaseUrl, `SELECT held, sold, capacity FROM ticket_types WHERE id = '${made2.types[0].id}'`);
    assert.equal(counters.trim(), '1|0|1', 'no oversell: the other buyer holds the only seat');
  });
});

describe('webhook ingress verifies before anything else', () => {
  const suite = paymentsSuite('webhooks');
  const payload = JSON.stringify({ id: 'evt_e2e_1', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_unknown', object: 'payment_intent', metadata: {} } } });

  function post(body, signature) {
    return call(suite.node, 'POST', '/webhooks/stripe', { body, headers: { 'stripe-signature': signature } });
  }

  it('accepts what Stripe\'s own library signs, under either rotated secret', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const secret of [stripeSecret, stripeOldSecret]) {
      const header = stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp: now });
      const answer = await post(payload, header);
      assert.equal(answer.status, 200, answer.body);
    }
  });

  it('accepts a rotation header with two v1 signatures when one matches', async () => {
    const now = Math.floor(Date.now() / 1000);
    const good = stripe.webhooks.generateTestHeaderString({ payload, secret: stripeSecret, timestamp: now }).split('v1=')[1];
    const answer = await post(payload, `t=${now},v1=${'0'.repeat(64)},v1=${good}`);
    assert.equal(answer.status, 200, answer.body);
  });

  it('refuses tampered bodies, v0-only headers, stale timestamps and unknown secrets with 400', async () => {
    const now = Math.floor(Date.now() / 1000);
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: stripeSecret, timestamp: now });
    assertProblem(assert, await post(payload.replace('evt_e2e_1', 'evt_e2e_2'), header), 400, 'invalid-webhook-signature');
    assertProblem(assert, await post(`${payload} `, header), 400, 'invalid-webhook-signature');
    const v0 = header.replace('v1=', 'v0=');
    assertProblem(assert, await post(payload, v0), 400, 'invalid-webhook-signature');
    const stale = stripe.webhooks.generateTestHeaderString({ payload, secret: stripeSecret, timestamp: now - 301 });
    assertProblem(assert, await post(payload, stale), 400, 'invalid-webhook-signature');
    const within = stripe.webhooks.generateTestHeaderString({ payload, secret: stripeSecret, timestamp: now - 295 });
    assert.equal((await post(payload, within)).status, 200);
    const foreign = stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_someone_else', timestamp: now });
    assertProblem(assert, await post(payload, foreign), 400, 'invalid-webhook-signature');
    assertProblem(assert, await call(suite.node, 'POST', '/webhooks/stripe', { body: payload }), 400, 'invalid-webhook-signature');
    assert.equal((await call(suite.node, 'POST', '/webhooks/paypal', { body: payload })).status, 404);
  });

  it('records an event once, however often it arrives', async () => {
    const now = Math.floor(Date.now() / 1000);
    const body = payload.replace('evt_e2e_1', 'evt_e2e_dup');
    const header = stripe.webhooks.generateTestHeaderString({ payload: body, secret: stripeSecret, timestamp: now });
    for (let i = 0; i < 3; ++i) assert.equal((await post(body, header)).status, 200);
    const count = await psql(suite.databaseUrl, "SELECT count(*) FROM webhook_events WHERE event_id = 'evt_e2e_dup'");
    assert.equal(count.trim(), '1');
  });
});

describe('check-in admits each ticket once', () => {
  const suite = paymentsSuite('checkin');

  async function ticketsFor(quantity) {
    const { event, checkout } = await heldCheckout(suite, { quantity });
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    return { event, tickets: (await ticketsWhen(suite, checkout.id)).tickets };
  }

  function scan(payload, device, nonce = unique('n'), key = suite.organizer.key) {
    return call(suite.node, 'POST', '/api/v1/checkin', { key, body: { payload, device, nonce } });
  }

  it('lets a ticket in once and tells a second gate when and where it entered', async () => {
    const { event, tickets } = await ticketsFor(2);
    const first = expectStatus(await scan(tickets[0].qr_payload, 'gate-1', 'nonce-a'), 200, 'first scan');
    assert.equal(first.result, 'ok');
    const again = expectStatus(await scan(tickets[0].qr_payload, 'gate-2'), 200, 'second scan');
    assert.equal(again.result, 'already_checked_in');
    assert.equal(again.checked_in_by, 'gate-1');
    assert.ok(again.checked_in_at);
    // The same nonce again: the same answer, no second entry.
    const retried = await scan(tickets[0].qr_payload, 'gate-1', 'nonce-a');
    assert.equal(retried.status, 200);
    assert.equal(retried.headers['idempotent-replayed'], 'true');
    assert.equal(retried.json().result, 'ok');
    // The nonce with another code is a scanner fault, not a replay of "ok".
    assertProblem(assert, await scan(tickets[1].qr_payload, 'gate-1', 'nonce-a'), 409, 'nonce-reused');
    assertProblem(assert, await scan('garbage', 'gate-1', 'nonce-a'), 409, 'nonce-reused');
    const counts = expectStatus(
      await call(suite.node, 'GET', `/api/v1/organizer/events/${event.id}/checkins`, { key: suite.organizer.key }), 200, 'counts');
    assert.equal(counts.issued, 2);
    assert.equal(counts.checked_in, 1);
  });

  it('two gates scanning the same ticket at the same moment: one ok, one already_checked_in', async () => {
    const { tickets } = await ticketsFor(1);
    for (let round = 0; round < 1; ++round) {
      const answers = await Promise.all([scan(tickets[0].qr_payload, 'gate-a'), scan(tickets[0].qr_payload, 'gate-b')]);
      const results = answers.map((answer) => expectStatus(answer, 200, 'scan').result).sort();
      assert.deepEqual(results, ['already_checked_in', 'ok']);
    }
    const entries = await psql(suite.databaseUrl, `SELECT count(*) FROM checkins WHERE ticket_id = '${tickets[0].id}'`);
    assert.equal(entries.trim(), '1');
  });

  it('refuses a forged code (one byte flipped) and another organizer\'s scanner', async () => {
    const { tickets } = await ticketsFor(1);
    const payload = tickets[0].qr_payload;
    const at = payload.length - 5;
    const flipped = payload.slice(0, at) + (payload[at] === 'A' ? 'B' : 'A') + payload.slice(at + 1);
    assert.equal(expectStatus(await scan(flipped, 'gate-1'), 200, 'forged').result, 'invalid');
    const claimsAt = 6;
    const forgedClaims = payload.slice(0, claimsAt) + (payload[claimsAt] === 'A' ? 'B' : 'A') + payload.slice(claimsAt + 1);
    assert.equal(expectStatus(await scan(forgedClaims, 'gate-1'), 200, 'forged claims').result, 'invalid');
    const stranger = await signUp(suite.node, 'stranger');
    assert.equal(expectStatus(await scan(payload, 'gate-x', unique('n'), stranger.key), 200, 'stranger').result, 'invalid');
    // Device names and nonces are the organizer's own: another's scanner reusing them gets no replay.
    const reused = await scan(payload, 'gate-1', 'nonce-a', stranger.key);
    assert.equal(reused.headers['idempotent-replayed'], undefined);
    assert.equal(reused.json().result, 'invalid');
    assert.equal(expectStatus(await scan(payload, 'gate-1'), 200, 'genuine').result, 'ok');
  });

  it('answers bad scans and bad payment requests with clear errors, changing nothing', async () => {
    for (const body of ['{', '{"payload":"x"}', '{"payload":"x","device":"d","nonce":"n","extra":1}', '{"payload":"","device":"d","nonce":"n"}'])
      assert.ok([400, 422].includes((await call(suite.node, 'POST', '/api/v1/checkin', { key: suite.organizer.key, body })).status), body);
    assert.equal((await call(suite.node, 'POST', '/api/v1/checkin', { body: { payload: 'x', device: 'd', nonce: 'n' } })).status, 401);

    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const before = await dbOrder(suite, checkout.id);
    for (const body of [
      {}, { method: 'visa', country: 'DE' }, { method: 'visa', country: 'de', holder_name: 'A' },
      { method: 'visa', country: 'DE', holder_name: '' }, { method: 'visa', country: 'DE', holder_name: 'A', extra: true },
    ])
      assert.equal((await pay(suite, checkout.id, { body })).status, 422, JSON.stringify(body));
    assert.equal((await call(suite.node, 'POST', `/api/v1/checkouts/${checkout.id}/payments`, { body: '{' })).status, 400);
    assertProblem(assert, await pay(suite, checkout.id, { method: 'pix' }), 422, 'payment-method-unavailable');
    assertProblem(assert, await pay(suite, checkout.id, { method: 'ideal', country: 'US' }), 422, 'payment-method-unavailable');
    assert.equal((await pay(suite, 'co_nope')).status, 404);
    assert.equal((await pay(suite, 'co_aaaaaaaaaaaaaaaaaaaaaaaaaa')).status, 404);
    assert.deepEqual(await dbOrder(suite, checkout.id), before);
    const view = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}`), 200, 'still held');
    assert.equal(view.status, 'held');
    assertProblem(assert, await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}/payment-methods`), 400, 'invalid-parameter');
  });
});

describe('organizers: refunds, offline payments and routing', () => {
  const suite = paymentsSuite('organizer-payments');

  function refund(checkoutId, body = {}, { key = suite.organizer.key, idempotencyKey = unique('refund') } = {}) {
    const headers = idempotencyKey ? { 'idempotency-key': idempotencyKey } : {};
    return call(suite.node, 'POST', `/api/v1/organizer/orders/${checkoutId}/refunds`, { key, body, headers, timeoutMs: 30_000 });
  }

  it('a partial refund revokes the named line; a full one the rest, and its seats go back on sale', async () => {
    const made = await publishedEvent(suite.node, suite.organizer.key, [{ capacity: 5, price: 2000 }, { capacity: 5, price: 3000 }], eventNow());
    const [front, back] = made.types;
    const checkout = expectStatus(await hold(suite.node, made.event.id, items([front, 2], [back, 1])), 201, 'hold');
    const paid = expectStatus(await pay(suite, checkout.id), 201, 'pay');
    const { tickets } = await ticketsWhen(suite, checkout.id);
    assert.equal(tickets.length, 3);
    const total = paid.amount.minor;

    // Part of the money for the back line, seats kept sold.
    const partial = expectStatus(
      await refund(checkout.id, { amount: { minor: 1000, currency: 'EUR' }, ticket_type_ids: [back.id], reason: 'view blocked' },
        { idempotencyKey: 'refund-1' }), 201, 'partial refund');
    assert.equal(partial.refunds.length, 1);
    assert.equal(partial.refunds[0].status, 'succeeded');
    assert.equal(partial.refunded.minor, 1000);
    const replay = await refund(checkout.id, { amount: { minor: 1000, currency: 'EUR' }, ticket_type_ids: [back.id], reason: 'view blocked' },
      { idempotencyKey: 'refund-1' });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assertProblem(assert, await refund(checkout.id, { amount: { minor: 999, currency: 'EUR' } }, { idempotencyKey: 'refund-1' }),
      422, 'idempotency-key-reused');
    let listed = await ticketsWhen(suite, checkout.id, 'partially_refunded');
    assert.deepEqual(listed.tickets.map((t) => [t.ticket_type_id, t.status]).sort(),
      [[back.id, 'revoked'], [front.id, 'valid'], [front.id, 'valid']].sort());
    const revoked = expectStatus(
      await call(suite.node, 'GET', `/api/v1/organizer/events/${made.event.id}/revoked-tickets`, { key: suite.organizer.key }), 200, 'revoked');
    assert.deepEqual(revoked.revoked.map((entry) => entry.ticket_id), [tickets.find((t) => t.ticket_type_id === back.id).id]);
    // A revoked ticket no longer admits anyone.
    const backTicket = listed.tickets.find((t) => t.ticket_type_id === back.id);
    const scan = expectStatus(await call(suite.node, 'POST', '/api/v1/checkin', {
      key: suite.organizer.key, body: { payload: backTicket.qr_payload, device: 'gate-1', nonce: unique('n') } }), 200, 'scan');
    assert.equal(scan.result, 'revoked');

    // More than is left: refused, nothing changes.
    assertProblem(assert, await refund(checkout.id, { amount: { minor: total, currency: 'EUR' } }), 422, 'refund-exceeds-payment');
    assertProblem(assert, await refund(checkout.id, { amount: { minor: 10, currency: 'USD' } }), 422, 'currency-mismatch');
    // The rest, with the front line's seats back on sale.
    const full = expectStatus(await refund(checkout.id, { ticket_type_ids: [front.id], release_seats: true },
      { idempotencyKey: 'refund-2' }), 201, 'full refund');
    assert.equal(full.refunded.minor, total);
    const repeated = await refund(checkout.id, { ticket_type_ids: [front.id], release_seats: true }, { idempotencyKey: 'refund-2' });
    assert.equal(repeated.status, 200, repeated.body);
    assert.equal(repeated.headers['idempotent-replayed'], 'true');
    listed = await ticketsWhen(suite, checkout.id, 'refunded');
    assert.ok(listed.tickets.every((t) => t.status === 'revoked'));
    await waitFor('front seats back on sale', async () =>
      (await psql(suite.databaseUrl, `SELECT held, sold FROM ticket_types WHERE id = '${front.id}'`)).trim() === '0|0');
    assert.equal((await psql(suite.databaseUrl, `SELECT sold FROM ticket_types WHERE id = '${back.id}'`)).trim(), '1');
    // The release is recorded once the quota has the seats: a crash before it is finished on restart.
    assert.equal((await psql(suite.databaseUrl,
      `SELECT string_agg(release_seats::text || '/' || seats_released::text, ',' ORDER BY r.created_at) FROM refunds r
         JOIN payments p ON p.id = r.payment_id WHERE p.checkout_id = '${checkout.id}'`)).trim(), 'false/false,true/true');
    const charged = await sandboxPayments(suite, checkout.id);
    assert.equal(charged[0].amount_refunded, total);
    assertProblem(assert, await refund(checkout.id, {}), 409, 'not-refundable');
  });

  it('a refund whose answer was lost is asked for again under the same key: the buyer gets it once', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    await ticketsWhen(suite, checkout.id);
    await scenario(suite, checkout.id, { accounts: { stripe: { refund: 'timeout_after_accept', delay_ms: 3000 } } });
    const answer = await refund(checkout.id, {});
    assert.equal(answer.status, 201, answer.body);
    assert.equal(answer.json().refunds[0].status, 'pending');
    await ticketsWhen(suite, checkout.id, 'refunded');
    const [charged] = await sandboxPayments(suite, checkout.id);
    assert.equal(charged.amount_refunded, charged.amount_captured);
    assert.equal(charged.refunds.length, 1);
  });

  // Stripe keeps an idempotency key 24 hours: what a real Stripe does with the same refund POST a
  // day later, the sandbox does once its keys are expired.
  async function expireStripeKeys() {
    const answer = await request(suite.sandbox.url, '/_sandbox/idempotency/expire', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ account: 'stripe' }),
    });
    assert.equal(answer.status, 200, answer.body);
  }

  // Starts a refund whose first POST is made at the sandbox but never answered; once the sandbox
  // holds it, expires the keys and lets the next call through, so the node's next ask comes after
  // the key is gone. Answers the organizer's (pending) answer.
  async function refundWithLostAnswerAndExpiredKey(checkoutId, body) {
    await scenario(suite, checkoutId, { accounts: { stripe: { refund: 'timeout_after_accept', delay_ms: 60_000 } } });
    const answering = refund(checkoutId, body);
    await waitFor('the first refund made at the sandbox', async () => (await sandboxPayments(suite, checkoutId))[0].refunds.length === 1,
      { intervalMs: 20 });
    await expireStripeKeys();
    await scenario(suite, checkoutId, { accounts: { stripe: {} } });
    const answer = await answering;
    assert.equal(answer.status, 201, answer.body);
    assert.equal(answer.json().refunds[0].status, 'pending');
  }

  it('a refund whose answer was lost is not paid twice when it is asked for again after Stripe forgot its key', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    await ticketsWhen(suite, checkout.id);
    await refundWithLostAnswerAndExpiredKey(checkout.id, {});
    await ticketsWhen(suite, checkout.id, 'refunded');
    const [charged] = await sandboxPayments(suite, checkout.id);
    assert.equal(charged.refunds.length, 1);
    assert.equal(charged.amount_refunded, charged.amount_captured);
  });

  it('a partial refund whose answer was lost is paid once even when the same POST would be taken again', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 2, price: 2500 });
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    await ticketsWhen(suite, checkout.id);
    await refundWithLostAnswerAndExpiredKey(checkout.id, { amount: { minor: 1000, currency: 'EUR' } });
    await ticketsWhen(suite, checkout.id, 'partially_refunded');
    // Time for the node's later asks: none of them may pay again.
    await sleep(1500);
    const [charged] = await sandboxPayments(suite, checkout.id);
    assert.deepEqual(charged.refunds.map((made) => [made.amount, made.status]), [[1000, 'succeeded']]);
    assert.equal(charged.amount_refunded, 1000);
    const row = await psql(suite.databaseUrl, `SELECT string_agg(r.status || '/' || r.provider_reference, ',') FROM refunds r
      JOIN payments p ON p.id = r.payment_id WHERE p.checkout_id = '${checkout.id}'`);
    assert.equal(row.trim(), `succeeded/${charged.refunds[0].id}`);
  });

  it('a refund is not sent while Stripe\'s list of the payment\'s refunds cannot be read', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    await ticketsWhen(suite, checkout.id);
    await scenario(suite, checkout.id, { accounts: { stripe: { list: 'error_500' } } });
    const answer = await refund(checkout.id, {});
    assert.equal(answer.status, 201, answer.body);
    assert.equal(answer.json().refunds[0].status, 'pending');
    // Several asks later (retry_max_ms), still nothing refunded: a POST that was not checked first could pay twice.
    await sleep(1200);
    assert.deepEqual((await sandboxPayments(suite, checkout.id))[0].refunds, []);
    await ticketsWhen(suite, checkout.id, 'refund_pending', 2_000);
    await scenario(suite, checkout.id, { accounts: { stripe: {} } });
    await ticketsWhen(suite, checkout.id, 'refunded');
    const [charged] = await sandboxPayments(suite, checkout.id);
    assert.equal(charged.refunds.length, 1);
    assert.equal(charged.amount_refunded, charged.amount_captured);
  });

  it('refunds only what the caller\'s workspace sold, and refuses bad input', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    expectStatus(await pay(suite, checkout.id), 201, 'pay');
    await ticketsWhen(suite, checkout.id);
    const stranger = await signUp(suite.node, 'stranger');
    assert.equal((await refund(checkout.id, {}, { key: stranger.key })).status, 404);
    assert.equal((await refund(checkout.id, {}, { key: null })).status, 401);
    assertProblem(assert, await refund(checkout.id, {}, { idempotencyKey: null }), 400, 'invalid-idempotency-key');
    for (const body of [{ amount: { minor: 0, currency: 'EUR' } }, { amount: { minor: 5 } }, { ticket_type_ids: ['nope'] },
      { release_seats: 'yes' }, { extra: 1 }])
      assert.ok([400, 422].includes((await refund(checkout.id, body)).status), JSON.stringify(body));
    assertProblem(assert, await refund(checkout.id, { ticket_type_ids: ['tt_aaaaaaaaaaaaaaaaaaaa'] }), 422, 'unknown-ticket-type');
    assert.equal((await psql(suite.databaseUrl, `SELECT count(*) FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.checkout_id = '${checkout.id}'`)).trim(), '0');
  });

  it('a bank transfer waits for the organizer, then issues tickets', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const methods = expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkout.id}/payment-methods?country=DE`), 200, 'methods');
    assert.ok(methods.methods.some((method) => method.id === 'bank_transfer'));
    const payment = expectStatus(await pay(suite, checkout.id, { method: 'bank_transfer', token: undefined }), 202, 'pay (under way)');
    assert.equal(payment.status, 'processing');
    assert.match(payment.bank_transfer.reference, /^ES-/);
    assert.equal(payment.provider, 'offline');
    const stranger = await signUp(suite.node, 'stranger2');
    assert.equal((await call(suite.node, 'POST', `/api/v1/organizer/orders/${checkout.id}/mark-paid`, { key: stranger.key })).status, 404);
    const paid = expectStatus(
      await call(suite.node, 'POST', `/api/v1/organizer/orders/${checkout.id}/mark-paid`, { key: suite.organizer.key }), 200, 'mark paid');
    assert.equal(paid.status, 'succeeded');
    assert.equal((await ticketsWhen(suite, checkout.id)).tickets.length, 1);
    const again = await call(suite.node, 'POST', `/api/v1/organizer/orders/${checkout.id}/mark-paid`, { key: suite.organizer.key });
    assert.equal(again.status, 200);
    assert.equal((await dbOrder(suite, checkout.id)).tickets, 1);
    // Paid back by the organizer outside the platform: recorded at once, the ticket revoked.
    const refunded = expectStatus(await refund(checkout.id, {}), 201, 'bank transfer refund');
    assert.equal(refunded.refunds[0].status, 'succeeded');
    assert.ok((await ticketsWhen(suite, checkout.id, 'refunded')).tickets.every((t) => t.status === 'revoked'));
    // A card payment cannot be marked paid by hand.
    const card = await heldCheckout(suite, { quantity: 1 });
    expectStatus(await pay(suite, card.checkout.id), 201, 'card pay');
    assertProblem(assert, await call(suite.node, 'POST', `/api/v1/organizer/orders/${card.checkout.id}/mark-paid`, { key: suite.organizer.key }),
      409, 'invalid-transition');
  });

  it('routes a workspace\'s payments through its own provider order', async () => {
    const put = (body) => call(suite.node, 'PUT', '/api/v1/organizer/payment-routes', { key: suite.organizer.key, body });
    for (const body of [
      { routes: [{ method: 'visa', currency: 'EUR', country: '*', providers: ['paypal'] }] },
      { routes: [{ method: 'nope', currency: 'EUR', country: '*', providers: ['stripe'] }] },
      { routes: [{ method: 'visa', currency: 'eur', country: '*', providers: ['stripe'] }] },
      { routes: [{ method: 'visa', currency: 'EUR', country: '*', providers: [] }] },
      { routes: [{ method: 'bank_transfer', currency: '*', country: '*', providers: ['stripe'] }] },
      { routes: [{ method: 'visa', currency: 'EUR', country: '*', providers: ['stripe', 'stripe'] }] },
    ])
      assert.equal((await put(body)).status, 422, JSON.stringify(body));
    assert.deepEqual(expectStatus(await call(suite.node, 'GET', '/api/v1/organizer/payment-routes', { key: suite.organizer.key }), 200, 'get').routes, []);
    const set = expectStatus(await put({ routes: [{ method: 'visa', currency: 'EUR', country: '*', providers: ['adyen', 'stripe'] }] }), 200, 'put');
    assert.equal(set.routes.length, 1);
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const payment = expectStatus(await pay(suite, checkout.id), 201, 'pay');
    assert.equal(payment.provider, 'adyen');
    await ticketsWhen(suite, checkout.id);
    const webhooks = await request(suite.sandbox.url, `/_sandbox/webhooks?reference=${checkout.id}`);
    assert.equal(webhooks.status, 200);
    assert.match(webhooks.body, /\[accepted\]|"response_status":200/, 'the node acknowledged the Adyen notification');
    // Adyen has no read endpoint: a 3-D Secure payment through it is settled by its signed
    // AUTHORISATION notification once the buyer finished the step.
    const secure = await heldCheckout(suite, { quantity: 1 });
    const waiting = expectStatus(await pay(suite, secure.checkout.id, { token: 'pm_card_threeDSecure2Required' }), 201, 'adyen 3ds');
    assert.equal(waiting.provider, 'adyen');
    assert.equal(waiting.status, 'requires_action');
    const url = new URL(waiting.next_action.url);
    const done = await request(suite.sandbox.url, `${url.pathname}/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: 'approve' }),
    });
    assert.equal(done.status, 200, done.body);
    assert.equal((await ticketsWhen(suite, secure.checkout.id)).tickets.length, 1);
    assert.equal(captures(await sandboxPayments(suite, secure.checkout.id)), 1);
    // Adyen answers a refund "received"; its signed REFUND notification, naming our refund, settles it.
    const pending = expectStatus(await refund(secure.checkout.id, {}), 201, 'adyen refund');
    assert.equal(pending.refunds[0].status, 'pending');
    await ticketsWhen(suite, secure.checkout.id, 'refunded');
    const [refunded] = await sandboxPayments(suite, secure.checkout.id);
    assert.equal(refunded.amount_refunded, refunded.amount_captured);
    expectStatus(await put({ routes: [] }), 200, 'clear');
  });
});
