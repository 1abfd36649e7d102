// The sandbox's configuration: defaults < JSON file < environment < command-line flags, checked
// once at start with an error that names the field, so a bad file never half-starts a server.
import { readFileSync } from 'node:fs';

export const defaults = Object.freeze({
  host: '127.0.0.1',
  port: 0,
  // Base of the URLs the sandbox hands out (3-D Secure pages); empty: its own listening URL.
  public_url: '',
  tls: null,
  accounts: [],
  stripe_api_version: '2025-02-24.acacia',
  log_requests: false,
  webhooks: {
    attempts_max: 6,
    initial_delay_ms: 1_000,
    max_delay_ms: 60_000,
    request_timeout_ms: 10_000,
    // "reorder" holds a payment's events this long at most before sending them newest first.
    reorder_window_ms: 2_000,
    ca_file: '',
  },
  faults: {
    // How long "timeout_after_accept" holds an answer when the scenario names no delay_ms.
    timeout_after_accept_delay_ms: 30_000,
  },
  limits: {
    body_bytes_max: 1024 * 1024,
    payments_max: 100_000,
    idempotency_keys_max: 200_000,
    webhook_log_max: 20_000,
    webhook_deliveries_pending_max: 10_000,
    scenarios_max: 10_000,
    held_answers_max: 1_000,
  },
});

export class ConfigError extends Error {}

function fail(message) {
  throw new ConfigError(message);
}

function integer_in(value, name, minimum, maximum) {
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    fail(`${name} must be an integer from ${minimum} to ${maximum}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function text(value, name, { required = true } = {}) {
  if (value === undefined || value === null || value === '') {
    if (required) fail(`${name} is required`);
    return '';
  }
  if (typeof value !== 'string') fail(`${name} must be a string`);
  return value;
}

function check_url(value, name) {
  if (!value) return '';
  let url;
  try {
    url = new URL(value);
  } catch {
    fail(`${name} is not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${name} must be http:// or https://`);
  return value;
}

function check_account(account, index, seen_names, seen_keys) {
  const where = `accounts[${index}]`;
  if (!account || typeof account !== 'object') fail(`${where} must be an object`);
  const name = text(account.name, `${where}.name`);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) fail(`${where}.name must be 1-64 of A-Z a-z 0-9 _ . -`);
  if (seen_names.has(name)) fail(`${where}.name '${name}' is used twice`);
  seen_names.add(name);
  const format = account.format;
  if (format !== 'stripe' && format !== 'adyen') fail(`${where}.format must be "stripe" or "adyen"`);
  const api_key = text(account.api_key, `${where}.api_key`);
  if (seen_keys.has(`${format}:${api_key}`)) fail(`${where}.api_key is used by another ${format} account`);
  seen_keys.add(`${format}:${api_key}`);
  const checked = { name, format, api_key, webhook_url: check_url(account.webhook_url, `${where}.webhook_url`) };
  if (format === 'stripe') {
    checked.webhook_secret = text(account.webhook_secret, `${where}.webhook_secret`);
    if (!checked.webhook_secret.startsWith('whsec_')) fail(`${where}.webhook_secret must start with whsec_`);
    checked.enabled_events = account.enabled_events ?? ['*'];
    if (!Array.isArray(checked.enabled_events)) fail(`${where}.enabled_events must be a list of event types`);
  } else {
    checked.hmac_key = text(account.hmac_key, `${where}.hmac_key`);
    if (!/^(?:[0-9A-Fa-f]{2})+$/.test(checked.hmac_key)) fail(`${where}.hmac_key must be hex (an even number of digits)`);
    checked.merchant_account = text(account.merchant_account, `${where}.merchant_account`);
    if (account.webhook_basic_auth !== undefined) {
      const auth = account.webhook_basic_auth;
      checked.webhook_basic_auth = {
        username: text(auth?.username, `${where}.webhook_basic_auth.username`),
        password: text(auth?.password, `${where}.webhook_basic_auth.password`, { required: false }),
      };
    }
  }
  return checked;
}

