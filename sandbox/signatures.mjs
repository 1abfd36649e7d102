// The two providers' webhook signatures, exported so tests (and our node's authors) can check
// them against known answers and the providers' own libraries.
import { createHmac, timingSafeEqual } from 'node:crypto';

// Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body" keyed with the
// whole whsec_... secret as UTF-8>`.
export function stripe_signature(payload, secret, timestamp_seconds) {
  return createHmac('sha256', secret).update(`${timestamp_seconds}.${payload}`, 'utf8').digest('hex');
}

export function stripe_signature_header(payload, secret, timestamp_seconds) {
  return `t=${timestamp_seconds},v1=${stripe_signature(payload, secret, timestamp_seconds)}`;
}

// True when `header` carries a v1 signature of `payload` under `secret` (timestamp not judged).
export function stripe_signature_matches(payload, header, secret) {
  const fields = String(header).split(',').map((part) => part.split('='));
  const timestamp = fields.find(([key]) => key === 't')?.[1];
  if (!timestamp) return false;
  const expected = Buffer.from(stripe_signature(payload, secret, timestamp), 'hex');
  return fields
    .filter(([key]) => key === 'v1')
    .some(([, value]) => {
      const given = Buffer.from(value ?? '', 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

// Adyen: these fields joined by ':' (absent ones empty, nothing escaped), HMAC-SHA256 keyed with
// the hex-decoded key, base64.
export function adyen_signing_string(item) {
  return [
    item.pspReference,
    item.originalReference,
    item.merchantAccountCode,
    item.merchantReference,
    item.amount?.value,
    item.amount?.currency,
    item.eventCode,
    item.success,
  ]
    .map((value) => (value === undefined || value === null ? '' : String(value)))
    .join(':');
}

// `what` is a notification item or an already joined signing string.
export function adyen_hmac_signature(what, hex_key) {
  const message = typeof what === 'string' ? what : adyen_signing_string(what);
  return createHmac('sha256', Buffer.from(hex_key, 'hex')).update(message, 'utf8').digest('base64');
}
