#!/usr/bin/env bash
# Sets up and runs one EventStripe node on this machine:
#   installs missing packages, builds, starts a local PostgreSQL under .data/pg (unless
#   EVENTSTRIPE_DATABASE_URL names a database), applies migrations, serves on 127.0.0.1 and
#   seeds a published demo event (storage/demo-event.sh) whose URL it prints.
# Ctrl-C stops the node and then its PostgreSQL. Extra arguments go to the node
# (e.g. ./run.sh --http.port=9090).
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

stop_postgres() {
  if $started_postgres; then storage/local-postgres.sh stop .data/pg; fi
}
trap stop_postgres EXIT
# Ctrl-C reaches the node too (same process group); the script waits for it to drain.
trap '' INT TERM

set +e
# The log goes to the terminal and to .data/node.log (tee ignores Ctrl-C so the node's last lines
# of its orderly shutdown still arrive).
"$build_directory/eventstripe" "$@" > >(trap '' INT TERM; exec tee .data/node.log) &
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
