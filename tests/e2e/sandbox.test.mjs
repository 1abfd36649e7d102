// The sandbox payment provider (sandbox/) that our node talks to as if it were Stripe and Adyen:
// real object and error shapes, idempotency as the providers keep it, 3-D Secure, injected faults
// that never charge twice, and webhooks signed so that Stripe's own Node library and Adyen's
// known answer accept them — delivered late, twice, out of order or never on request, and
// retried until the receiver accepts them. Runs in-process: no node, no database.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';

import Stripe from 'stripe';

import { repoRoot, sleep, waitFor } from './harness.mjs';
import { encode_form } from '../../sandbox/form_encoding.mjs';
import {
  adyen_hmac_signature,
  adyen_signing_string,
  startSandbox,
  stripe_signature_header,
  stripe_signature_matches,
} from '../../sandbox/sandbox.mjs';

const stripeKey = 'sk_test_sandbox_primary_0001';
const stripeOtherKey = 'sk_test_sandbox_other_0002';
const stripeSecret = 'whsec_sandbox_test_secret_1';
const stripeOtherSecret = 'whsec_sandbox_test_secret_2';
const adyenKey = 'AQE_sandbox_adyen_key';
const adyenHmacKey = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';
const merchantAccount = 'EventStripeTest';

let sequence = 0;
const unique = (prefix) => `${prefix}_${process.pid}_${(sequence += 1)}`;

// --- HTTP helpers ----------------------------------------------------------------------------------

function call(base, method, target, { body, headers = {}, timeoutMs = 10_000, ca } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(target, base);
    const client = url.protocol === 'https:' ? https : http;
    const outgoing = client.request(url, { method, headers, agent: false, timeout: timeoutMs, ca }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode, headers: response.headers, text, json: () => JSON.parse(text) }),
      );
    });
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${method} ${target} timed out after ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

function stripeApi(sandbox, method, target, params, { key, apiKey = stripeKey, timeoutMs, ca } = {}) {
  const query = method === 'GET' && params ? `?${encode_form(params)}` : '';
  return call(sandbox.url, method, target + query, {
    body: method === 'POST' ? encode_form(params ?? {}) : undefined,
    headers: {
      Authorization: `Bearer ${apiKey}`,
      'Content-Type': 'application/x-www-form-urlencoded',
      ...(key ? { 'Idempotency-Key': key } : {}),
    },
    timeoutMs,
    ca,
  });
}

function adyenApi(sandbox, target, body, { key, apiKey = adyenKey } = {}) {
  return call(sandbox.url, 'POST', target, {
    body: JSON.stringify(body),
    headers: { 'X-API-Key': apiKey, 'Content-Type': 'application/json', ...(key ? { 'Idempotency-Key': key } : {}) },
  });
}

async function control(sandbox, method, target, body) {
  const answer = await call(sandbox.url, method, target, {
    body: body === undefined ? undefined : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' },
  });
  return { status: answer.status, body: answer.json() };
}

async function scenario(sandbox, spec) {
  const answer = await control(sandbox, 'POST', '/_sandbox/scenarios', spec);
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
}

async function paymentsOf(sandbox, reference) {
  return (await control(sandbox, 'GET', `/_sandbox/payments?reference=${encodeURIComponent(reference)}`)).body.payments;
}

async function deliveriesOf(sandbox, reference) {
  return (await control(sandbox, 'GET', `/_sandbox/webhooks?reference=${encodeURIComponent(reference)}`)).body.deliveries;
}

function expectStatus(answer, status, what) {
  assert.equal(answer.status, status, `${what}: expected ${status}, got ${answer.status}: ${answer.text}`);
  return answer.json();
}

const cardIntent = (reference, extra = {}) => ({
  amount: 2500,
  currency: 'EUR',
  metadata: { checkout_id: reference, payment_id: `pay_${reference}` },
  description: 'Two tickets',
  ...extra,
});

// --- the webhook receiver --------------------------------------------------------------------------

