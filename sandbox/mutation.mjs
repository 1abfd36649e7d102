// The one path every money-moving provider call takes, whatever the wire format:
//   idempotency key check -> validation -> injected fault -> latency -> the state change ->
//   the answer stored under the key -> (maybe) the answer held back.
// Faults that strike "before acceptance" (error_500, refuse_connection) leave no trace: no
// payment, no charge, no stored answer, so the same key can be retried.

// plan: {
//   account, key, endpoint, fingerprint,
//   prepare() -> { answer } (refused, nothing stored)
//             | { references, operations, execute(behaviour) -> answer },
//   stores(answer) -> bool, decorate(answer, { replayed }) -> answer,
//   errors: { in_flight(), mismatch(result), internal(), keys_full() },
// }
export async function run_mutation(context, exchange, plan) {
  const { idempotency, scenarios } = context;
  const account_name = plan.account.name;
  if (plan.key) {
    const found = idempotency.begin(account_name, plan.key, plan.endpoint, plan.fingerprint);
    if (found.kind === 'replay') return exchange.send(plan.decorate(found.answer, { replayed: true }));
    if (found.kind === 'in_flight') return exchange.send(plan.decorate(plan.errors.in_flight(), {}));
    if (found.kind === 'mismatch') return exchange.send(plan.decorate(plan.errors.mismatch(found), {}));
    if (found.kind === 'full') return exchange.send(plan.decorate(plan.errors.keys_full(), {}));
  }
  const abandon = () => plan.key && idempotency.abandon(account_name, plan.key);
  let prepared;
  try {
    prepared = plan.prepare();
  } catch (error) {
    abandon();
    throw error;
  }
  if (prepared.answer) {
    abandon();
    return exchange.send(plan.decorate(prepared.answer, {}));
  }
  const fault = scenarios.fault(prepared.references, account_name, prepared.operations);
  if (fault.kind === 'error_500') {
    abandon();
    return exchange.send(plan.decorate(plan.errors.internal(), {}));
  }
  if (fault.kind === 'refuse_connection') {
    abandon();
    return exchange.refuse();
  }
  if (fault.behaviour.latency_ms) await context.sleep(fault.behaviour.latency_ms);
  let answer;
  try {
    answer = prepared.execute(fault.behaviour);
  } catch (error) {
    abandon();
    throw error;
  }
  if (plan.key && plan.stores(answer)) idempotency.complete(account_name, plan.key, answer);
  else abandon();
  if (fault.kind === 'timeout_after_accept') {
    await context.hold(exchange, fault.behaviour.delay_ms ?? context.timeout_after_accept_delay_ms);
  }
  return exchange.send(plan.decorate(answer, {}));
}
