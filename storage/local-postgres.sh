#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster owned by the project, for development and the `pg` tests.
#
#   local-postgres.sh start  <datadir> <port>   initdb if needed, start on 127.0.0.1:<port>,
#                                               create database `eventstripe`, print its URL
#   local-postgres.sh stop   <datadir>          fast shutdown; no error when not running
#   local-postgres.sh status <datadir>          exit 0 running, 3 not running, 4 no cluster
#
# The server listens only on 127.0.0.1 with trust authentication, its unix socket lives inside
# <datadir> and its log is <datadir>/postgres.log. Only the URL goes to stdout, so
#   export ES_TEST_DATABASE_URL=$(storage/local-postgres.sh start .data/pg 55432)
# works. PostgreSQL refuses to run as root, so as root everything runs as the `postgres` user.
set -euo pipefail

postgres_bin_directory=${EVENTSTRIPE_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}
database_name=eventstripe
database_user=postgres
start_timeout_seconds=60
# Why: a unix socket path longer than this (sun_path) cannot be bound.
socket_path_length_max=107

die() {
  echo "local-postgres: error: $*" >&2
  exit 1
}

note() {
  echo "local-postgres: $*" >&2
}

usage() {
  cat >&2 <<'EOF'
usage: local-postgres.sh start  <datadir> <port>
       local-postgres.sh stop   <datadir>
       local-postgres.sh status <datadir>
EOF
  exit 2
}

is_root() {
  [[ $(id -u) -eq 0 ]]
}

# Runs a command as the cluster's owner: `postgres` when we are root, ourselves otherwise.
# `cd /` because the caller's directory may not be readable by `postgres`.
as_owner() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

absolute_datadir() {
  local datadir=$1
  [[ -n $datadir ]] || die "the data directory must not be empty"
  datadir=$(realpath -m -- "$datadir")
  # Why: pg_ctl passes -o through a shell and the path also becomes the socket directory,
  # so only plain path characters are accepted rather than quoting them half-right.
  [[ $datadir =~ ^[A-Za-z0-9._/+-]+$ ]] ||
    die "data directory '$datadir' may contain only letters, digits and . _ / + -"
  printf '%s\n' "$datadir"
}

check_port() {
  local port=$1
  if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    die "port must be a number from 1 to 65535, got '$port'"
  fi
}

# Prints the pid of the postmaster that really runs this cluster, or nothing. A postmaster.pid
# left by a crash may name a dead pid or one reused by an unrelated process.
running_pid() {
  local datadir=$1 pid_file=$1/postmaster.pid pid
  [[ -f $pid_file ]] || return 0
  pid=$(head -n 1 "$pid_file" 2>/dev/null || true)
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ -r /proc/$pid/comm ]] || return 0
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres ]] || return 0
  # The process must be a postmaster of *this* data directory, not another cluster's.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-D $datadir" || return 0
  printf '%s\n' "$pid"
}

running_port() {
  sed -n 4p "$1/postmaster.pid" 2>/dev/null || true
}

