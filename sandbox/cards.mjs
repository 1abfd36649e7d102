// Test payment methods that steer a payment the way Stripe's test tokens do: `pm_card_visa`
// approves, `pm_card_chargeDeclined` declines, `pm_card_threeDSecure2Required` asks for 3-D Secure.
// Adyen requests carry the same tokens (or Stripe's/Adyen's test card numbers) in
// `paymentMethod.storedPaymentMethodId` or `paymentMethod.encryptedCardNumber`.

// Why a card is refused, as each provider words it.
export const declines = {
  generic_decline: {
    code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.',
    adyen: { result_code: 'Refused', reason: 'Refused', reason_code: '2' },
  },
  insufficient_funds: {
    code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.',
    adyen: { result_code: 'Refused', reason: 'Not enough balance', reason_code: '12' },
  },
  lost_card: {
    code: 'card_declined', decline_code: 'lost_card', message: 'Your card was declined.',
    adyen: { result_code: 'Refused', reason: 'Blocked Card', reason_code: '5' },
  },
  stolen_card: {
    code: 'card_declined', decline_code: 'stolen_card', message: 'Your card was declined.',
    adyen: { result_code: 'Refused', reason: 'Blocked Card', reason_code: '5' },
  },
  fraudulent: {
    code: 'card_declined', decline_code: 'fraudulent', message: 'Your card was declined.',
    adyen: { result_code: 'Refused', reason: 'FRAUD', reason_code: '20' },
  },
  expired_card: {
    code: 'expired_card', decline_code: 'expired_card', message: 'Your card has expired.',
    adyen: { result_code: 'Refused', reason: 'Expired Card', reason_code: '6' },
  },
  incorrect_cvc: {
    code: 'incorrect_cvc', decline_code: 'incorrect_cvc', message: "Your card's security code is incorrect.",
    adyen: { result_code: 'Refused', reason: 'CVC Declined', reason_code: '24' },
  },
  processing_error: {
    code: 'processing_error', decline_code: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
    adyen: { result_code: 'Error', reason: 'Acquirer Error', reason_code: '4' },
  },
  card_velocity_exceeded: {
    code: 'card_declined', decline_code: 'card_velocity_exceeded',
    message: 'Your card was declined for making repeated attempts too frequently or exceeding its amount limit.',
    adyen: { result_code: 'Refused', reason: 'Withdrawal count exceeded', reason_code: '29' },
  },
};

// outcome: approve | decline (with `decline`) | three_ds (then `after_three_ds`: approve or a decline key).
function card(brand, last4, outcome = 'approve', extra = {}) {
  return { brand, last4, funding: 'credit', country: 'US', outcome, ...extra };
}

