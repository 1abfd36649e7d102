// Crash recovery of the inventory against the real binary and PostgreSQL:
// - kill -9 the node in the middle of a burst of holds: every hold that was answered 201 exists
//   in PostgreSQL, none is counted twice, sold + held ≤ capacity; restarted at once, the node
//   re-arms the stored deadlines and the holds expire on time, not before; restarted after the
//   node was down longer than the TTL, the overdue holds expire right after the restart.
// - a quota actor crashing (fault injection) in the middle of a burst loses and doubles nothing,
//   and its holds still expire.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { createDatabase, dropDatabase, killAllChildren, problemTypeBase, psql, sleep, startNode, waitFor } from './harness.mjs';
import { call, dbTicketType, expectStatus, hold, items, publicAvailability, publishedEvent, signUp, unique } from './inventory_support.mjs';

const holdTtlMs = 4_000;
const burst = 2_000;
const capacity = 500;
// 2,000 requests in waves of 40 every 10 ms: a burst of about half a second.
const paced = { wave: 40, waveIntervalMs: 10 };

function nodeArgs(extra = []) {
  return [
    `--inventory.hold_ttl_ms=${holdTtlMs}`,
    '--inventory.address_checkouts_max=100000',
    '--inventory.request_timeout_ms=3000',
    `--http.connections_max=${burst + 1_000}`,
    ...extra,
  ];
}

// Fires `count` one-seat holds at once; `onAnswer` sees each answer as it arrives. Resolves to
// every outcome: {status, type, checkout} or {error} for requests the dying node never answered.
// With `wave`, the requests leave in waves of that size every `waveIntervalMs`, so a kill or a
// crash lands while holds are still being decided rather than after one group commit took all.
async function fireBurst(node, eventId, typeId, count, onAnswer = () => {}, { wave = count, waveIntervalMs = 10 } = {}) {
  const tag = unique('burst');
  const requests = Array.from({ length: count }, (_, i) =>
    sleep(Math.floor(i / wave) * waveIntervalMs)
      .then(() => hold(node, eventId, items([typeId, 1]), { email: `${tag}-${i}@example.com` }))
      .then(
      (answer) => {
        let body = {};
        try {
          body = JSON.parse(answer.body);
        } catch {
          // judged below by its status
        }
        const outcome = { status: answer.status, type: body.type?.replace(problemTypeBase, ''), checkout: answer.status === 201 ? body : null };
        onAnswer(outcome);
        return outcome;
      },
      (error) => ({ error: error.message }),
    ),
  );
  return Promise.all(requests);
}

