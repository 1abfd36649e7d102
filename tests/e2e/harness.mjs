// Shared helpers of the end-to-end suite: start and stop real `eventstripe` nodes, make
// throw-away databases and private PostgreSQL clusters, and speak raw HTTP where a client
// library would hide what the node sent. Every process started here is tracked and killed when
// the test file ends, whatever happened, so no node or PostgreSQL outlives a failed test.
import { spawn, execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

// A timer for Promise.race that does not keep the test process alive once the race is decided.
export function deadline(ms, value = null) {
  return sleep(ms, value, { ref: false });
}

// How long a node may take from spawn to its "serving on" line (migrations included).
export const nodeStartTimeoutMs = 20_000;
// How long a node may take to exit after SIGTERM/SIGINT before the harness calls it hung.
export const nodeStopTimeoutMs = 15_000;
// Short readiness re-probe so database outages show on /readyz within a fraction of a second.
export const readinessProbeIntervalMs = 200;
const processOutputMaxBytes = 8 * 1024 * 1024;
const psqlTimeoutMs = 15_000;

export const repoRoot =
  process.env.ES_REPO_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export function binary() {
  const file = process.env.EVENTSTRIPE_BINARY;
  if (!file) {
    throw new Error(
      'EVENTSTRIPE_BINARY is not set: point it at the built node, e.g. ' +
        'EVENTSTRIPE_BINARY=build/eventstripe (ctest sets it from $<TARGET_FILE:eventstripe>)',
    );
  }
  return file;
}

export function testDatabaseUrl() {
  const url = process.env.ES_TEST_DATABASE_URL;
  if (!url) {
    throw new Error(
      'ES_TEST_DATABASE_URL is not set: the e2e tests need a throw-away PostgreSQL, e.g. ' +
        'ES_TEST_DATABASE_URL=$(storage/local-postgres.sh start /tmp/es-e2e-pg 55433)',
    );
  }
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error(`ES_TEST_DATABASE_URL must be a postgresql:// URL, got '${url}'`);
  }
  return url;
}

// --- process bookkeeping -----------------------------------------------------------------------

const liveChildren = new Set();
const exitCleanups = new Set();

// Last resort when the test runner exits with children still alive (a thrown `before`, a
// cancelled test): only synchronous work is possible here.
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const cleanup of exitCleanups) {
    try {
      cleanup();
    } catch {
      // best effort
    }
  }
});

function track(child) {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

// The node gets PATH and HOME and nothing else from our environment: it rejects unknown
// EVENTSTRIPE_* variables, and a developer's shell must not change what a test sees.
function cleanEnvironment(extra = {}) {
  const env = {};
  if (process.env.PATH) env.PATH = process.env.PATH;
  if (process.env.HOME) env.HOME = process.env.HOME;
  return { ...env, ...extra };
}

function exitPromise(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve({ code: child.exitCode, signal: child.signalCode });
      return;
    }
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

function collect(stream, sink) {
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    if (sink.text.length < processOutputMaxBytes) sink.text += chunk;
  });
}