const by_token = {
  pm_card_visa: card('visa', '4242'),
  pm_card_visa_debit: card('visa', '5556', 'approve', { funding: 'debit' }),
  pm_card_mastercard: card('mastercard', '4444'),
  pm_card_mastercard_debit: card('mastercard', '8210', 'approve', { funding: 'debit' }),
  pm_card_mastercard_prepaid: card('mastercard', '5100', 'approve', { funding: 'prepaid' }),
  pm_card_amex: card('amex', '8431'),
  pm_card_discover: card('discover', '1117'),
  pm_card_diners: card('diners', '0004'),
  pm_card_jcb: card('jcb', '0000'),
  pm_card_unionpay: card('unionpay', '0005'),
  pm_card_chargeDeclined: card('visa', '0002', 'decline', { decline: 'generic_decline' }),
  pm_card_visa_chargeDeclined: card('visa', '0002', 'decline', { decline: 'generic_decline' }),
  pm_card_chargeDeclinedInsufficientFunds: card('visa', '9995', 'decline', { decline: 'insufficient_funds' }),
  pm_card_visa_chargeDeclinedInsufficientFunds: card('visa', '9995', 'decline', { decline: 'insufficient_funds' }),
  pm_card_chargeDeclinedLostCard: card('visa', '9987', 'decline', { decline: 'lost_card' }),
  pm_card_visa_chargeDeclinedLostCard: card('visa', '9987', 'decline', { decline: 'lost_card' }),
  pm_card_chargeDeclinedStolenCard: card('visa', '9979', 'decline', { decline: 'stolen_card' }),
  pm_card_visa_chargeDeclinedStolenCard: card('visa', '9979', 'decline', { decline: 'stolen_card' }),
  pm_card_chargeDeclinedFraudulent: card('visa', '0019', 'decline', { decline: 'fraudulent' }),
  pm_card_visa_chargeDeclinedFraudulent: card('visa', '0019', 'decline', { decline: 'fraudulent' }),
  pm_card_chargeDeclinedExpiredCard: card('visa', '0069', 'decline', { decline: 'expired_card' }),
  pm_card_chargeDeclinedIncorrectCvc: card('visa', '0127', 'decline', { decline: 'incorrect_cvc' }),
  pm_card_chargeDeclinedProcessingError: card('visa', '0119', 'decline', { decline: 'processing_error' }),
  pm_card_visa_chargeDeclinedVelocityLimitExceeded: card('visa', '6975', 'decline', { decline: 'card_velocity_exceeded' }),
  pm_card_threeDSecure2Required: card('visa', '3220', 'three_ds', { after_three_ds: 'approve' }),
  pm_card_threeDSecureRequired: card('visa', '3063', 'three_ds', { after_three_ds: 'approve' }),
  pm_card_authenticationRequired: card('visa', '3155', 'three_ds', { after_three_ds: 'approve' }),
  pm_card_authenticationRequiredChargeDeclinedInsufficientFunds: card('visa', '3178', 'three_ds', {
    after_three_ds: 'insufficient_funds',
  }),
};

// The public test card numbers behind the tokens, for requests that carry a raw number.
const by_number = {
  4242424242424242: 'pm_card_visa',
  4111111111111111: 'pm_card_visa',
  4000056655665556: 'pm_card_visa_debit',
  5555555555554444: 'pm_card_mastercard',
  5555341244441115: 'pm_card_mastercard',
  378282246310005: 'pm_card_amex',
  370000000000002: 'pm_card_amex',
  4000000000000002: 'pm_card_chargeDeclined',
  4000000000009995: 'pm_card_chargeDeclinedInsufficientFunds',
  4000000000009987: 'pm_card_chargeDeclinedLostCard',
  4000000000009979: 'pm_card_chargeDeclinedStolenCard',
  4100000000000019: 'pm_card_chargeDeclinedFraudulent',
  4000000000000069: 'pm_card_chargeDeclinedExpiredCard',
  4000000000000127: 'pm_card_chargeDeclinedIncorrectCvc',
  4000000000000119: 'pm_card_chargeDeclinedProcessingError',
  4000000000003220: 'pm_card_threeDSecure2Required',
  4000002760003184: 'pm_card_threeDSecure2Required',
  4000000000003063: 'pm_card_threeDSecureRequired',
  4000002500003155: 'pm_card_authenticationRequired',
  4000008260003178: 'pm_card_authenticationRequiredChargeDeclinedInsufficientFunds',
};

export const token_names = Object.keys(by_token);

// The card behind a token or test number; null when it is not a test payment method. Any other
// `pm_card_*` name approves as a Visa, as most of Stripe's brand and country tokens do.
export function resolve_card(token) {
  if (typeof token !== 'string' || token.length === 0 || token.length > 200) return null;
  const text = token.startsWith('test_') ? token.slice(5) : token;
  const digits = text.replace(/[\s-]/g, '');
  const name = /^\d{12,19}$/.test(digits) ? by_number[digits] : text;
  if (name && by_token[name]) return { token: name, ...by_token[name] };
  if (text.startsWith('pm_card_')) return { token: text, ...card('visa', '4242') };
  return null;
}
