// Everything the sandbox "provider" holds: payments (Stripe PaymentIntents, Adyen payments)
// with their captures and refunds, indexed by our references, and running totals per account,
// so tests can ask "how many times was this checkout charged?" without trusting our node.
export class StoreFullError extends Error {}

function empty_totals() {
  return { created: 0, captured: 0, refunded: 0, declined: 0, canceled: 0, captured_amount: {}, refunded_amount: {} };
}

export class PaymentStore {
  #payments = new Map();
  #by_reference = new Map();
  #aliases = new Map(); // secondary ids (charges, refunds, redirect tokens) -> payment id
  #totals = new Map();
  #payments_max;
  #refund_sequence = 0; // orders refunds made within the same second, for newest-first lists

  constructor(payments_max) {
    this.#payments_max = payments_max;
  }

  get full() {
    return this.#payments.size >= this.#payments_max;
  }

  // `record` needs id, account, format, references, amount, currency; the common fields are added.
  add(record) {
    if (this.full) throw new StoreFullError(`the sandbox holds ${this.#payments_max} payments: POST /_sandbox/reset`);
    Object.assign(record, {
      amount_captured: 0,
      amount_refunded: 0,
      captures: 0,
      refunds: [],
      created: Math.floor(Date.now() / 1000),
    });
    this.#payments.set(record.id, record);
    for (const reference of record.references) {
      if (!this.#by_reference.has(reference)) this.#by_reference.set(reference, []);
      this.#by_reference.get(reference).push(record.id);
    }
    this.#count(record.account, 'created');
    return record;
  }

  get(id) {
    return this.#payments.get(id) ?? null;
  }

  alias(secondary_id, payment_id) {
    this.#aliases.set(secondary_id, payment_id);
  }

  by_alias(secondary_id) {
    const id = this.#aliases.get(secondary_id);
    return id ? this.get(id) : null;
  }

  all() {
    return [...this.#payments.values()];
  }

  by_reference(reference) {
    return (this.#by_reference.get(reference) ?? []).map((id) => this.#payments.get(id));
  }

  record_capture(record, amount) {
    record.amount_captured += amount;
    record.captures += 1;
    this.#count(record.account, 'captured', amount, record.currency, 'captured_amount');
  }

  record_refund(record, refund) {
    refund.sequence = ++this.#refund_sequence;
    record.refunds.push(refund);
    if (refund.status !== 'succeeded') return;
    record.amount_refunded += refund.amount;
    this.#count(record.account, 'refunded', refund.amount, record.currency, 'refunded_amount');
  }

  record_decline(record) {
    this.#count(record.account, 'declined');
  }

  record_cancel(record) {
    this.#count(record.account, 'canceled');
  }

  #count(account, field, amount = 0, currency = '', amount_field = '') {
    if (!this.#totals.has(account)) this.#totals.set(account, empty_totals());
    const totals = this.#totals.get(account);
    totals[field] += 1;
    if (amount_field) totals[amount_field][currency] = (totals[amount_field][currency] ?? 0) + amount;
  }

  // Totals over all accounts and per account.
  stats(account_names) {
    const all = empty_totals();
    const accounts = {};
    for (const name of account_names) {
      const totals = this.#totals.get(name) ?? empty_totals();
      accounts[name] = totals;
      for (const field of ['created', 'captured', 'refunded', 'declined', 'canceled']) all[field] += totals[field];
      for (const field of ['captured_amount', 'refunded_amount']) {
        for (const [currency, amount] of Object.entries(totals[field])) all[field][currency] = (all[field][currency] ?? 0) + amount;
      }
    }
    return { ...all, payments: this.#payments.size, accounts };
  }

  clear() {
    this.#payments.clear();
    this.#by_reference.clear();
    this.#aliases.clear();
    this.#totals.clear();
  }
}

// What /_sandbox/payments shows of a payment, whatever its format.
export function payment_summary(record) {
  return {
    id: record.id,
    account: record.account,
    format: record.format,
    checkout_id: record.checkout_id || null,
    payment_id: record.payment_id || null,
    status: record.status,
    amount: record.amount,
    currency: record.currency,
    amount_captured: record.amount_captured,
    amount_refunded: record.amount_refunded,
    captures: record.captures,
    confirmations: record.confirmations ?? 0,  // Stripe confirms that reached the card (replays excluded)
    refunds: record.refunds.map((refund) => ({ id: refund.id, amount: refund.amount, status: refund.status })),
    created: record.created,
  };
}