// Records every webhook; answers by the first matching rule (each rule answers `times` times),
// else 200 "" for Stripe paths and 200 "[accepted]" for Adyen paths.
async function startReceiver() {
  const received = [];
  const rules = [];
  const server = http.createServer((request, response) => {
    let raw = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (raw += chunk));
    request.on('end', () => {
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {
        // recorded raw
      }
      const entry = { path: request.url, headers: request.headers, raw, body, at: Date.now() };
      received.push(entry);
      const rule = rules.find((candidate) => candidate.times > 0 && candidate.match(entry));
      let answer = { status: 200, text: request.url.startsWith('/adyen') ? '[accepted]' : '' };
      if (rule) {
        rule.times -= 1;
        answer = rule.answer;
      }
      response.writeHead(answer.status, { 'Content-Type': 'text/plain' });
      response.end(answer.text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    received,
    answerWith(match, answer, times) {
      rules.push({ match, answer, times });
    },
    stripeEvents: (intentId) =>
      received.filter((entry) => entry.path.startsWith('/stripe') && entry.body?.object === 'event')
        .filter((entry) => entry.body.data.object.id === intentId || entry.body.data.object.payment_intent === intentId),
    adyenItems: (pspReference) =>
      received.filter((entry) => entry.path.startsWith('/adyen'))
        .map((entry) => ({ ...entry, item: entry.body.notificationItems[0].NotificationRequestItem }))
        .filter(({ item }) => item.pspReference === pspReference || item.originalReference === pspReference),
    close: () => new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    }),
  };
}

function sandboxConfig(receiver, extra = {}) {
  return {
    port: 0,
    accounts: [
      { name: 'stripe', format: 'stripe', api_key: stripeKey, webhook_secret: stripeSecret, webhook_url: `${receiver.url}/stripe` },
      { name: 'stripe_eu', format: 'stripe', api_key: stripeOtherKey, webhook_secret: stripeOtherSecret, webhook_url: `${receiver.url}/stripe_eu` },
      { name: 'adyen', format: 'adyen', api_key: adyenKey, hmac_key: adyenHmacKey, merchant_account: merchantAccount, webhook_url: `${receiver.url}/adyen` },
    ],
    webhooks: { attempts_max: 4, initial_delay_ms: 50, max_delay_ms: 200, request_timeout_ms: 2_000, reorder_window_ms: 3_000 },
    faults: { timeout_after_accept_delay_ms: 5_000 },
    ...extra,
  };
}

describe('sandbox payment provider', () => {
  let receiver;
  let sandbox;
  const stripeSdk = () => new Stripe('sk_test_unused_for_signatures');

  before(async () => {
    receiver = await startReceiver();
    sandbox = await startSandbox(sandboxConfig(receiver));
  });

  after(async () => {
    await sandbox?.close();
    await receiver?.close();
  });

  describe('Stripe PaymentIntents and Refunds', () => {
    test('create, confirm, retrieve and cancel answer in Stripe shapes', async () => {
      const reference = unique('co');
      const created = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference)), 200, 'create');
      assert.equal(created.object, 'payment_intent');
      assert.match(created.id, /^pi_/);
      assert.ok(created.client_secret.startsWith(`${created.id}_secret_`));
      assert.equal(created.amount, 2500);
      assert.equal(created.currency, 'eur');
      assert.equal(created.status, 'requires_payment_method');
      assert.deepEqual(created.metadata, { checkout_id: reference, payment_id: `pay_${reference}` });
      assert.equal(created.latest_charge, null);
      assert.equal(created.last_payment_error, null);
      assert.equal(created.next_action, null);
      assert.equal(created.livemode, false);

      const confirmed = expectStatus(
        await stripeApi(sandbox, 'POST', `/v1/payment_intents/${created.id}/confirm`, { payment_method: 'pm_card_visa' }),
        200,
        'confirm',
      );
      assert.equal(confirmed.status, 'succeeded');
      assert.equal(confirmed.amount_received, 2500);
      assert.match(confirmed.latest_charge, /^ch_/);
      assert.match(confirmed.payment_method, /^pm_/);

      const read = expectStatus(await stripeApi(sandbox, 'GET', `/v1/payment_intents/${created.id}`), 200, 'retrieve');
      assert.deepEqual(read, confirmed);
      const expanded = expectStatus(
        await stripeApi(sandbox, 'GET', `/v1/payment_intents/${created.id}`, { expand: ['latest_charge'] }),
        200,
        'retrieve with expand',
      );
      assert.equal(expanded.latest_charge.object, 'charge');
      assert.equal(expanded.latest_charge.status, 'succeeded');
      assert.equal(expanded.latest_charge.payment_intent, created.id);

      const other = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(unique('co'), { payment_method: 'pm_card_visa' })), 200, 'create 2');
      assert.equal(other.status, 'requires_confirmation');
      const canceled = expectStatus(
        await stripeApi(sandbox, 'POST', `/v1/payment_intents/${other.id}/cancel`, { cancellation_reason: 'abandoned' }),
        200,
        'cancel',
      );
      assert.equal(canceled.status, 'canceled');
      assert.equal(canceled.cancellation_reason, 'abandoned');
      assert.equal(typeof canceled.canceled_at, 'number');

      const late = await stripeApi(sandbox, 'POST', `/v1/payment_intents/${created.id}/cancel`, {});
      const error = expectStatus(late, 400, 'cancel a succeeded intent').error;
      assert.equal(error.type, 'invalid_request_error');
      assert.equal(error.code, 'payment_intent_unexpected_state');
      assert.equal(error.payment_intent.status, 'succeeded');

      const [payment] = await paymentsOf(sandbox, reference);
      assert.deepEqual(
        [payment.status, payment.amount_captured, payment.captures, payment.payment_id],
        ['succeeded', 2500, 1, `pay_${reference}`],
      );
      await waitFor('created and succeeded events', () => receiver.stripeEvents(created.id).length >= 2);
      assert.deepEqual(receiver.stripeEvents(created.id).map((entry) => entry.body.type), ['payment_intent.created', 'payment_intent.succeeded']);
      await waitFor('canceled event', () => receiver.stripeEvents(other.id).some((entry) => entry.body.type === 'payment_intent.canceled'));
    });

    test('bad keys, bad parameters and unknown objects get Stripe errors and store nothing', async () => {
      const noKey = await call(sandbox.url, 'POST', '/v1/payment_intents', { body: 'amount=100&currency=eur' });
      assert.equal(noKey.status, 401);
      assert.match(noKey.json().error.message, /You did not provide an API key/);
      const wrongKey = await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(unique('co')), { apiKey: 'sk_test_wrong_key_9999' });
      assert.equal(wrongKey.status, 401);
      assert.equal(wrongKey.json().error.type, 'invalid_request_error');
      assert.match(wrongKey.json().error.message, /^Invalid API Key provided: sk_test_\**9999$/);
      // Basic auth with the key as user name is Stripe's other scheme.
      const basic = await call(sandbox.url, 'GET', '/v1/payment_intents/pi_missing', {
        headers: { Authorization: `Basic ${Buffer.from(`${stripeKey}:`).toString('base64')}` },
      });
      const missing = expectStatus(basic, 404, 'unknown intent').error;
      assert.deepEqual([missing.type, missing.code], ['invalid_request_error', 'resource_missing']);
      assert.match(missing.message, /No such payment_intent: 'pi_missing'/);

      const reference = unique('co');
      const cases = [
        [{ currency: 'eur', metadata: { checkout_id: reference } }, 'parameter_missing', 'amount'],
        [{ amount: 'ten', currency: 'eur', metadata: { checkout_id: reference } }, 'parameter_invalid_integer', 'amount'],
        [{ amount: 100, currency: 'eur', colour: 'red', metadata: { checkout_id: reference } }, 'parameter_unknown', 'colour'],
        [{ amount: 100, currency: 'eur', payment_method: 'pm_nonsense', confirm: true, metadata: { checkout_id: reference } }, 'resource_missing', 'payment_method'],
      ];
      for (const [params, code, param] of cases) {
        const error = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', params), 400, code).error;
        assert.deepEqual([error.type, error.code, error.param], ['invalid_request_error', code, param]);
      }
      assert.deepEqual(await paymentsOf(sandbox, reference), []);
      const unknownRoute = await stripeApi(sandbox, 'GET', '/v1/customers');
      assert.match(expectStatus(unknownRoute, 404, 'unknown route').error.message, /Unrecognized request URL \(GET: \/v1\/customers\)/);
    });

    test('the official Stripe library works against the sandbox, errors included', async () => {
      const port = new URL(sandbox.url).port;
      const client = new Stripe(stripeKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
      const reference = unique('co');
      const intent = await client.paymentIntents.create({
        amount: 1500, currency: 'usd', payment_method: 'pm_card_mastercard', confirm: true, metadata: { checkout_id: reference },
      });
      assert.equal(intent.status, 'succeeded');
      const refund = await client.refunds.create({ payment_intent: intent.id, amount: 500 });
      assert.equal(refund.object, 'refund');
      await assert.rejects(
        client.paymentIntents.create({ amount: 1500, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }),
        (error) => {
          assert.equal(error.type, 'StripeCardError');
          assert.equal(error.statusCode, 402);
          assert.equal(error.code, 'card_declined');
          assert.equal(error.decline_code, 'generic_decline');
          assert.equal(error.payment_intent.status, 'requires_payment_method');
          return true;
        },
      );
      await assert.rejects(
        client.paymentIntents.create({ amount: 1, currency: 'usd' }, { idempotencyKey: 'sdk-key' }).then(() =>
          client.paymentIntents.create({ amount: 2, currency: 'usd' }, { idempotencyKey: 'sdk-key' })),
        (error) => error.type === 'StripeIdempotencyError',
      );
    });

    test('partial refunds add up to the captured amount and never beyond it', async () => {
      const reference = unique('co');
      const intent = expectStatus(
        await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference, { amount: 1000, payment_method: 'pm_card_visa', confirm: true })),
        200,
        'charge',
      );
      const first = expectStatus(await stripeApi(sandbox, 'POST', '/v1/refunds', { payment_intent: intent.id, amount: 300, metadata: { refund_id: 'r1' } }), 200, 'refund 300');
      assert.deepEqual([first.object, first.amount, first.status, first.payment_intent, first.charge], ['refund', 300, 'succeeded', intent.id, intent.latest_charge]);
      assert.match(first.id, /^re_/);
      assert.deepEqual(first.metadata, { refund_id: 'r1' });

      const tooMuch = expectStatus(await stripeApi(sandbox, 'POST', '/v1/refunds', { payment_intent: intent.id, amount: 701 }), 400, 'over-refund').error;
      assert.equal(tooMuch.type, 'invalid_request_error');
      assert.equal(tooMuch.param, 'amount');
      assert.match(tooMuch.message, /Refund amount \(€7\.01\) is greater than unrefunded amount on charge \(€7\.00\)/);

      const rest = expectStatus(await stripeApi(sandbox, 'POST', '/v1/refunds', { charge: intent.latest_charge }), 200, 'refund the rest');
      assert.equal(rest.amount, 700);
      const again = expectStatus(await stripeApi(sandbox, 'POST', '/v1/refunds', { payment_intent: intent.id, amount: 1 }), 400, 'refund a refunded charge').error;
      assert.equal(again.code, 'charge_already_refunded');
      const read = expectStatus(await stripeApi(sandbox, 'GET', `/v1/refunds/${first.id}`), 200, 'retrieve refund');
      assert.deepEqual(read, first);

      const [payment] = await paymentsOf(sandbox, reference);
      assert.deepEqual([payment.amount_captured, payment.amount_refunded, payment.refunds.length], [1000, 1000, 2]);
      await waitFor('refund events', () => receiver.stripeEvents(intent.id).filter((entry) => entry.body.type === 'charge.refunded').length === 2);
      const refundedCharge = receiver.stripeEvents(intent.id).filter((entry) => entry.body.type === 'charge.refunded').at(-1).body.data.object;
      assert.deepEqual([refundedCharge.object, refundedCharge.amount_refunded, refundedCharge.refunded], ['charge', 1000, true]);
      assert.equal(receiver.stripeEvents(intent.id).filter((entry) => entry.body.type === 'refund.created').length, 2);

      const unpaid = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(unique('co'))), 200, 'unpaid');
      const notRefundable = await stripeApi(sandbox, 'POST', '/v1/refunds', { payment_intent: unpaid.id });
      assert.match(expectStatus(notRefundable, 400, 'refund unpaid').error.message, /does not have a successful charge to refund/);
    });
  });

  describe('Stripe refund lists', () => {
    async function refundedIntent(amount, refunds) {
      const reference = unique('co');
      const intent = expectStatus(
        await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference, { amount, payment_method: 'pm_card_visa', confirm: true })),
        200, 'charge');
      const made = [];
      for (const [index, refundAmount] of refunds.entries()) {
        made.push(expectStatus(await stripeApi(sandbox, 'POST', '/v1/refunds',
          { payment_intent: intent.id, amount: refundAmount, metadata: { refund_id: `${reference}_r${index + 1}` } }), 200, 'refund'));
      }
      return { reference, intent, made };
    }

    const list = (params, options) => stripeApi(sandbox, 'GET', '/v1/refunds', params, options);
    const ids = (page) => page.data.map((refund) => refund.id);

    test('GET /v1/refunds lists one PaymentIntent\'s refunds newest first, a page at a time', async () => {
      const { intent, made: [r1, r2, r3] } = await refundedIntent(1000, [100, 200, 300]);
      const other = await refundedIntent(500, [50]);

      const first = expectStatus(await list({ payment_intent: intent.id, limit: 2 }), 200, 'first page');
      assert.deepEqual([first.object, first.url, first.has_more], ['list', '/v1/refunds', true]);
      assert.deepEqual(ids(first), [r3.id, r2.id]);
      assert.deepEqual(first.data[0], r3, 'the items are refund objects as created');
      const next = expectStatus(await list({ payment_intent: intent.id, limit: 2, starting_after: r2.id }), 200, 'next page');
      assert.deepEqual([ids(next), next.has_more], [[r1.id], false]);
      const previous = expectStatus(await list({ payment_intent: intent.id, limit: 1, ending_before: r1.id }), 200, 'previous page');
      assert.deepEqual([ids(previous), previous.has_more], [[r2.id], true]);
      // The default limit (10) holds them all; by charge, the same refunds; another PaymentIntent's stay apart.
      assert.deepEqual(ids(expectStatus(await list({ payment_intent: intent.id }), 200, 'default limit')), [r3.id, r2.id, r1.id]);
      assert.deepEqual(ids(expectStatus(await list({ charge: intent.latest_charge }), 200, 'by charge')), [r3.id, r2.id, r1.id]);
      assert.deepEqual(ids(expectStatus(await list({ payment_intent: other.intent.id }), 200, 'other')), [other.made[0].id]);
      const unrefunded = await refundedIntent(700, []);
      assert.deepEqual(expectStatus(await list({ payment_intent: unrefunded.intent.id }), 200, 'none').data, []);
      // Another account sees none of them.
      assert.equal(expectStatus(await list({ payment_intent: intent.id }, { apiKey: stripeOtherKey }), 400, 'other account').error.code,
        'resource_missing');

      // Stripe's own library pages through it with starting_after.
      const port = new URL(sandbox.url).port;
      const client = new Stripe(stripeKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0 });
      const all = await client.refunds.list({ payment_intent: intent.id, limit: 1 }).autoPagingToArray({ limit: 10 });
      assert.deepEqual(all.map((refund) => refund.metadata.refund_id), [r3, r2, r1].map((refund) => refund.metadata.refund_id));
    });

    test('GET /v1/refunds refuses bad parameters in Stripe\'s error shape, and takes injected faults', async () => {
      const { reference, intent, made: [r1] } = await refundedIntent(1000, [100]);
      const cases = [
        [{ payment_intent: intent.id, limit: 0 }, undefined, 'limit'],
        [{ payment_intent: intent.id, limit: 101 }, undefined, 'limit'],
        [{ payment_intent: intent.id, limit: 'ten' }, 'parameter_invalid_integer', 'limit'],
        [{ payment_intent: intent.id, colour: 'red' }, 'parameter_unknown', 'colour'],
        [{ payment_intent: intent.id, created: '1' }, undefined, 'created'],
        [{ payment_intent: intent.id, starting_after: 're_3nope' }, 'resource_missing', 'starting_after'],
        [{ payment_intent: 'pi_3nope' }, 'resource_missing', 'payment_intent'],
        [{ charge: 'ch_3nope' }, 'resource_missing', 'charge'],
      ];
      for (const [params, code, param] of cases) {
        const error = expectStatus(await list(params), 400, JSON.stringify(params)).error;
        assert.deepEqual([error.type, error.code, error.param], ['invalid_request_error', code, param], JSON.stringify(params));
        assert.ok(error.message.length > 0);
      }
      const both = expectStatus(await list({ payment_intent: intent.id, starting_after: r1.id, ending_before: r1.id }), 400, 'both cursors').error;
      assert.match(both.message, /only specify one of these parameters: ending_before, starting_after/);

      await scenario(sandbox, { reference, accounts: { stripe: { list: 'error_500' } } });
      assert.equal(expectStatus(await list({ payment_intent: intent.id }), 500, 'injected 500').error.type, 'api_error');
      assert.equal(expectStatus(await stripeApi(sandbox, 'GET', `/v1/refunds/${r1.id}`), 200, 'a single refund still reads').id, r1.id);
      await scenario(sandbox, { reference, accounts: { stripe: { list: 'timeout_after_accept', delay_ms: 2_000 } } });
      await assert.rejects(list({ payment_intent: intent.id }, { timeoutMs: 300 }), /timed out/);
    });
  });

  describe('Stripe idempotency', () => {
    test('the same key and parameters replay the stored answer and charge once', async () => {
      const reference = unique('co');
      const params = cardIntent(reference, { payment_method: 'pm_card_visa', confirm: true });
      const key = unique('es_key');
      const first = await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      const second = await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      assert.equal(first.status, 200);
      assert.equal(first.headers['idempotent-replayed'], undefined);
      assert.equal(second.status, 200);
      assert.equal(second.headers['idempotent-replayed'], 'true');
      assert.equal(second.text, first.text);
      const payments = await paymentsOf(sandbox, reference);
      assert.equal(payments.length, 1);
      assert.equal(payments[0].captures, 1);

      // A stored decline replays too (402 is an outcome, not a validation error).
      const declineKey = unique('es_key');
      const declined = cardIntent(unique('co'), { payment_method: 'pm_card_chargeDeclined', confirm: true });
      const d1 = await stripeApi(sandbox, 'POST', '/v1/payment_intents', declined, { key: declineKey });
      const d2 = await stripeApi(sandbox, 'POST', '/v1/payment_intents', declined, { key: declineKey });
      assert.deepEqual([d1.status, d2.status, d2.headers['idempotent-replayed']], [402, 402, 'true']);
      assert.equal(d2.json().error.payment_intent.id, d1.json().error.payment_intent.id);
    });

    test('a key reused with other parameters or on another endpoint is an idempotency_error', async () => {
      const key = unique('es_key');
      const reference = unique('co');
      expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference), { key }), 200, 'first');
      const changed = await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference, { amount: 2600 }), { key });
      const error = expectStatus(changed, 400, 'changed parameters').error;
      assert.equal(error.type, 'idempotency_error');
      assert.match(error.message, /can only be used with the same parameters/);
      const otherEndpoint = await stripeApi(sandbox, 'POST', '/v1/refunds', { payment_intent: 'pi_x' }, { key });
      assert.equal(expectStatus(otherEndpoint, 400, 'other endpoint').error.type, 'idempotency_error');
      assert.equal((await paymentsOf(sandbox, reference)).length, 1);
    });

    test('keys are scoped per account', async () => {
      const key = unique('es_key');
      const reference = unique('co');
      const a = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference), { key }), 200, 'account 1');
      const b = await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference), { key, apiKey: stripeOtherKey });
      assert.equal(b.headers['idempotent-replayed'], undefined);
      assert.notEqual(expectStatus(b, 200, 'account 2').id, a.id);
      const accounts = (await paymentsOf(sandbox, reference)).map((payment) => payment.account).sort();
      assert.deepEqual(accounts, ['stripe', 'stripe_eu']);
      // Each account sees only its own objects.
      expectStatus(await stripeApi(sandbox, 'GET', `/v1/payment_intents/${a.id}`, undefined, { apiKey: stripeOtherKey }), 404, 'cross-account read');
    });

    test('a request still in flight with the same key gets 409 and nothing runs twice', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, default: { latency_ms: 800 } });
      const key = unique('es_key');
      const params = cardIntent(reference, { payment_method: 'pm_card_visa', confirm: true });
      const slow = stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      await sleep(100);
      const concurrent = await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      const error = expectStatus(concurrent, 409, 'concurrent').error;
      assert.deepEqual([error.type, error.code], ['invalid_request_error', 'idempotency_key_in_use']);
      assert.equal((await slow).status, 200);
      const replay = await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      assert.equal((await paymentsOf(sandbox, reference))[0].captures, 1);
    });
    test('expired keys (POST /_sandbox/idempotency/expire) are forgotten: the same refund request runs again', async () => {
      const reference = unique('co');
      const intent = expectStatus(
        await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference, { amount: 1000, payment_method: 'pm_card_visa', confirm: true })),
        200, 'charge');
      const key = unique('es_refund');
      const params = { payment_intent: intent.id, amount: 400, metadata: { refund_id: 'r1' } };
      const first = expectStatus(await stripeApi(sandbox, 'POST', '/v1/refunds', params, { key }), 200, 'refund');
      const replay = await stripeApi(sandbox, 'POST', '/v1/refunds', params, { key });
      assert.deepEqual([replay.headers['idempotent-replayed'], replay.json().id], ['true', first.id]);

      for (const body of [[], { account: 'nobody' }, { account: 'stripe', colour: 'red' }]) {
        assert.equal((await control(sandbox, 'POST', '/_sandbox/idempotency/expire', body)).status, 400, JSON.stringify(body));
      }
      const other = await control(sandbox, 'POST', '/_sandbox/idempotency/expire', { account: 'adyen' });
      assert.equal(other.status, 200);
      assert.equal((await stripeApi(sandbox, 'POST', '/v1/refunds', params, { key })).headers['idempotent-replayed'], 'true',
        'another account\'s expiry leaves this key');
      const expired = await control(sandbox, 'POST', '/_sandbox/idempotency/expire', { account: 'stripe' });
      assert.equal(expired.status, 200);
      assert.ok(expired.body.expired >= 1);
      // What Stripe does a day later: the same key and parameters make a second refund.
      const again = await stripeApi(sandbox, 'POST', '/v1/refunds', params, { key });
      assert.equal(again.headers['idempotent-replayed'], undefined);
      assert.notEqual(expectStatus(again, 200, 'after expiry').id, first.id);
      const [payment] = await paymentsOf(sandbox, reference);
      assert.deepEqual([payment.refunds.length, payment.amount_refunded], [2, 800]);
    });
  });

  describe('Stripe declines and 3-D Secure', () => {
    test('a declined card answers 402 card_error with the PaymentIntent, and payment_failed is sent', async () => {
      const reference = unique('co');
      const answer = await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference, { payment_method: 'pm_card_visa_chargeDeclined', confirm: true }));
      const error = expectStatus(answer, 402, 'decline').error;
      assert.deepEqual([error.type, error.code, error.decline_code, error.message], ['card_error', 'card_declined', 'generic_decline', 'Your card was declined.']);
      assert.match(error.charge, /^ch_/);
      assert.equal(error.payment_intent.object, 'payment_intent');
      assert.equal(error.payment_intent.status, 'requires_payment_method');
      assert.equal(error.payment_intent.last_payment_error.decline_code, 'generic_decline');
      assert.equal(error.payment_intent.latest_charge, error.charge);

      const poor = await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(unique('co'), { payment_method: 'pm_card_chargeDeclinedInsufficientFunds', confirm: true }));
      assert.deepEqual([poor.status, poor.json().error.decline_code], [402, 'insufficient_funds']);

      // A scenario overrides the token: pm_card_visa declined for this checkout only.
      const steered = unique('co');
      await scenario(sandbox, { reference: steered, default: { outcome: 'decline', decline_code: 'insufficient_funds' } });
      const overridden = await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(steered, { payment_method: 'pm_card_visa', confirm: true }));
      assert.deepEqual([overridden.status, overridden.json().error.decline_code], [402, 'insufficient_funds']);

      const [payment] = await paymentsOf(sandbox, reference);
      assert.deepEqual([payment.captures, payment.amount_captured], [0, 0]);
      await waitFor('payment_failed', () => receiver.stripeEvents(error.payment_intent.id).some((entry) => entry.body.type === 'payment_intent.payment_failed'));
    });

    test('3-D Secure: requires_action, the sandbox page, then succeeded or failed with webhooks', async () => {
      const reference = unique('co');
      const params = cardIntent(reference, { payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/return?x=1' });
      const intent = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', params), 200, 'create 3DS');
      assert.equal(intent.status, 'requires_action');
      assert.equal(intent.next_action.type, 'redirect_to_url');
      assert.equal(intent.next_action.redirect_to_url.return_url, 'https://shop.example/return?x=1');
      const pageUrl = intent.next_action.redirect_to_url.url;
      assert.equal(pageUrl, `${sandbox.url}/sandbox/3ds/${intent.id}`);
      const page = await call(sandbox.url, 'GET', pageUrl);
      assert.equal(page.status, 200);
      assert.match(page.headers['content-type'], /text\/html/);
      assert.match(page.text, /Approve/);
      assert.match(page.text, /Fail/);
      assert.equal((await paymentsOf(sandbox, reference))[0].captures, 0);

      const done = await call(sandbox.url, 'POST', `/sandbox/3ds/${intent.id}/complete`, {
        body: JSON.stringify({ result: 'approve' }),
        headers: { 'Content-Type': 'application/json' },
      });
      assert.equal(expectStatus(done, 200, 'approve').status, 'succeeded');
      const twice = await call(sandbox.url, 'POST', `/sandbox/3ds/${intent.id}/complete`, { body: 'result=approve', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      assert.equal(twice.status, 409);
      const read = expectStatus(await stripeApi(sandbox, 'GET', `/v1/payment_intents/${intent.id}`), 200, 'read');
      assert.deepEqual([read.status, read.next_action, read.amount_received], ['succeeded', null, 2500]);
      await waitFor('3DS events', () => receiver.stripeEvents(intent.id).length >= 3);
      assert.deepEqual(receiver.stripeEvents(intent.id).map((entry) => entry.body.type), [
        'payment_intent.created', 'payment_intent.requires_action', 'payment_intent.succeeded',
      ]);

      // The browser path: a form post that fails sends the buyer back with redirect_status=failed.
      const failing = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', { ...params, metadata: { checkout_id: unique('co') } }), 200, 'create 2');
      const back = await call(sandbox.url, 'POST', `/sandbox/3ds/${failing.id}/complete`, { body: 'result=fail', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      assert.equal(back.status, 303);
      const location = new URL(back.headers.location);
      assert.equal(location.origin + location.pathname, 'https://shop.example/return');
      assert.deepEqual(
        [location.searchParams.get('x'), location.searchParams.get('payment_intent'), location.searchParams.get('redirect_status')],
        ['1', failing.id, 'failed'],
      );
      const failed = expectStatus(await stripeApi(sandbox, 'GET', `/v1/payment_intents/${failing.id}`), 200, 'read failed');
      assert.equal(failed.status, 'requires_payment_method');
      assert.equal(failed.last_payment_error.code, 'payment_intent_authentication_failure');
      await waitFor('failure event', () => receiver.stripeEvents(failing.id).some((entry) => entry.body.type === 'payment_intent.payment_failed'));
    });
  });

  describe('injected faults', () => {
    test('error_500 answers before accepting: nothing stored, nothing charged, the key stays usable', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, accounts: { stripe: { create: 'error_500' } } });
      const key = unique('es_key');
      const params = cardIntent(reference, { payment_method: 'pm_card_visa', confirm: true });
      const before = (await control(sandbox, 'GET', '/_sandbox/stats')).body.accounts.stripe.created;
      const failed = await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      assert.equal(expectStatus(failed, 500, 'injected 500').error.type, 'api_error');
      assert.deepEqual(await paymentsOf(sandbox, reference), []);
      assert.equal((await control(sandbox, 'GET', '/_sandbox/stats')).body.accounts.stripe.created, before);

      // Only the named account misbehaves: another account serves the same checkout.
      expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key, apiKey: stripeOtherKey }), 200, 'other account');

      assert.equal((await control(sandbox, 'DELETE', `/_sandbox/scenarios/${reference}`)).status, 200);
      const retried = await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      assert.equal(retried.status, 200);
      assert.equal(retried.headers['idempotent-replayed'], undefined);
      assert.equal((await paymentsOf(sandbox, reference)).filter((payment) => payment.account === 'stripe')[0].captures, 1);
    });

    test('error_500_once fails the first call only; the retry with the same key charges once', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, default: { confirm: 'error_500_once' } });
      const created = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference)), 200, 'create');
      const key = unique('es_key');
      const confirm = () => stripeApi(sandbox, 'POST', `/v1/payment_intents/${created.id}/confirm`, { payment_method: 'pm_card_visa' }, { key });
      assert.equal((await confirm()).status, 500);
      assert.equal((await paymentsOf(sandbox, reference))[0].status, 'requires_payment_method');
      assert.equal(expectStatus(await confirm(), 200, 'retry').status, 'succeeded');
      assert.equal((await confirm()).headers['idempotent-replayed'], 'true');
      assert.equal((await paymentsOf(sandbox, reference))[0].captures, 1);
    });

    test('refuse_connection drops the socket and stores nothing', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, default: { create: 'refuse_connection' } });
      await assert.rejects(stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference), { key: unique('es_key') }), /socket hang up|ECONNRESET/);
      assert.deepEqual(await paymentsOf(sandbox, reference), []);
    });

    test('timeout_after_accept charges exactly once; the retry with the key finds the stored answer', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, default: { confirm: 'timeout_after_accept', delay_ms: 5_000 } });
      const key = unique('es_key');
      const params = cardIntent(reference, { payment_method: 'pm_card_visa', confirm: true });
      const started = Date.now();
      await assert.rejects(stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key, timeoutMs: 300 }), /timed out/);
      assert.ok(Date.now() - started < 4_000, 'the client gave up; the sandbox did not answer early');
      const [held] = await paymentsOf(sandbox, reference);
      assert.deepEqual([held.status, held.captures, held.amount_captured], ['succeeded', 1, 2500]);

      const retry = await stripeApi(sandbox, 'POST', '/v1/payment_intents', params, { key });
      assert.equal(retry.status, 200);
      assert.equal(retry.headers['idempotent-replayed'], 'true');
      assert.equal(retry.json().id, held.id);
      const payments = await paymentsOf(sandbox, reference);
      assert.equal(payments.length, 1);
      assert.equal(payments[0].captures, 1);
      await waitFor('succeeded webhook despite the timeout', () => receiver.stripeEvents(held.id).some((entry) => entry.body.type === 'payment_intent.succeeded'));

      // A client that waits gets the answer after the delay.
      const patient = unique('co');
      await scenario(sandbox, { reference: patient, default: { create: 'timeout_after_accept', delay_ms: 300 } });
      const waitedFrom = Date.now();
      expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(patient)), 200, 'held answer');
      assert.ok(Date.now() - waitedFrom >= 280);
    });
  });

  describe('Stripe webhooks', () => {
    test('events verify with stripe.webhooks.constructEvent and the sandbox signer agrees with the library', async () => {
      const reference = unique('co');
      const intent = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference, { payment_method: 'pm_card_visa', confirm: true })), 200, 'charge');
      await waitFor('events', () => receiver.stripeEvents(intent.id).length >= 2);
      const sdk = stripeSdk();
      for (const entry of receiver.stripeEvents(intent.id)) {
        assert.match(entry.headers['content-type'], /^application\/json/);
        assert.match(entry.headers['stripe-signature'], /^t=\d+,v1=[0-9a-f]{64}$/);
        const event = sdk.webhooks.constructEvent(entry.raw, entry.headers['stripe-signature'], stripeSecret);
        assert.equal(event.object, 'event');
        assert.match(event.id, /^evt_/);
        assert.equal(event.livemode, false);
        assert.equal(event.api_version, sandbox.config.stripe_api_version);
        assert.equal(event.data.object.id, intent.id);
        assert.throws(() => sdk.webhooks.constructEvent(entry.raw, entry.headers['stripe-signature'], stripeOtherSecret), /signature/i);
        assert.throws(() => sdk.webhooks.constructEvent(`${entry.raw} `, entry.headers['stripe-signature'], stripeSecret), /signature/i);
      }
      const succeeded = receiver.stripeEvents(intent.id).find((entry) => entry.body.type === 'payment_intent.succeeded').body;
      assert.equal(succeeded.data.object.status, 'succeeded');
      assert.equal(succeeded.data.object.metadata.checkout_id, reference);

      const payload = JSON.stringify({ id: 'evt_test', object: 'event' });
      const timestamp = 1_700_000_000;
      const libraryHeader = sdk.webhooks.generateTestHeaderString({ payload, secret: stripeSecret, timestamp });
      assert.equal(stripe_signature_header(payload, stripeSecret, timestamp), libraryHeader);
      assert.ok(stripe_signature_matches(payload, libraryHeader, stripeSecret));
      assert.ok(!stripe_signature_matches(payload, libraryHeader, stripeOtherSecret));
    });

    test('webhooks are retried with backoff until the receiver answers 2xx', async () => {
      const reference = unique('co');
      receiver.answerWith((entry) => entry.body?.data?.object?.metadata?.checkout_id === reference, { status: 500, text: 'down' }, 2);
      const intent = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference)), 200, 'create');
      await waitFor('delivered after retries', async () => (await deliveriesOf(sandbox, reference)).some((entry) => entry.state === 'delivered'));
      const [delivery] = await deliveriesOf(sandbox, reference);
      assert.deepEqual([delivery.type, delivery.attempts, delivery.response_status], ['payment_intent.created', 3, 200]);
      const arrivals = receiver.stripeEvents(intent.id);
      assert.equal(arrivals.length, 3);
      // Lower bounds only (a loaded machine stretches delays, never shortens them): 50 ms, then 100 ms.
      assert.ok(arrivals[1].at - arrivals[0].at >= 45, 'the first retry waits initial_delay_ms');
      assert.ok(arrivals[2].at - arrivals[1].at >= 95, 'the second retry waits twice as long');
      assert.equal(new Set(arrivals.map((entry) => entry.body.id)).size, 1, 'a retry is the same event');
    });

    test('a webhook that is never accepted stops after attempts_max and is logged as failed', async () => {
      const reference = unique('co');
      receiver.answerWith((entry) => entry.body?.data?.object?.metadata?.checkout_id === reference, { status: 503, text: '' }, 100);
      expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference)), 200, 'create');
      await waitFor('failed', async () => (await deliveriesOf(sandbox, reference)).some((entry) => entry.state === 'failed'));
      const [delivery] = await deliveriesOf(sandbox, reference);
      assert.deepEqual([delivery.attempts, delivery.response_status], [4, 503]);
    });

    test('duplicate sends each event twice with the same id', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, default: { webhook: 'duplicate' } });
      const intent = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference, { payment_method: 'pm_card_visa', confirm: true })), 200, 'charge');
      await waitFor('four deliveries', () => receiver.stripeEvents(intent.id).length === 4);
      const ids = receiver.stripeEvents(intent.id).map((entry) => entry.body.id);
      assert.equal(new Set(ids).size, 2);
      const log = await deliveriesOf(sandbox, reference);
      assert.deepEqual(log.map((entry) => entry.copy).sort(), [1, 1, 2, 2]);
    });

    test('reorder delivers a payment\'s events newest first: succeeded before created', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, default: { webhook: 'reorder' } });
      const intent = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference)), 200, 'create');
      await sleep(100);
      assert.equal(receiver.stripeEvents(intent.id).length, 0, 'created is held back');
      expectStatus(await stripeApi(sandbox, 'POST', `/v1/payment_intents/${intent.id}/confirm`, { payment_method: 'pm_card_visa' }), 200, 'confirm');
      await waitFor('both events', () => receiver.stripeEvents(intent.id).length === 2);
      assert.deepEqual(receiver.stripeEvents(intent.id).map((entry) => entry.body.type), ['payment_intent.succeeded', 'payment_intent.created']);
    });

    test('never sends nothing and logs the events as suppressed; delay_ms holds them back', async () => {
      const silent = unique('co');
      await scenario(sandbox, { reference: silent, default: { webhook: 'never' } });
      const quiet = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(silent, { payment_method: 'pm_card_visa', confirm: true })), 200, 'charge');
      const late = unique('co');
      await scenario(sandbox, { reference: late, default: { webhook: { delay_ms: 500 } } });
      const sentAt = Date.now();
      const delayed = expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(late, { payment_method: 'pm_card_visa', confirm: true })), 200, 'charge');
      await waitFor('delayed events', () => receiver.stripeEvents(delayed.id).length === 2);
      assert.ok(receiver.stripeEvents(delayed.id)[0].at - sentAt >= 450, 'delivered after the delay');
      assert.deepEqual(receiver.stripeEvents(delayed.id).map((entry) => entry.body.type), ['payment_intent.created', 'payment_intent.succeeded']);
      assert.equal(receiver.stripeEvents(quiet.id).length, 0);
      const log = await deliveriesOf(sandbox, silent);
      assert.deepEqual(log.map((entry) => [entry.state, entry.attempts]), [['suppressed', 0], ['suppressed', 0]]);
      assert.equal((await paymentsOf(sandbox, silent))[0].captures, 1, 'the payment happened all the same');
    });
  });

  describe('Adyen', () => {
    const payment = (reference, token, extra = {}) => ({
      amount: { value: 4200, currency: 'EUR' },
      reference,
      paymentMethod: { type: 'scheme', storedPaymentMethodId: token },
      merchantAccount,
      returnUrl: 'https://shop.example/adyen-return',
      shopperEmail: 'buyer@example.com',
      countryCode: 'NL',
      ...extra,
    });

    test('the HMAC of a notification matches Adyen\'s known answer', () => {
      const item = {
        pspReference: '7914073381342284', merchantAccountCode: 'TestMerchant', merchantReference: 'TestPayment-1407325143704',
        amount: { value: 1130, currency: 'EUR' }, eventCode: 'AUTHORISATION', success: 'true',
      };
      assert.equal(adyen_signing_string(item), '7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true');
      assert.equal(adyen_hmac_signature(item, adyenHmacKey), 'coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=');
    });

    test('payments: Authorised, Refused and Error, each with a signed AUTHORISATION notification', async () => {
      const reference = unique('co');
      const key = unique('es_key');
      const answer = await adyenApi(sandbox, '/v71/payments', payment(reference, 'pm_card_visa'), { key });
      const body = expectStatus(answer, 200, 'authorise');
      assert.equal(body.resultCode, 'Authorised');
      assert.match(body.pspReference, /^[0-9A-Z]{16}$/);
      assert.deepEqual([body.merchantReference, body.amount], [reference, { value: 4200, currency: 'EUR' }]);
      assert.equal(answer.headers['idempotency-key'], key);
      const replay = await adyenApi(sandbox, '/v71/payments', payment(reference, 'pm_card_visa'), { key });
      assert.equal(replay.text, answer.text);
      assert.equal(replay.headers['idempotent-replayed'], 'true');
      const changed = await adyenApi(sandbox, '/v71/payments', payment(reference, 'pm_card_amex'), { key });
      assert.deepEqual([changed.status, changed.json().errorType], [422, 'validation']);
      assert.equal((await paymentsOf(sandbox, reference)).length, 1);

      const refused = expectStatus(await adyenApi(sandbox, '/v71/payments', payment(unique('co'), 'test_4000000000009995')), 200, 'refuse');
      assert.deepEqual([refused.resultCode, refused.refusalReason, refused.refusalReasonCode], ['Refused', 'Not enough balance', '12']);
      const errored = expectStatus(await adyenApi(sandbox, '/v71/payments', payment(unique('co'), 'pm_card_chargeDeclinedProcessingError')), 200, 'error');
      assert.equal(errored.resultCode, 'Error');

      await waitFor('notifications', () => [body, refused, errored].every((item) => receiver.adyenItems(item.pspReference).length === 1));
      const [authorised] = receiver.adyenItems(body.pspReference);
      assert.equal(authorised.body.live, 'false');
      assert.deepEqual(
        [authorised.item.eventCode, authorised.item.success, authorised.item.merchantAccountCode, authorised.item.merchantReference],
        ['AUTHORISATION', 'true', merchantAccount, reference],
      );
      assert.deepEqual(authorised.item.amount, { value: 4200, currency: 'EUR' });
      assert.match(authorised.item.eventDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$/);
      for (const psp of [body.pspReference, refused.pspReference, errored.pspReference]) {
        const [{ item }] = receiver.adyenItems(psp);
        assert.equal(item.additionalData.hmacSignature, adyen_hmac_signature(item, adyenHmacKey));
      }
      const [refusal] = receiver.adyenItems(refused.pspReference);
      assert.deepEqual([refusal.item.success, refusal.item.reason], ['false', 'Not enough balance']);
      assert.equal((await paymentsOf(sandbox, reference))[0].captures, 1);
    });

    test('bad API key, merchant account and body get Adyen errors', async () => {
      const unauthorised = await adyenApi(sandbox, '/v71/payments', payment(unique('co'), 'pm_card_visa'), { apiKey: 'wrong' });
      assert.deepEqual(expectStatus(unauthorised, 401, 'api key'), { ...unauthorised.json(), status: 401, errorCode: '000', errorType: 'security' });
      const merchant = await adyenApi(sandbox, '/v71/payments', payment(unique('co'), 'pm_card_visa', { merchantAccount: 'Other' }));
      assert.deepEqual([merchant.status, merchant.json().errorCode, merchant.json().errorType], [403, '901', 'security']);
      const noAmount = await adyenApi(sandbox, '/v71/payments', { ...payment(unique('co'), 'pm_card_visa'), amount: undefined });
      assert.deepEqual([noAmount.status, noAmount.json().errorCode, noAmount.json().errorType], [422, '100', 'validation']);
      const noReference = await adyenApi(sandbox, '/v71/payments', { ...payment('', 'pm_card_visa') });
      assert.deepEqual([noReference.status, noReference.json().errorCode], [422, '130']);
    });

    test('redirect (3-D Secure), then /payments/details; refunds and cancels notify asynchronously', async () => {
      const reference = unique('co');
      const started = expectStatus(await adyenApi(sandbox, '/v71/payments', payment(reference, 'pm_card_authenticationRequired')), 200, 'redirect');
      assert.equal(started.resultCode, 'RedirectShopper');
      assert.deepEqual([started.action.type, started.action.method], ['redirect', 'GET']);
      assert.equal(started.action.url, `${sandbox.url}/sandbox/3ds/${started.pspReference}`);
      const back = await call(sandbox.url, 'POST', `/sandbox/3ds/${started.pspReference}/complete`, { body: 'result=approve', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      assert.equal(back.status, 303);
      const redirectResult = new URL(back.headers.location).searchParams.get('redirectResult');
      assert.ok(redirectResult);
      const details = expectStatus(await adyenApi(sandbox, '/v71/payments/details', { details: { redirectResult } }), 200, 'details');
      assert.deepEqual([details.resultCode, details.pspReference, details.merchantReference], ['Authorised', started.pspReference, reference]);

      const refund = await adyenApi(sandbox, `/v71/payments/${started.pspReference}/refunds`, {
        merchantAccount, amount: { value: 1000, currency: 'EUR' }, reference: `refund_${reference}`,
      });
      const received = expectStatus(refund, 201, 'refund');
      assert.deepEqual([received.status, received.paymentPspReference, received.reference], ['received', started.pspReference, `refund_${reference}`]);
      const tooMuch = expectStatus(await adyenApi(sandbox, `/v71/payments/${started.pspReference}/refunds`, {
        merchantAccount, amount: { value: 3201, currency: 'EUR' },
      }), 201, 'over-refund is received, then fails');
      const cancel = expectStatus(await adyenApi(sandbox, `/v71/payments/${started.pspReference}/cancels`, { merchantAccount, reference }), 201, 'cancel');

      await waitFor('modification notifications', () => receiver.adyenItems(started.pspReference).length === 4);
      const byPsp = (psp) => receiver.adyenItems(started.pspReference).find((entry) => entry.item.pspReference === psp).item;
      assert.equal(byPsp(started.pspReference).eventCode, 'AUTHORISATION');
      assert.deepEqual(
        [byPsp(received.pspReference).eventCode, byPsp(received.pspReference).success, byPsp(received.pspReference).originalReference, byPsp(received.pspReference).amount.value],
        ['REFUND', 'true', started.pspReference, 1000],
      );
      assert.deepEqual([byPsp(tooMuch.pspReference).success, byPsp(tooMuch.pspReference).reason], ['false', 'Insufficient balance on payment']);
      assert.deepEqual([byPsp(cancel.pspReference).eventCode, byPsp(cancel.pspReference).success], ['CANCELLATION', 'false']);
      for (const { item } of receiver.adyenItems(started.pspReference)) {
        assert.equal(item.additionalData.hmacSignature, adyen_hmac_signature(item, adyenHmacKey));
      }
      const [summary] = await paymentsOf(sandbox, reference);
      assert.deepEqual([summary.captures, summary.amount_captured, summary.amount_refunded], [1, 4200, 1000]);

      // A redirect still pending can be cancelled.
      const pending = expectStatus(await adyenApi(sandbox, '/v71/payments', payment(unique('co'), 'pm_card_threeDSecure2Required')), 200, 'pending');
      expectStatus(await adyenApi(sandbox, `/v71/payments/${pending.pspReference}/cancels`, { merchantAccount }), 201, 'cancel pending');
      await waitFor('cancellation', () => receiver.adyenItems(pending.pspReference).some((entry) => entry.item.success === 'true'));
    });

    test('a notification not answered with [accepted] is sent again', async () => {
      const reference = unique('co');
      receiver.answerWith(
        (entry) => entry.path.startsWith('/adyen') && entry.body?.notificationItems?.[0]?.NotificationRequestItem?.merchantReference === reference,
        { status: 200, text: 'ok' },
        1,
      );
      const body = expectStatus(await adyenApi(sandbox, '/v71/payments', payment(reference, 'pm_card_visa')), 200, 'authorise');
      await waitFor('accepted on the second attempt', async () => (await deliveriesOf(sandbox, reference)).some((entry) => entry.state === 'delivered'));
      const [delivery] = await deliveriesOf(sandbox, reference);
      assert.deepEqual([delivery.attempts, delivery.response_status, delivery.response_body], [2, 200, '[accepted]']);
      assert.equal(receiver.adyenItems(body.pspReference).length, 2);
    });

    test('Adyen faults: error_500 stores nothing; timeout_after_accept authorises once and the key replays it', async () => {
      const reference = unique('co');
      await scenario(sandbox, { reference, accounts: { adyen: { confirm: 'error_500' } } });
      const failed = await adyenApi(sandbox, '/v71/payments', payment(reference, 'pm_card_visa'), { key: unique('es_key') });
      assert.deepEqual([failed.status, failed.json().errorType], [500, 'internal']);
      assert.deepEqual(await paymentsOf(sandbox, reference), []);

      const slow = unique('co');
      await scenario(sandbox, { reference: slow, accounts: { adyen: { confirm: 'timeout_after_accept', delay_ms: 5_000 } } });
      const key = unique('es_key');
      await assert.rejects(
        call(sandbox.url, 'POST', '/v71/payments', {
          body: JSON.stringify(payment(slow, 'pm_card_visa')),
          headers: { 'X-API-Key': adyenKey, 'Content-Type': 'application/json', 'Idempotency-Key': key },
          timeoutMs: 300,
        }),
        /timed out/,
      );
      const replay = expectStatus(await adyenApi(sandbox, '/v71/payments', payment(slow, 'pm_card_visa'), { key }), 200, 'retrieve by repeating');
      assert.equal(replay.resultCode, 'Authorised');
      const [stored] = await paymentsOf(sandbox, slow);
      assert.deepEqual([stored.id, stored.captures], [replay.pspReference, 1]);
    });
  });

  describe('control API', () => {
    test('bad scenarios are refused with a clear error; stats count, reset forgets everything', async () => {
      const bad = [
        [{ default: { create: 'ok' } }, /reference/],
        [{ reference: 'x', default: { create: 'explode' } }, /create must be one of/],
        [{ reference: 'x', default: { webhook: 'sometimes' } }, /webhook must be/],
        [{ reference: 'x', accounts: { nobody: { outcome: 'approve' } } }, /unknown account/],
        [{ reference: 'x', default: { colour: 'red' } }, /unknown field/],
      ];
      for (const [spec, message] of bad) {
        const answer = await control(sandbox, 'POST', '/_sandbox/scenarios', spec);
        assert.equal(answer.status, 400);
        assert.match(answer.body.error, message);
      }
      const stats = (await control(sandbox, 'GET', '/_sandbox/stats')).body;
      assert.ok(stats.created >= stats.accounts.stripe.created + stats.accounts.adyen.created);
      assert.ok(stats.accounts.stripe.captured_amount.EUR > 0);
      assert.ok(stats.webhooks.delivered > 0);

      const reference = unique('co');
      await scenario(sandbox, { reference, default: { create: 'error_500' } });
      assert.equal((await control(sandbox, 'POST', '/_sandbox/reset')).status, 200);
      const cleared = (await control(sandbox, 'GET', '/_sandbox/stats')).body;
      assert.deepEqual([cleared.created, cleared.captured, cleared.payments, cleared.webhooks.emitted], [0, 0, 0, 0]);
      assert.deepEqual((await control(sandbox, 'GET', '/_sandbox/webhooks')).body.deliveries, []);
      assert.deepEqual((await control(sandbox, 'GET', '/_sandbox/scenarios')).body.scenarios, []);
      expectStatus(await stripeApi(sandbox, 'POST', '/v1/payment_intents', cardIntent(reference)), 200, 'the scenario is gone');
    });
  });
});

