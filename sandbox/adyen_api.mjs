// Adyen's Checkout API as our node uses it: POST /v71/payments (and /payments/details after a
// redirect), refunds and cancels by pspReference, Adyen's error shape and idempotency, and
// HMAC-signed standard notifications ("[accepted]" expected back) for every outcome.
import { declines, resolve_card } from './cards.mjs';
import { BodyTooLargeError } from './exchange.mjs';
import { canonical_json } from './form_encoding.mjs';
import { adyen_psp_reference, opaque_token } from './ids.mjs';
import { known_currencies } from './money.mjs';
import { run_mutation } from './mutation.mjs';
import { adyen_hmac_signature } from './signatures.mjs';
import { StoreFullError } from './store.mjs';

const idempotency_key_chars_max = 64;
const amount_max = 99_999_999_999;
const reference_chars_max = 80;
const api_version_min = 37;

class AdyenRefusal extends Error {
  constructor(answer) {
    super(answer.body.message);
    this.answer = answer;
  }
}

export function adyen_error(status, error_code, message, error_type = 'validation', extra = {}) {
  return {
    status,
    body: { status, errorCode: error_code, message, errorType: error_type, pspReference: adyen_psp_reference() },
    ...extra,
  };
}

function refuse(status, error_code, message, error_type) {
  throw new AdyenRefusal(adyen_error(status, error_code, message, error_type));
}

// --- notifications -------------------------------------------------------------------------------