function summarize(outcomes) {
  const counts = {};
  for (const outcome of outcomes) {
    const label = outcome.error ? 'no answer' : `${outcome.status}${outcome.type ? ` ${outcome.type}` : ''}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

// The checks that hold whatever happened: answered holds exist, nothing is doubled or oversold.
async function assertConsistent(databaseUrl, typeId, acknowledged, allowedStatuses) {
  const counts = await dbTicketType(databaseUrl, typeId);
  assert.ok(counts.sold + counts.held <= counts.capacity, `sold ${counts.sold} + held ${counts.held} ≤ capacity ${counts.capacity}`);
  assert.equal(counts.held, counts.heldQuantity, 'the held counter equals the held rows');
  const doubled = await psql(
    databaseUrl,
    `SELECT count(*) FROM (SELECT checkout_id FROM holds WHERE ticket_type_id = '${typeId}' GROUP BY checkout_id HAVING count(*) > 1) d`,
  );
  assert.equal(doubled.trim(), '0', 'no checkout has two holds of the same type');
  const rows = await psql(
    databaseUrl,
    `SELECT checkout_id, status, quantity, (extract(epoch FROM expires_at) * 1000)::bigint FROM holds WHERE ticket_type_id = '${typeId}'`,
  );
  const judgedAt = Date.now();
  const stored = new Map();
  for (const line of rows.trim().split('\n').filter(Boolean)) {
    const [id, status, quantity, expiresAt] = line.split('|');
    stored.set(id, { status, quantity: Number(quantity), expiresAt: Number(expiresAt) });
    if (status === 'expired') assert.ok(Number(expiresAt) <= judgedAt, `hold of ${id} expired before its deadline`);
  }
  const missing = acknowledged.filter((checkout) => !stored.has(checkout.id));
  assert.deepEqual(missing.map((checkout) => checkout.id), [], 'every hold answered 201 is in PostgreSQL');
  for (const checkout of acknowledged) {
    const row = stored.get(checkout.id);
    assert.equal(row.quantity, 1);
    assert.ok(allowedStatuses.includes(row.status), `hold of ${checkout.id} is ${row.status}, expected one of ${allowedStatuses}`);
  }
  return { counts, stored };
}

describe('inventory: crash recovery', () => {
  let databaseUrl;

  before(async () => {
    databaseUrl = await createDatabase();
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test('kill -9 during a burst: answered holds survive; restarted at once, they expire on their stored deadline', async () => {
    let node = await startNode({ databaseUrl, args: nodeArgs() });
    const { event, types } = await publishedEvent(node, (await signUp(node, 'crash')).key, [{ capacity }]);
    const [type] = types;

    let acknowledged = 0;
    let killedAt = null;
    const outcomes = await fireBurst(node, event.id, type.id, burst, (outcome) => {
      if (outcome.status === 201 && ++acknowledged === 150 && !killedAt) {
        killedAt = Date.now();
        node.process.kill('SIGKILL');
      }
    }, paced);
    await node.exited;
    const held = outcomes.filter((outcome) => outcome.status === 201).map((outcome) => outcome.checkout);
    console.log(`kill -9 burst: ${JSON.stringify(summarize(outcomes))}`);
    assert.ok(killedAt, `the node was killed during the burst (${JSON.stringify(summarize(outcomes))})`);
    assert.ok(held.length >= 150 && held.length < capacity, `${held.length} holds acknowledged before the kill`);
    for (const outcome of outcomes.filter((candidate) => !candidate.error))
      assert.ok([201, 409].includes(outcome.status), `answer before the kill: ${outcome.status} ${outcome.type}`);

    // While the node is down: the database alone shows every acknowledged hold (expired only
    // if its deadline passed before the kill, on a slow machine).
    await assertConsistent(databaseUrl, type.id, held, ['held', 'expired']);

    node = await startNode({ databaseUrl, args: nodeArgs() });
    const restartedAt = Date.now();
    const { counts } = await assertConsistent(databaseUrl, type.id, held, ['held', 'expired']);
    const deadlines = held.map((checkout) => Date.parse(checkout.expires_at));
    const earliest = Math.min(...deadlines);
    const latest = Math.max(...(await storedDeadlines(databaseUrl, type.id)));
    if (restartedAt < earliest - 500) {
      // Not due yet: the restarted node keeps them until their deadlines.
      assert.ok(counts.held >= held.length, `held ${counts.held} right after the restart, ${held.length} acknowledged`);
      const before = expectStatus(await call(node, 'GET', `/api/v1/checkouts/${held[0].id}`), 200);
      assert.equal(before.status, 'held', 'an acknowledged hold reads as held after the restart');
      await sleep(Math.max(0, earliest - 300 - Date.now()));
      assert.equal((await dbTicketType(databaseUrl, type.id)).held, counts.held, 'nothing expired before its deadline');
    } else {
      console.log(`restarted ${restartedAt - earliest} ms after the first deadline (slow machine): early-expiry check skipped`);
    }
    // They expire at their stored deadlines: all gone shortly after the latest one.
    await waitForHeldZero(databaseUrl, type.id, latest + 2_000);
    await assertConsistent(databaseUrl, type.id, held, ['expired']);
    const view = expectStatus(await call(node, 'GET', `/api/v1/checkouts/${held[0].id}`), 200);
    assert.equal(view.status, 'expired');
    await waitFor('public availability back to capacity', async () => (await publicAvailability(node, event.id))[type.id].available === capacity);
    await node.stop('SIGKILL');
  });

  test('kill -9 during a burst, down longer than the TTL: the overdue holds expire right after the restart', async () => {
    let node = await startNode({ databaseUrl, args: nodeArgs() });
    const { event, types } = await publishedEvent(node, (await signUp(node, 'crash')).key, [{ capacity }]);
    const [type] = types;

    let acknowledged = 0;
    let killed = false;
    const outcomes = await fireBurst(node, event.id, type.id, burst, (outcome) => {
      if (outcome.status === 201 && ++acknowledged === 200 && !killed) {
        killed = true;
        node.process.kill('SIGKILL');
      }
    }, paced);
    await node.exited;
    console.log(`kill -9 burst (long outage): ${JSON.stringify(summarize(outcomes))}`);
    const held = outcomes.filter((outcome) => outcome.status === 201).map((outcome) => outcome.checkout);
    assert.ok(killed, 'the node was killed during the burst');
    const { counts } = await assertConsistent(databaseUrl, type.id, held, ['held', 'expired']);

    // Stay down until every stored deadline has passed.
    const latest = Math.max(...(await storedDeadlines(databaseUrl, type.id)));
    await sleep(Math.max(0, latest - Date.now()) + 500);
    assert.equal((await dbTicketType(databaseUrl, type.id)).held, counts.held, 'nothing expires while no node runs');

    node = await startNode({ databaseUrl, args: nodeArgs() });
    const restartedAt = Date.now();
    await waitForHeldZero(databaseUrl, type.id, restartedAt + 3_000);
    const took = Date.now() - restartedAt;
    console.log(`overdue holds expired ${took} ms after the restart`);
    await assertConsistent(databaseUrl, type.id, held, ['expired']);
    await waitFor('public availability back to capacity', async () => (await publicAvailability(node, event.id))[type.id].available === capacity);
    // The whole capacity sells again after the restart, and not one seat more.
    const again = await fireBurst(node, event.id, type.id, capacity + 50);
    assert.deepEqual(summarize(again), { 201: capacity, '409 sold-out': 50 });
    await node.stop('SIGKILL');
  });

  test('a quota actor crashing mid-burst (fault injection) neither loses nor doubles holds, and they still expire', async () => {
    // Longer holds than above: requests caught in a crash wait out the 3 s request timeout, and
    // the acknowledged holds must still be held when they are judged.
    const ttlMs = 8_000;
    const seats = 1_500;
    const node = await startNode({
      databaseUrl,
      args: nodeArgs(['--testing.fault_injection=true', `--inventory.hold_ttl_ms=${ttlMs}`]),
    });
    const { event, types } = await publishedEvent(node, (await signUp(node, 'crash')).key, [{ capacity: seats }]);
    const [type] = types;
    const crash = () => call(node, 'POST', '/api/v1/debug/crash', { body: { kind: 'quota', key: type.id } });

    // Crash the quota every 100 ms while the burst is under way (six times).
    const crashes = [];
    const crasher = setInterval(() => {
      if (crashes.length < 6) crashes.push(crash());
    }, 100);
    let outcomes;
    try {
      outcomes = await fireBurst(node, event.id, type.id, burst, () => {}, paced);
    } finally {
      clearInterval(crasher);
    }
    for (const answer of await Promise.all(crashes)) expectStatus(answer, 202, 'crash request');
    const crashLogs = node.logRecords().filter((record) => record.message === 'entity crashed' && record['entity.key'] === type.id);
    console.log(`quota crash burst: ${JSON.stringify(summarize(outcomes))}, ${crashLogs.length} crashes logged`);
    assert.ok(crashLogs.length >= 2, `the quota crashed during the burst (${crashLogs.length} crashes logged)`);
    for (const outcome of outcomes) {
      assert.ok(!outcome.error, `every request got an answer: ${outcome.error}`);
      const allowed = outcome.status === 201 || (outcome.status === 409 && outcome.type === 'sold-out') || outcome.status === 503;
      assert.ok(allowed, `answer during the crashes: ${outcome.status} ${outcome.type}`);
    }
    const held = outcomes.filter((outcome) => outcome.status === 201).map((outcome) => outcome.checkout);
    assert.ok(held.length > 0, 'some holds went through');

    // Once the releases of requests answered 503 have landed, PostgreSQL holds exactly the
    // acknowledged checkouts: none lost, none doubled, and a 503 left no seat behind.
    const acknowledgedIds = new Set(held.map((checkout) => checkout.id));
    let settled;
    let strays = [];
    try {
      await waitFor('every held row to be an acknowledged hold', async () => {
        settled = await assertConsistent(databaseUrl, type.id, held, ['held', 'expired']);
        strays = [...settled.stored].filter(([id, row]) => row.status === 'held' && !acknowledgedIds.has(id)).map(([id]) => id);
        return strays.length === 0;
      }, { timeoutMs: 5_000 });
    } catch {
      assert.deepEqual(strays, [], 'held rows of requests that were not answered 201');
    }

    // The restarted quota agrees with PostgreSQL: exactly the free seats can still be held.
    const free = seats - settled.counts.held;
    const rest = await fireBurst(node, event.id, type.id, free + 20);
    const expected = free > 0 ? { 201: free, '409 sold-out': 20 } : { '409 sold-out': 20 };
    assert.deepEqual(summarize(rest), expected, `the ${free} free seats and no more`);
    assert.equal((await dbTicketType(databaseUrl, type.id)).held, seats);

    // Every hold — including those committed around the crashes — expires after the TTL.
    const latest = Math.max(...(await storedDeadlines(databaseUrl, type.id)));
    await waitForHeldZero(databaseUrl, type.id, latest + 3_000);
    await assertConsistent(databaseUrl, type.id, held, ['expired']);
    await node.stop('SIGKILL');
  });

  test('a checkout actor crashing (fault injection) restarts from PostgreSQL with its hold intact', async () => {
    const node = await startNode({ databaseUrl, args: nodeArgs(['--testing.fault_injection=true']) });
    const { event, types } = await publishedEvent(node, (await signUp(node, 'crash')).key, [{ capacity: 10 }]);
    const checkout = expectStatus(await hold(node, event.id, items([types[0], 2])), 201);
    expectStatus(await call(node, 'POST', '/api/v1/debug/crash', { body: { kind: 'checkout', key: checkout.id } }), 202);
    await waitFor(
      'the checkout crash in the log',
      () => node.logRecords().some((record) => record.message === 'entity crashed' && record['entity.key'] === checkout.id),
      { timeoutMs: 3_000 },
    );
    const view = expectStatus(await call(node, 'GET', `/api/v1/checkouts/${checkout.id}`), 200);
    assert.equal(view.status, 'held');
    assert.equal((await dbTicketType(databaseUrl, types[0].id)).held, 2);
    await node.stop('SIGKILL');
  });
});

async function storedDeadlines(databaseUrl, typeId) {
  const text = await psql(
    databaseUrl,
    `SELECT (extract(epoch FROM expires_at) * 1000)::bigint FROM holds WHERE ticket_type_id = '${typeId}' AND status = 'held'`,
  );
  const values = text.trim().split('\n').filter(Boolean).map(Number);
  return values.length ? values : [Date.now()];
}

async function waitForHeldZero(databaseUrl, typeId, byMs) {
  await waitFor(
    `every hold of ${typeId} expired in PostgreSQL`,
    async () => {
      const counts = await dbTicketType(databaseUrl, typeId);
      return counts.held === 0 && counts.heldRows === 0;
    },
    { timeoutMs: Math.max(1_000, byMs - Date.now()), intervalMs: 100 },
  );
}
