// Stripe's API as our node uses it: PaymentIntents (create, confirm, retrieve, cancel),
// Refunds (create, retrieve, list) and Charges, form-encoded requests, JSON answers, Stripe's
// errors and idempotency, and signed Stripe events to the account's webhook endpoint.
import { declines, resolve_card } from './cards.mjs';
import { BodyTooLargeError } from './exchange.mjs';
import { FormError, canonical_json, parse_form } from './form_encoding.mjs';
import { stripe_id, stripe_request_id, stripe_secret_suffix } from './ids.mjs';
import { format_amount, known_currencies } from './money.mjs';
import { run_mutation } from './mutation.mjs';
import { stripe_signature_header } from './signatures.mjs';
import { StoreFullError } from './store.mjs';
import {
  event_object, new_charge, now_seconds, payment_intent_object, payment_method_object, refund_object, stripe_error,
} from './stripe_objects.mjs';

const idempotency_key_chars_max = 255;
const amount_max = 99_999_999;
const metadata_keys_max = 50;
const metadata_key_chars_max = 40;
const metadata_value_chars_max = 500;
const terminal_events = new Set(['payment_intent.succeeded', 'payment_intent.payment_failed', 'payment_intent.canceled']);
const cancelable = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing'];
const confirmable = ['requires_payment_method', 'requires_confirmation'];

const create_parameters = new Set([
  'amount', 'currency', 'payment_method', 'confirm', 'metadata', 'description', 'return_url', 'capture_method',
  'receipt_email', 'payment_method_types', 'automatic_payment_methods', 'confirmation_method', 'statement_descriptor',
  'statement_descriptor_suffix', 'setup_future_usage', 'customer', 'off_session', 'error_on_requires_action', 'expand',
  'payment_method_options', 'use_stripe_sdk', 'shipping', 'transfer_group', 'on_behalf_of', 'mandate_data', 'radar_options',
]);
const confirm_parameters = new Set([
  'payment_method', 'return_url', 'receipt_email', 'expand', 'payment_method_options', 'setup_future_usage', 'off_session',
  'error_on_requires_action', 'mandate_data', 'use_stripe_sdk', 'shipping', 'capture_method', 'radar_options',
  'payment_method_types', 'client_secret',
]);
const cancel_parameters = new Set(['cancellation_reason', 'expand']);
const refund_parameters = new Set([
  'payment_intent', 'charge', 'amount', 'metadata', 'reason', 'expand', 'instructions_email', 'refund_application_fee',
  'reverse_transfer',
]);
// Stripe also takes `created` and `expand` on this list; the sandbox refuses them (see list_refunds).
const refund_list_parameters = new Set(['payment_intent', 'charge', 'limit', 'starting_after', 'ending_before']);
const refund_list_unsupported = new Set(['created', 'expand']);
const list_limit_default = 10;
const list_limit_max = 100;

// A 4xx that Stripe raises while checking a request; thrown, caught, answered, never stored.
class StripeRefusal extends Error {
  constructor(answer) {
    super(answer.body.error.message);
    this.answer = answer;
  }
}

function refuse(status, fields) {
  throw new StripeRefusal(stripe_error(status, { type: 'invalid_request_error', ...fields }));
}

// --- parameters ---------------------------------------------------------------------------------

function check_known(params, allowed) {
  for (const name of Object.keys(params)) {
    if (!allowed.has(name)) refuse(400, { code: 'parameter_unknown', message: `Received unknown parameter: ${name}`, param: name });
  }
}

function integer_param(params, name, { required = false } = {}) {
  const value = params[name];
  if (value === undefined || value === '') {
    if (required) refuse(400, { code: 'parameter_missing', message: `Missing required param: ${name}.`, param: name });
    return undefined;
  }
  if (typeof value !== 'string' || !/^-?\d{1,15}$/.test(value)) {
    refuse(400, { code: 'parameter_invalid_integer', message: `Invalid integer: ${value}`, param: name });
  }
  return Number(value);
}

