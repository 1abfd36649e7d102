// The gateway's promises, checked against the real binary: health and readiness, metrics that
// Prometheus accepts, a clear problem+json answer to every kind of bad input (and a node that
// keeps serving after it), request ids, JSON logs, WebSocket echo and limits, connection limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

import {
  assertProblem,
  killAllChildren,
  openSocket,
  parseResponse,
  rawExchange,
  request,
  socketExchange,
  startNode,
  waitFor,
} from './harness.mjs';

// Small limits so oversized input is cheap to send.
const bodySizeMaxBytes = 4096;
const headerSizeMaxBytes = 4096;
const websocketMessageSizeMaxBytes = 1024;
const requestIdPattern = /^[A-Za-z0-9\-_.:]{1,128}$/;

function uniqueId(prefix) {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

async function assertStillServing(node) {
  const health = await request(node.baseUrl, '/healthz');
  assert.equal(health.status, 200, `/healthz after bad input: ${health.status} ${health.body}`);
}

function promtoolCheck(text) {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

function openWebSocket(node, path = '/ws/debug/echo') {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${node.port}${path}`);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function nextMessage(socket, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no WebSocket message within timeout')), timeoutMs);
    socket.once('message', (data, isBinary) => {
      clearTimeout(timer);
      resolve({ text: data.toString('utf8'), isBinary });
    });
  });
}

function closeEvent(socket, timeoutMs = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('WebSocket not closed within timeout')), timeoutMs);
    socket.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString('utf8') });
    });
  });
}

describe('gateway', () => {
  let node;

  before(async () => {
    node = await startNode({
      args: [
        `--http.body_size_max_bytes=${bodySizeMaxBytes}`,
        `--http.header_size_max_bytes=${headerSizeMaxBytes}`,
        `--websocket.message_size_max_bytes=${websocketMessageSizeMaxBytes}`,
      ],
    });
  });

  after(async () => {
    await killAllChildren();
  });

  test('a started node answers /healthz alive and /readyz ready', async () => {
    const health = await request(node.baseUrl, '/healthz');
    assert.equal(health.status, 200);
    assert.match(health.headers['content-type'], /^application\/json/);
    assert.deepEqual(health.json(), { status: 'alive' });

    // The first readiness probe may not have run yet when the node starts serving.
    const ready = await waitFor('/readyz 200', async () => {
      const answer = await request(node.baseUrl, '/readyz');
      return answer.status === 200 ? answer : null;
    });
    assert.deepEqual(ready.json(), { status: 'ready' });

    const info = await request(node.baseUrl, '/api/v1/node');
    assert.equal(info.status, 200);
    const body = info.json();
    assert.equal(body.version, '0.1.0');
    assert.equal(typeof body.node_id, 'string');
  });

  test('/metrics passes promtool and exposes the promised families', async () => {
    await request(node.baseUrl, '/healthz');
    const metrics = await request(node.baseUrl, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers['content-type'], /^text\/plain/);

    const check = await promtoolCheck(metrics.body);
    assert.equal(check.code, 0, `promtool check metrics failed (exit ${check.code}):\n${check.output}`);

    const types = new Map();
    for (const match of metrics.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(match[1], match[2]);
    for (const family of [
      'eventstripe_http_requests_total',
      'eventstripe_http_open_connections',
      'eventstripe_websocket_sessions',
      'eventstripe_database_pool_connections',
      'eventstripe_actors_running',
    ]) {
      assert.ok(types.has(family), `/metrics lacks ${family}; families: ${[...types.keys()].join(', ')}`);
    }
    const histograms = [...types].filter(([name, type]) => type === 'histogram' && /request_duration/.test(name));
    assert.equal(histograms.length, 1, 'one request-duration histogram');
    const [histogram] = histograms[0];
    assert.match(metrics.body, new RegExp(`^${histogram}_bucket\\{[^}]*le="\\+Inf"[^}]*\\} \\d+`, 'm'));

    // The /healthz request above was counted under its route.
    const counted = metrics.body
      .split('\n')
      .filter((line) => line.startsWith('eventstripe_http_requests_total{') && line.includes('route="/healthz"'));
    assert.ok(counted.length > 0, 'no eventstripe_http_requests_total sample for route /healthz');
  });

  test('malformed HTTP on a raw socket gets 400 malformed-request and the node keeps serving', async () => {
    const exchange = await rawExchange(node.port, 'GARBAGE\r\n\r\n');
    const answer = parseResponse(exchange.text);
    assertProblem(assert, answer, 400, 'malformed-request');
    assert.match(answer.headers['x-request-id'] ?? '', requestIdPattern, 'a rejected request still gets an id');
    await assertStillServing(node);
  });

  test('a malformed request target gets 400 malformed-request', async () => {
    const exchange = await rawExchange(node.port, 'GET /bad%zzescape HTTP/1.1\r\nHost: e2e\r\n\r\n');
    assertProblem(assert, parseResponse(exchange.text), 400, 'malformed-request');
    await assertStillServing(node);
  });

  test('debug echo returns valid JSON and answers malformed JSON with 400 malformed-json', async () => {
    const good = await request(node.baseUrl, '/api/v1/debug/echo', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ seats: 2, name: 'Zoë' }),
    });
    assert.equal(good.status, 200, good.body);
    assert.deepEqual(good.json(), { received: { seats: 2, name: 'Zoë' } });

    const bad = await request(node.baseUrl, '/api/v1/debug/echo', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"seats": 2,',
    });
    assertProblem(assert, bad, 400, 'malformed-json');
    await assertStillServing(node);
  });

  test('a body above http.body_size_max_bytes gets 413 body-too-large', async () => {
    const declared = await request(node.baseUrl, '/api/v1/debug/echo', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(bodySizeMaxBytes * 2) }),
    });
    assertProblem(assert, declared, 413, 'body-too-large');

    // Chunked: the size is not known up front, the limit must still hold.
    const chunk = 'x'.repeat(bodySizeMaxBytes + 100);
    const chunked = await rawExchange(
      node.port,
      'POST /api/v1/debug/echo HTTP/1.1\r\nHost: e2e\r\nContent-Type: application/json\r\n' +
        `Transfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    );
    assertProblem(assert, parseResponse(chunked.text), 413, 'body-too-large');
    await assertStillServing(node);
  });

  test('a request head above http.header_size_max_bytes gets 431 headers-too-large', async () => {
    const exchange = await rawExchange(
      node.port,
      `GET /healthz HTTP/1.1\r\nHost: e2e\r\nX-Padding: ${'p'.repeat(headerSizeMaxBytes + 500)}\r\n\r\n`,
    );
    assertProblem(assert, parseResponse(exchange.text), 431, 'headers-too-large');
    await assertStillServing(node);
  });

  test('an unknown route gets 404 not-found as problem+json', async () => {
    const answer = await request(node.baseUrl, '/api/v1/no-such-thing');
    assertProblem(assert, answer, 404, 'not-found');
    await assertStillServing(node);
  });

  test('a wrong method gets 405 method-not-allowed with Allow', async () => {
    const onHealth = await request(node.baseUrl, '/healthz', { method: 'DELETE' });
    assertProblem(assert, onHealth, 405, 'method-not-allowed');
    assert.equal(onHealth.headers.allow, 'GET');

    const onEcho = await request(node.baseUrl, '/api/v1/debug/echo');
    assertProblem(assert, onEcho, 405, 'method-not-allowed');
    assert.equal(onEcho.headers.allow, 'POST');
    await assertStillServing(node);
  });

  test('X-Request-Id is echoed when acceptable and generated otherwise', async () => {
    const chosen = 'e2e-Req_1.2:abc';
    const echoed = await request(node.baseUrl, '/healthz', { headers: { 'X-Request-Id': chosen } });
    assert.equal(echoed.headers['x-request-id'], chosen);

    const onError = await request(node.baseUrl, '/no-such-route', { headers: { 'X-Request-Id': chosen } });
    assert.equal(onError.status, 404);
    assert.equal(onError.headers['x-request-id'], chosen, 'error answers echo the id too');

    const first = await request(node.baseUrl, '/healthz');
    const second = await request(node.baseUrl, '/healthz');
    assert.match(first.headers['x-request-id'] ?? '', requestIdPattern);
    assert.match(second.headers['x-request-id'] ?? '', requestIdPattern);
    assert.notEqual(first.headers['x-request-id'], second.headers['x-request-id'], 'generated ids are unique');

    for (const unacceptable of ['has space', 'semi;colon', 'x'.repeat(129)]) {
      const answer = await request(node.baseUrl, '/healthz', { headers: { 'X-Request-Id': unacceptable } });
      const id = answer.headers['x-request-id'] ?? '';
      assert.notEqual(id, unacceptable, `unacceptable id ${JSON.stringify(unacceptable)} was echoed`);
      assert.match(id, requestIdPattern);
    }
  });

  test('each request is logged as one JSON line with ECS fields and its trace.id', async () => {
    const id = uniqueId('e2e-log');
    const answer = await request(node.baseUrl, '/healthz', { headers: { 'X-Request-Id': id } });
    assert.equal(answer.status, 200);
    // The log line is written after the answer, so give it a moment.
    const record = await waitFor(
      `a log record with trace.id ${id}`,
      () => node.logRecords().find((entry) => entry['trace.id'] === id),
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    assert.match(record['@timestamp'], /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    assert.equal(record['log.level'], 'info');
    assert.equal(typeof record.message, 'string');
    assert.equal(record['http.request.method'], 'GET');
    assert.equal(record['url.path'], '/healthz');
    assert.equal(record['http.response.status_code'], 200);
    assert.equal(typeof record['event.duration'], 'number');
    assert.ok(record['event.duration'] >= 0);
  });

  test('WebSocket echo: a text message and a ping come back', async () => {
    const socket = await openWebSocket(node);
    try {
      const reply = nextMessage(socket);
      socket.send('hold 2 seats — ünïcode');
      const message = await reply;
      assert.equal(message.text, 'hold 2 seats — ünïcode');
      assert.equal(message.isBinary, false);

      const pong = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no pong within 5 s')), 5_000);
        socket.once('pong', (data) => {
          clearTimeout(timer);
          resolve(data.toString('utf8'));
        });
      });
      socket.ping('e2e-ping');
      assert.equal(await pong, 'e2e-ping');
    } finally {
      socket.terminate();
    }
  });

  test('a WebSocket message above websocket.message_size_max_bytes closes the socket with 1009', async () => {
    const socket = await openWebSocket(node);
    try {
      const closed = closeEvent(socket);
      socket.send('x'.repeat(websocketMessageSizeMaxBytes * 2));
      const { code } = await closed;
      assert.equal(code, 1009);
    } finally {
      socket.terminate();
    }
    // The node still serves HTTP and new WebSockets.
    await assertStillServing(node);
    const again = await openWebSocket(node);
    try {
      const reply = nextMessage(again);
      again.send('still here');
      assert.equal((await reply).text, 'still here');
    } finally {
      again.terminate();
    }
  });

  test('every stdout line but the "serving on" line is one JSON object', async () => {
    await request(node.baseUrl, '/healthz');
    const complete = node.stdout().slice(0, node.stdout().lastIndexOf('\n'));
    const lines = complete.split('\n').filter((line) => line.length > 0);
    const human = lines.filter((line) => !line.startsWith('{'));
    assert.equal(human.length, 1, `non-JSON stdout lines: ${JSON.stringify(human)}`);
    assert.match(human[0], /^eventstripe \S+ serving on http:\/\//);
    for (const line of lines.filter((candidate) => candidate.startsWith('{'))) {
      assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    }
  });
});

describe('gateway connection limit', () => {
  after(async () => {
    await killAllChildren();
  });

  test('with http.connections_max=2, a third connection gets 503 too-many-connections', async () => {
    const node = await startNode({ args: ['--http.connections_max=2'] });
    const held = [];
    try {
      for (let i = 0; i < 2; i++) {
        const socket = await openSocket(node.port);
        held.push(socket);
        // A full keep-alive exchange proves the node accepted and counted this connection.
        const answer = await socketExchange(socket, 'GET /healthz HTTP/1.1\r\nHost: e2e\r\n\r\n');
        assert.equal(answer.status, 200);
      }
      const third = await rawExchange(node.port, 'GET /healthz HTTP/1.1\r\nHost: e2e\r\n\r\n');
      assertProblem(assert, parseResponse(third.text), 503, 'too-many-connections');
    } finally {
      for (const socket of held) socket.destroy();
    }
    // Once the held connections close, the node accepts again.
    await waitFor('/healthz 200 after the held connections closed', async () => {
      const answer = await request(node.baseUrl, '/healthz');
      return answer.status === 200;
    }, { timeoutMs: 5_000 });
  });
});
