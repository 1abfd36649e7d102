// Idempotency keys the way Stripe and Adyen keep them: per account, the first request's
// endpoint and parameters and, once it has run, its answer. A repeat with the same parameters
// gets that answer again; different parameters are refused; a repeat while the first is still
// running is told to wait. Requests refused before they ran (validation, injected 500s) leave
// no entry, so their keys stay usable.
export class IdempotencyStore {
  #entries = new Map();
  #entries_max;

  constructor(entries_max) {
    this.#entries_max = entries_max;
  }

  static #slot(account_name, key) {
    return `${account_name}\u0000${key}`;
  }

  // -> { kind: 'new' } | { kind: 'replay', answer } | { kind: 'in_flight' }
  //  | { kind: 'mismatch', endpoint_differs, first_endpoint } | { kind: 'full' }
  begin(account_name, key, endpoint, fingerprint) {
    const slot = IdempotencyStore.#slot(account_name, key);
    const entry = this.#entries.get(slot);
    if (!entry) {
      if (this.#entries.size >= this.#entries_max) return { kind: 'full' };
      this.#entries.set(slot, { endpoint, fingerprint, answer: null });
      return { kind: 'new' };
    }
    if (entry.endpoint !== endpoint) return { kind: 'mismatch', endpoint_differs: true, first_endpoint: entry.endpoint };
    if (entry.fingerprint !== fingerprint) return { kind: 'mismatch', endpoint_differs: false, first_endpoint: entry.endpoint };
    if (!entry.answer) return { kind: 'in_flight' };
    return { kind: 'replay', answer: entry.answer };
  }

  complete(account_name, key, answer) {
    const entry = this.#entries.get(IdempotencyStore.#slot(account_name, key));
    if (entry) entry.answer = answer;
  }

  abandon(account_name, key) {
    const slot = IdempotencyStore.#slot(account_name, key);
    if (this.#entries.get(slot)?.answer === null) this.#entries.delete(slot);
  }

  // Forgets every key whose request has run (of one account, or of all when account_name is
  // null), as the providers do after a while (Stripe: 24 hours), so a repeat runs again. Keys of
  // requests still running stay. -> how many were forgotten.
  expire(account_name = null) {
    let expired = 0;
    for (const [slot, entry] of this.#entries) {
      if (entry.answer === null) continue;
      if (account_name !== null && !slot.startsWith(`${account_name}\u0000`)) continue;
      this.#entries.delete(slot);
      expired += 1;
    }
    return expired;
  }

  clear() {
    this.#entries.clear();
  }

  get size() {
    return this.#entries.size;
  }
}