function boolean_param(params, name) {
  const value = params[name];
  if (value === undefined || value === '') return false;
  if (value !== 'true' && value !== 'false') refuse(400, { message: `Invalid boolean: ${value}`, param: name });
  return value === 'true';
}

function string_param(params, name) {
  const value = params[name];
  if (value === undefined) return null;
  if (typeof value !== 'string') refuse(400, { message: `Invalid string: ${name} must be a string`, param: name });
  return value === '' ? null : value;
}

function enum_param(params, name, allowed) {
  const value = string_param(params, name);
  if (value !== null && !allowed.includes(value)) {
    refuse(400, { message: `Invalid ${name}: must be one of ${allowed.join(', ')}`, param: name });
  }
  return value;
}

function metadata_param(params, name = 'metadata') {
  const value = params[name];
  if (value === undefined || value === '') return {};
  if (typeof value !== 'object' || Array.isArray(value)) refuse(400, { message: `Invalid object`, param: name });
  const entries = Object.entries(value).filter(([, item]) => item !== '');
  if (entries.length > metadata_keys_max) {
    refuse(400, { message: `You can specify up to ${metadata_keys_max} keys in metadata.`, param: name });
  }
  for (const [key, item] of entries) {
    if (typeof item !== 'string') refuse(400, { message: 'Invalid string: metadata values must be strings', param: `${name}[${key}]` });
    if (key.length > metadata_key_chars_max) {
      refuse(400, { message: `Metadata keys can have up to ${metadata_key_chars_max} characters.`, param: `${name}[${key}]` });
    }
    if (item.length > metadata_value_chars_max) {
      refuse(400, { message: `Metadata values can have up to ${metadata_value_chars_max} characters.`, param: `${name}[${key}]` });
    }
  }
  return Object.fromEntries(entries);
}

function amount_param(params) {
  const amount = integer_param(params, 'amount', { required: true });
  if (amount < 1) refuse(400, { code: 'amount_too_small', message: 'This value must be greater than or equal to 1.', param: 'amount' });
  if (amount > amount_max) refuse(400, { code: 'amount_too_large', message: `Amount must be no more than ${amount_max}.`, param: 'amount' });
  return amount;
}

function currency_param(params) {
  const value = string_param(params, 'currency');
  if (value === null) refuse(400, { code: 'parameter_missing', message: 'Missing required param: currency.', param: 'currency' });
  if (!known_currencies.has(value.toUpperCase())) {
    refuse(400, { message: `Invalid currency: ${value.toLowerCase()}. Stripe currently supports these currencies: eur, usd, gbp, ...`, param: 'currency' });
  }
  return value.toUpperCase();
}

function expand_param(params, allowed) {
  const value = params.expand;
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  for (const path of list) {
    if (!allowed.includes(path)) refuse(400, { message: `This property cannot be expanded (${path}).`, param: 'expand' });
  }
  return list;
}

// --- payment methods ----------------------------------------------------------------------------

// A test token becomes a PaymentMethod of its own, as Stripe does; a PaymentMethod id the sandbox
// minted before is looked up.
function resolve_payment_method(context, account, token) {
  const minted = context.payment_methods.get(token);
  if (minted && minted.account === account.name) return { id: token, card: minted.card };
  const card = resolve_card(token);
  if (!card) {
    refuse(400, { code: 'resource_missing', message: `No such PaymentMethod: '${token}'`, param: 'payment_method' });
  }
  const id = stripe_id('pm');
  context.payment_methods.set(id, { account: account.name, card, created: now_seconds() });
  return { id, card };
}

// --- events -------------------------------------------------------------------------------------

