// Organizers, workspaces and API keys against the real binary: a sign-up's key works, HTTP Basic
// makes more keys, secrets are shown once and never listed, a revoked key is refused at once, a
// workspace can neither see nor revoke another's keys (404), and bad input gets a problem+json
// answer and changes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import { assertProblem, createDatabase, dropDatabase, killAllChildren, psql, request, startNode } from './harness.mjs';

const keyPattern = /^es_key_[a-z2-7]{20}_[0-9a-f]{64}$/;
const password = 'correct horse battery staple';

function json(body) {
  return { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
}

function post(node, target, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return request(node.baseUrl, target, { method: 'POST', headers: { ...json(text), ...headers }, body: text });
}

function bearer(key) {
  return { authorization: `Bearer ${key}` };
}

function basic(email, secret) {
  return { authorization: `Basic ${Buffer.from(`${email}:${secret}`).toString('base64')}` };
}

async function signUp(node, email, workspaceName = 'Acme Events') {
  const answer = await post(node, '/api/v1/organizers', { email, password, workspace_name: workspaceName });
  assert.equal(answer.status, 201, `sign-up of ${email}: ${answer.status} ${answer.body}`);
  return answer.json();
}

function flipLastDigit(key) {
  return key.slice(0, -1) + (key.endsWith('0') ? '1' : '0');
}

function assertUnauthenticated(answer) {
  assertProblem(assert, answer, 401, 'unauthenticated');
  assert.match(String(answer.headers['www-authenticate'] ?? ''), /^Bearer realm="eventstripe"/);
}

describe('organizers', () => {
  let databaseUrl;
  let node;

  before(async () => {
    databaseUrl = await createDatabase();
    node = await startNode({ databaseUrl });
  });

  after(async () => {
    await killAllChildren();
    if (databaseUrl) await dropDatabase(databaseUrl);
  });

  test('a sign-up answers its workspace and a key, shown once, that works on GET /api/v1/workspace', async () => {
    const signedUp = await signUp(node, 'Ada@Example.com', 'Analytical Engines');
    assert.equal(signedUp.organizer.email, 'ada@example.com');
    assert.match(signedUp.organizer.id, /^org_[a-z2-7]{20}$/);
    assert.match(signedUp.workspace.id, /^ws_[a-z2-7]{20}$/);
    assert.equal(signedUp.workspace.name, 'Analytical Engines');
    assert.match(signedUp.api_key.key, keyPattern);
    assert.ok(signedUp.api_key.key.startsWith(`es_${signedUp.api_key.id}_`));

    const workspace = await request(node.baseUrl, '/api/v1/workspace', { headers: bearer(signedUp.api_key.key) });
    assert.equal(workspace.status, 200, workspace.body);
    assert.deepEqual(workspace.json(), signedUp.workspace);

    const stored = await psql(databaseUrl, `SELECT count(*) FROM api_keys WHERE workspace_id = '${signedUp.workspace.id}'`);
    assert.equal(stored.trim(), '1');
    const storedHash = await psql(databaseUrl, `SELECT encode(secret_hash, 'hex') FROM api_keys WHERE id = '${signedUp.api_key.id}'`);
    const secret = Buffer.from(signedUp.api_key.key.split('_').pop(), 'hex');
    assert.equal(storedHash.trim(), createHash('sha256').update(secret).digest('hex'), 'only the SHA-256 of the secret is stored');

    const again = await post(node, '/api/v1/organizers', { email: 'ADA@example.COM', password, workspace_name: 'Copy' });
    assertProblem(assert, again, 409, 'email-taken');
  });

  test('HTTP Basic makes a second key; the list shows both without secrets; a revoked key gets 401 at once', async () => {
    const signedUp = await signUp(node, 'grace@example.com');
    const firstKey = signedUp.api_key.key;

    const wrongPassword = await post(node, '/api/v1/api-keys', { name: 'ci' }, basic('grace@example.com', `${password}!`));
    assertUnauthenticated(wrongPassword);
    const unknownEmail = await post(node, '/api/v1/api-keys', { name: 'ci' }, basic('nobody@example.com', password));
    assertUnauthenticated(unknownEmail);

    const created = await post(node, '/api/v1/api-keys', { name: 'ci' }, basic('GRACE@example.com', password));
    assert.equal(created.status, 201, created.body);
    const second = created.json();
    assert.equal(second.name, 'ci');
    assert.match(second.key, keyPattern);

    const listed = await request(node.baseUrl, '/api/v1/api-keys', { headers: bearer(firstKey) });
    assert.equal(listed.status, 200, listed.body);
    const { api_keys: keys, has_more: hasMore } = listed.json();
    assert.equal(hasMore, false);
    assert.deepEqual(keys.map((key) => key.id).sort(), [signedUp.api_key.id, second.id].sort());
    for (const key of keys) {
      assert.deepEqual(Object.keys(key).sort(), ['created_at', 'id', 'name', 'revoked_at']);
      assert.equal(key.revoked_at, null);
    }
    assert.ok(!listed.body.includes(firstKey.split('_').pop()), 'the list shows no secret');
    assert.ok(!listed.body.includes(second.key.split('_').pop()), 'the list shows no secret');

    // Used just before it is revoked, so it sits in the node's verified-key cache.
    assert.equal((await request(node.baseUrl, '/api/v1/workspace', { headers: bearer(second.key) })).status, 200);
    const revoked = await request(node.baseUrl, `/api/v1/api-keys/${second.id}`, {
      method: 'DELETE',
      headers: bearer(firstKey),
    });
    assert.equal(revoked.status, 204, revoked.body);
    assertUnauthenticated(await request(node.baseUrl, '/api/v1/workspace', { headers: bearer(second.key) }));
    assertUnauthenticated(await request(node.baseUrl, '/api/v1/api-keys', { headers: bearer(second.key) }));

    const afterRevoke = (await request(node.baseUrl, '/api/v1/api-keys', { headers: basic('grace@example.com', password) })).json();
    const revokedEntry = afterRevoke.api_keys.find((key) => key.id === second.id);
    assert.ok(revokedEntry.revoked_at, 'the revoked key is listed with revoked_at');
    assert.equal((await request(node.baseUrl, '/api/v1/workspace', { headers: bearer(firstKey) })).status, 200);
  });

  test("workspace B's key can neither see nor revoke workspace A's keys (404), nor use them", async () => {
    const a = await signUp(node, 'a@isolation.example');
    const b = await signUp(node, 'b@isolation.example');

    const revoke = await request(node.baseUrl, `/api/v1/api-keys/${a.api_key.id}`, {
      method: 'DELETE',
      headers: bearer(b.api_key.key),
    });
    assertProblem(assert, revoke, 404, 'not-found');
    const unknown = await request(node.baseUrl, '/api/v1/api-keys/key_aaaaaaaaaaaaaaaaaaaa', {
      method: 'DELETE',
      headers: bearer(b.api_key.key),
    });
    assertProblem(assert, unknown, 404, 'not-found');
    assert.equal(unknown.json().detail, revoke.json().detail, "another workspace's key looks like no key at all");

    const listedByB = (await request(node.baseUrl, '/api/v1/api-keys', { headers: bearer(b.api_key.key) })).json();
    assert.deepEqual(listedByB.api_keys.map((key) => key.id), [b.api_key.id]);
    const workspaceOfB = (await request(node.baseUrl, '/api/v1/workspace', { headers: bearer(b.api_key.key) })).json();
    assert.equal(workspaceOfB.id, b.workspace.id);

    // A's key survived B's attempt.
    const workspaceOfA = await request(node.baseUrl, '/api/v1/workspace', { headers: bearer(a.api_key.key) });
    assert.equal(workspaceOfA.status, 200);
    assert.equal(workspaceOfA.json().id, a.workspace.id);

    // A key with A's id and B's secret is not A's key.
    const forged = `es_${a.api_key.id}_${b.api_key.key.split('_').pop()}`;
    assertUnauthenticated(await request(node.baseUrl, '/api/v1/workspace', { headers: bearer(forged) }));
  });

  test('missing, malformed and misplaced credentials get 401 with WWW-Authenticate: Bearer', async () => {
    const signedUp = await signUp(node, 'creds@example.com');
    for (const headers of [
      {},
      { authorization: 'Bearer' },
      { authorization: 'Bearer es_nonsense' },
      { authorization: `Bearer ${flipLastDigit(signedUp.api_key.key)}` },
      { authorization: `Token ${signedUp.api_key.key}` },
      { authorization: `Bearer ${'x'.repeat(2000)}` },
      { authorization: 'Basic !!!not-base64!!!' },
      basic('creds@example.com', password), // a password is not accepted on /workspace
    ]) {
      const answer = await request(node.baseUrl, '/api/v1/workspace', { headers });
      assertUnauthenticated(answer);
    }
    assertUnauthenticated(await request(node.baseUrl, '/api/v1/api-keys', { headers: basic('creds@example.com', 'short') }));
  });

  test('bad sign-up input gets a problem answer and creates nothing', async () => {
    const email = 'table@example.com';
    const good = { email, password, workspace_name: 'Table' };
    const cases = [
      { name: 'malformed JSON', body: '{"email": "table@example.com",', status: 400, slug: 'malformed-json' },
      { name: 'not an object', body: '["table@example.com"]', status: 422, slug: 'invalid-body' },
      { name: 'unknown field', body: { ...good, admin: true }, status: 422, slug: 'unknown-field' },
      { name: 'missing email', body: { password, workspace_name: 'Table' }, status: 422, slug: 'missing-field' },
      { name: 'short password', body: { ...good, password: 'short' }, status: 422, slug: 'invalid-field' },
      { name: 'huge password', body: { ...good, password: 'p'.repeat(257) }, status: 422, slug: 'invalid-field' },
      { name: 'bad email', body: { ...good, email: 'table-at-example.com' }, status: 422, slug: 'invalid-field' },
      { name: 'long email', body: { ...good, email: `${'t'.repeat(64)}@${'e'.repeat(190)}.com` }, status: 422, slug: 'invalid-field' },
      { name: 'huge name', body: { ...good, workspace_name: 'w'.repeat(201) }, status: 422, slug: 'invalid-field' },
      { name: 'blank name', body: { ...good, workspace_name: '   ' }, status: 422, slug: 'invalid-field' },
      { name: 'wrong type', body: { ...good, password: 123456789012345 }, status: 422, slug: 'invalid-field' },
      { name: 'null email', body: { ...good, email: null }, status: 422, slug: 'missing-field' },
    ];
    for (const bad of cases) {
      const answer = await post(node, '/api/v1/organizers', bad.body);
      assertProblem(assert, answer, bad.status, bad.slug);
    }
    const organizers = await psql(databaseUrl, `SELECT count(*) FROM organizers WHERE email = '${email}'`);
    assert.equal(organizers.trim(), '0');
    // The email is still free: nothing of the bad attempts was written.
    await signUp(node, email, 'Table');
  });

  test('bad API key input gets a problem answer and creates no key', async () => {
    const signedUp = await signUp(node, 'keys@example.com');
    const auth = bearer(signedUp.api_key.key);
    const cases = [
      { body: '{"name":', status: 400, slug: 'malformed-json' },
      { body: { name: 'x', scopes: ['all'] }, status: 422, slug: 'unknown-field' },
      { body: {}, status: 422, slug: 'missing-field' },
      { body: { name: 42 }, status: 422, slug: 'invalid-field' },
      { body: { name: 'n'.repeat(201) }, status: 422, slug: 'invalid-field' },
      { body: { name: 'tab\there' }, status: 422, slug: 'invalid-field' },
    ];
    for (const bad of cases) assertProblem(assert, await post(node, '/api/v1/api-keys', bad.body, auth), bad.status, bad.slug);
    assertUnauthenticated(await post(node, '/api/v1/api-keys', { name: 'no credentials' }));
    const listed = (await request(node.baseUrl, '/api/v1/api-keys', { headers: auth })).json();
    assert.equal(listed.api_keys.length, 1);
    const malformedId = await request(node.baseUrl, '/api/v1/api-keys/..%2F..', { method: 'DELETE', headers: auth });
    assertProblem(assert, malformedId, 404, 'not-found');
  });
});