function check_numbers(section, given, name, bounds) {
  const merged = { ...defaults[section], ...(given ?? {}) };
  for (const [key, [minimum, maximum]] of Object.entries(bounds)) {
    integer_in(merged[key], `${name}.${key}`, minimum, maximum);
  }
  const unknown = Object.keys(given ?? {}).filter((key) => !(key in defaults[section]));
  if (unknown.length) fail(`unknown ${name} setting(s): ${unknown.join(', ')}`);
  return merged;
}

// Returns a complete, checked configuration; throws ConfigError naming the first bad field.
export function check_config(input = {}) {
  if (!input || typeof input !== 'object') fail('the configuration must be a JSON object');
  const known = new Set(Object.keys(defaults));
  const unknown = Object.keys(input).filter((key) => !known.has(key));
  if (unknown.length) fail(`unknown setting(s): ${unknown.join(', ')}`);
  const config = { ...defaults, ...input };
  integer_in(config.port, 'port', 0, 65_535);
  text(config.host, 'host');
  check_url(config.public_url, 'public_url');
  if (config.tls) {
    text(config.tls.cert, 'tls.cert');
    text(config.tls.key, 'tls.key');
  }
  if (!Array.isArray(config.accounts) || config.accounts.length === 0) fail('accounts must list at least one account');
  const names = new Set();
  const keys = new Set();
  config.accounts = config.accounts.map((account, index) => check_account(account, index, names, keys));
  config.webhooks = check_numbers('webhooks', input.webhooks, 'webhooks', {
    attempts_max: [1, 100],
    initial_delay_ms: [0, 3_600_000],
    max_delay_ms: [0, 86_400_000],
    request_timeout_ms: [1, 600_000],
    reorder_window_ms: [0, 600_000],
  });
  config.faults = check_numbers('faults', input.faults, 'faults', { timeout_after_accept_delay_ms: [0, 3_600_000] });
  config.limits = check_numbers('limits', input.limits, 'limits', {
    body_bytes_max: [1024, 64 * 1024 * 1024],
    payments_max: [1, 10_000_000],
    idempotency_keys_max: [1, 10_000_000],
    webhook_log_max: [1, 10_000_000],
    webhook_deliveries_pending_max: [1, 1_000_000],
    scenarios_max: [1, 1_000_000],
    held_answers_max: [1, 100_000],
  });
  return config;
}

// A certificate or key given inline (PEM text) or as a file path.
export function read_pem(value) {
  return value.includes('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

function parse_json(source, what) {
  try {
    return JSON.parse(source);
  } catch (error) {
    fail(`${what} is not valid JSON: ${error.message}`);
  }
}

const usage = `usage: node sandbox/server.mjs [--config FILE] [--port N] [--host ADDRESS]
environment: SANDBOX_CONFIG (file), SANDBOX_CONFIG_JSON (inline JSON), SANDBOX_PORT, SANDBOX_HOST`;

// Reads the command line and environment of server.mjs into a raw (unchecked) configuration.
export function load_config(argv, env) {
  const flags = {};
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (flag === '--help' || flag === '-h') return { help: usage };
    if (!['--config', '--port', '--host'].includes(flag)) fail(`unknown argument '${argv[i]}'\n${usage}`);
    const value = inline ?? argv[(i += 1)];
    if (value === undefined) fail(`${flag} needs a value\n${usage}`);
    flags[flag.slice(2)] = value;
  }
  let config = {};
  const file = flags.config ?? env.SANDBOX_CONFIG;
  if (file) {
    let source;
    try {
      source = readFileSync(file, 'utf8');
    } catch (error) {
      fail(`cannot read the configuration file ${file}: ${error.message}`);
    }
    config = parse_json(source, file);
  }
  if (env.SANDBOX_CONFIG_JSON) config = { ...config, ...parse_json(env.SANDBOX_CONFIG_JSON, 'SANDBOX_CONFIG_JSON') };
  const port = flags.port ?? env.SANDBOX_PORT;
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port)) fail(`the port must be a number, got '${port}'`);
    config.port = Number(port);
  }
  const host = flags.host ?? env.SANDBOX_HOST;
  if (host !== undefined) config.host = host;
  return { config };
}
