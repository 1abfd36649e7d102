// A sandbox payment provider: one small HTTP(S) server that speaks Stripe's and Adyen's wire
// formats to our node, delivers their signed webhooks back to it, and lets tests steer each
// payment (faults, outcomes, webhook timing) and read what was really charged.
//
//   const sandbox = await startSandbox(config);   // config: see README.md
//   sandbox.url; await sandbox.close();
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

import { handle_adyen } from './adyen_api.mjs';
import { check_config, read_pem } from './config.mjs';
import { handle_control } from './control_api.mjs';
import { BodyTooLargeError, Exchange } from './exchange.mjs';
import { FormError } from './form_encoding.mjs';
import { IdempotencyStore } from './idempotency.mjs';
import { ScenarioBook } from './scenarios.mjs';
import { PaymentStore } from './store.mjs';
import { handle_stripe } from './stripe_api.mjs';
import { handle_three_ds } from './three_ds.mjs';
import { WebhookDispatcher } from './webhooks.mjs';

export { check_config } from './config.mjs';
export { adyen_hmac_signature, adyen_signing_string, stripe_signature_header, stripe_signature_matches } from './signatures.mjs';

// Timers that keep answers back or simulate latency; all of them end when the sandbox closes.
class Waits {
  #pending = new Set();

  // Resolves after `ms`, when `exchange`'s client goes away, or when the sandbox closes.
  wait(ms, exchange) {
    return new Promise((resolve) => {
      const entry = { resolve: null, timer: null };
      const done = () => {
        clearTimeout(entry.timer);
        this.#pending.delete(entry);
        exchange?.response.off('close', done);
        resolve();
      };
      entry.resolve = done;
      entry.timer = setTimeout(done, ms);
      exchange?.response.once('close', done);
      this.#pending.add(entry);
    });
  }

  get size() {
    return this.#pending.size;
  }

  release_all() {
    for (const entry of [...this.#pending]) entry.resolve();
  }
}

function make_context(config) {
  const scenarios = new ScenarioBook(config.limits.scenarios_max);
  const waits = new Waits();
  const context = {
    config,
    public_base: config.public_url,
    public_url: () => context.public_base.replace(/\/$/, ''),
    account_named: (name) => config.accounts.find((account) => account.name === name) ?? null,
    store: new PaymentStore(config.limits.payments_max),
    idempotency: new IdempotencyStore(config.limits.idempotency_keys_max),
    scenarios,
    payment_methods: new Map(),
    webhooks: new WebhookDispatcher({
      settings: config.webhooks,
      limits: config.limits,
      scenarios,
      ca: config.webhooks.ca_file ? readFileSync(config.webhooks.ca_file, 'utf8') : undefined,
    }),
    timeout_after_accept_delay_ms: config.faults.timeout_after_accept_delay_ms,
    waits,
    sleep: (ms) => waits.wait(ms, null),
    // Holds an answer back (the charge already happened); past the limit, answers at once.
    hold: (exchange, ms) => (waits.size >= config.limits.held_answers_max ? Promise.resolve() : waits.wait(ms, exchange)),
    reset() {
      context.store.clear();
      context.idempotency.clear();
      context.scenarios.clear();
      context.payment_methods.clear();
      context.webhooks.reset();
    },
  };
  return context;
}

async function dispatch(context, exchange) {
  const { path } = exchange;
  if (path.startsWith('/_sandbox/')) return handle_control(context, exchange);
  if (path.startsWith('/sandbox/3ds/')) return handle_three_ds(context, exchange);
  if (path.startsWith('/v1/')) return handle_stripe(context, exchange);
  if (/^\/v\d+\//.test(path)) return handle_adyen(context, exchange);
  return exchange.send({ status: 404, body: { error: `nothing at ${exchange.method} ${path}` } });
}

function handler(context) {
  return (request, response) => {
    let url;
    try {
      url = new URL(request.url, 'http://sandbox.invalid');
    } catch {
      response.writeHead(400).end();
      return;
    }
    const exchange = new Exchange(request, response, url);
    if (context.config.log_requests) {
      response.on('finish', () => process.stderr.write(`${request.method} ${url.pathname} -> ${response.statusCode}\n`));
    }
    dispatch(context, exchange).catch((error) => {
      if (error instanceof BodyTooLargeError) return exchange.send({ status: 413, body: { error: error.message } });
      if (error instanceof FormError) return exchange.send({ status: 400, body: { error: error.message } });
      process.stderr.write(`sandbox: ${request.method} ${url.pathname} failed: ${error.stack ?? error}\n`);
      return exchange.send({ status: 500, body: { error: 'sandbox internal error', detail: String(error.message ?? error) } });
    });
  };
}

// Starts a sandbox; resolves once it listens. `input` is the configuration (README.md).
export async function startSandbox(input) {
  const config = check_config(input);
  const context = make_context(config);
  const server = config.tls
    ? https.createServer({ cert: read_pem(config.tls.cert), key: read_pem(config.tls.key) }, handler(context))
    : http.createServer(handler(context));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address();
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;
  if (!context.public_base) context.public_base = url;
  let closed = null;
  return {
    url,
    port,
    config,
    // In-process access for tests (the same data as the control API).
    store: context.store,
    scenarios: context.scenarios,
    webhooks: context.webhooks,
    reset: () => context.reset(),
    close() {
      closed ??= new Promise((resolve) => {
        context.webhooks.close();
        context.waits.release_all();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