remove_stale_pid_file() {
  local datadir=$1
  if [[ -f $datadir/postmaster.pid && -z $(running_pid "$datadir") ]]; then
    note "removing stale $datadir/postmaster.pid (no postmaster of this cluster is running)"
    rm -f -- "$datadir/postmaster.pid" "$datadir"/.s.PGSQL.*
  fi
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cluster_exists() {
  [[ -f $1/PG_VERSION ]]
}

# As root, `postgres` must be able to reach the data directory: every ancestor needs search
# permission for it. Grant o+x where it is missing, and say so.
make_reachable_by_postgres() {
  local datadir=$1 directory=$1 ancestors=()
  id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run the server"
  while [[ $directory != / ]]; do
    directory=$(dirname -- "$directory")
    ancestors=("$directory" "${ancestors[@]}")
  done
  for directory in "${ancestors[@]}"; do
    if ! runuser -u postgres -- test -x "$directory"; then
      note "granting search permission (chmod o+x) on $directory so 'postgres' can reach $datadir"
      chmod o+x -- "$directory" || die "cannot make $directory traversable for 'postgres'"
    fi
  done
  chown postgres:postgres -- "$datadir" || die "cannot chown $datadir to postgres"
}

prepare_datadir() {
  local datadir=$1
  mkdir -p -- "$datadir" || die "cannot create $datadir"
  if is_root; then
    make_reachable_by_postgres "$datadir"
  fi
  if cluster_exists "$datadir"; then
    local owner
    owner=$(stat -c %U -- "$datadir/PG_VERSION")
    local expected_owner=postgres
    is_root || expected_owner=$(id -un)
    [[ $owner == "$expected_owner" ]] ||
      die "the cluster in $datadir belongs to '$owner', but would run as '$expected_owner'"
  fi
}

initialize_cluster() {
  local datadir=$1 output
  if [[ -n $(ls -A -- "$datadir") ]]; then
    die "$datadir is not empty but holds no cluster (no PG_VERSION); remove it or choose another directory"
  fi
  note "initializing a new cluster in $datadir"
  if ! output=$(as_owner "$postgres_bin_directory/initdb" -D "$datadir" --auth=trust \
    --encoding=UTF8 --locale=C --username="$database_user" 2>&1); then
    echo "$output" >&2
    die "initdb failed for $datadir"
  fi
}

start_server() {
  local datadir=$1 port=$2 log=$1/postgres.log
  if ! as_owner "$postgres_bin_directory/pg_ctl" -D "$datadir" -l "$log" -w \
    -t "$start_timeout_seconds" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir" start >/dev/null 2>&1; then
    echo "--- last lines of $log ---" >&2
    tail -n 15 -- "$log" >&2 || true
    die "PostgreSQL did not start on 127.0.0.1:$port (see $log)"
  fi
}

wait_until_ready() {
  local port=$1 waited_seconds=0
  until "$postgres_bin_directory/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; do
    ((waited_seconds += 1))
    ((waited_seconds < start_timeout_seconds)) ||
      die "PostgreSQL on 127.0.0.1:$port was not ready after ${start_timeout_seconds}s"
    sleep 1
  done
}

psql_admin() {
  local port=$1
  shift
  "$postgres_bin_directory/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" \
    -U "$database_user" -d postgres "$@"
}

database_exists() {
  [[ $(psql_admin "$1" -tAc "SELECT 1 FROM pg_database WHERE datname = '$database_name'") == 1 ]]
}

create_database() {
  local port=$1 output
  database_exists "$port" && return 0
  # A concurrent `start` may create it first, so a failure is judged by a second look.
  output=$(psql_admin "$port" -c "CREATE DATABASE $database_name" 2>&1) || database_exists "$port" ||
    die "cannot create database $database_name: $output"
}

print_url() {
  echo "postgresql://$database_user@127.0.0.1:$1/$database_name"
}

command_start() {
  [[ $# -eq 2 ]] || usage
  local datadir port pid
  datadir=$(absolute_datadir "$1")
  port=$2
  check_port "$port"
  local socket_path="$datadir/.s.PGSQL.$port"
  ((${#socket_path} <= socket_path_length_max)) ||
    die "socket path $socket_path is longer than $socket_path_length_max bytes; use a shorter data directory"
  prepare_datadir "$datadir"
  pid=$(running_pid "$datadir")
  if [[ -z $pid ]] && port_in_use "$port"; then
    die "port $port on 127.0.0.1 is already in use by another process; choose another port"
  fi
  cluster_exists "$datadir" || initialize_cluster "$datadir"
  if [[ -n $pid ]]; then
    local current_port
    current_port=$(running_port "$datadir")
    [[ $current_port == "$port" ]] ||
      die "the cluster in $datadir is already running (pid $pid) on port $current_port, not $port; stop it first"
  else
    remove_stale_pid_file "$datadir"
    start_server "$datadir" "$port"
  fi
  wait_until_ready "$port"
  create_database "$port"
  print_url "$port"
}

command_stop() {
  [[ $# -eq 1 ]] || usage
  local datadir
  datadir=$(absolute_datadir "$1")
  if ! cluster_exists "$datadir"; then
    note "no cluster in $datadir; nothing to stop"
    return 0
  fi
  if [[ -z $(running_pid "$datadir") ]]; then
    remove_stale_pid_file "$datadir"
    note "not running"
    return 0
  fi
  as_owner "$postgres_bin_directory/pg_ctl" -D "$datadir" -m fast -w \
    -t "$start_timeout_seconds" stop >/dev/null ||
    die "pg_ctl stop failed for $datadir (see $datadir/postgres.log)"
  note "stopped"
}

command_status() {
  [[ $# -eq 1 ]] || usage
  local datadir pid port
  datadir=$(absolute_datadir "$1")
  if ! cluster_exists "$datadir"; then
    echo "no cluster in $datadir"
    exit 4
  fi
  pid=$(running_pid "$datadir")
  if [[ -z $pid ]]; then
    if [[ -f $datadir/postmaster.pid ]]; then
      echo "not running (stale postmaster.pid in $datadir)"
    else
      echo "not running"
    fi
    exit 3
  fi
  port=$(running_port "$datadir")
  echo "running (pid $pid) $(print_url "$port")"
}

main() {
  [[ $# -ge 1 ]] || usage
  local command=$1
  shift
  [[ -x $postgres_bin_directory/pg_ctl ]] ||
    die "PostgreSQL binaries not found in $postgres_bin_directory (set EVENTSTRIPE_POSTGRES_BIN)"
  case $command in
  start) command_start "$@" ;;
  stop) command_stop "$@" ;;
  status) command_status "$@" ;;
  *) usage ;;
  esac
}

main "$@"