function emit_event(context, account, record, type, object, origin) {
  const enabled = account.enabled_events;
  if (!enabled.includes('*') && !enabled.includes(type)) return;
  const event = event_object({
    type, object, api_version: context.config.stripe_api_version,
    request_id: origin?.request_id, idempotency_key: origin?.idempotency_key,
  });
  const payload = JSON.stringify(event, null, 2);
  context.webhooks.emit({
    account,
    references: record.references,
    payment_key: record.id,
    event_id: event.id,
    type,
    terminal: terminal_events.has(type),
    payload,
    headers: (now) => ({
      'Content-Type': 'application/json; charset=utf-8',
      'Stripe-Signature': stripe_signature_header(payload, account.webhook_secret, now),
      'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      'Cache-Control': 'no-cache',
      Accept: '*/*; q=0.5, application/xml',
    }),
    accepted: (status) => status >= 200 && status < 300,
  });
}

function emit_intent_event(context, account, record, type, origin) {
  emit_event(context, account, record, type, payment_intent_object(record), origin);
}

// --- state changes ------------------------------------------------------------------------------

function render_intent(context, record, expand) {
  const object = payment_intent_object(record);
  if (expand.includes('latest_charge') && record.latest_charge) {
    object.latest_charge = record.charges.find((charge) => charge.id === record.latest_charge) ?? object.latest_charge;
  }
  if (expand.includes('payment_method') && record.payment_method) {
    const minted = context.payment_methods.get(record.payment_method);
    if (minted) object.payment_method = payment_method_object(record.payment_method, minted.card, minted.created);
  }
  return object;
}

function succeed(context, account, record, origin) {
  const charge = new_charge(record, { succeeded: true });
  record.charges.push(charge);
  context.store.alias(charge.id, record.id);
  record.latest_charge = charge.id;
  record.status = 'succeeded';
  record.next_action = null;
  record.last_payment_error = null;
  context.store.record_capture(record, record.amount);
  emit_intent_event(context, account, record, 'payment_intent.succeeded', origin);
}

function decline(context, account, record, decline_key, origin) {
  const reason = declines[decline_key] ?? declines.generic_decline;
  const charge = new_charge(record, { succeeded: false, decline: reason });
  record.charges.push(charge);
  context.store.alias(charge.id, record.id);
  const minted = context.payment_methods.get(record.payment_method);
  record.latest_charge = charge.id;
  record.status = 'requires_payment_method';
  record.next_action = null;
  record.last_payment_error = {
    charge: charge.id,
    code: reason.code,
    decline_code: reason.decline_code,
    doc_url: `https://stripe.com/docs/error-codes/${reason.code.replace(/_/g, '-')}`,
    message: reason.message,
    payment_method: minted ? payment_method_object(record.payment_method, minted.card, minted.created) : null,
    type: 'card_error',
  };
  const failed_method = record.payment_method;
  record.payment_method = null;
  context.store.record_decline(record);
  emit_intent_event(context, account, record, 'payment_intent.payment_failed', origin);
  return { charge, failed_method };
}

function require_action(context, account, record, origin) {
  record.status = 'requires_action';
  record.three_ds_used = true;
  record.next_action = {
    type: 'redirect_to_url',
    redirect_to_url: { return_url: record.return_url, url: `${context.public_url()}/sandbox/3ds/${record.id}` },
  };
  emit_intent_event(context, account, record, 'payment_intent.requires_action', origin);
}

// The card's (or the scenario's) verdict on a confirmation: an answer of 200 or 402.
function confirm_record(context, account, record, behaviour, origin, expand) {
  record.confirmations = (record.confirmations ?? 0) + 1;  // an idempotent replay never gets here
  const outcome = behaviour.outcome ?? record.card.outcome;
  if (outcome === 'approve') succeed(context, account, record, origin);
  else if (outcome === 'three_ds') require_action(context, account, record, origin);
  else {
    const decline_key = behaviour.outcome === 'decline' ? behaviour.decline_code ?? 'generic_decline' : record.card.decline;
    const { charge, failed_method } = decline(context, account, record, decline_key, origin);
    const error = record.last_payment_error;
    return stripe_error(402, {
      charge: charge.id, code: error.code, decline_code: error.decline_code, doc_url: error.doc_url,
      message: error.message, payment_intent: render_intent(context, record, expand),
      payment_method: error.payment_method ?? { id: failed_method }, type: 'card_error',
    }, origin.request_id);
  }
  return { status: 200, body: render_intent(context, record, expand) };
}