function event_date() {
  return new Date().toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

// fields: eventCode, pspReference, originalReference?, merchantReference, amount, success (bool), reason, extra?
function notify(context, account, record, fields) {
  const item = {
    additionalData: {},
    amount: { currency: fields.amount.currency, value: fields.amount.value },
    eventCode: fields.eventCode,
    eventDate: event_date(),
    merchantAccountCode: account.merchant_account,
    merchantReference: fields.merchantReference,
    ...(fields.originalReference ? { originalReference: fields.originalReference } : {}),
    ...(fields.paymentMethod ? { paymentMethod: fields.paymentMethod } : {}),
    pspReference: fields.pspReference,
    reason: fields.reason ?? '',
    success: fields.success ? 'true' : 'false',
    ...(fields.operations ? { operations: fields.operations } : {}),
  };
  item.additionalData.hmacSignature = adyen_hmac_signature(item, account.hmac_key);
  const payload = JSON.stringify({ live: 'false', notificationItems: [{ NotificationRequestItem: item }] }, null, 2);
  const headers = { 'Content-Type': 'application/json', 'User-Agent': 'Adyen HttpClient 1.0' };
  if (account.webhook_basic_auth) {
    const { username, password } = account.webhook_basic_auth;
    headers.Authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }
  context.webhooks.emit({
    account,
    references: record.references,
    payment_key: record.id,
    event_id: `${item.eventCode}:${item.pspReference}:${item.success}`,
    type: item.eventCode,
    terminal: false,
    payload,
    headers: () => headers,
    accepted: (status, body) => status >= 200 && status < 300 && String(body ?? '').trim() === '[accepted]',
  });
}

function notify_authorisation(context, account, record) {
  const success = record.status === 'Authorised';
  notify(context, account, record, {
    eventCode: 'AUTHORISATION',
    pspReference: record.id,
    merchantReference: record.merchant_reference,
    amount: { currency: record.currency, value: record.amount },
    success,
    reason: success ? `${record.auth_code}:${record.card?.last4 ?? ''}:03/2030` : record.refusal_reason,
    paymentMethod: record.card?.brand ?? record.payment_method_type,
    operations: success ? ['CANCEL', 'CAPTURE', 'REFUND'] : undefined,
  });
}

// --- payments ----------------------------------------------------------------------------------

function result_body(record) {
  const body = {
    additionalData: record.card ? { cardSummary: record.card.last4, paymentMethod: record.card.brand } : {},
    amount: { currency: record.currency, value: record.amount },
    merchantReference: record.merchant_reference,
    pspReference: record.id,
    resultCode: record.status === 'Cancelled' ? 'Cancelled' : record.result_code,
  };
  if (record.refusal_reason) {
    body.refusalReason = record.refusal_reason;
    body.refusalReasonCode = record.refusal_reason_code;
  }
  if (record.result_code === 'RedirectShopper') {
    body.action = { paymentMethodType: record.payment_method_type, url: record.redirect_url, method: 'GET', type: 'redirect' };
  }
  return body;
}

function authorise(context, account, record) {
  record.status = 'Authorised';
  record.result_code = 'Authorised';
  record.auth_code = String(100000 + Math.floor(Math.random() * 900000));
  record.refusal_reason = null;
  context.store.record_capture(record, record.amount);
  notify_authorisation(context, account, record);
}

function refuse_payment(context, account, record, decline_key) {
  const reason = (declines[decline_key] ?? declines.generic_decline).adyen;
  record.status = reason.result_code;
  record.result_code = reason.result_code;
  record.refusal_reason = reason.reason;
  record.refusal_reason_code = reason.reason_code;
  context.store.record_decline(record);
  notify_authorisation(context, account, record);
}

function check_amount(amount) {
  if (!amount || typeof amount !== 'object') refuse(422, '100', "Required field 'amount' is not provided.");
  if (!Number.isInteger(amount.value) || amount.value < 0 || amount.value > amount_max) refuse(422, '137', 'Invalid amount specified');
  if (typeof amount.currency !== 'string' || !known_currencies.has(amount.currency)) {
    refuse(422, '702', `Invalid currency: ${JSON.stringify(amount.currency)} (ISO 4217, upper case)`);
  }
  return amount;
}

function check_merchant(account, body) {
  if (typeof body.merchantAccount !== 'string' || !body.merchantAccount) {
    refuse(422, '702', "Required field 'merchantAccount' is not provided.");
  }
  if (body.merchantAccount !== account.merchant_account) refuse(403, '901', 'Invalid Merchant Account', 'security');
}

function payment_card(body) {
  const method = body.paymentMethod;
  if (!method || typeof method !== 'object' || typeof method.type !== 'string') {
    refuse(422, '702', "Required field 'paymentMethod' is not provided.");
  }
  if (method.type !== 'scheme') return { type: method.type, card: null };
  const token = method.storedPaymentMethodId ?? method.encryptedCardNumber ?? method.number;
  const card = resolve_card(token);
  if (!card) refuse(422, '101', 'Invalid card number');
  return { type: 'scheme', card };
}

function plan_payment(context, account, body) {
  check_merchant(account, body);
  const amount = check_amount(body.amount);
  if (typeof body.reference !== 'string' || !body.reference) refuse(422, '130', "Required field 'reference' is not provided.");
  if (body.reference.length > reference_chars_max) refuse(422, '702', `reference is longer than ${reference_chars_max} characters`);
  const { type, card } = payment_card(body);
  const payment_id = typeof body.metadata?.payment_id === 'string' ? body.metadata.payment_id : '';
  if (context.store.full) throw new StoreFullError('the sandbox is full');
  const record = {
    id: adyen_psp_reference(), account: account.name, format: 'adyen', checkout_id: body.reference, payment_id,
    references: [body.reference, payment_id].filter(Boolean), amount: amount.value, currency: amount.currency,
    status: 'Received', result_code: null, merchant_reference: body.reference, card, payment_method_type: type,
    return_url: typeof body.returnUrl === 'string' ? body.returnUrl : null, refusal_reason: null,
    redirect_result: null, redirect_url: null, shopper_email: body.shopperEmail ?? null,
  };
  return {
    references: record.references,
    operations: ['confirm', 'create'],
    execute(behaviour) {
      context.store.add(record);
      const outcome = behaviour.outcome ?? (card ? card.outcome : 'three_ds');
      if (outcome === 'approve') authorise(context, account, record);
      else if (outcome === 'decline') {
        refuse_payment(context, account, record, behaviour.outcome === 'decline' ? behaviour.decline_code ?? 'generic_decline' : card.decline);
      } else {
        record.status = 'RedirectShopper';
        record.result_code = 'RedirectShopper';
        record.redirect_url = `${context.public_url()}/sandbox/3ds/${record.id}`;
        record.redirect_result = opaque_token();
        context.store.alias(record.redirect_result, record.id);
      }
      return { status: 200, body: result_body(record) };
    },
  };
}

// Called by the 3-D Secure / redirect page.
export function complete_authentication(context, record, approved) {
  const account = context.account_named(record.account);
  record.redirect_completed = true;
  if (!approved) {
    record.status = 'Refused';
    record.result_code = 'Refused';
    record.refusal_reason = '3D Not Authenticated';
    record.refusal_reason_code = '11';
    context.store.record_decline(record);
    notify_authorisation(context, account, record);
    return;
  }
  const after = record.card?.after_three_ds ?? 'approve';
  if (after === 'approve') authorise(context, account, record);
  else refuse_payment(context, account, record, after);
}

export function redirect_target(record) {
  if (!record.return_url) return null;
  const url = new URL(record.return_url);
  url.searchParams.set('redirectResult', record.redirect_result);
  return url.toString();
}

function plan_details(context, account, body) {
  const token = body.details?.redirectResult;
  if (typeof token !== 'string' || !token) refuse(422, '702', "Required field 'details.redirectResult' is not provided.");
  const record = context.store.by_alias(token);
  if (!record || record.account !== account.name) refuse(422, '702', 'Invalid redirectResult');
  if (!record.redirect_completed) refuse(422, '702', 'The shopper has not completed the redirect yet');
  return {
    references: record.references,
    operations: ['confirm'],
    execute: () => {
      const answer = result_body(record);
      delete answer.action;
      return { status: 200, body: answer };
    },
  };
}

// --- modifications -------------------------------------------------------------------------------

function find_payment(context, account, psp) {
  const record = context.store.get(psp);
  if (!record || record.format !== 'adyen' || record.account !== account.name) {
    refuse(422, '167', 'Original pspReference required for this operation');
  }
  return record;
}

function refund_failure(record, amount) {
  if (record.status !== 'Authorised' && record.status !== 'Refunded') return `Payment is not refundable (${record.status})`;
  if (amount.currency !== record.currency) return 'Currency mismatch';
  if (amount.value > record.amount_captured - record.amount_refunded) return 'Insufficient balance on payment';
  return null;
}

function plan_refund(context, account, psp, body) {
  check_merchant(account, body);
  const record = find_payment(context, account, psp);
  const amount = check_amount(body.amount);
  if (amount.value < 1) refuse(422, '137', 'Invalid amount specified');
  const reference = typeof body.reference === 'string' ? body.reference : '';
  return {
    references: record.references,
    operations: ['refund'],
    execute() {
      const refund_psp = adyen_psp_reference();
      const failure = refund_failure(record, amount);
      const refund = { id: refund_psp, amount: amount.value, status: failure ? 'failed' : 'succeeded', reference };
      context.store.record_refund(record, refund);
      if (!failure && record.amount_refunded === record.amount_captured) record.status = 'Refunded';
      notify(context, account, record, {
        eventCode: 'REFUND', pspReference: refund_psp, originalReference: record.id,
        merchantReference: reference || record.merchant_reference, amount, success: !failure, reason: failure ?? '',
        paymentMethod: record.card?.brand,
      });
      return {
        status: 201,
        body: { merchantAccount: account.merchant_account, paymentPspReference: record.id, pspReference: refund_psp,
          reference, status: 'received', amount: { currency: amount.currency, value: amount.value } },
      };
    },
  };
}

function plan_cancel(context, account, psp, body) {
  check_merchant(account, body);
  const record = find_payment(context, account, psp);
  const reference = typeof body.reference === 'string' ? body.reference : '';
  return {
    references: record.references,
    operations: ['cancel'],
    execute() {
      const cancel_psp = adyen_psp_reference();
      const cancellable = record.status === 'RedirectShopper';
      let reason = '';
      if (cancellable) {
        record.status = 'Cancelled';
        context.store.record_cancel(record);
      } else {
        reason = record.status === 'Authorised' ? 'Transaction already captured' : `Payment is not cancellable (${record.status})`;
      }
      notify(context, account, record, {
        eventCode: 'CANCELLATION', pspReference: cancel_psp, originalReference: record.id,
        merchantReference: reference || record.merchant_reference,
        amount: { currency: record.currency, value: record.amount }, success: cancellable, reason,
      });
      return {
        status: 201,
        body: { merchantAccount: account.merchant_account, paymentPspReference: record.id, pspReference: cancel_psp,
          reference, status: 'received' },
      };
    },
  };
}

// --- the request ----------------------------------------------------------------------------------

function route(context, account, exchange, body) {
  const segments = exchange.path.split('/').filter(Boolean); // ['v71', 'payments', psp, 'refunds']
  const version = Number(segments[0].slice(1));
  if (exchange.method === 'POST' && version >= api_version_min && segments[1] === 'payments') {
    if (segments.length === 2) return plan_payment(context, account, body);
    if (segments.length === 3 && segments[2] === 'details') return plan_details(context, account, body);
    if (segments.length === 4 && segments[3] === 'refunds') return plan_refund(context, account, segments[2], body);
    if (segments.length === 4 && segments[3] === 'cancels') return plan_cancel(context, account, segments[2], body);
  }
  refuse(404, '000', `Not found: ${exchange.method} ${exchange.path}`);
  return null;
}

function parse_body(text) {
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object' && !Array.isArray(body)) return body;
  } catch {
    // answered below
  }
  refuse(400, '702', 'Unexpected input: the body must be a JSON object');
  return null;
}