// Runs the binary to completion (configuration errors, --help, start-up failures).
export async function runBinary({ args = [], env = {}, timeoutMs = 15_000 } = {}) {
  const child = spawn(binary(), args, { env: cleanEnvironment(env), stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const stdout = { text: '' };
  const stderr = { text: '' };
  collect(child.stdout, stdout);
  collect(child.stderr, stderr);
  const spawned = new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  await spawned;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await exitPromise(child);
  clearTimeout(timer);
  // 'exit' may fire before the pipes are drained.
  await Promise.all([onceClosed(child.stdout), onceClosed(child.stderr)]);
  if (signal === 'SIGKILL') {
    throw new Error(
      `eventstripe ${args.join(' ')} did not exit within ${timeoutMs} ms\n` +
        `--- stdout ---\n${stdout.text}\n--- stderr ---\n${stderr.text}`,
    );
  }
  return { code, signal, stdout: stdout.text, stderr: stderr.text };
}

function onceClosed(stream) {
  return new Promise((resolve) => {
    if (stream.destroyed || stream.readableEnded) return resolve();
    stream.once('close', resolve);
  });
}

const servingLine = /^eventstripe \S+ serving on (http:\/\/127\.0\.0\.1:(\d+))  \(health /m;

// Starts a node on a free port and waits for its "serving on" line.
export async function startNode({ args = [], env = {}, databaseUrl, startTimeoutMs = nodeStartTimeoutMs } = {}) {
  const url = databaseUrl ?? testDatabaseUrl();
  const argv = [
    '--http.port=0',
    '--http.debug_endpoints=true',
    `--database.url=${url}`,
    `--database.readiness_probe_interval_ms=${readinessProbeIntervalMs}`,
    ...args,
  ];
  const child = spawn(binary(), argv, { env: cleanEnvironment(env), stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const stdout = { text: '' };
  const stderr = { text: '' };
  collect(child.stdout, stdout);
  collect(child.stderr, stderr);
  const exited = exitPromise(child);
  const logs = () => stdout.text + (stderr.text ? `\n--- stderr ---\n${stderr.text}` : '');

  const describeFailure = (what) =>
    new Error(`${what}\ncommand: ${binary()} ${argv.join(' ')}\n--- stdout ---\n${stdout.text}\n--- stderr ---\n${stderr.text}`);

  const serving = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.kill('SIGKILL');
      reject(describeFailure(`eventstripe printed no "serving on" line within ${startTimeoutMs} ms`));
    }, startTimeoutMs);
    const onData = () => {
      const match = servingLine.exec(stdout.text);
      if (match) {
        cleanup();
        resolve({ baseUrl: match[1], port: Number(match[2]) });
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(describeFailure(`eventstripe exited before serving (code ${code}, signal ${signal})`));
    };
    const onError = (error) => {
      cleanup();
      reject(describeFailure(`cannot start eventstripe: ${error.message}`));
    };
    function cleanup() {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
    onData();
  });

  return {
    baseUrl: serving.baseUrl,
    port: serving.port,
    process: child,
    exited,
    logs,
    stdout: () => stdout.text,
    stderr: () => stderr.text,
    // The JSON log lines of stdout (the human "serving on" line and partial lines skipped).
    logRecords: () => parseLogRecords(stdout.text),
    alive: () => child.exitCode === null && child.signalCode === null,
    // Sends `signal` and resolves to the exit code; SIGKILLs and throws when the node hangs.
    async stop(signal = 'SIGTERM', timeoutMs = nodeStopTimeoutMs) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const outcome = await Promise.race([exited, deadline(timeoutMs)]);
      if (outcome === null) {
        child.kill('SIGKILL');
        await exited;
        throw describeFailure(`eventstripe did not exit within ${timeoutMs} ms of ${signal}`);
      }
      await Promise.all([onceClosed(child.stdout), onceClosed(child.stderr)]);
      return outcome.code;
    },
  };
}

export function parseLogRecords(text) {
  const records = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      records.push(JSON.parse(line));
    } catch {
      // the last line may still be incomplete
    }
  }
  return records;
}

// Kills every child still running (for `after` hooks); never throws.
export async function killAllChildren() {
  const waits = [];
  for (const child of liveChildren) {
    waits.push(exitPromise(child));
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  await Promise.all(waits);
}

// --- polling -----------------------------------------------------------------------------------

// Calls `probe` until it returns a truthy value; throws with `what` and the last value/error.
export async function waitFor(what, probe, { timeoutMs = 15_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

// --- HTTP --------------------------------------------------------------------------------------

// One request on its own connection (no keep-alive pool, so no test leaves sockets behind
// that count against a node's connection limit or keep it from draining).
export function request(baseUrl, target, { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const url = new URL(target, baseUrl);
    const outgoing = http.request(
      url,
      { method, headers, agent: false, timeout: timeoutMs },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode,
            headers: response.headers,
            body: text,
            json() {
              return JSON.parse(text);
            },
          }),
        );
        response.on('error', reject);
      },
    );
    outgoing.on('timeout', () => outgoing.destroy(new Error(`${method} ${target} timed out after ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

// Writes raw bytes on a fresh connection and returns everything the node sent until it
// closed the connection (or `timeoutMs` passed).
export function rawExchange(port, bytes, { timeoutMs = 5_000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks = [];
    let done = false;
    const finish = (closedByPeer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedByPeer });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (error) => {
      // A reset after the answer arrived still lets us judge the answer.
      if (chunks.length > 0) finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(error);
      }
    });
  });
}

// Parses the first HTTP/1.x response in `text` (Content-Length bodies only).
export function parseResponse(text) {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`no complete HTTP response head in ${JSON.stringify(text.slice(0, 300))}`);
  const [statusLine, ...lines] = text.slice(0, headEnd).split('\r\n');
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!statusMatch) throw new Error(`not an HTTP status line: ${JSON.stringify(statusLine)}`);
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = text.slice(headEnd + 4);
  if (headers['content-length'] !== undefined) body = body.slice(0, Number(headers['content-length']));
  return { status: Number(statusMatch[1]), headers, body };
}

// A connection kept open on purpose (connection limits, keep-alive).
export function openSocket(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => {}); // a reset later is judged by whoever uses the socket
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

// Sends one request on an open socket and resolves to the parsed answer once its whole
// Content-Length body has arrived; the socket stays open.
export function socketExchange(socket, bytes, { timeoutMs = 5_000 } = {}) {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no complete answer within ${timeoutMs} ms: ${JSON.stringify(text)}`)), timeoutMs);
    const onData = (chunk) => {
      text += chunk.toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const answer = parseResponse(text);
      const length = Number(answer.headers['content-length'] ?? 0);
      if (Buffer.byteLength(text.slice(headEnd + 4), 'latin1') >= length) finish(null, answer);
    };
    const onClose = () => finish(new Error(`connection closed before a complete answer: ${JSON.stringify(text)}`));
    function finish(error, answer) {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (error) reject(error);
      else resolve(answer);
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(bytes);
  });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// --- PostgreSQL --------------------------------------------------------------------------------

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