// Called by the 3-D Secure page: the buyer approved or failed the challenge.
export function complete_authentication(context, record, approved) {
  const account = context.account_named(record.account);
  const origin = { request_id: null, idempotency_key: null };
  if (!approved) {
    record.status = 'requires_payment_method';
    record.next_action = null;
    const minted = context.payment_methods.get(record.payment_method);
    record.last_payment_error = {
      code: 'payment_intent_authentication_failure',
      doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
      message: 'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new ' +
        'PaymentMethod to attempt to fulfill this PaymentIntent again.',
      payment_method: minted ? payment_method_object(record.payment_method, minted.card, minted.created) : null,
      type: 'invalid_request_error',
    };
    record.payment_method = null;
    context.store.record_decline(record);
    emit_intent_event(context, account, record, 'payment_intent.payment_failed', origin);
    return;
  }
  const after = record.card.after_three_ds ?? 'approve';
  if (after === 'approve') succeed(context, account, record, origin);
  else decline(context, account, record, after, origin);
}

export function redirect_target(record, approved) {
  if (!record.return_url) return null;
  const url = new URL(record.return_url);
  url.searchParams.set('payment_intent', record.id);
  url.searchParams.set('payment_intent_client_secret', record.client_secret);
  url.searchParams.set('redirect_status', approved ? 'succeeded' : 'failed');
  return url.toString();
}

// --- endpoints ----------------------------------------------------------------------------------

function find_intent(context, account, id) {
  const record = context.store.get(id);
  if (!record || record.format !== 'stripe' || record.account !== account.name || !id.startsWith('pi_')) {
    refuse(404, { code: 'resource_missing', message: `No such payment_intent: '${id}'`, param: 'intent' });
  }
  return record;
}

function new_intent_record(context, account, params) {
  const metadata = metadata_param(params);
  const record = {
    id: stripe_id('pi'),
    account: account.name,
    format: 'stripe',
    checkout_id: metadata.checkout_id ?? '',
    payment_id: metadata.payment_id ?? '',
    references: [metadata.checkout_id, metadata.payment_id].filter(Boolean),
    amount: amount_param(params),
    currency: currency_param(params),
    status: 'requires_payment_method',
    description: string_param(params, 'description'),
    metadata,
    capture_method: enum_param(params, 'capture_method', ['automatic', 'automatic_async']) ?? 'automatic_async',
    confirmation_method: enum_param(params, 'confirmation_method', ['automatic', 'manual']) ?? 'automatic',
    receipt_email: string_param(params, 'receipt_email'),
    return_url: string_param(params, 'return_url'),
    payment_method_types: Array.isArray(params.payment_method_types) ? params.payment_method_types : ['card'],
    automatic_payment_methods: null,
    payment_method: null,
    card: null,
    charges: [],
    latest_charge: null,
    last_payment_error: null,
    next_action: null,
    canceled_at: null,
    cancellation_reason: null,
  };
  record.client_secret = `${record.id}_secret_${stripe_secret_suffix()}`;
  return record;
}

function check_return_url(value) {
  if (value === null) return;
  try {
    new URL(value);
  } catch {
    refuse(400, { code: 'url_invalid', message: 'Not a valid URL', param: 'return_url' });
  }
}

