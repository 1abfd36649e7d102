// The ticket drop over real HTTP against the real binary: 10,000 buyers, each on its own
// connection (spread over several client processes, since one process may hold only about
// 20,000 files), all ask for one seat of a ticket type with capacity 1,000 at once. Exactly
// 1,000 get 201, the other 9,000 a clear 409 sold-out and nobody a 5xx, and PostgreSQL agrees:
// held = 1,000 on the ticket type, 1,000 held rows, and they are exactly the answered checkouts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createDatabase, dropDatabase, killAllChildren, problemTypeBase, psql, request, startNode } from './harness.mjs';
import { publishedEvent, signUp } from './inventory_support.mjs';

const buyers = 10_000;
const capacity = 1_000;
const workers = 4;
const workerScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'inventory_load_worker.mjs');

function startWorker(args) {
  const child = fork(workerScript, args.map(String), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages = [];
  const waiters = [];
  child.on('message', (message) => {
    messages.push(message);
    for (const waiter of [...waiters]) waiter();
  });
  child.on('exit', () => {
    for (const waiter of [...waiters]) waiter();
  });
  return {
    child,
    next(kind, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`worker sent no '${kind}' within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          const failed = messages.find((message) => message.kind === 'failed');
          const found = messages.find((message) => message.kind === kind);
          if (failed || found || child.exitCode !== null) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(check), 1);
            if (found) resolve(found);
            else reject(new Error(failed ? failed.message : `worker exited with ${child.exitCode} before '${kind}'`));
          }
        };
        waiters.push(check);
        check();
      });
    },
  };
}

// The most requests outstanding (sent, not yet answered) at any one moment, over all workers.
function peakConcurrency(results) {
  const edges = [];
  for (const result of results) edges.push([result.sentAt, 1], [result.answeredAt, -1]);
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let peak = 0;
  for (const [, delta] of edges) peak = Math.max(peak, (current += delta));
  return peak;
}

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

describe('inventory: the ticket drop', () => {
  let databaseUrl;
  let node;
  const forks = [];

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({
      databaseUrl,
      args: [
        `--http.connections_max=${buyers + 2_000}`,
        '--inventory.address_checkouts_max=100000',
        '--http.idle_timeout_ms=120000',
        '--http.read_timeout_ms=120000',
        '--inventory.request_timeout_ms=60000',
        '--log.level=warning',
      ],
    });
  });

  after(async () => {
    for (const worker of forks) if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test(`${buyers} concurrent one-seat holds on capacity ${capacity}: exactly ${capacity} succeed, the rest are sold out`, async (t) => {
    const organizer = await signUp(node, 'drop');
    const { event, types } = await publishedEvent(node, organizer.key, [{ name: 'Drop', capacity, price: 9900 }]);
    const [type] = types;

    const perWorker = buyers / workers;
    for (let i = 0; i < workers; ++i) forks.push(startWorker([node.port, event.id, type.id, i, perWorker]));
    const ready = await Promise.all(forks.map((worker) => worker.next('ready', 90_000)));
    const opened = ready.reduce((sum, message) => sum + message.connections, 0);
    assert.equal(opened, buyers, 'every buyer has an open connection before the drop');

    const started = performance.timeOrigin + performance.now();
    for (const worker of forks) worker.child.send({ kind: 'go' });
    const done = await Promise.all(forks.map((worker) => worker.next('done', 150_000)));
    const results = done.flatMap((message) => message.results);
    assert.equal(results.length, buyers);

    const byOutcome = {};
    for (const result of results) {
      const label = `${result.status} ${String(result.type ?? '').replace(problemTypeBase, '')}`.trim();
      byOutcome[label] = (byOutcome[label] ?? 0) + 1;
    }
    const held = results.filter((result) => result.status === 201);
    const latencies = results.map((result) => result.answeredAt - result.sentAt).sort((a, b) => a - b);
    const lastAnswer = Math.max(...results.map((result) => result.answeredAt));
    const lastHold = Math.max(...held.map((result) => result.answeredAt));
    const elapsedMs = lastAnswer - started;
    const figures = {
      connections: opened,
      peakConcurrency: peakConcurrency(results),
      outcomes: byOutcome,
      allAnsweredMs: Math.round(elapsedMs),
      requestsPerSecond: Math.round(buyers / (elapsedMs / 1000)),
      holdsCommittedMs: Math.round(lastHold - started),
      holdsPerSecond: Math.round(held.length / ((lastHold - started) / 1000)),
      latencyMs: {
        p50: Math.round(percentile(latencies, 0.5)),
        p99: Math.round(percentile(latencies, 0.99)),
        max: Math.round(latencies[latencies.length - 1]),
      },
    };
    t.diagnostic(`ticket drop: ${JSON.stringify(figures)}`);
    console.log(`ticket drop figures: ${JSON.stringify(figures)}`);

    assert.deepEqual(byOutcome, { '201': capacity, '409 sold-out': buyers - capacity }, 'exactly the capacity is held, the rest is sold out');
    assert.ok(figures.peakConcurrency >= buyers * 0.5, `at least half the buyers were in flight at once (${figures.peakConcurrency})`);

    const ids = new Set(held.map((result) => result.id));
    assert.equal(ids.size, capacity, 'every 201 names its own checkout');
    const counters = (await psql(databaseUrl, `SELECT capacity, held, sold FROM ticket_types WHERE id = '${type.id}'`)).trim();
    assert.equal(counters, `${capacity}|${capacity}|0`, 'capacity|held|sold in PostgreSQL');
    const rows = (await psql(databaseUrl, `SELECT checkout_id FROM holds WHERE ticket_type_id = '${type.id}' AND status = 'held'`))
      .trim()
      .split('\n');
    assert.equal(rows.length, capacity, 'held rows in PostgreSQL');
    assert.deepEqual(new Set(rows), ids, 'the held rows are exactly the answered checkouts');
    const allRows = (await psql(databaseUrl, `SELECT count(*), count(DISTINCT checkout_id) FROM holds`)).trim();
    assert.equal(allRows, `${capacity}|${capacity}`, 'no refused request left a row');
    const checkouts = (await psql(databaseUrl, 'SELECT count(*) FROM checkouts')).trim();
    assert.equal(checkouts, String(capacity));

    // The public view agrees too.
    const view = (await request(node.baseUrl, `/api/v1/events/${event.id}`)).json();
    const publicType = view.ticket_types.find((candidate) => candidate.id === type.id);
    assert.deepEqual([publicType.available, publicType.held, publicType.sold], [0, capacity, 0]);
    assert.ok(node.alive(), 'the node survived the drop');
  });
});
