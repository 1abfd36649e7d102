// Delivers webhooks to each account's webhook_url the way the providers do: one POST per event,
// retried with exponential backoff while the receiver does not accept it (Stripe: any 2xx;
// Adyen: a 2xx whose body is "[accepted]"). A scenario can delay, duplicate, reorder or drop a
// payment's events. Every delivery is logged for /_sandbox/webhooks.
//
// Events of one payment make their first attempt in the order they were emitted (retries then
// run independently), so "normal" means in order and "reorder" is a real reversal.
import http from 'node:http';
import https from 'node:https';

// What is kept of a receiver's answer in the log, and read of it at most.
const response_body_logged_chars_max = 200;
const response_body_read_bytes_max = 64 * 1024;

export class WebhookDispatcher {
  #settings;
  #limits;
  #scenarios;
  #ca;
  #log = [];
  #held = new Map();
  #tails = new Map();
  #timers = new Set();
  #requests = new Set();
  #generation = 0;
  #pending = 0;
  #closed = false;
  #totals = { emitted: 0, delivered: 0, failed: 0, suppressed: 0, dropped: 0 };

  constructor({ settings, limits, scenarios, ca }) {
    this.#settings = settings;
    this.#limits = limits;
    this.#scenarios = scenarios;
    this.#ca = ca || undefined;
  }

