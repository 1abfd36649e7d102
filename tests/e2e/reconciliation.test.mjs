// Reconciliation (issue 5) against the real binary: orders are paid through the sandbox provider,
// then each kind of mismatch is seeded directly in PostgreSQL (as a bug, a crash or a hand edit
// would leave it), and a run must report each kind for exactly the seeded orders — never for the
// clean ones, whose amounts the run recomputes from the holds' locked pricing. Organizers see
// their own workspace's findings only; /metrics and the log carry the platform's.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';

import { assertProblem, psql, request, sleep, waitFor } from './harness.mjs';
import { call, expectStatus, publishedEvent, signUp } from './inventory_support.mjs';
import { eventNow, pay, paymentsSuite, ticketsWhen, unique } from './payments_support.mjs';

const kinds = [
  'capture_without_tickets_or_refund', 'capture_on_unsuccessful_payment', 'several_captures_for_one_order',
  'ticket_without_capture', 'tickets_not_matching_order', 'amount_mismatch', 'refund_exceeds_capture',
  'refunded_total_mismatch',
];
const runsPath = '/api/v1/organizer/reconciliation/runs';
const findingsPath = '/api/v1/organizer/reconciliation/findings';
const periodicIntervalMs = 1000;
const eur = (minor) => ({ minor, currency: 'EUR' });

// Holds `lines` ([[type, quantity], ...]) of `made`'s event, pays it and waits for its tickets.
async function paidOrder(suite, made, lines, extra = {}) {
  const checkout = await heldOrder(suite, made, lines, extra);
  const payment = expectStatus(await pay(suite, checkout.id), 201, 'pay');
  assert.equal(payment.status, 'succeeded', JSON.stringify(payment));
  assert.equal(payment.amount.minor, checkout.quote.totals.gross.minor, 'the payment takes the quote');
  await ticketsWhen(suite, checkout.id);
  return { id: checkout.id, paymentId: payment.id, amount: payment.amount.minor, checkout };
}

async function heldOrder(suite, made, lines, extra = {}) {
  const body = {
    event_id: made.event.id,
    email: `${unique('buyer')}@example.com`,
    items: lines.map(([type, quantity]) => ({ ticket_type_id: type.id, quantity })),
    ...extra,
  };
  return expectStatus(await call(suite.node, 'POST', '/api/v1/checkouts', { body }), 201, 'hold');
}

// Seeds in one session with triggers (and the foreign keys' triggers) off, as a hand edit could.
function seed(suite, sql) {
  return psql(suite.databaseUrl, `SET session_replication_role = replica; ${sql}`);
}

function runNow(suite, key, options = {}) {
  return call(suite.node, 'POST', runsPath, { key, timeoutMs: 60_000, ...options });
}

// kind -> the checkout ids of its findings, sorted (one entry per finding).
function checkoutsByKind(report) {
  const byKind = Object.fromEntries(kinds.map((kind) => [kind, []]));
  for (const finding of report.findings) byKind[finding.kind].push(finding.checkout_id);
  for (const kind of kinds) byKind[kind].sort();
  return byKind;
}

function expectedByKind(expected) {
  return Object.fromEntries(kinds.map((kind) => [kind, [...(expected[kind] ?? [])].map((order) => order.id).sort()]));
}

function findingOf(report, kind, order) {
  const found = report.findings.find((finding) => finding.kind === kind && finding.checkout_id === order.id);
  assert.ok(found, `no ${kind} finding for ${order.id} in ${JSON.stringify(report.findings)}`);
  return found;
}

// Prometheus's own linter over the exposition (labelled gauges, the counter's type).
function promtoolCheck(text) {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (error, stdout, stderr) =>
      resolve({ code: error ? error.code : 0, output: stdout + stderr }));
    child.stdin.end(text);
  });
}

