// Stripe's request bodies are `application/x-www-form-urlencoded` with bracketed keys
// (`metadata[checkout_id]=c1`, `expand[]=latest_charge`). This turns them into nested objects the
// way Stripe reads them, and gives parameters a canonical form so idempotency can compare them.

// A body with more parameters or deeper nesting than this is refused as malformed.
export const form_parameters_max = 1000;
export const form_depth_max = 5;

const forbidden_keys = new Set(['__proto__', 'constructor', 'prototype']);

export class FormError extends Error {}

// Splits `a[b][]` into ['a', 'b', '']; null when the key is not of that form.
function split_key(raw_key) {
  const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(raw_key);
  if (!match) return null;
  const segments = [match[1]];
  for (const part of match[2].matchAll(/\[([^[\]]*)\]/g)) segments.push(part[1]);
  return segments;
}

function is_index(segment) {
  return segment === '' || /^\d{1,4}$/.test(segment);
}

function assign(root, segments, value, raw_key) {
  let container = root;
  for (let i = 0; i < segments.length; i += 1) {
    const segment = segments[i];
    if (forbidden_keys.has(segment)) throw new FormError(`Invalid parameter name: ${raw_key}`);
    const last = i === segments.length - 1;
    if (Array.isArray(container) && !is_index(segment)) throw new FormError(`Invalid array: ${raw_key}`);
    const slot = Array.isArray(container) && segment === '' ? container.length : segment;
    if (last) {
      container[slot] = value;
      return;
    }
    const wants_array = is_index(segments[i + 1]);
    const existing = container[slot];
    if (existing === undefined) {
      container[slot] = wants_array ? [] : {};
    } else if (typeof existing !== 'object' || Array.isArray(existing) !== wants_array) {
      throw new FormError(`Invalid parameter: ${raw_key} mixes a value, a hash and an array`);
    }
    container = container[slot];
  }
}

// Parses a form body (or a query string) into nested plain objects and arrays of strings.
export function parse_form(text) {
  const root = {};
  let count = 0;
  for (const [raw_key, value] of new URLSearchParams(text)) {
    count += 1;
    if (count > form_parameters_max) throw new FormError(`Too many parameters (at most ${form_parameters_max})`);
    const segments = split_key(raw_key);
    if (!segments) throw new FormError(`Invalid parameter name: ${raw_key}`);
    if (segments.length > form_depth_max) throw new FormError(`Parameter nested too deeply: ${raw_key}`);
    assign(root, segments, value, raw_key);
  }
  return root;
}

// Encodes nested objects the way Stripe's clients do (used by tests and tooling).
export function encode_form(object, prefix = '') {
  const parts = [];
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined || value === null) continue;
    const name = prefix ? `${prefix}[${key}]` : key;
    if (Array.isArray(value)) {
      value.forEach((item, index) => {
        if (typeof item === 'object') parts.push(encode_form(item, `${name}[${index}]`));
        else parts.push(`${encodeURIComponent(`${name}[]`)}=${encodeURIComponent(String(item))}`);
      });
    } else if (typeof value === 'object') {
      const nested = encode_form(value, name);
      if (nested) parts.push(nested);
    } else {
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
    }
  }
  return parts.filter(Boolean).join('&');
}

// JSON with object keys sorted at every level: equal parameters give equal strings.
export function canonical_json(value) {
  if (Array.isArray(value)) return `[${value.map(canonical_json).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical_json(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
