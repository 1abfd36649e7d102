// Per-payment steering set through the control API: a scenario names one of our references
// (checkout id or payment id) and says, per provider account or by default, how the provider
// should misbehave for it — fail a call, time out after charging, refuse the connection, override
// the card's outcome, or deliver its webhooks late, twice, out of order or never.
export const operations = ['create', 'confirm', 'retrieve', 'cancel', 'refund', 'list'];
export const call_behaviours = ['ok', 'error_500', 'error_500_once', 'timeout_after_accept', 'refuse_connection'];
export const outcomes = ['approve', 'decline', 'three_ds'];
export const webhook_modes = ['normal', 'delay', 'duplicate', 'reorder', 'never'];

export class ScenarioError extends Error {}

const behaviour_fields = new Set([...operations, 'outcome', 'webhook', 'delay_ms', 'latency_ms', 'decline_code']);

function check_delay(value, name) {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 0 || value > 3_600_000) {
    throw new ScenarioError(`${name} must be an integer number of milliseconds from 0 to 3600000`);
  }
  return value;
}

function check_webhook(value, where) {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!webhook_modes.includes(value) || value === 'delay') {
      throw new ScenarioError(`${where}.webhook must be one of normal, duplicate, reorder, never or {"delay_ms": N}`);
    }
    return { mode: value, delay_ms: 0 };
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const delay_ms = check_delay(value.delay_ms, `${where}.webhook.delay_ms`);
    if (delay_ms === undefined) throw new ScenarioError(`${where}.webhook needs delay_ms`);
    return { mode: 'delay', delay_ms };
  }
  throw new ScenarioError(`${where}.webhook must be a string or {"delay_ms": N}`);
}

function check_behaviour(value, where) {
  if (value === undefined) return {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ScenarioError(`${where} must be an object`);
  const unknown = Object.keys(value).filter((key) => !behaviour_fields.has(key));
  if (unknown.length) throw new ScenarioError(`${where}: unknown field(s) ${unknown.join(', ')}`);
  const checked = {};
  for (const operation of operations) {
    if (value[operation] === undefined) continue;
    if (!call_behaviours.includes(value[operation])) {
      throw new ScenarioError(`${where}.${operation} must be one of ${call_behaviours.join(', ')}`);
    }
    checked[operation] = value[operation];
  }
  if (value.outcome !== undefined) {
    if (!outcomes.includes(value.outcome)) throw new ScenarioError(`${where}.outcome must be one of ${outcomes.join(', ')}`);
    checked.outcome = value.outcome;
  }
  if (value.decline_code !== undefined) checked.decline_code = String(value.decline_code);
  const webhook = check_webhook(value.webhook, where);
  if (webhook) checked.webhook = webhook;
  const delay_ms = check_delay(value.delay_ms, `${where}.delay_ms`);
  if (delay_ms !== undefined) checked.delay_ms = delay_ms;
  const latency_ms = check_delay(value.latency_ms, `${where}.latency_ms`);
  if (latency_ms !== undefined) checked.latency_ms = latency_ms;
  return checked;
}

export class ScenarioBook {
  #scenarios = new Map();
  #scenarios_max;

  constructor(scenarios_max) {
    this.#scenarios_max = scenarios_max;
  }

  // Replaces the scenario of `spec.reference`; throws ScenarioError on a bad field.
  set(spec) {
    if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new ScenarioError('the body must be a JSON object');
    const unknown = Object.keys(spec).filter((key) => !['reference', 'accounts', 'default'].includes(key));
    if (unknown.length) throw new ScenarioError(`unknown field(s) ${unknown.join(', ')}`);
    if (typeof spec.reference !== 'string' || spec.reference.length === 0 || spec.reference.length > 500) {
      throw new ScenarioError('reference must be a non-empty string of at most 500 characters');
    }
    if (!this.#scenarios.has(spec.reference) && this.#scenarios.size >= this.#scenarios_max) {
      throw new ScenarioError(`at most ${this.#scenarios_max} scenarios: POST /_sandbox/reset first`);
    }
    const accounts = {};
    if (spec.accounts !== undefined) {
      if (!spec.accounts || typeof spec.accounts !== 'object' || Array.isArray(spec.accounts)) {
        throw new ScenarioError('accounts must be an object keyed by account name');
      }
      for (const [name, behaviour] of Object.entries(spec.accounts)) {
        accounts[name] = check_behaviour(behaviour, `accounts.${name}`);
      }
    }
    const scenario = {
      reference: spec.reference,
      default: check_behaviour(spec.default, 'default'),
      accounts,
      fired_once: new Set(),
    };
    this.#scenarios.set(spec.reference, scenario);
    return this.describe(scenario);
  }

  delete(reference) {
    return this.#scenarios.delete(reference);
  }

  clear() {
    this.#scenarios.clear();
  }

  describe(scenario) {
    return { reference: scenario.reference, default: scenario.default, accounts: scenario.accounts };
  }

  list() {
    return [...this.#scenarios.values()].map((scenario) => this.describe(scenario));
  }

  #find(references) {
    for (const reference of references) {
      if (reference && this.#scenarios.has(reference)) return this.#scenarios.get(reference);
    }
    return null;
  }

  // The behaviour for these references on this account: account fields over default fields.
  behaviour(references, account_name) {
    const scenario = this.#find(references);
    if (!scenario) return {};
    return { ...scenario.default, ...(scenario.accounts[account_name] ?? {}) };
  }

  // What the call should do: the first of `operation_names` whose behaviour is not "ok".
  // "error_500_once" answers error_500 the first time for this reference, account and
  // operation, and ok afterwards.
  fault(references, account_name, operation_names) {
    const scenario = this.#find(references);
    if (!scenario) return { kind: 'ok', behaviour: {} };
    const behaviour = this.behaviour(references, account_name);
    for (const operation of operation_names) {
      const kind = behaviour[operation] ?? 'ok';
      if (kind === 'ok') continue;
      if (kind === 'error_500_once') {
        const slot = `${account_name}\u0000${operation}`;
        if (scenario.fired_once.has(slot)) continue;
        scenario.fired_once.add(slot);
        return { kind: 'error_500', operation, behaviour };
      }
      return { kind, operation, behaviour };
    }
    return { kind: 'ok', behaviour };
  }
}
