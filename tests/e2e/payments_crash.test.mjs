// kill -9 of the node between a capture at the provider and the tickets: after a restart the
// order is finished from PostgreSQL, tickets are issued exactly once, nothing is charged twice.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { psql, request, startNode, waitFor } from './harness.mjs';
import { call, expectStatus } from './inventory_support.mjs';
import { captures, heldCheckout, pay, paymentNodeArgs, paymentsSuite, sandboxPayments, scenario, ticketsWhen } from './payments_support.mjs';

async function orderRow(suite, checkoutId) {
  const row = await psql(
    suite.databaseUrl,
    `SELECT coalesce(order_status, ''), (SELECT count(*) FROM tickets WHERE checkout_id = c.id),
            (SELECT count(*) FROM payment_attempts WHERE checkout_id = c.id AND status = 'succeeded'),
            (SELECT string_agg(DISTINCT status, ',') FROM holds WHERE checkout_id = c.id)
       FROM checkouts c WHERE id = '${checkoutId}'`,
  );
  const [status, tickets, captured, holds] = row.trim().split('|');
  return { status, tickets: Number(tickets), captured: Number(captured), holds };
}

describe('a node killed between capture and tickets finishes the order after a restart', () => {
  // A short recheck: a payment waiting for 3-D Secure asks again every second without a webhook.
  // Retries wait at most a second, so an attempt that keeps failing is started again quickly.
  const nodeArgs = ['--testing.fault_injection=true', '--payments.action_recheck_ms=1000', '--payments.retry_max_ms=1000'];
  const suite = paymentsSuite('payments-crash', nodeArgs);

  async function restart() {
    await suite.node.stop('SIGKILL');
    suite.node = await startNode({
      databaseUrl: suite.databaseUrl,
      args: [...paymentNodeArgs(suite.sandbox, suite.port), ...nodeArgs],
    });
  }

  it('paid and committed, killed before the tickets: issued once after the restart', async () => {
    const { checkout, type } = await heldCheckout(suite, { quantity: 3 });
    expectStatus(await call(suite.node, 'POST', '/api/v1/debug/payments/fulfilment', { body: { paused: true } }), 200, 'pause');
    const payment = expectStatus(await pay(suite, checkout.id), 201, 'pay');
    assert.equal(payment.status, 'succeeded');
    assert.deepEqual(await orderRow(suite, checkout.id), { status: 'paid', tickets: 0, captured: 1, holds: 'held' });
    await restart();
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 3);
    assert.deepEqual(await orderRow(suite, checkout.id), { status: 'tickets_issued', tickets: 3, captured: 1, holds: 'sold' });
    assert.equal((await psql(suite.databaseUrl, `SELECT held, sold FROM ticket_types WHERE id = '${type.id}'`)).trim(), '0|3');
    assert.equal(captures(await sandboxPayments(suite, checkout.id)), 1);
  });

  it('captured by the provider while the node waited for its answer: found by asking, no second charge', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 2 });
    await scenario(suite, checkout.id, { accounts: { stripe: { confirm: 'timeout_after_accept', delay_ms: 60_000 } } });
    const paying = pay(suite, checkout.id).catch(() => null);  // the node dies under this request
    await waitFor('the sandbox to capture', async () => captures(await sandboxPayments(suite, checkout.id)) === 1,
      { timeoutMs: 10_000 });
    await restart();
    await paying;
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 2);
    const charged = await sandboxPayments(suite, checkout.id);
    assert.equal(charged.length, 1, 'no second PaymentIntent, no other provider');
    assert.equal(captures(charged), 1);
    assert.deepEqual(await orderRow(suite, checkout.id), { status: 'tickets_issued', tickets: 2, captured: 1, holds: 'sold' });
  });

  const routes = (list) => call(suite.node, 'PUT', '/api/v1/organizer/payment-routes', { key: suite.organizer.key, body: { routes: list } });

  // An Adyen 3-D Secure payment whose AUTHORISATION notification the node recorded and answered
  // [accepted] (Adyen never sends it again) without telling the payment entity.
  async function verdictRecordedNotApplied() {
    expectStatus(await routes([{ method: 'visa', currency: 'EUR', country: '*', providers: ['adyen'] }]), 200, 'route to adyen');
    const { checkout } = await heldCheckout(suite, { quantity: 2 });
    const waiting = expectStatus(await pay(suite, checkout.id, { token: 'pm_card_threeDSecure2Required' }), 201, 'adyen 3ds');
    assert.equal(waiting.provider, 'adyen');
    assert.equal(waiting.status, 'requires_action');
    expectStatus(await call(suite.node, 'POST', '/api/v1/debug/payments/webhook-hints', { body: { dropped: true } }), 200, 'drop hints');
    const done = await request(suite.sandbox.url, `${new URL(waiting.next_action.url).pathname}/complete`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ result: 'approve' }),
    });
    assert.equal(done.status, 200, done.body);
    const recorded = `SELECT count(*) FROM webhook_events WHERE checkout_id = '${checkout.id}' AND type = 'AUTHORISATION' AND success`;
    await waitFor('the AUTHORISATION notification to be recorded', async () => (await psql(suite.databaseUrl, recorded)).trim() === '1',
      { timeoutMs: 10_000 });
    const webhooks = await request(suite.sandbox.url, `/_sandbox/webhooks?reference=${checkout.id}`);
    assert.match(webhooks.body, /\[accepted\]|"response_status":200/, 'the node acknowledged it, so Adyen will not send it again');
    return checkout;
  }

  async function issuedOnceFromTheVerdict(checkout) {
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 2);
    assert.equal(captures(await sandboxPayments(suite, checkout.id)), 1);
    assert.deepEqual(await orderRow(suite, checkout.id), { status: 'tickets_issued', tickets: 2, captured: 1, holds: 'sold' });
    expectStatus(await routes([]), 200, 'clear routes');
  }

  it('an Adyen verdict acknowledged just before the node died settles the payment after the restart', async () => {
    const checkout = await verdictRecordedNotApplied();
    const status = `SELECT status FROM payments WHERE checkout_id = '${checkout.id}'`;
    assert.equal((await psql(suite.databaseUrl, status)).trim(), 'requires_action', 'the verdict was not applied before the crash');
    await restart();
    await issuedOnceFromTheVerdict(checkout);
  });

  it('an Adyen verdict whose hint was lost settles the payment at its next recheck, without a restart', async () => {
    const checkout = await verdictRecordedNotApplied();
    expectStatus(await call(suite.node, 'POST', '/api/v1/debug/payments/webhook-hints', { body: { dropped: false } }), 200, 'deliver hints');
    await issuedOnceFromTheVerdict(checkout);
  });

  it('an Adyen REFUND verdict whose hint was lost settles the refund when the entity asks again', async () => {
    expectStatus(await routes([{ method: 'visa', currency: 'EUR', country: '*', providers: ['adyen'] }]), 200, 'route to adyen');
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    assert.equal(expectStatus(await pay(suite, checkout.id), 201, 'pay').provider, 'adyen');
    await ticketsWhen(suite, checkout.id);
    expectStatus(await call(suite.node, 'POST', '/api/v1/debug/payments/webhook-hints', { body: { dropped: true } }), 200, 'drop hints');
    const pending = expectStatus(await call(suite.node, 'POST', `/api/v1/organizer/orders/${checkout.id}/refunds`, {
      key: suite.organizer.key, body: {}, headers: { 'idempotency-key': `refund-${checkout.id}` }, timeoutMs: 30_000,
    }), 201, 'adyen refund');
    assert.equal(pending.refunds[0].status, 'pending');
    const recorded = `SELECT count(*) FROM webhook_events WHERE checkout_id = '${checkout.id}' AND type = 'REFUND' AND success`;
    await waitFor('the REFUND notification to be recorded', async () => (await psql(suite.databaseUrl, recorded)).trim() === '1',
      { timeoutMs: 10_000 });
    expectStatus(await call(suite.node, 'POST', '/api/v1/debug/payments/webhook-hints', { body: { dropped: false } }), 200, 'deliver hints');
    await ticketsWhen(suite, checkout.id, 'refunded');
    const [refunded] = await sandboxPayments(suite, checkout.id);
    assert.equal(refunded.amount_refunded, refunded.amount_captured);
    expectStatus(await routes([]), 200, 'clear routes');
  });

  // One actor per payment attempt, under a supervisor: an attempt that fails after its provider
  // answered is restarted from its last committed step (`created`) and asks the provider, with the
  // same key, what became of the payment; a supervisor that gives up is started again later by
  // the payment entity. The switch makes every attempt fail after each provider answer.
  const failAttempts = async (armed) =>
    expectStatus(await call(suite.node, 'POST', '/api/v1/debug/payments/attempt-failure', { body: { armed } }), 200, 'attempt failure');
  const logged = (message, checkoutId) => suite.node.logRecords()
    .filter((record) => record.message === message && record['checkout.id'] === checkoutId).length;
  const restartsOf = (checkoutId) => logged('payment attempt restarted by its supervisor', checkoutId);
  const paymentOf = async (checkoutId) => expectStatus(await call(suite.node, 'GET', `/api/v1/checkouts/${checkoutId}/payment`), 200, 'payment');

  // Pays with attempts failing until `until` holds, then lets them work again.
  async function payThroughFailures(checkoutId, until, options = {}) {
    await failAttempts(true);
    let paying;
    try {
      paying = pay(suite, checkoutId, options).catch(() => null);
      await waitFor('the attempt to fail and be restarted', until, { timeoutMs: 15_000 });
    } finally {
      await failAttempts(false);
    }
    await paying;
  }

  async function chargedOnce(checkoutId) {
    const charged = await sandboxPayments(suite, checkoutId);
    assert.equal(charged.length, 1, 'one PaymentIntent, no other provider');
    assert.equal(charged[0].confirmations, 1, 'one confirm reached the card');
    const payment = await paymentOf(checkoutId);
    assert.deepEqual(payment.attempts.map((a) => a.attempt), [1], 'the same attempt throughout, no second one');
    return { charged, payment };
  }

  it('an attempt that fails after a capture is restarted and finds the capture: one charge, tickets once', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 2 });
    await payThroughFailures(checkout.id, () => restartsOf(checkout.id) >= 1);
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 2);
    const { charged, payment } = await chargedOnce(checkout.id);
    assert.equal(payment.status, 'succeeded');
    assert.equal(captures(charged), 1);
    assert.deepEqual(await orderRow(suite, checkout.id), { status: 'tickets_issued', tickets: 2, captured: 1, holds: 'sold' });
  });

  it('an attempt that fails after a decline is restarted and reads the decline: no other provider, no second try', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    await payThroughFailures(checkout.id, () => restartsOf(checkout.id) >= 1, { token: 'pm_card_chargeDeclined' });
    await waitFor('the decline', async () => (await paymentOf(checkout.id)).status === 'declined');
    const { charged, payment } = await chargedOnce(checkout.id);
    assert.equal(payment.decline_code, 'generic_decline');
    assert.equal(captures(charged), 0);
  });

  it('a supervisor that gives up is started again by the payment entity, more often than attempts_max', async () => {
    const { checkout } = await heldCheckout(suite, { quantity: 1 });
    const gaveUp = () => logged("payment attempt's supervisor gave up", checkout.id);
    // attempts_max is 4: the money may have been taken, so the entity never stops asking.
    await payThroughFailures(checkout.id, () => gaveUp() >= 6);
    const body = await ticketsWhen(suite, checkout.id);
    assert.equal(body.tickets.length, 1);
    const { charged } = await chargedOnce(checkout.id);
    assert.equal(captures(charged), 1);
    assert.ok(restartsOf(checkout.id) >= 6 * 3, 'each supervisor restarted its attempt 3 times before giving up');
  });

  it('the attempt-failure switch refuses a body without `armed`', async () => {
    assert.equal((await call(suite.node, 'POST', '/api/v1/debug/payments/attempt-failure', { body: { armed: 1 } })).status, 422);
    assert.equal((await call(suite.node, 'POST', '/api/v1/debug/payments/attempt-failure', { body: {} })).status, 422);
  });

  it('the fault-injection switch refuses a body without `dropped`', async () => {
    const refused = await call(suite.node, 'POST', '/api/v1/debug/payments/webhook-hints', { body: { dropped: 'yes' } });
    assert.equal(refused.status, 422);
    const missing = await call(suite.node, 'POST', '/api/v1/debug/payments/webhook-hints', { body: {} });
    assert.equal(missing.status, 422);
  });
});
