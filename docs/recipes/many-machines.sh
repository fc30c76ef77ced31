#!/usr/bin/env bash
# Grading on many machines, step by step: a PostgreSQL gradebook with its own role, every
# assignment in it, TLS certificates, a Dask scheduler and workers from an installed copy of
# coursetools, then grading, grades.csv and the class report.
#
#   docs/recipes/many-machines.sh [STEP ...]        (no step: all)
#
# Each step says where it runs. On one machine, `all` runs them all: the scheduler and the
# workers in the background, stopped when the script ends (tests/test_recipes.py runs it so).
#
#   database      on the PostgreSQL server, as a role that may make roles and databases
#                 (with Debian's peer login: sudo -u postgres docs/recipes/many-machines.sh database)
#   assignments   on the course host: every assignment of source/ into the gradebook
#   certificates  once, anywhere: a CA and a certificate per host in $CERTS; copy ca.pem and each
#                 host's pair to that host (same path), the grader's pair to the course host
#   install       on the scheduler's host and on each worker host: coursetools in $GRADER_VENV
#   scheduler     on the scheduler's host; runs until stopped
#   workers       on each worker host, as root (each sandbox gets its cgroups); runs until stopped
#   grade         on the course host: grade what `nbgrader collect` put in submitted/, export, report
#
# Settings (environment variables, with their defaults):
#   COURSE          the course folder, a checkout of this repository (the one holding this script)
#   COURSE_VENV     the course's environment, with nbgrader ($COURSE/.venv, made by `make`)
#   ASSIGNMENTS     the assignments (every folder of $COURSE/source)
#   PG_BIN          where PostgreSQL's createuser, createdb and psql are (empty: from PATH)
#   PGHOST, PGPORT  the PostgreSQL server, as libpq reads them (localhost, 5432); a folder for a Unix socket
#   DB_ADMIN        the PostgreSQL role that makes the grader's role and database (postgres)
#   DB_USER         the grader's role, which owns the gradebook (grader)
#   DB_NAME         the gradebook's database (course)
#   DB_URL          the gradebook's URL (postgresql+psycopg://$DB_USER@$PGHOST:$PGPORT/$DB_NAME);
#                   a password goes in ~/.pgpass or PGPASSWORD, never here
#   CERTS           the TLS files ($HOME/.coursetools-tls)
#   TLS_HOSTS       the hosts that get a certificate: names or IP addresses (the scheduler's and $WORKER_HOST)
#   TLS_DAYS        how long the certificates last (365)
#   SCHEDULER_HOST  the address the scheduler listens on and everyone connects to ($(hostname -f))
#   SCHEDULER_PORT  its port (8786)
#   DASHBOARD       where its dashboard listens ($SCHEDULER_HOST:8787; empty: no dashboard)
#   WORKER_HOST     the address this worker host listens on ($(hostname -f))
#   WORKERS         worker processes on this host, one per core ($(nproc))
#   WORKER_DIR      the workers' scratch folder (/var/tmp/coursetools-dask)
#   GRADER_VENV     where `install` puts coursetools on the scheduler's and workers' hosts (/opt/grader)
#   PYTHON          the Python 3.11 that makes $GRADER_VENV (python3)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COURSE=$(cd "${COURSE:-$here/../..}" && pwd)
COURSE_VENV=${COURSE_VENV:-$COURSE/.venv}
ASSIGNMENTS=${ASSIGNMENTS:-$(cd "$COURSE/source" && for a in */; do printf '%s ' "${a%/}"; done)}
PG_BIN=${PG_BIN:-}
export PGHOST=${PGHOST:-localhost} PGPORT=${PGPORT:-5432}
DB_ADMIN=${DB_ADMIN:-postgres}
DB_USER=${DB_USER:-grader}
DB_NAME=${DB_NAME:-course}
case "$PGHOST" in
  /*) DB_URL=${DB_URL:-postgresql+psycopg://$DB_USER@/$DB_NAME?host=$PGHOST&port=$PGPORT} ;;
  *) DB_URL=${DB_URL:-postgresql+psycopg://$DB_USER@$PGHOST:$PGPORT/$DB_NAME} ;;
esac
CERTS=${CERTS:-$HOME/.coursetools-tls}
SCHEDULER_HOST=${SCHEDULER_HOST:-$(hostname -f)}
SCHEDULER_PORT=${SCHEDULER_PORT:-8786}
DASHBOARD=${DASHBOARD-$SCHEDULER_HOST:8787}
WORKER_HOST=${WORKER_HOST:-$(hostname -f)}
WORKERS=${WORKERS:-$(nproc)}
WORKER_DIR=${WORKER_DIR:-/var/tmp/coursetools-dask}
TLS_HOSTS=${TLS_HOSTS:-$(printf '%s\n' "$SCHEDULER_HOST" "$WORKER_HOST" | sort -u | paste -sd ' ')}
TLS_DAYS=${TLS_DAYS:-365}
GRADER_VENV=${GRADER_VENV:-/opt/grader}
PYTHON=${PYTHON:-python3}
SCHEDULER=tls://$SCHEDULER_HOST:$SCHEDULER_PORT

say() { printf '\n== %s\n' "$*"; }
pg() { "${PG_BIN:+$PG_BIN/}$1" "${@:2}"; }
# The course's own tools first on PATH: nbgrader runs `alembic` from PATH when it makes a gradebook.
course_tools() { (cd "$COURSE" && PATH="$COURSE_VENV/bin:$PATH" "$@"); }
tls() { echo --tls-ca-file "$CERTS/ca.pem" --tls-cert "$CERTS/$1.pem" --tls-key "$CERTS/$1-key.pem"; }

database() {
  say "database: the role $DB_USER owns the database $DB_NAME on $PGHOST"
  if [ -z "$(pg psql -U "$DB_ADMIN" -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" ]; then
    pg createuser -U "$DB_ADMIN" "$DB_USER"
  fi
  if [ -z "$(pg psql -U "$DB_ADMIN" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]; then
    # Owned by the grader: since PostgreSQL 15 only a database's owner may create tables in it.
    pg createdb -U "$DB_ADMIN" -O "$DB_USER" "$DB_NAME"
  fi
}

assignments() {
  # nbgrader writes an assignment's cells into the gradebook as it generates it. It generates into a
  # scratch folder, thrown away: the committed release/ is never touched (nbgrader would skip an
  # existing release, and with --force delete it first, even when generating then fails).
  local scratch
  scratch=$(mktemp -d)
  for assignment in $ASSIGNMENTS; do
    say "assignments: $assignment into $DB_URL"
    course_tools nbgrader generate_assignment "$assignment" --db "$DB_URL" \
      --CourseDirectory.release_directory="$scratch"
  done
  rm -rf "$scratch"
}

certificate() {  # certificate NAME USAGE: a key and a certificate signed by the CA, for NAME
  local name=$1 usage=$2 san=
  case "$name" in
    *[!0-9.]*) san="DNS:$name" ;;
    *) san="IP:$name" ;;
  esac
  [ "$usage" = clientAuth ] && san=  # the grader's own certificate names no host
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$name" \
    -keyout "$CERTS/$name-key.pem" -out "$CERTS/$name.csr" 2>/dev/null
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = $usage"
    if [ -n "$san" ]; then echo "subjectAltName = $san"; fi
  } > "$CERTS/$name.ext"
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca-key.pem" \
    -CAcreateserial -days "$TLS_DAYS" -extfile "$CERTS/$name.ext" -out "$CERTS/$name.pem" 2>/dev/null
  rm "$CERTS/$name.csr" "$CERTS/$name.ext"
  chmod 600 "$CERTS/$name-key.pem"
}

certificates() {
  say "certificates: a CA, then $TLS_HOSTS and grader in $CERTS"
  mkdir -p "$CERTS"
  chmod 700 "$CERTS"
  if [ ! -e "$CERTS/ca.pem" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days "$TLS_DAYS" \
      -subj "/CN=coursetools grading CA" -addext "basicConstraints = critical, CA:TRUE" \
      -addext "keyUsage = critical, keyCertSign, cRLSign" \
      -keyout "$CERTS/ca-key.pem" -out "$CERTS/ca.pem" 2>/dev/null
    chmod 600 "$CERTS/ca-key.pem"
  fi
  # A host's certificate serves it (scheduler, worker) and identifies it to the others.
  for host in $TLS_HOSTS; do certificate "$host" "serverAuth, clientAuth"; done
  certificate grader clientAuth
}

install() {
  say "install: coursetools from $COURSE into $GRADER_VENV"
  # Everything a worker needs comes with the package and its pinned dependencies: no checkout on
  # the worker, no PYTHONPATH. (From another host: pip install a wheel, `pip wheel --no-deps .`.)
  "$PYTHON" -m venv "$GRADER_VENV"
  "$GRADER_VENV/bin/pip" install --quiet "$COURSE"
}

scheduler() {
  say "scheduler: $SCHEDULER"
  # From the installed copy: the scheduler unpickles the tasks, which name coursetools' functions.
  # shellcheck disable=SC2046
  exec "$GRADER_VENV/bin/dask" scheduler --protocol tls --host "$SCHEDULER_HOST" --port "$SCHEDULER_PORT" \
    $(if [ -n "$DASHBOARD" ]; then echo --dashboard-address "$DASHBOARD"; else
        echo --no-dashboard --dashboard-address "$SCHEDULER_HOST:0"; fi) \
    $(tls "$SCHEDULER_HOST")
}

workers() {
  say "workers: $WORKERS on $WORKER_HOST for $SCHEDULER"
  # bubblewrap (apt-get install bubblewrap) runs each student's kernel in its sandbox.
  command -v bwrap >/dev/null || { echo "bubblewrap is missing: apt-get install bubblewrap" >&2; exit 1; }
  # shellcheck disable=SC2046
  exec "$GRADER_VENV/bin/dask" worker "$SCHEDULER" --host "$WORKER_HOST" --nworkers "$WORKERS" --nthreads 1 \
    --no-dashboard --dashboard-address "$WORKER_HOST:0" --local-directory "$WORKER_DIR" $(tls "$WORKER_HOST")
}

grade() {
  say "grade: submitted/ in $COURSE on $SCHEDULER into $DB_URL"
  # shellcheck disable=SC2046
  course_tools python -m coursetools grade --root "$COURSE" --scheduler "$SCHEDULER" --db "$DB_URL" $(tls grader)
  course_tools nbgrader export --db "$DB_URL" --to grades.csv
  course_tools python -m coursetools report --root "$COURSE" --db "$DB_URL"
}

# -- all steps on this machine
started=()
stop_started() {
  for pid in ${started[@]+"${started[@]}"}; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in ${started[@]+"${started[@]}"}; do wait "$pid" 2>/dev/null || true; done
}

in_background() {  # in_background STEP: the step in a process group of its own, its log in $WORKER_DIR
  mkdir -p "$WORKER_DIR"
  setsid bash "$here/many-machines.sh" "$1" > "$WORKER_DIR/$1.log" 2>&1 &
  started+=("$!")
}

wait_for_workers() {
  say "waiting for $WORKERS workers (logs: $WORKER_DIR/scheduler.log, workers.log)"
  # shellcheck disable=SC2046
  if ! "$GRADER_VENV/bin/python" - "$SCHEDULER" "$WORKERS" $(tls grader) <<'EOF'
import sys
from distributed import Client
from distributed.security import Security

scheduler, n, _, ca, _, cert, _, key = sys.argv[1:]
security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
with Client(scheduler, security=security, timeout="60s") as client:
    client.wait_for_workers(int(n), timeout=120)
EOF
  then
    tail -n 30 "$WORKER_DIR/scheduler.log" "$WORKER_DIR/workers.log" >&2
    exit 1
  fi
}

all() {
  database
  assignments
  certificates
  install
  trap stop_started EXIT
  in_background scheduler
  in_background workers
  wait_for_workers
  grade
}

if [ $# -eq 0 ]; then set -- all; fi
for step in "$@"; do
  case "$step" in
    database | assignments | certificates | install | scheduler | workers | grade | all) "$step" ;;
    *) echo "unknown step $step: database, assignments, certificates, install, scheduler, workers, grade or all" >&2
       exit 2 ;;
  esac
done