function plan_create(context, account, params, origin) {
  check_known(params, create_parameters);
  if (params.capture_method === 'manual') {
    refuse(400, { message: 'The sandbox supports capture_method automatic (and automatic_async) only.', param: 'capture_method' });
  }
  const record = new_intent_record(context, account, params);
  check_return_url(record.return_url);
  const confirm = boolean_param(params, 'confirm');
  const expand = expand_param(params, ['latest_charge', 'payment_method']);
  const token = string_param(params, 'payment_method');
  if (confirm && !token) {
    refuse(400, { code: 'payment_intent_unexpected_state', message: 'You cannot confirm this PaymentIntent because it\'s missing a payment method.', param: 'payment_method' });
  }
  const method = token ? resolve_payment_method(context, account, token) : null;
  if (context.store.full) throw new StoreFullError('the sandbox is full');
  return {
    references: record.references,
    operations: confirm ? ['create', 'confirm'] : ['create'],
    execute(behaviour) {
      if (method) {
        record.payment_method = method.id;
        record.card = method.card;
        record.status = 'requires_confirmation';
      }
      context.store.add(record);
      emit_intent_event(context, account, record, 'payment_intent.created', origin);
      if (!confirm) return { status: 200, body: render_intent(context, record, expand) };
      return confirm_record(context, account, record, behaviour, origin, expand);
    },
  };
}

function plan_confirm(context, account, id, params, origin) {
  check_known(params, confirm_parameters);
  const record = find_intent(context, account, id);
  const expand = expand_param(params, ['latest_charge', 'payment_method']);
  if (!confirmable.includes(record.status)) {
    const message = record.status === 'succeeded'
      ? 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.'
      : `You cannot confirm this PaymentIntent because it has a status of ${record.status}. Only a PaymentIntent with ` +
        `one of the following statuses may be confirmed: ${confirmable.join(', ')}.`;
    refuse(400, { code: 'payment_intent_unexpected_state', message, payment_intent: payment_intent_object(record) });
  }
  const token = string_param(params, 'payment_method');
  if (!token && !record.payment_method) {
    refuse(400, { code: 'payment_intent_unexpected_state', payment_intent: payment_intent_object(record),
      message: "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update " +
        'the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.' });
  }
  const method = token ? resolve_payment_method(context, account, token) : null;
  const return_url = string_param(params, 'return_url');
  check_return_url(return_url);
  return {
    references: record.references,
    operations: ['confirm'],
    execute(behaviour) {
      if (method) {
        record.payment_method = method.id;
        record.card = method.card;
      }
      if (return_url) record.return_url = return_url;
      const receipt_email = string_param(params, 'receipt_email');
      if (receipt_email) record.receipt_email = receipt_email;
      return confirm_record(context, account, record, behaviour, origin, expand);
    },
  };
}