describe('sandbox processes and TLS', () => {
  let directory;
  before(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'es-sandbox-'));
  });
  after(() => rmSync(directory, { recursive: true, force: true }));

  test('serves HTTPS with a self-signed certificate that a client trusting it accepts', async () => {
    const cert = path.join(directory, 'cert.pem');
    const key = path.join(directory, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    const receiver = await startReceiver();
    const secure = await startSandbox(sandboxConfig(receiver, { tls: { cert, key } }));
    try {
      assert.match(secure.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const ca = readFileSync(cert);
      const reference = unique('co');
      const answer = await stripeApi(secure, 'POST', '/v1/payment_intents', cardIntent(reference, { payment_method: 'pm_card_visa', confirm: true }), { ca });
      assert.equal(expectStatus(answer, 200, 'over TLS').status, 'succeeded');
      await assert.rejects(call(secure.url, 'GET', '/_sandbox/health'), /self-signed|certificate/);
      const intent = answer.json();
      assert.equal(intent.next_action, null);
    } finally {
      await secure.close();
      await receiver.close();
    }
  });

  test('server.mjs prints its ready line, serves, and stops on SIGTERM; a bad config exits 2', async () => {
    const file = path.join(directory, 'sandbox.json');
    writeFileSync(file, JSON.stringify({
      port: 0,
      accounts: [{ name: 'stripe', format: 'stripe', api_key: stripeKey, webhook_secret: stripeSecret }],
    }));
    const script = path.join(repoRoot, 'sandbox', 'server.mjs');
    const child = spawn(process.execPath, [script, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await waitFor('ready line', () => /^sandbox listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout)?.[1]);
      assert.equal(stdout.split('\n').filter(Boolean).length, 1);
      const health = await call(url, 'GET', '/_sandbox/health');
      assert.deepEqual(JSON.parse(health.text), { ok: true });
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }

    writeFileSync(file, JSON.stringify({ accounts: [{ name: 'a', format: 'stripe', api_key: 'k', webhook_secret: 'nope' }] }));
    const bad = spawn(process.execPath, [script, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    bad.stderr.setEncoding('utf8');
    bad.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => bad.once('exit', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /accounts\[0\]\.webhook_secret must start with whsec_/);
  });
});