  // item: { account, references, payment_key, event_id, type, terminal, payload (string),
  //         headers(now_seconds) -> object, accepted(status, body) -> bool }
  emit(item) {
    if (this.#closed) return;
    this.#totals.emitted += 1;
    const webhook = this.#scenarios.behaviour(item.references, item.account.name).webhook ?? { mode: 'normal', delay_ms: 0 };
    const record = this.#record(item, webhook.mode, 1);
    if (webhook.mode === 'never') {
      record.state = 'suppressed';
      this.#totals.suppressed += 1;
    } else if (webhook.mode === 'delay') {
      record.state = 'delayed';
      this.#after(webhook.delay_ms, () => this.#deliver(record, item));
    } else if (webhook.mode === 'duplicate') {
      const second = this.#record(item, webhook.mode, 2);
      this.#deliver(record, item);
      this.#deliver(second, item);
    } else if (webhook.mode === 'reorder') {
      this.#hold(record, item);
    } else {
      this.#deliver(record, item);
    }
  }

  // The delivery log, oldest first; only the entries of `reference` when given.
  log(reference) {
    const entries = reference ? this.#log.filter((entry) => entry.references.includes(reference)) : this.#log;
    return entries.map(({ references, ...entry }) => ({ ...entry, reference: references[0] ?? null }));
  }

  totals() {
    return { ...this.#totals, pending: this.#pending, held: [...this.#held.values()].reduce((n, group) => n + group.entries.length, 0) };
  }

  // Forgets the log and stops every pending delivery (an attempt on the wire finishes unlogged).
  reset() {
    this.#generation += 1;
    this.#cancel_timers();
    this.#held.clear();
    this.#tails.clear();
    this.#log = [];
    this.#pending = 0;
    this.#totals = { emitted: 0, delivered: 0, failed: 0, suppressed: 0, dropped: 0 };
  }

  close() {
    this.#closed = true;
    this.reset();
    for (const request of this.#requests) request.destroy();
    this.#requests.clear();
  }

  #record(item, mode, copy) {
    const record = {
      event_id: item.event_id,
      type: item.type,
      account: item.account.name,
      payment: item.payment_key,
      references: item.references,
      mode,
      copy,
      state: 'queued',
      attempts: 0,
      response_status: null,
      response_body: null,
      last_error: null,
      emitted_at: new Date().toISOString(),
      delivered_at: null,
    };
    this.#log.push(record);
    if (this.#log.length > this.#limits.webhook_log_max) this.#log.shift();
    return record;
  }

  #hold(record, item) {
    record.state = 'held';
    let group = this.#held.get(item.payment_key);
    if (!group) {
      group = { entries: [], timer: null };
      group.timer = this.#after(this.#settings.reorder_window_ms, () => this.#flush(item.payment_key));
      this.#held.set(item.payment_key, group);
    }
    group.entries.push({ record, item });
    if (item.terminal) this.#flush(item.payment_key);
  }

  // Sends a payment's held events newest first.
  #flush(payment_key) {
    const group = this.#held.get(payment_key);
    if (!group) return;
    this.#held.delete(payment_key);
    this.#cancel_timer(group.timer);
    for (const { record, item } of group.entries.reverse()) this.#deliver(record, item);
  }

  async #deliver(record, item) {
    if (!item.account.webhook_url) {
      record.state = 'no_endpoint';
      return;
    }
    if (this.#pending >= this.#limits.webhook_deliveries_pending_max) {
      record.state = 'dropped';
      record.last_error = `more than ${this.#limits.webhook_deliveries_pending_max} deliveries pending`;
      this.#totals.dropped += 1;
      return;
    }
    const generation = this.#generation;
    this.#pending += 1;
    record.state = 'queued';
    const release_turn = await this.#wait_turn(item.payment_key);
    try {
      for (let attempt = 1; attempt <= this.#settings.attempts_max; attempt += 1) {
        if (generation !== this.#generation) return;
        record.attempts = attempt;
        record.state = 'sending';
        const outcome = await this.#post(item);
        if (attempt === 1) release_turn();
        if (generation !== this.#generation) return;
        record.response_status = outcome.status ?? null;
        record.response_body = outcome.body === undefined ? null : outcome.body.slice(0, response_body_logged_chars_max);
        record.last_error = outcome.error ?? null;
        if (outcome.status !== undefined && item.accepted(outcome.status, outcome.body)) {
          record.state = 'delivered';
          record.delivered_at = new Date().toISOString();
          this.#totals.delivered += 1;
          return;
        }
        if (attempt < this.#settings.attempts_max) {
          record.state = 'retrying';
          await this.#sleep(this.#backoff_ms(attempt));
        }
      }
      record.state = 'failed';
      this.#totals.failed += 1;
    } finally {
      release_turn();
      if (generation === this.#generation) this.#pending -= 1;
    }
  }

  // Resolves once the payment's previous event made its first attempt; returns the release for ours.
  async #wait_turn(payment_key) {
    const previous = this.#tails.get(payment_key) ?? Promise.resolve();
    let release;
    const mine = new Promise((resolve) => {
      release = resolve;
    });
    this.#tails.set(payment_key, mine);
    await previous;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
      if (this.#tails.get(payment_key) === mine) this.#tails.delete(payment_key);
    };
  }

  #backoff_ms(attempt) {
    const { initial_delay_ms, max_delay_ms } = this.#settings;
    return Math.min(initial_delay_ms * 2 ** (attempt - 1), max_delay_ms);
  }

  // -> { status, body } or { error }
  #post(item) {
    return new Promise((resolve) => {
      let url;
      try {
        url = new URL(item.account.webhook_url);
      } catch (error) {
        resolve({ error: error.message });
        return;
      }
      const payload = Buffer.from(item.payload, 'utf8');
      const headers = { ...item.headers(Math.floor(Date.now() / 1000)), 'Content-Length': payload.length };
      const client = url.protocol === 'https:' ? https : http;
      const request = client.request(url, {
        method: 'POST',
        headers,
        agent: false,
        timeout: this.#settings.request_timeout_ms,
        ca: url.protocol === 'https:' ? this.#ca : undefined,
      });
      this.#requests.add(request);
      const finish = (outcome) => {
        this.#requests.delete(request);
        resolve(outcome);
      };
      request.on('response', (response) => {
        let body = '';
        let bytes = 0;
        response.setEncoding('utf8');
        response.on('data', (chunk) => {
          bytes += Buffer.byteLength(chunk);
          if (bytes <= response_body_read_bytes_max) body += chunk;
          else response.destroy();
        });
        response.on('end', () => finish({ status: response.statusCode, body }));
        response.on('error', () => finish({ status: response.statusCode, body }));
        response.on('close', () => finish({ status: response.statusCode, body }));
      });
      request.on('timeout', () => request.destroy(new Error(`no answer within ${this.#settings.request_timeout_ms} ms`)));
      request.on('error', (error) => finish({ error: error.message }));
      request.end(payload);
    });
  }

  #after(ms, callback) {
    const handle = setTimeout(() => {
      this.#timers.delete(handle);
      callback();
    }, ms);
    this.#timers.add(handle);
    return handle;
  }

  #sleep(ms) {
    return new Promise((resolve) => {
      const handle = setTimeout(() => {
        this.#timers.delete(handle);
        resolve();
      }, ms);
      handle.resolve = resolve;
      this.#timers.add(handle);
    });
  }

  #cancel_timer(handle) {
    if (!handle) return;
    clearTimeout(handle);
    this.#timers.delete(handle);
    handle.resolve?.();
  }

  #cancel_timers() {
    for (const handle of [...this.#timers]) this.#cancel_timer(handle);
  }
}
