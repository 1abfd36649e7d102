// Identifiers shaped like the providers' own: Stripe's `pi_3Mtw...` (prefix and 24 base-62
// characters) and Adyen's 16-character pspReference. Random, so two sandboxes never collide.
import { randomBytes } from 'node:crypto';

const base62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const upper_alphanumeric = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';

function random_string(alphabet, length) {
  // 62 and 34 do not divide 256: bytes in the biased top of the range are skipped.
  const limit = 256 - (256 % alphabet.length);
  let text = '';
  while (text.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && text.length < length) text += alphabet[byte % alphabet.length];
    }
  }
  return text;
}

export function stripe_id(prefix) {
  return `${prefix}_3${random_string(base62, 23)}`;
}

export function stripe_secret_suffix() {
  return random_string(base62, 25);
}

export function stripe_request_id() {
  return `req_${random_string(base62, 14)}`;
}

export function adyen_psp_reference() {
  return random_string(upper_alphanumeric, 16);
}

export function opaque_token() {
  return random_string(base62, 32);
}