function databaseNameOf(url) {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

// Runs SQL through psql and returns its unaligned, tuples-only output.
export function psql(url, sql, { timeoutMs = psqlTimeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      'psql',
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-tA', '-d', url, '-c', sql],
      { env: cleanEnvironment({ PGCONNECT_TIMEOUT: '5' }), timeout: timeoutMs },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`psql failed on ${JSON.stringify(sql)}: ${stderr || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

// A fresh, empty database on the server of `serverUrl` (default ES_TEST_DATABASE_URL);
// resolves to its URL. Pair with dropDatabase in `after`.
export async function createDatabase({ serverUrl = testDatabaseUrl(), prefix = 'es_e2e' } = {}) {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await psql(withDatabase(serverUrl, 'postgres'), `CREATE DATABASE ${name}`);
  return withDatabase(serverUrl, name);
}

export async function dropDatabase(url) {
  const name = databaseNameOf(url);
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`refusing to drop database '${name}'`);
  await psql(withDatabase(url, 'postgres'), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

// A private PostgreSQL cluster (storage/local-postgres.sh) the test may stop and start.
export async function startPrivatePostgres() {
  const script = path.join(repoRoot, 'storage', 'local-postgres.sh');
  // Under /tmp: as root the server runs as `postgres`, which must be able to reach it.
  const datadir = mkdtempSync(path.join(tmpdir(), 'es-e2e-pg-'));
  const port = await freePort();
  const run = (...args) =>
    new Promise((resolve, reject) => {
      execFile('bash', [script, ...args], { env: cleanEnvironment(), timeout: 90_000 }, (error, stdout, stderr) => {
        if (error) reject(new Error(`local-postgres.sh ${args.join(' ')} failed: ${stderr || error.message}`));
        else resolve(stdout.trim());
      });
    });
  const stopSync = () => {
    try {
      execFileSync('bash', [script, 'stop', datadir], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // best effort at exit
    }
    rmSync(datadir, { recursive: true, force: true });
  };
  exitCleanups.add(stopSync);
  let url;
  try {
    url = await run('start', datadir, String(port));
  } catch (error) {
    stopSync();
    exitCleanups.delete(stopSync);
    throw error;
  }
  return {
    url,
    port,
    datadir,
    start: () => run('start', datadir, String(port)),
    stop: () => run('stop', datadir),
    async destroy() {
      exitCleanups.delete(stopSync);
      try {
        await run('stop', datadir);
      } finally {
        rmSync(datadir, { recursive: true, force: true });
      }
    },
  };
}

// --- assertions shared by several files --------------------------------------------------------

export const problemTypeBase = 'https://eventstripe.dev/problems/';

// Checks that `response` is an RFC 9457 problem document of `slug` with `status`.
export function assertProblem(assert, response, status, slug) {
  assert.equal(response.status, status, `expected ${status} ${slug}, got ${response.status}: ${response.body}`);
  assert.match(
    String(response.headers['content-type'] ?? ''),
    /^application\/problem\+json/,
    `content-type of a ${status} answer`,
  );
  const body = JSON.parse(response.body);
  assert.equal(body.type, problemTypeBase + slug);
  assert.equal(body.status, status);
  assert.equal(typeof body.title, 'string');
  assert.ok(body.title.length > 0, 'problem title is empty');
  assert.equal(typeof body.detail, 'string');
  return body;
}
