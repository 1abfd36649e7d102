// Configuration at process level: every bad value stops the node with exit code 2 and one
// stderr line naming the key, before anything starts; --help documents every key; and
// --print-config never shows a secret.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { freePort, killAllChildren, runBinary } from './harness.mjs';

const exitConfigError = 2;

// The keys a node is documented to accept (config/settings.hpp); one missing from --help is
// undocumented.
const documentedKeys = [
  'http.host',
  'http.port',
  'http.threads',
  'http.header_size_max_bytes',
  'http.body_size_max_bytes',
  'http.read_timeout_ms',
  'http.idle_timeout_ms',
  'http.connections_max',
  'http.debug_endpoints',
  'websocket.message_size_max_bytes',
  'websocket.send_queue_max',
  'database.url',
  'database.password',
  'database.pool_size',
  'database.queue_size_max',
  'database.connect_timeout_ms',
  'database.readiness_probe_interval_ms',
  'node.id',
  'log.level',
  'actors.threads',
  'shutdown.deadline_ms',
];

describe('configuration', () => {
  let scratch;
  // A database nobody listens on: a bad value that slipped through shows as exit 3, not a hang.
  let unreachableDatabase;

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'es-e2e-config-'));
    unreachableDatabase = `postgresql://nobody@127.0.0.1:${await freePort()}/none`;
  });

  after(async () => {
    await killAllChildren();
    rmSync(scratch, { recursive: true, force: true });
  });

  const invalid = [
    { name: 'http.port=70000', key: 'http.port', known: true, args: ['--http.port=70000'] },
    { name: 'http.read_timeout_ms=-5', key: 'http.read_timeout_ms', known: true, args: ['--http.read_timeout_ms=-5'] },
    { name: 'unknown flag --no.such=1', key: 'no.such', known: false, args: ['--no.such=1'] },
    {
      name: 'unknown environment variable EVENTSTRIPE_HTTP_PROT',
      key: 'EVENTSTRIPE_HTTP_PROT',
      known: false,
      env: { EVENTSTRIPE_HTTP_PROT: '1' },
    },
    { name: 'unreadable --config=/nonexistent', key: '/nonexistent', known: false, args: ['--config=/nonexistent'] },
    { name: 'log.level=loud', key: 'log.level', known: true, args: ['--log.level=loud'] },
    {
      name: 'http.port=70000 from the environment',
      key: 'http.port',
      known: true,
      env: { EVENTSTRIPE_HTTP_PORT: '70000' },
    },
    {
      name: 'log.level=loud from a config file',
      key: 'log.level',
      known: true,
      file: 'log.level = loud\n',
    },
  ];

  for (const entry of invalid) {
    test(`invalid configuration is exit 2 naming the key: ${entry.name}`, async () => {
      const args = [`--database.url=${unreachableDatabase}`, '--http.port=0', ...(entry.args ?? [])];
      if (entry.file) {
        const file = path.join(scratch, `${entry.key}.conf`);
        writeFileSync(file, entry.file);
        args.push(`--config=${file}`);
      }
      const result = await runBinary({ args, env: entry.env ?? {} });
      assert.equal(
        result.code,
        exitConfigError,
        `exit code for ${entry.name}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`,
      );
      const lines = result.stderr.split('\n').filter((line) => line.length > 0);
      assert.equal(lines.length, 1, `one stderr line expected, got:\n${result.stderr}`);
      const prefix = 'eventstripe: configuration error: ';
      assert.ok(lines[0].startsWith(prefix), `stderr line: ${lines[0]}`);
      if (entry.known) assert.ok(lines[0].startsWith(`${prefix}${entry.key}: `), `names ${entry.key} first: ${lines[0]}`);
      else assert.ok(lines[0].includes(entry.key), `names ${entry.key}: ${lines[0]}`);
    });
  }

  test('--help lists every configuration key and exits 0', async () => {
    const result = await runBinary({ args: ['--help'] });
    assert.equal(result.code, 0, result.stderr);
    const listed = new Set([...result.stdout.matchAll(/^\s+--([a-z_.]+) /gm)].map((match) => match[1]));
    for (const key of documentedKeys) assert.ok(listed.has(key), `--help does not list ${key}`);

    // Every key the node knows (as --print-config shows them) is documented in --help.
    const printed = await runBinary({ args: ['--print-config', `--database.url=${unreachableDatabase}`] });
    assert.equal(printed.code, 0, printed.stderr);
    const known = [...printed.stdout.matchAll(/^([a-z_.]+) = /gm)].map((match) => match[1]);
    assert.ok(known.length >= documentedKeys.length, `--print-config lists ${known.length} keys`);
    for (const key of known) assert.ok(listed.has(key), `--help does not list ${key}, which --print-config shows`);
  });

  test('--print-config never shows a password given in database.url, --database.password or the environment', async () => {
    const result = await runBinary({
      args: [
        '--print-config',
        '--database.url=postgresql://admin:hunter2-url-secret@db.example.com:5432/es',
        '--database.password=pw-flag-secret',
      ],
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes('hunter2-url-secret'), `database.url password shown:\n${result.stdout}`);
    assert.ok(!result.stdout.includes('pw-flag-secret'), `database.password shown:\n${result.stdout}`);
    // Still useful: the user and server remain visible.
    assert.match(result.stdout, /^database\.url = postgresql:\/\/admin:\S*@db\.example\.com:5432\/es/m);
    assert.match(result.stdout, /^database\.password = \S+/m, 'a set password is shown as set, not as empty');

    const fromEnvironment = await runBinary({
      args: ['--print-config', '--database.url=postgresql://admin@db.example.com/es'],
      env: { EVENTSTRIPE_DATABASE_PASSWORD: 'pw-env-secret' },
    });
    assert.equal(fromEnvironment.code, 0, fromEnvironment.stderr);
    assert.ok(!fromEnvironment.stdout.includes('pw-env-secret'), `password from the environment shown`);
  });

  // Other spellings libpq accepts for a password in database.url.
  const passwordSpellings = [
    { name: 'conninfo password=', url: 'host=db.example.com user=admin password=conninfo-secret dbname=es', secret: 'conninfo-secret' },
    { name: 'URL query ?password=', url: 'postgresql://admin@db.example.com/es?password=query-secret&sslmode=disable', secret: 'query-secret' },
    { name: 'percent-encoded URL password', url: 'postgresql://admin:p%40ss-encoded-secret@db.example.com/es', secret: 'encoded-secret' },
    { name: 'conninfo password = with spaces', url: 'host=db.example.com password = spaced-secret dbname=es', secret: 'spaced-secret' },
    { name: "conninfo password='quoted value'", url: "host=db.example.com password='quoted two-words-secret' dbname=es", secret: 'two-words-secret' },
  ];
  for (const spelling of passwordSpellings) {
    test(`--print-config hides a password given as ${spelling.name}`, async () => {
      const result = await runBinary({ args: ['--print-config', `--database.url=${spelling.url}`] });
      assert.equal(result.code, 0, result.stderr);
      const line = result.stdout.split('\n').find((candidate) => candidate.startsWith('database.url = '));
      assert.ok(!result.stdout.includes(spelling.secret), `password shown: ${line}`);
    });
  }
});
