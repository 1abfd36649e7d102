#!/usr/bin/env bash
# Runs bench/ticket-drop end to end: starts a throw-away PostgreSQL (storage/local-postgres.sh),
# builds the node and the bench, runs the drop, and stops PostgreSQL again if it started it.
# The purchase phases start and stop the sandbox payment provider (sandbox/server.mjs, Node.js)
# themselves, one per node run, with that node's webhook URL.
#
#   bench/run-ticket-drop.sh [ticket_drop options]      e.g. --rounds 5 --phases sustained,drop
#   bench/run-ticket-drop.sh --phases purchase,purchase-drop
#
# Environment: ES_BENCH_PG_DIR (default /tmp/es-bench-pg), ES_BENCH_PG_PORT (default 55470),
# ES_BENCH_BUILD_DIR (default build-bench), ES_BENCH_NO_BUILD=1 to use the binaries as they are
# (when builds go through another tool, e.g. a lock that serialises them on a small machine).
set -euo pipefail

root=$(cd -- "$(dirname -- "$0")/.." && pwd)
datadir=${ES_BENCH_PG_DIR:-/tmp/es-bench-pg}
port=${ES_BENCH_PG_PORT:-55470}
build_directory=${ES_BENCH_BUILD_DIR:-build-bench}
cd -- "$root"

if [[ ${ES_BENCH_NO_BUILD:-0} != 1 ]]; then
  [[ -f $build_directory/build.ninja ]] || cmake -S . -B "$build_directory" -G Ninja >/dev/null
  cmake --build "$build_directory" --target eventstripe ticket_drop
fi
for binary in "$build_directory/eventstripe" "$build_directory/bench/ticket_drop"; do
  [[ -x $binary ]] || { echo "run-ticket-drop: $binary is not built" >&2; exit 1; }
done

# Stop PostgreSQL on the way out only when this script started it.
already_running=false
bash storage/local-postgres.sh status "$datadir" >/dev/null 2>&1 && already_running=true
url=$(bash storage/local-postgres.sh start "$datadir" "$port")
if [[ $already_running == false ]]; then
  trap 'bash storage/local-postgres.sh stop "$datadir"' EXIT
fi

"$build_directory/bench/ticket_drop" --binary "$build_directory/eventstripe" --database-url "$url" \
  --sandbox sandbox/server.mjs "$@"
