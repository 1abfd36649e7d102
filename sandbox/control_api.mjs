// The sandbox's own API under /_sandbox/ (no authentication: tests and demos only): steer
// payments with scenarios, and read back what the "provider" holds and what it delivered.
import { ScenarioError } from './scenarios.mjs';
import { payment_summary } from './store.mjs';

function parse_json(text) {
  try {
    return { value: text.length ? JSON.parse(text) : {} };
  } catch (error) {
    return { error: `the body is not JSON: ${error.message}` };
  }
}

function payments_of(context, reference) {
  const seen = new Set();
  const payments = [];
  for (const record of context.store.by_reference(reference)) {
    if (seen.has(record.id)) continue;
    seen.add(record.id);
    payments.push(payment_summary(record));
  }
  return payments;
}

async function set_scenario(context, exchange) {
  const parsed = parse_json(await exchange.read_body(context.config.limits.body_bytes_max));
  if (parsed.error) return exchange.send({ status: 400, body: { error: parsed.error } });
  const unknown_accounts = Object.keys(parsed.value?.accounts ?? {}).filter((name) => !context.account_named(name));
  if (unknown_accounts.length) {
    return exchange.send({ status: 400, body: { error: `unknown account(s): ${unknown_accounts.join(', ')}` } });
  }
  try {
    return exchange.send({ status: 201, body: context.scenarios.set(parsed.value) });
  } catch (error) {
    if (error instanceof ScenarioError) return exchange.send({ status: 400, body: { error: error.message } });
    throw error;
  }
}

// Forgets stored idempotency keys, as if the provider's retention (Stripe: 24 hours) had passed.
async function expire_idempotency(context, exchange) {
  const parsed = parse_json(await exchange.read_body(context.config.limits.body_bytes_max));
  if (parsed.error) return exchange.send({ status: 400, body: { error: parsed.error } });
  const body = parsed.value;
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).some((key) => key !== 'account')) {
    return exchange.send({ status: 400, body: { error: 'the body must be {} or {"account": "<name>"}' } });
  }
  if (body.account !== undefined && (typeof body.account !== 'string' || !context.account_named(body.account))) {
    return exchange.send({ status: 400, body: { error: `unknown account: ${body.account}` } });
  }
  return exchange.send({ status: 200, body: { expired: context.idempotency.expire(body.account ?? null) } });
}

export async function handle_control(context, exchange) {
  const { method, path, url } = exchange;
  const reference = url.searchParams.get('reference');
  if (method === 'POST' && path === '/_sandbox/scenarios') return set_scenario(context, exchange);
  if (method === 'GET' && path === '/_sandbox/scenarios') return exchange.send({ status: 200, body: { scenarios: context.scenarios.list() } });
  if (method === 'DELETE' && path.startsWith('/_sandbox/scenarios/')) {
    const deleted = context.scenarios.delete(decodeURIComponent(path.slice('/_sandbox/scenarios/'.length)));
    return exchange.send({ status: deleted ? 200 : 404, body: { deleted } });
  }
  if (method === 'GET' && path === '/_sandbox/payments') {
    if (!reference) return exchange.send({ status: 400, body: { error: 'reference= is required' } });
    return exchange.send({ status: 200, body: { reference, payments: payments_of(context, reference) } });
  }
  if (method === 'GET' && path === '/_sandbox/webhooks') {
    return exchange.send({ status: 200, body: { reference, deliveries: context.webhooks.log(reference) } });
  }
  if (method === 'GET' && path === '/_sandbox/stats') {
    const stats = context.store.stats(context.config.accounts.map((account) => account.name));
    return exchange.send({ status: 200, body: { ...stats, webhooks: context.webhooks.totals() } });
  }
  if (method === 'POST' && path === '/_sandbox/idempotency/expire') return expire_idempotency(context, exchange);
  if (method === 'POST' && path === '/_sandbox/reset') {
    context.reset();
    return exchange.send({ status: 200, body: { reset: true } });
  }
  if (method === 'GET' && path === '/_sandbox/health') return exchange.send({ status: 200, body: { ok: true } });
  return exchange.send({ status: 404, body: { error: `no control endpoint ${method} ${path}` } });
}