function decorate_for(key) {
  return (answer, { replayed }) => {
    const headers = { ...(answer.headers ?? {}) };
    if (key) headers['Idempotency-Key'] = key;
    if (replayed) headers['Idempotent-Replayed'] = 'true';
    return { ...answer, headers };
  };
}

const adyen_mutation_errors = {
  in_flight: () => adyen_error(422, '704', 'request already processed or in progress', 'validation', { headers: { 'Transient-Error': 'true' } }),
  mismatch: () => adyen_error(422, '702', 'The Idempotency-Key was already used with a different request'),
  internal: () => adyen_error(500, '000', 'Internal error', 'internal'),
  keys_full: () => adyen_error(503, '000', 'The sandbox holds too many idempotency keys: POST /_sandbox/reset', 'internal'),
};

export async function handle_adyen(context, exchange) {
  const key = exchange.header('idempotency-key');
  const decorate = decorate_for(key);
  const api_key = exchange.header('x-api-key');
  const account = context.config.accounts.find((item) => item.format === 'adyen' && item.api_key === api_key);
  if (!account) return exchange.send(decorate(adyen_error(401, '000', 'HTTP Status Response - Unauthorized', 'security'), {}));
  try {
    const text = await exchange.read_body(context.config.limits.body_bytes_max);
    const body = parse_body(text);
    if (key !== undefined && (key.length === 0 || key.length > idempotency_key_chars_max)) {
      refuse(422, '702', `Idempotency-Key must be 1 to ${idempotency_key_chars_max} characters long`);
    }
    return await run_mutation(context, exchange, {
      account,
      key,
      endpoint: `${exchange.method} ${exchange.path}`,
      fingerprint: canonical_json(body),
      prepare: () => {
        try {
          return route(context, account, exchange, body);
        } catch (error) {
          if (error instanceof AdyenRefusal) return { answer: error.answer };
          throw error;
        }
      },
      stores: (answer) => answer.status < 400,
      decorate,
      errors: adyen_mutation_errors,
    });
  } catch (error) {
    if (error instanceof AdyenRefusal) return exchange.send(decorate(error.answer, {}));
    if (error instanceof BodyTooLargeError) return exchange.send(decorate(adyen_error(413, '702', error.message), {}));
    if (error instanceof StoreFullError) return exchange.send(decorate(adyen_error(503, '000', error.message, 'internal'), {}));
    throw error;
  }
}
