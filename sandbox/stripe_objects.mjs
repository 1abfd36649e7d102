// Stripe's object and error shapes (API reference: PaymentIntent, Charge, Refund, PaymentMethod,
// Event, Errors), built from the sandbox's records. Only the sandbox's own fields are filled;
// the rest carry Stripe's null/default values so a strict client parser sees the real shape.
import { stripe_id } from './ids.mjs';

const docs_base = 'https://stripe.com/docs/error-codes/';

export function now_seconds() {
  return Math.floor(Date.now() / 1000);
}

// -> answer { status, body: { error: {...} } }
export function stripe_error(status, fields, request_id) {
  const error = { ...fields };
  if (error.code && !error.doc_url) error.doc_url = docs_base + error.code.replace(/_/g, '-');
  if (request_id) error.request_log_url = `https://dashboard.stripe.com/test/logs/${request_id}`;
  return { status, body: { error } };
}

export function payment_method_object(id, card, created) {
  return {
    id,
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
      email: null,
      name: null,
      phone: null,
    },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'unchecked' },
      country: card.country,
      display_brand: card.brand,
      exp_month: 12,
      exp_year: new Date().getUTCFullYear() + 3,
      fingerprint: `sbx${card.last4}${card.brand}`.slice(0, 16),
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created,
    customer: null,
    livemode: false,
    metadata: {},
    type: 'card',
  };
}

export function new_charge(record, { succeeded, decline }) {
  return {
    id: stripe_id('ch'),
    object: 'charge',
    amount: record.amount,
    amount_captured: succeeded ? record.amount : 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: succeeded ? stripe_id('txn') : null,
    billing_details: { address: null, email: null, name: null, phone: null },
    calculated_statement_descriptor: 'EVENTSTRIPE',
    captured: Boolean(succeeded),
    created: now_seconds(),
    currency: record.currency.toLowerCase(),
    customer: null,
    description: record.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: succeeded ? null : decline.code,
    failure_message: succeeded ? null : decline.message,
    fraud_details: {},
    livemode: false,
    metadata: { ...record.metadata },
    on_behalf_of: null,
    outcome: succeeded
      ? { network_status: 'approved_by_network', reason: null, risk_level: 'normal', risk_score: 20,
          seller_message: 'Payment complete.', type: 'authorized' }
      : { network_status: 'declined_by_network', reason: decline.decline_code, risk_level: 'normal', risk_score: 20,
          seller_message: 'The bank did not return any further details with this decline.', type: 'issuer_declined' },
    paid: Boolean(succeeded),
    payment_intent: record.id,
    payment_method: record.payment_method,
    payment_method_details: {
      card: { brand: record.card.brand, country: record.card.country, exp_month: 12,
        exp_year: new Date().getUTCFullYear() + 3, funding: record.card.funding, last4: record.card.last4,
        network: record.card.brand, three_d_secure: record.three_ds_used ? { result: 'authenticated', version: '2.2.0' } : null },
      type: 'card',
    },
    receipt_email: record.receipt_email,
    receipt_url: null,
    refunded: false,
    review: null,
    shipping: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: succeeded ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
}

export function refund_object(refund) {
  return {
    id: refund.id,
    object: 'refund',
    amount: refund.amount,
    balance_transaction: refund.balance_transaction,
    charge: refund.charge,
    created: refund.created,
    currency: refund.currency,
    destination_details: {
      card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' },
      type: 'card',
    },
    metadata: { ...refund.metadata },
    payment_intent: refund.payment_intent,
    reason: refund.reason,
    receipt_number: null,
    source_transfer_reversal: null,
    status: refund.status,
    transfer_reversal: null,
  };
}

export function payment_intent_object(record) {
  return {
    id: record.id,
    object: 'payment_intent',
    amount: record.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: record.amount_captured,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: record.automatic_payment_methods,
    canceled_at: record.canceled_at,
    cancellation_reason: record.cancellation_reason,
    capture_method: record.capture_method,
    client_secret: record.client_secret,
    confirmation_method: record.confirmation_method,
    created: record.created,
    currency: record.currency.toLowerCase(),
    customer: null,
    description: record.description,
    invoice: null,
    last_payment_error: record.last_payment_error,
    latest_charge: record.latest_charge,
    livemode: false,
    metadata: { ...record.metadata },
    next_action: record.next_action,
    on_behalf_of: null,
    payment_method: record.payment_method,
    payment_method_configuration_details: null,
    payment_method_options: {
      card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' },
    },
    payment_method_types: record.payment_method_types,
    processing: null,
    receipt_email: record.receipt_email,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: record.status,
    transfer_data: null,
    transfer_group: null,
  };
}

export function event_object({ type, object, api_version, request_id, idempotency_key }) {
  return {
    id: stripe_id('evt'),
    object: 'event',
    api_version,
    created: now_seconds(),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: request_id ?? null, idempotency_key: idempotency_key ?? null },
    type,
  };
}