function plan_cancel(context, account, id, params, origin) {
  check_known(params, cancel_parameters);
  const record = find_intent(context, account, id);
  const reason = enum_param(params, 'cancellation_reason', ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']);
  const expand = expand_param(params, ['latest_charge', 'payment_method']);
  if (!cancelable.includes(record.status)) {
    refuse(400, {
      code: 'payment_intent_unexpected_state',
      message: `You cannot cancel this PaymentIntent because it has a status of ${record.status}. Only a PaymentIntent ` +
        `with one of the following statuses may be canceled: ${cancelable.join(', ')}.`,
      payment_intent: payment_intent_object(record),
    });
  }
  return {
    references: record.references,
    operations: ['cancel'],
    execute() {
      record.status = 'canceled';
      record.canceled_at = now_seconds();
      record.cancellation_reason = reason;
      record.next_action = null;
      context.store.record_cancel(record);
      emit_intent_event(context, account, record, 'payment_intent.canceled', origin);
      return { status: 200, body: render_intent(context, record, expand) };
    },
  };
}

function refund_target(context, account, params) {
  const intent_id = string_param(params, 'payment_intent');
  const charge_id = string_param(params, 'charge');
  if (!intent_id && !charge_id) {
    refuse(400, { code: 'parameter_missing', message: 'One of the following params should be provided for this request: payment_intent or charge.' });
  }
  const record = intent_id ? context.store.get(intent_id) : context.store.by_alias(charge_id);
  if (!record || record.format !== 'stripe' || record.account !== account.name) {
    const [param, value] = intent_id ? ['payment_intent', intent_id] : ['charge', charge_id];
    refuse(400, { code: 'resource_missing', message: `No such ${param}: '${value}'`, param });
  }
  const charge = record.charges.find((item) => item.id === record.latest_charge);
  if (record.status !== 'succeeded' || !charge || charge.status !== 'succeeded') {
    refuse(400, { message: `This PaymentIntent (${record.id}) does not have a successful charge to refund.`, param: 'payment_intent' });
  }
  return { record, charge };
}

function plan_refund(context, account, params, origin) {
  check_known(params, refund_parameters);
  const { record, charge } = refund_target(context, account, params);
  const remaining = charge.amount_captured - charge.amount_refunded;
  const amount = integer_param(params, 'amount') ?? remaining;
  const metadata = metadata_param(params);
  const reason = enum_param(params, 'reason', ['duplicate', 'fraudulent', 'requested_by_customer']);
  if (remaining === 0) refuse(400, { code: 'charge_already_refunded', message: `Charge ${charge.id} has already been refunded.`, charge: charge.id });
  if (amount < 1) refuse(400, { message: 'This value must be greater than or equal to 1.', param: 'amount' });
  if (amount > remaining) {
    refuse(400, {
      message: `Refund amount (${format_amount(amount, record.currency)}) is greater than unrefunded amount on charge ` +
        `(${format_amount(remaining, record.currency)})`,
      param: 'amount',
    });
  }
  return {
    references: record.references,
    operations: ['refund'],
    execute() {
      const refund = {
        id: stripe_id('re'), amount, balance_transaction: stripe_id('txn'), charge: charge.id, created: now_seconds(),
        currency: record.currency.toLowerCase(), metadata, payment_intent: record.id, reason, status: 'succeeded',
      };
      charge.amount_refunded += amount;
      charge.refunded = charge.amount_refunded === charge.amount_captured;
      context.store.record_refund(record, refund);
      context.store.alias(refund.id, record.id);
      emit_event(context, account, record, 'refund.created', refund_object(refund), origin);
      emit_event(context, account, record, 'charge.refunded', { ...charge, metadata: { ...charge.metadata } }, origin);
      return { status: 200, body: refund_object(refund) };
    },
  };
}

// The list cursor (`starting_after` / `ending_before`): a refund of this account.
function list_cursor(context, account, params, name) {
  const id = string_param(params, name);
  if (id === null) return null;
  const record = context.store.by_alias(id);
  const found = record && record.format === 'stripe' && record.account === account.name
    ? record.refunds.find((item) => item.id === id) : null;
  if (!found) refuse(400, { code: 'resource_missing', message: `No such refund: '${id}'`, param: name });
  return found;
}

// The refunds a list request names: the PaymentIntent's, the charge's, or all of the account's.
function listed_refunds(context, account, params) {
  const intent_id = string_param(params, 'payment_intent');
  const charge_id = string_param(params, 'charge');
  let records;
  if (intent_id) {
    const record = context.store.get(intent_id);
    if (!record || record.format !== 'stripe' || record.account !== account.name || !intent_id.startsWith('pi_')) {
      refuse(400, { code: 'resource_missing', message: `No such payment_intent: '${intent_id}'`, param: 'payment_intent' });
    }
    records = [record];
  } else if (charge_id) {
    const record = context.store.by_alias(charge_id);
    if (!record || record.format !== 'stripe' || record.account !== account.name || !record.charges.some((item) => item.id === charge_id)) {
      refuse(400, { code: 'resource_missing', message: `No such charge: '${charge_id}'`, param: 'charge' });
    }
    records = [record];
  } else {
    records = context.store.all().filter((record) => record.format === 'stripe' && record.account === account.name);
  }
  const refunds = records.flatMap((record) => record.refunds).filter((refund) => !charge_id || refund.charge === charge_id);
  return refunds.sort((a, b) => b.sequence - a.sequence); // newest first, as Stripe lists
}

// GET /v1/refunds: Stripe's list object, newest first, `limit` per page, paged by cursor.
function plan_list_refunds(context, account, params) {
  for (const name of Object.keys(params)) {
    if (refund_list_unsupported.has(name)) refuse(400, { message: `The sandbox does not support ${name} on this list.`, param: name });
  }
  check_known(params, refund_list_parameters);
  const limit = integer_param(params, 'limit') ?? list_limit_default;
  if (limit < 1) refuse(400, { message: 'This value must be greater than or equal to 1.', param: 'limit' });
  if (limit > list_limit_max) refuse(400, { message: `This value must be less than or equal to ${list_limit_max}.`, param: 'limit' });
  if (params.starting_after !== undefined && params.ending_before !== undefined) {
    refuse(400, { message: 'You may only specify one of these parameters: ending_before, starting_after.' });
  }
  const after = list_cursor(context, account, params, 'starting_after');
  const before = list_cursor(context, account, params, 'ending_before');
  const refunds = listed_refunds(context, account, params);
  let page;
  let has_more;
  if (before) {
    const newer = refunds.filter((refund) => refund.sequence > before.sequence);
    page = newer.slice(-limit);
    has_more = newer.length > limit;
  } else {
    const older = after ? refunds.filter((refund) => refund.sequence < after.sequence) : refunds;
    page = older.slice(0, limit);
    has_more = older.length > limit;
  }
  const intent = context.store.get(string_param(params, 'payment_intent') ?? '');
  const body = { object: 'list', data: page.map(refund_object), has_more, url: '/v1/refunds' };
  return { references: intent?.references ?? [], operations: ['list'], execute: () => ({ status: 200, body }) };
}

function plan_retrieve(context, account, path, params) {
  const [, kind, id] = path.split('/').slice(1);
  if (kind === 'payment_intents') {
    const record = find_intent(context, account, id);
    const expand = expand_param(params, ['latest_charge', 'payment_method']);
    return { references: record.references, operations: ['retrieve'], execute: () => ({ status: 200, body: render_intent(context, record, expand) }) };
  }
  const record = context.store.by_alias(id);
  const resource = kind === 'refunds' ? 'refund' : 'charge';
  const found = record && record.account === account.name
    ? (kind === 'refunds' ? record.refunds : record.charges).find((item) => item.id === id) : null;
  if (!found) refuse(404, { code: 'resource_missing', message: `No such ${resource}: '${id}'`, param: 'id' });
  const body = kind === 'refunds' ? refund_object(found) : { ...found };
  return { references: record.references, operations: ['retrieve'], execute: () => ({ status: 200, body }) };
}

// --- the request ----------------------------------------------------------------------------------

function authenticate(context, exchange) {
  const header = exchange.header('authorization') ?? '';
  let key = '';
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  const basic = /^Basic\s+(.+)$/i.exec(header);
  if (bearer) key = bearer[1].trim();
  else if (basic) key = Buffer.from(basic[1], 'base64').toString('utf8').split(':')[0];
  if (!key) {
    return stripe_error(401, { type: 'invalid_request_error', message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/." });
  }
  const account = context.config.accounts.find((item) => item.format === 'stripe' && item.api_key === key);
  if (!account) {
    const masked = key.length > 8 ? `${key.slice(0, 8)}${'*'.repeat(Math.max(0, key.length - 12))}${key.slice(-4)}` : key;
    return stripe_error(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${masked}` });
  }
  return account;
}

function route(context, account, exchange, params, origin) {
  const { method, path } = exchange;
  const segments = path.split('/').filter(Boolean); // ['v1', 'payment_intents', id, 'confirm']
  const [, resource, id, action] = segments;
  if (method === 'POST' && resource === 'payment_intents' && segments.length === 2) return plan_create(context, account, params, origin);
  if (method === 'POST' && resource === 'payment_intents' && action === 'confirm' && segments.length === 4) return plan_confirm(context, account, id, params, origin);
  if (method === 'POST' && resource === 'payment_intents' && action === 'cancel' && segments.length === 4) return plan_cancel(context, account, id, params, origin);
  if (method === 'POST' && resource === 'refunds' && segments.length === 2) return plan_refund(context, account, params, origin);
  if (method === 'GET' && resource === 'refunds' && segments.length === 2) return plan_list_refunds(context, account, params);
  if (method === 'GET' && ['payment_intents', 'refunds', 'charges'].includes(resource) && segments.length === 3) return plan_retrieve(context, account, path, params);
  refuse(404, { message: `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` });
  return null;
}

function with_request_log(answer, request_id) {
  return { ...answer, body: { error: { ...answer.body.error, request_log_url: `https://dashboard.stripe.com/test/logs/${request_id}` } } };
}

function decorate_for(context, request_id, key) {
  return (answer, { replayed }) => {
    const headers = { 'Request-Id': request_id, 'Stripe-Version': context.config.stripe_api_version };
    if (key) headers['Idempotency-Key'] = key;
    if (replayed) headers['Idempotent-Replayed'] = 'true';
    return { ...answer, headers: { ...(answer.headers ?? {}), ...headers } };
  };
}

const stripe_mutation_errors = (key, request_id) => ({
  in_flight: () => stripe_error(409, { type: 'invalid_request_error', code: 'idempotency_key_in_use',
    message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.` }, request_id),
  mismatch: (found) => stripe_error(400, { type: 'idempotency_error', message: found.endpoint_differs
    ? `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${found.first_endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`
    : `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.` }, request_id),
  internal: () => stripe_error(500, { type: 'api_error', message: 'An unknown error occurred' }, request_id),
  keys_full: () => stripe_error(503, { type: 'api_error', message: 'The sandbox holds too many idempotency keys: POST /_sandbox/reset' }, request_id),
});

export async function handle_stripe(context, exchange) {
  const request_id = stripe_request_id();
  const key = exchange.method === 'POST' ? exchange.header('idempotency-key') : undefined;
  const decorate = decorate_for(context, request_id, key);
  const authenticated = authenticate(context, exchange);
  if (authenticated.status) return exchange.send(decorate(authenticated, {}));
  const account = authenticated;
  try {
    const body = await exchange.read_body(context.config.limits.body_bytes_max);
    const params = parse_form(exchange.method === 'GET' ? exchange.url.search.slice(1) : body);
    if (key !== undefined && (key.length === 0 || key.length > idempotency_key_chars_max)) {
      refuse(400, { message: `Idempotency-Key must be 1 to ${idempotency_key_chars_max} characters long.` });
    }
    const errors = stripe_mutation_errors(key, request_id);
    return await run_mutation(context, exchange, {
      account,
      key,
      endpoint: `${exchange.method} ${exchange.path}`,
      fingerprint: canonical_json(params),
      prepare: () => {
        try {
          return route(context, account, exchange, params, { request_id, idempotency_key: key ?? null });
        } catch (error) {
          if (error instanceof StripeRefusal) return { answer: with_request_log(error.answer, request_id) };
          throw error;
        }
      },
      stores: (answer) => answer.status < 400 || answer.status === 402,
      decorate,
      errors,
    });
  } catch (error) {
    if (error instanceof StripeRefusal) return exchange.send(decorate(with_request_log(error.answer, request_id), {}));
    if (error instanceof FormError) return exchange.send(decorate(stripe_error(400, { type: 'invalid_request_error', message: error.message }, request_id), {}));
    if (error instanceof BodyTooLargeError) return exchange.send(decorate(stripe_error(413, { type: 'invalid_request_error', message: error.message }, request_id), {}));
    if (error instanceof StoreFullError) return exchange.send(decorate(stripe_error(503, { type: 'api_error', message: error.message }, request_id), {}));
    throw error;
  }
}
