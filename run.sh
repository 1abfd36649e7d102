#!/usr/bin/env bash
# Sets up and runs one EventStripe node on this machine:
#   installs missing packages, builds, starts a local PostgreSQL under .data/pg (unless
#   EVENTSTRIPE_DATABASE_URL names a database), applies migrations, serves on 127.0.0.1 and
#   seeds a published demo event (storage/demo-event.sh) whose URL it prints.
# Ctrl-C stops the node and then its PostgreSQL. Extra arguments go to the node; the HTTP port
# is ES_HTTP_PORT (default 8080), the sandbox payment provider's ES_SANDBOX_PORT (default 12111).
set -euo pipefail
cd "$(dirname "$0")"

pg_port=${ES_LOCAL_PG_PORT:-54329}
build_directory=build

.ci/install-deps
cmake -S . -B "$build_directory" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_directory" --target eventstripe

started_postgres=false
mkdir -p .data
if [[ -z ${EVENTSTRIPE_DATABASE_URL:-} ]]; then
  EVENTSTRIPE_DATABASE_URL=$(storage/local-postgres.sh start .data/pg "$pg_port")
  export EVENTSTRIPE_DATABASE_URL
  started_postgres=true
  echo "run: local PostgreSQL at $EVENTSTRIPE_DATABASE_URL (data in .data/pg)"
fi

# Ticket signing keys are stored wrapped under a key kept beside the local database (made once);
# EVENTSTRIPE_PAYMENTS_TICKET_KEY_WRAPPING_KEY, when set, is used instead.
if [[ -z ${EVENTSTRIPE_PAYMENTS_TICKET_KEY_WRAPPING_KEY:-} ]]; then
  wrapping_file=.data/ticket-key-wrapping.hex
  $started_postgres || wrapping_file=.data/ticket-key-wrapping-external.hex
  [[ -s $wrapping_file ]] || (umask 077 && openssl rand -hex 32 > "$wrapping_file")
  chmod 600 "$wrapping_file"
  EVENTSTRIPE_PAYMENTS_TICKET_KEY_WRAPPING_KEY=$(cat "$wrapping_file")
  export EVENTSTRIPE_PAYMENTS_TICKET_KEY_WRAPPING_KEY
fi

stop_postgres() {
  if $started_postgres; then storage/local-postgres.sh stop .data/pg; fi
}
trap stop_postgres EXIT
# Ctrl-C reaches the node too (same process group); the script waits for it to drain.
trap '' INT TERM

# The sandbox payment provider (sandbox/, Stripe and Adyen wire formats) stands in for real
# providers unless payments.stripe.api_base / payments.adyen.api_base are configured; its signed
# webhooks go to this node's /webhooks/{stripe,adyen}. Its Stripe endpoint sends the events the
# node acts on, as a real Stripe endpoint should be configured (README, "Payments").
http_port=${ES_HTTP_PORT:-8080}
sandbox_port=${ES_SANDBOX_PORT:-12111}
payment_args=()
if [[ -z ${EVENTSTRIPE_PAYMENTS_STRIPE_API_BASE:-}${EVENTSTRIPE_PAYMENTS_ADYEN_API_BASE:-} ]]; then
  cat >.data/sandbox.json <<JSON
{"port": $sandbox_port, "accounts": [
  {"name": "stripe", "format": "stripe", "api_key": "sk_test_local_demo", "webhook_secret": "whsec_local_demo",
   "webhook_url": "http://127.0.0.1:$http_port/webhooks/stripe",
   "enabled_events": ["payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
     "payment_intent.requires_action", "payment_intent.processing", "charge.refunded", "refund.created",
     "refund.updated", "refund.failed"]},
  {"name": "adyen", "format": "adyen", "api_key": "AQE_local_demo", "merchant_account": "EventStripeTest",
   "hmac_key": "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
   "webhook_url": "http://127.0.0.1:$http_port/webhooks/adyen"}]}
JSON
  node sandbox/server.mjs --config .data/sandbox.json > >(trap '' INT TERM; exec tee .data/sandbox.log) &
  sandbox_pid=$!
  trap 'kill $sandbox_pid 2>/dev/null; stop_postgres' EXIT
  payment_args=(--payments.stripe.api_base=http://127.0.0.1:$sandbox_port --payments.stripe.secret_key=sk_test_local_demo
    --payments.stripe.webhook_secrets=whsec_local_demo --payments.adyen.api_base=http://127.0.0.1:$sandbox_port
    --payments.adyen.api_key=AQE_local_demo
    --payments.adyen.hmac_keys=44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056)
  echo "run: sandbox payment provider at http://127.0.0.1:$sandbox_port (test card token pm_card_visa)"
fi

set +e
# The log goes to the terminal and to .data/node.log (tee ignores Ctrl-C so the node's last lines
# of its orderly shutdown still arrive).
"$build_directory/eventstripe" --http.port="$http_port" "${payment_args[@]}" "$@" > >(trap '' INT TERM; exec tee .data/node.log) &
node_pid=$!
trap 'kill -TERM $node_pid 2>/dev/null' INT TERM
# Once the node serves, seed the demo event (once per local database) and print the URLs.
for _ in $(seq 1 100); do
  base=$(sed -n 's/^eventstripe .* serving on \(http:[^ ]*\) .*/\1/p' .data/node.log 2>/dev/null | head -n 1)
  [[ -n $base ]] && curl -sf "$base/readyz" >/dev/null 2>&1 && break
  kill -0 $node_pid 2>/dev/null || break
  sleep 0.2
done
if [[ -n ${base:-} ]]; then
  demo_state=.data/demo-event
  $started_postgres || demo_state=.data/demo-event-external
  storage/demo-event.sh "$base" "$demo_state" || echo "run: could not seed the demo event" >&2
  echo "run: API $base/api/v1/node  health $base/healthz  metrics $base/metrics  (Ctrl-C stops)"
fi
wait $node_pid
status=$?
# wait returns early when a trapped signal arrives; wait again for the node's real exit.
while kill -0 $node_pid 2>/dev/null; do wait $node_pid; status=$?; done
exit $status