async function metricValues(suite) {
  const answer = await request(suite.node.baseUrl, '/metrics');
  assert.equal(answer.status, 200);
  const check = await promtoolCheck(answer.body);
  assert.equal(check.code, 0, `promtool check metrics failed:\n${check.output}`);
  assert.match(answer.body, /^# TYPE eventstripe_reconciliation_runs_total counter$/m);
  const values = {};
  for (const line of answer.body.split('\n')) {
    const match = /^(eventstripe_reconciliation_\w+)(?:\{kind="(\w+)"\})? (\S+)$/.exec(line);
    if (match) values[match[2] ? `${match[1]}:${match[2]}` : match[1]] = Number(match[3]);
  }
  return values;
}

describe('reconciliation of payments, orders, tickets and refunds', () => {
  const suite = paymentsSuite('reconciliation', [`--payments.reconciliation_interval_ms=${periodicIntervalMs}`]);
  const orders = {};
  let other;  // a second workspace with its own order
  let seeded;  // the first report after seeding

  it('real paid orders (fees, caps, promo codes, both tax modes, reverse charge, two lines) reconcile with no finding', async () => {
    const key = suite.organizer.key;
    const plain = await publishedEvent(suite.node, key, [{ capacity: 40, price: 2500 }, { capacity: 10, price: 1000 }], eventNow());
    // Inclusive 19 %, an added fee 1.00 + 2 % capped at 2.50; a promo code takes 5.00 off.
    const fees = await publishedEvent(suite.node, key, [{ capacity: 10, price: 11900, tax_rate: '19' }], {
      ...eventNow(),
      fees: { fixed: eur(100), percent: '2', cap: eur(250), mode: 'added' },
    });
    expectStatus(
      await call(suite.node, 'POST', `/api/v1/organizer/events/${fees.event.id}/promo-codes`, {
        key,
        body: { code: 'FIVER', kind: 'amount_off', amount: eur(500) },
      }),
      201,
      'promo code',
    );
    // Exclusive 5.5 % with an absorbed fee (not in what the buyer pays).
    const exclusive = await publishedEvent(suite.node, key, [{ capacity: 10, price: 999 }], {
      ...eventNow(),
      tax_mode: 'exclusive',
      tax_rate: '5.5',
      fees: { fixed: eur(150), percent: '2.5', cap: eur(500), mode: 'absorbed' },
    });
    // DE admission 7 %: a business buyer from France pays the price without the tax it contains.
    const reverse = await publishedEvent(suite.node, key, [{ capacity: 10, price: 10700 }], eventNow());

    orders.clean = [
      await paidOrder(suite, plain, [[plain.types[0], 2]]),
      await paidOrder(suite, plain, [[plain.types[0], 1], [plain.types[1], 3]]),
      await paidOrder(suite, fees, [[fees.types[0], 2]]),
      await paidOrder(suite, fees, [[fees.types[0], 1]], { promo_code: 'fiver' }),
      await paidOrder(suite, exclusive, [[exclusive.types[0], 3]]),
      await paidOrder(suite, reverse, [[reverse.types[0], 1]], { vat_id: 'FR 12 345678901' }),
    ];
    assert.equal(orders.clean[3].checkout.quote.lines[0].discount.minor, 500);
    assert.equal(orders.clean[5].checkout.quote.reverse_charge, true);
    assert.equal(orders.clean[5].amount, 10000);
    // The orders the next test breaks, one (or two) per kind, all paid for real first.
    for (const name of ['staleCapture', 'youngCapture', 'secondCapture', 'doubleAttempt', 'missingTicket', 'capturedOffByOne',
      'amountOffQuote', 'refundBeyondCapture', 'refundedWithoutRefund'])
      orders[name] = await paidOrder(suite, plain, [[plain.types[0], 2]]);
    orders.declinedButCaptured = { id: (await heldOrder(suite, plain, [[plain.types[0], 1]])).id };
    const unpaid = await heldOrder(suite, plain, [[plain.types[0], 2]]);
    orders.ticketUnpaid = { id: unpaid.id, amount: unpaid.quote.totals.gross.minor };

    other = await signUp(suite.node, 'reconciliation-other');
    const theirs = await publishedEvent(suite.node, other.key, [{ capacity: 5, price: 4200 }], eventNow());
    orders.otherWorkspace = await paidOrder(suite, theirs, [[theirs.types[0], 1]]);

    const report = expectStatus(await runNow(suite, key), 200, 'run');
    assert.deepEqual(report.counts, Object.fromEntries(kinds.map((kind) => [kind, 0])));
    assert.deepEqual(report.findings, []);
    assert.match(report.run_id, /^rec_[a-z2-7]{20}$/);
    assert.equal(report.workspace_id, suite.organizer.workspaceId);
  });

  it('each seeded mismatch is reported for exactly its order, with the amounts in its detail; clean orders are not', async () => {
    const o = orders;
    const sql = [
      // Paid, but the tickets are gone and the order says paid, for an hour: nothing ended the capture.
      `DELETE FROM tickets WHERE checkout_id = '${o.staleCapture.id}';
       UPDATE checkouts SET order_status = 'paid', order_updated_at = now() - interval '1 hour' WHERE id = '${o.staleCapture.id}';
       UPDATE payments SET updated_at = now() - interval '1 hour' WHERE id = '${o.staleCapture.paymentId}';`,
      // The same a moment ago: it may be being fulfilled right now (within the grace).
      `DELETE FROM tickets WHERE checkout_id = '${o.youngCapture.id}';
       UPDATE checkouts SET order_status = 'paid', order_updated_at = now() WHERE id = '${o.youngCapture.id}';`,
      // A declined payment whose provider attempt captured after all.
      `INSERT INTO payments (id, checkout_id, event_id, workspace_id, shard_id, method, buyer_country, holder_name,
                             amount_minor, currency, status, request_hash)
         SELECT 'pay_seed_declined', c.id, c.event_id, e.workspace_id, 0, 'visa', 'DE', 'Seed', 2500, e.currency,
                'declined', '\\x00' FROM checkouts c JOIN events e ON e.id = c.event_id WHERE c.id = '${o.declinedButCaptured.id}';
       INSERT INTO payment_attempts (payment_id, attempt, checkout_id, provider, idempotency_key, status)
         VALUES ('pay_seed_declined', 1, '${o.declinedButCaptured.id}', 'stripe', 'seed_declined_1', 'succeeded');`,
      // A second payment of a paid order that took money although it failed: also a capture on an
      // unsuccessful payment.
      `INSERT INTO payments (id, checkout_id, event_id, workspace_id, shard_id, method, buyer_country, holder_name,
                             amount_minor, currency, status, captured_minor, request_hash)
         SELECT 'pay_seed_second', checkout_id, event_id, workspace_id, shard_id, method, buyer_country, holder_name,
                amount_minor, currency, 'failed', 100, request_hash FROM payments WHERE id = '${o.secondCapture.paymentId}';`,
      // Two succeeded attempts of one payment: the schema's unique index forbids it, so this
      // throw-away database drops it to show the check does not rely on it.
      `DROP INDEX payment_attempts_one_capture;
       INSERT INTO payment_attempts (payment_id, attempt, checkout_id, provider, idempotency_key, status)
         VALUES ('${o.doubleAttempt.paymentId}', 99, '${o.doubleAttempt.id}', 'adyen', 'seed_double_99', 'succeeded');`,
      // A valid ticket of a checkout whose payment is still pending (its amount is the quote's).
      `INSERT INTO payments (id, checkout_id, event_id, workspace_id, shard_id, method, buyer_country, holder_name,
                             amount_minor, currency, status, request_hash)
         SELECT 'pay_seed_pending', c.id, c.event_id, e.workspace_id, 0, 'visa', 'DE', 'Seed', ${o.ticketUnpaid.amount},
                e.currency, 'pending', '\\x00' FROM checkouts c JOIN events e ON e.id = c.event_id WHERE c.id = '${o.ticketUnpaid.id}';
       INSERT INTO tickets (id, checkout_id, payment_id, event_id, ticket_type_id, seq, holder_name, unit_price_minor,
                            currency, valid_from, valid_until, payload)
         SELECT 'tkt_seed_unpaid', h.checkout_id, 'pay_seed_pending', c.event_id, h.ticket_type_id, 1, 'Seed',
                h.unit_price_minor, h.currency, now(), now() + interval '1 day', 'ES1.seed'
           FROM holds h JOIN checkouts c ON c.id = h.checkout_id WHERE h.checkout_id = '${o.ticketUnpaid.id}';`,
      // One of two tickets lost.
      `DELETE FROM tickets WHERE checkout_id = '${o.missingTicket.id}' AND seq = 2;`,
      `UPDATE payments SET captured_minor = captured_minor - 1 WHERE id = '${o.capturedOffByOne.paymentId}';`,
      // Charged (and captured) 1.00 more than the order's lines come to.
      `UPDATE payments SET amount_minor = amount_minor + 100, captured_minor = captured_minor + 100
         WHERE id = '${o.amountOffQuote.paymentId}';`,
      `INSERT INTO refunds (id, payment_id, amount_minor, currency, reason, status, idempotency_key)
         SELECT 're_seed_beyond', id, captured_minor + 1, currency, 'seed', 'pending', 'seed_beyond'
           FROM payments WHERE id = '${o.refundBeyondCapture.paymentId}';`,
      `UPDATE payments SET refunded_minor = 100 WHERE id = '${o.refundedWithoutRefund.paymentId}';`,
      `UPDATE payments SET refunded_minor = 42 WHERE id = '${o.otherWorkspace.paymentId}';`,
    ];
    for (const statement of sql) await seed(suite, statement);

    seeded = expectStatus(await runNow(suite, suite.organizer.key), 200, 'run');
    const expected = expectedByKind({
      capture_without_tickets_or_refund: [o.staleCapture],
      capture_on_unsuccessful_payment: [o.declinedButCaptured, o.secondCapture],
      several_captures_for_one_order: [o.secondCapture, o.doubleAttempt],
      ticket_without_capture: [o.ticketUnpaid],
      tickets_not_matching_order: [o.missingTicket],
      amount_mismatch: [o.capturedOffByOne, o.amountOffQuote],
      refund_exceeds_capture: [o.refundBeyondCapture],
      refunded_total_mismatch: [o.refundedWithoutRefund],
    });
    assert.deepEqual(checkoutsByKind(seeded), expected);
    assert.deepEqual(seeded.counts, Object.fromEntries(kinds.map((kind) => [kind, expected[kind].length])));
    const reported = new Set(seeded.findings.map((finding) => finding.checkout_id));
    for (const clean of [...o.clean, o.youngCapture]) assert.ok(!reported.has(clean.id), `clean order ${clean.id} reported`);

    // Each finding names the payment and says what disagrees, with the amounts.
    const stale = findingOf(seeded, 'capture_without_tickets_or_refund', o.staleCapture);
    assert.equal(stale.payment_id, o.staleCapture.paymentId);
    assert.match(stale.detail, new RegExp(`captured ${o.staleCapture.amount} EUR, but the order is paid`));
    assert.match(findingOf(seeded, 'capture_on_unsuccessful_payment', o.declinedButCaptured).detail, /declined.*attempt stripe #1 succeeded/);
    assert.equal(findingOf(seeded, 'several_captures_for_one_order', o.secondCapture).payment_id, 'pay_seed_second');
    assert.match(findingOf(seeded, 'several_captures_for_one_order', o.doubleAttempt).detail, /^2 attempts of the payment succeeded/);
    const unpaid = findingOf(seeded, 'ticket_without_capture', o.ticketUnpaid);
    assert.equal(unpaid.payment_id, 'pay_seed_pending');
    assert.match(unpaid.detail, /tkt_seed_unpaid.*is pending/);
    assert.match(findingOf(seeded, 'tickets_not_matching_order', o.missingTicket).detail, /2 seat\(s\) \(hold sold\), 1 ticket\(s\)/);
    assert.equal(
      findingOf(seeded, 'amount_mismatch', o.capturedOffByOne).detail,
      `captured ${o.capturedOffByOne.amount - 1} EUR of an amount of ${o.capturedOffByOne.amount}`,
    );
    assert.equal(
      findingOf(seeded, 'amount_mismatch', o.amountOffQuote).detail,
      `the amount is ${o.amountOffQuote.amount + 100} EUR, but the order's lines priced as held come to ${o.amountOffQuote.amount}`,
    );
    assert.match(findingOf(seeded, 'refund_exceeds_capture', o.refundBeyondCapture).detail, new RegExp(`refunds of ${o.refundBeyondCapture.amount + 1} EUR`));
    assert.match(findingOf(seeded, 'refunded_total_mismatch', o.refundedWithoutRefund).detail, /counts 100 EUR refunded, its succeeded refunds add up to 0/);

    // The stored findings are the same, read back from the database.
    const stored = expectStatus(await call(suite.node, 'GET', findingsPath, { key: suite.organizer.key }), 200, 'findings');
    assert.match(stored.run_id, /^rec_/);
    assert.deepEqual(checkoutsByKind(stored), expected);
    const amounts = expectStatus(await call(suite.node, 'GET', `${findingsPath}?kind=amount_mismatch`, { key: suite.organizer.key }), 200);
    assert.deepEqual(checkoutsByKind(amounts), { ...expectedByKind({}), amount_mismatch: expected.amount_mismatch });
  });

  it("an organizer sees its own workspace's findings only; /metrics counts the whole platform", async () => {
    const theirs = expectStatus(await runNow(suite, other.key), 200, 'their run');
    assert.equal(theirs.workspace_id, other.workspaceId);
    assert.deepEqual(checkoutsByKind(theirs), expectedByKind({ refunded_total_mismatch: [orders.otherWorkspace] }));
    assert.deepEqual(theirs.findings.map((finding) => finding.payment_id), [orders.otherWorkspace.paymentId]);
    const stored = expectStatus(await call(suite.node, 'GET', findingsPath, { key: other.key }), 200, 'their findings');
    assert.deepEqual(stored.findings, theirs.findings);
    const mine = expectStatus(await call(suite.node, 'GET', findingsPath, { key: suite.organizer.key }), 200, 'my findings');
    assert.ok(!mine.findings.some((finding) => finding.checkout_id === orders.otherWorkspace.id));

    const metrics = await metricValues(suite);
    for (const kind of kinds) {
      const platform = seeded.counts[kind] + (kind === 'refunded_total_mismatch' ? 1 : 0);
      assert.equal(metrics[`eventstripe_reconciliation_mismatches:${kind}`], platform, kind);
    }
    assert.ok(metrics.eventstripe_reconciliation_runs_total >= 3, JSON.stringify(metrics));
  });

  it('the job runs on its own every interval and logs each run and each kind it found', async () => {
    const before = (await metricValues(suite)).eventstripe_reconciliation_runs_total;
    await sleep(periodicIntervalMs * 3);
    const after = (await metricValues(suite)).eventstripe_reconciliation_runs_total;
    assert.ok(after >= before + 2, `runs ${before} -> ${after} with no request`);

    const records = suite.node.logRecords();
    const finished = records.filter((record) => record.message === 'reconciliation finished');
    // Not the very last run: its error lines may still be being written.
    const last = finished.at(-2);
    assert.equal(last['log.level'], 'info');
    assert.equal(last['reconciliation.mismatches'], Object.values(seeded.counts).reduce((a, b) => a + b) + 1);
    assert.equal(last['reconciliation.mismatches.amount_mismatch'], 2);
    assert.ok(last['event.duration'] > 0);
    const errors = records.filter((record) => record.message === 'reconciliation mismatch' && record['reconciliation.run_id'] === last['reconciliation.run_id']);
    assert.deepEqual(errors.map((record) => record['reconciliation.kind']).sort(), [...kinds].sort());
    assert.ok(errors.every((record) => record['log.level'] === 'error' && record['checkout.id'] && record['error.message']));
  });

  it('a repaired order is no longer reported by the next run', async () => {
    await seed(suite, `UPDATE payments SET refunded_minor = 0 WHERE id = '${orders.refundedWithoutRefund.paymentId}'`);
    const report = expectStatus(await runNow(suite, suite.organizer.key), 200, 'run');
    assert.deepEqual(report.findings.filter((finding) => finding.kind === 'refunded_total_mismatch'), []);
    assert.equal(report.counts.refunded_total_mismatch, 0);
    assert.equal(report.counts.amount_mismatch, 2);
    await waitFor('the stored findings of a run without it', async () => {
      const stored = expectStatus(await call(suite.node, 'GET', findingsPath, { key: suite.organizer.key }), 200);
      return stored.counts.refunded_total_mismatch === 0 && stored.counts.amount_mismatch === 2;
    });
  });

  it('bad input gets a clear error; a wrong method is 405', async () => {
    const key = suite.organizer.key;
    assertProblem(assert, await runNow(suite, key, { body: { grace_ms: 0 } }), 422, 'unknown-field');
    assertProblem(assert, await runNow(suite, key, { body: '{"grace_ms":' }), 400, 'malformed-json');
    assertProblem(assert, await runNow(suite, key, { body: '[]' }), 422, 'invalid-body');
    assertProblem(assert, await runNow(suite, undefined), 401, 'unauthenticated');
    assertProblem(assert, await runNow(suite, 'es_not_a_key'), 401, 'unauthenticated');
    assertProblem(assert, await call(suite.node, 'GET', findingsPath), 401, 'unauthenticated');
    assertProblem(assert, await call(suite.node, 'GET', `${findingsPath}?kind=everything`, { key }), 400, 'invalid-parameter');
    for (const [method, path] of [['GET', runsPath], ['DELETE', runsPath], ['POST', findingsPath], ['PUT', findingsPath]]) {
      const answer = await call(suite.node, method, path, { key });
      assertProblem(assert, answer, 405, 'method-not-allowed');
    }
    // An empty object is a run like no body at all.
    const report = expectStatus(await runNow(suite, key, { body: {} }), 200, 'run with {}');
    assert.equal(report.counts.amount_mismatch, 2);
    const rows = await psql(suite.databaseUrl, 'SELECT count(DISTINCT run_id) FROM reconciliation_findings');
    assert.equal(rows.trim(), '1', 'a run replaces the stored findings');
  });
});
