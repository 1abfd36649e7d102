#!/usr/bin/env bash
# Sets up and runs one EventStripe node on this machine:
#   installs missing packages, builds, starts a local PostgreSQL under .data/pg (unless
#   EVENTSTRIPE_DATABASE_URL names a database), applies migrations and serves on 127.0.0.1.
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
if [[ -z ${EVENTSTRIPE_DATABASE_URL:-} ]]; then
  mkdir -p .data
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

echo "run: API http://127.0.0.1:8080/api/v1/node  health http://127.0.0.1:8080/healthz  metrics http://127.0.0.1:8080/metrics"
set +e
"$build_directory/eventstripe" "$@" &
node_pid=$!
trap 'kill -TERM $node_pid 2>/dev/null' INT TERM
wait $node_pid
status=$?
# wait returns early when a trapped signal arrives; wait again for the node's real exit.
while kill -0 $node_pid 2>/dev/null; do wait $node_pid; status=$?; done
exit $status
