// Shared set-up of the payment suites: the sandbox provider (Stripe and Adyen wire formats) and a
// real node configured against it, with webhooks pointed back at the node's ingress.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, after } from 'node:test';

import { startSandbox } from '../../sandbox/sandbox.mjs';
import { createDatabase, dropDatabase, freePort, killAllChildren, request, startNode, waitFor } from './harness.mjs';
import { call, expectStatus, hold, items, publishedEvent, signUp, unique } from './inventory_support.mjs';

export const stripeKey = 'sk_test_e2e_payments';
export const stripeSecret = 'whsec_e2e_current';
export const stripeOldSecret = 'whsec_e2e_previous';
export const adyenKey = 'AQE_e2e_payments';
export const adyenHmacKey = '44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056';

// An event happening now, so its tickets are valid for check-in during the test.
export function eventNow() {
  const now = Date.now();
  return {
    starts_at: new Date(now - 3600_000).toISOString(),
    ends_at: new Date(now + 3 * 3600_000).toISOString(),
  };
}

// The sandbox with a Stripe and an Adyen account whose webhooks go to a node on `port`.
export function startPaymentSandbox(port) {
  const base = `http://127.0.0.1:${port}`;
  return startSandbox({
    accounts: [
      { name: 'stripe', format: 'stripe', api_key: stripeKey, webhook_secret: stripeSecret, webhook_url: `${base}/webhooks/stripe` },
      {
        name: 'adyen', format: 'adyen', api_key: adyenKey, hmac_key: adyenHmacKey, merchant_account: 'EventStripeTest',
        webhook_url: `${base}/webhooks/adyen`,
      },
    ],
    webhooks: { attempts_max: 8, initial_delay_ms: 100, max_delay_ms: 1000, request_timeout_ms: 5000, reorder_window_ms: 300 },
    faults: { timeout_after_accept_delay_ms: 4000 },
  });
}

// The arguments that point a node on `port` at the sandbox.
export function paymentNodeArgs(sandbox, port) {
  return [
    `--http.port=${port}`,
    `--payments.stripe.api_base=${sandbox.url}`,
    `--payments.stripe.secret_key=${stripeKey}`,
    `--payments.stripe.webhook_secrets=${stripeOldSecret},${stripeSecret}`,
    `--payments.adyen.api_base=${sandbox.url}`,
    `--payments.adyen.api_key=${adyenKey}`,
    `--payments.adyen.hmac_keys=${adyenHmacKey}`,
    '--payments.adyen.merchant_account=EventStripeTest',
    '--payments.provider_timeout_ms=1500',
    '--payments.retry_initial_ms=50',
    '--payments.retry_max_ms=400',
    '--inventory.address_checkouts_max=100000',
  ];
}

// Starts the sandbox and a node wired to it (webhooks to the node's /webhooks/{stripe,adyen}).
export function paymentsSuite(label, args = []) {
  const suite = { databaseUrl: undefined, node: undefined, organizer: undefined, sandbox: undefined, port: undefined };
  before(async () => {
    suite.port = await freePort();
    suite.sandbox = await startPaymentSandbox(suite.port);
    suite.databaseUrl = await createDatabase();
    suite.node = await startNode({ databaseUrl: suite.databaseUrl, args: [...paymentNodeArgs(suite.sandbox, suite.port), ...args] });
    suite.organizer = await signUp(suite.node, label);
  });
  after(async () => {
    await killAllChildren();
    if (suite.sandbox) await suite.sandbox.close();
    if (suite.databaseUrl) await dropDatabase(suite.databaseUrl);
  });
  return suite;
}

// A published event happening now with one ticket type, and a held checkout of `quantity`.
export async function heldCheckout(suite, { capacity = 10, price = 2500, quantity = 2, event } = {}) {
  const made = event ?? (await publishedEvent(suite.node, suite.organizer.key, [{ capacity, price }], eventNow()));
  const type = made.types[0];
  const answer = await hold(suite.node, made.event.id, items([type, quantity]));
  const checkout = expectStatus(answer, 201, 'hold');
  return { event: made.event, type, checkout, made };
}

export function pay(suite, checkoutId, { method = 'visa', token = 'pm_card_visa', country = 'DE', holder = 'Ada Lovelace', key, body } = {}) {
  const headers = key ? { 'idempotency-key': key } : {};
  return call(suite.node, 'POST', `/api/v1/checkouts/${checkoutId}/payments`, {
    body: body ?? { method, method_token: token, country, holder_name: holder },
    headers,
    timeoutMs: 30_000,
  });
}

// Steers the sandbox for one checkout (its id is the reference the node sends).
export async function scenario(suite, reference, behaviour) {
  const answer = await request(suite.sandbox.url, '/_sandbox/scenarios', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reference, ...behaviour }),
  });
  assert.equal(answer.status, 201, answer.body);
}

// What the sandbox really charged for a checkout, across both accounts.
export async function sandboxPayments(suite, reference) {
  const answer = await request(suite.sandbox.url, `/_sandbox/payments?reference=${reference}`);
  assert.equal(answer.status, 200, answer.body);
  const body = answer.json();
  return body.payments ?? body;
}

export function captures(payments) {
  return payments.reduce((sum, payment) => sum + (payment.captures ?? 0), 0);
}

// Waits until the checkout's order has reached `status` and answers its tickets body.
export async function ticketsWhen(suite, checkoutId, status = 'tickets_issued', timeoutMs = 20_000) {
  let body;
  await waitFor(
    `order ${checkoutId} ${status}`,
    async () => {
      const answer = await call(suite.node, 'GET', `/api/v1/checkouts/${checkoutId}/tickets`);
      body = expectStatus(answer, 200, 'tickets');
      return body.order_status === status;
    },
    { timeoutMs, intervalMs: 100 },
  );
  return body;
}

// GET of a binary body (an image), as bytes.
export function fetchBytes(baseUrl, target) {
  return new Promise((resolve, reject) => {
    http
      .get(new URL(target, baseUrl), { agent: false, timeout: 10_000 }, (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, bytes: Buffer.concat(chunks) }));
        response.on('error', reject);
      })
      .on('error', reject);
  });
}

// Decodes a PNG with the real decoder (zbarimg from Debian's zbar-tools).
export function decodeQr(pngBytes) {
  const directory = mkdtempSync(path.join(tmpdir(), 'es-qr-'));
  const file = path.join(directory, 'ticket.png');
  writeFileSync(file, pngBytes);
  return new Promise((resolve, reject) => {
    execFile('zbarimg', ['--raw', '-q', file], { timeout: 15_000 }, (error, stdout) => {
      rmSync(directory, { recursive: true, force: true });
      if (error) reject(new Error(`zbarimg failed: ${error.message}`));
      else resolve(stdout.replace(/\n$/, ''));
    });
  });
}

export { unique };
