// The orderly way down: on SIGTERM/SIGINT a node stops taking work, lets in-flight requests
// finish within shutdown.deadline_ms, closes WebSockets with 1001 and exits 0; a request that
// outlives the deadline does not keep the node alive.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';

import { deadline, killAllChildren, request, sleep, startNode, waitFor } from './harness.mjs';

// Time for a request whose connection the node accepted to reach its handler.
const requestArrivalMs = 200;

async function openConnections(node) {
  const metrics = await request(node.baseUrl, '/metrics');
  const match = /^eventstripe_http_open_connections(?:\{\})? (\S+)$/m.exec(metrics.body);
  return match ? Number(match[1]) : NaN;
}

// Waits until the node holds `count` connections besides the one asking, then a little longer
// so the request on the newest one is being handled before a signal is sent.
async function waitForConnections(node, count) {
  await waitFor(`${count} open connections`, async () => (await openConnections(node)) >= count + 1, {
    timeoutMs: 5_000,
    intervalMs: 20,
  });
  await sleep(requestArrivalMs);
}

function inFlightAtShutdown(node) {
  const record = node.logRecords().find((entry) => entry.message === 'shutting down');
  return record?.['http.requests_in_flight'];
}

function openWebSocket(node) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${node.port}/ws/debug/echo`);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function logMessages(node) {
  return node.logRecords().map((record) => record.message);
}

// What a client connecting after the signal sees: refused, or a 503 answer.
async function newConnectionOutcome(node) {
  try {
    const answer = await request(node.baseUrl, '/healthz', { timeoutMs: 3_000 });
    return `answered ${answer.status} ${answer.body}`;
  } catch (error) {
    return error.code ?? error.message;
  }
}

describe('shutdown', () => {
  after(async () => {
    await killAllChildren();
  });

  test('SIGTERM lets an in-flight request finish, refuses new work, closes WebSockets with 1001, exits 0', async () => {
    const node = await startNode({ args: ['--shutdown.deadline_ms=5000'] });
    await waitFor('/readyz 200', async () => (await request(node.baseUrl, '/readyz')).status === 200);

    const socket = await openWebSocket(node);
    const closed = new Promise((resolve) => socket.once('close', (code) => resolve(code)));
    socket.on('error', () => {});

    const inFlight = request(node.baseUrl, '/api/v1/debug/sleep?ms=1500', { timeoutMs: 10_000 }).then(
      (answer) => answer,
      (error) => error,
    );
    await waitForConnections(node, 2); // the WebSocket and the sleeping request
    const signalledAt = Date.now();
    node.process.kill('SIGTERM');

    // The listener closes right after "shutting down" is logged.
    await waitFor('the "shutting down" log line', () => logMessages(node).includes('shutting down'), {
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    assert.equal(inFlightAtShutdown(node), 1, 'the sleeping request was in flight when SIGTERM arrived');
    await sleep(100);
    const outcome = await newConnectionOutcome(node);
    assert.ok(
      outcome === 'ECONNREFUSED' || outcome.startsWith('answered 503'),
      `a new connection after SIGTERM must be refused or get 503, got: ${outcome}`,
    );

    const answer = await inFlight;
    assert.ok(!(answer instanceof Error), `the in-flight request failed: ${answer?.message}`);
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(answer.json(), { slept_ms: 1500 });
    assert.ok(Date.now() - signalledAt >= 1000, 'the in-flight request was answered before it had slept');

    assert.equal(await closed, 1001, 'WebSocket close code on shutdown');
    const code = await node.stop('SIGTERM');
    assert.equal(code, 0, node.logs());
    assert.ok(logMessages(node).includes('stopped'), `no "stopped" log line:\n${node.logs()}`);
  });

  test('SIGINT stops an idle node with exit code 0', async () => {
    const node = await startNode();
    assert.equal((await request(node.baseUrl, '/healthz')).status, 200);
    const code = await node.stop('SIGINT');
    assert.equal(code, 0, node.logs());
    assert.ok(logMessages(node).includes('stopped'), `no "stopped" log line:\n${node.logs()}`);
  });

  test('a request running past shutdown.deadline_ms does not keep the node alive', async () => {
    const deadlineMs = 300;
    const sleepMs = 30_000;
    // The deadline, then close_all()'s 2 s grace for WebSocket handshakes, then a margin.
    const exitWithinMs = deadlineMs + 2_000 + 3_000;
    const node = await startNode({ args: [`--shutdown.deadline_ms=${deadlineMs}`] });

    const slow = request(node.baseUrl, `/api/v1/debug/sleep?ms=${sleepMs}`, { timeoutMs: sleepMs + 5_000 }).catch(
      (error) => error,
    );
    await waitForConnections(node, 1);
    const signalledAt = Date.now();
    node.process.kill('SIGTERM');
    const exited = await Promise.race([node.exited, deadline(exitWithinMs)]);
    const tookMs = Date.now() - signalledAt;
    assert.ok(
      exited !== null,
      `the node was still running ${exitWithinMs} ms after SIGTERM with shutdown.deadline_ms=${deadlineMs} ` +
        `(a ${sleepMs} ms request in flight)\n${node.logs()}`,
    );
    assert.equal(inFlightAtShutdown(node), 1, 'the slow request was in flight when SIGTERM arrived');
    assert.equal(exited.code, 0, `exit code after the deadline passed (${tookMs} ms)\n${node.logs()}`);
    await slow; // the client sees its connection closed; either outcome is fine here
  });
});
