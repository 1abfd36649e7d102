// The node and its database: readiness follows PostgreSQL's availability without the process
// dying, concurrent starts migrate a fresh schema exactly once, and an unreachable database at
// start is exit code 3 with a message that names the server but never the password.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  assertProblem,
  createDatabase,
  dropDatabase,
  freePort,
  killAllChildren,
  psql,
  request,
  runBinary,
  startNode,
  startPrivatePostgres,
  waitFor,
} from './harness.mjs';

// Readiness must follow an outage or a recovery within this long (probe interval 200 ms, plus
// a connect timeout and pool reconnects).
const readinessChangeTimeoutMs = 15_000;

async function readyzStatus(node) {
  return (await request(node.baseUrl, '/readyz', { timeoutMs: 5_000 })).status;
}

describe('database', () => {
  const cleanups = [];

  after(async () => {
    await killAllChildren();
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        console.error(`cleanup failed: ${error.message}`);
      }
    }
  });

  test('PostgreSQL going away makes /readyz 503 while /healthz stays 200; its return makes /readyz 200', async () => {
    const postgres = await startPrivatePostgres();
    cleanups.push(() => postgres.destroy());
    const node = await startNode({
      databaseUrl: postgres.url,
      args: ['--database.connect_timeout_ms=1000'],
    });
    await waitFor('/readyz 200 at start', async () => (await readyzStatus(node)) === 200, {
      timeoutMs: readinessChangeTimeoutMs,
    });

    await postgres.stop();
    const notReady = await waitFor(
      '/readyz 503 after PostgreSQL stopped',
      async () => {
        const answer = await request(node.baseUrl, '/readyz', { timeoutMs: 5_000 });
        return answer.status === 503 ? answer : null;
      },
      { timeoutMs: readinessChangeTimeoutMs },
    );
    assertProblem(assert, notReady, 503, 'not-ready');
    const health = await request(node.baseUrl, '/healthz');
    assert.equal(health.status, 200, 'the node is alive while its database is down');
    assert.ok(node.alive(), `the node exited while its database was down:\n${node.logs()}`);

    await postgres.start();
    await waitFor('/readyz 200 after PostgreSQL came back', async () => (await readyzStatus(node)) === 200, {
      timeoutMs: readinessChangeTimeoutMs,
    });
    assert.ok(node.alive());
    assert.equal(await node.stop(), 0, node.logs());
  });

  test('two nodes starting at once on a fresh database both become ready and apply each migration once', async () => {
    const url = await createDatabase();
    cleanups.push(() => dropDatabase(url));
    const nodes = await Promise.all([startNode({ databaseUrl: url }), startNode({ databaseUrl: url })]);
    for (const node of nodes) {
      await waitFor(`/readyz 200 on ${node.baseUrl}`, async () => (await readyzStatus(node)) === 200, {
        timeoutMs: readinessChangeTimeoutMs,
      });
    }
    const rows = (await psql(url, 'SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split('|').map(Number));
    assert.ok(rows.length > 0, 'schema_migrations is empty');
    for (const [version, count] of rows) assert.equal(count, 1, `migration ${version} recorded ${count} times`);
    for (const node of nodes) assert.equal(await node.stop(), 0, node.logs());
  });

  test('an unreachable database at start exits 3 with a clear message that hides the password', async () => {
    const closedPort = await freePort();
    const password = 'secretpw';
    const result = await runBinary({
      args: [`--database.url=postgresql://u:${password}@127.0.0.1:${closedPort}/x`, '--http.port=0'],
    });
    assert.equal(result.code, 3, `exit code\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
    assert.match(result.stderr, /^eventstripe: cannot connect to PostgreSQL at /m);
    assert.ok(result.stderr.includes(String(closedPort)), `stderr names the server: ${result.stderr}`);
    assert.ok(!result.stderr.includes(password), `stderr leaks the password: ${result.stderr}`);
    assert.ok(!result.stdout.includes(password), `the log leaks the password: ${result.stdout}`);
  });
});
