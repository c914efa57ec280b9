# Helpers shared by fleet-scan.sh and registry-scale.sh. Source it.

# fathom_bench_bases BENCH_DIR BASES_DIR leaves BASES_DIR/debian-bookworm.tar.gz
# (debootstrap bookworm minbase as a Debian base image ships, without the apt cache),
# BASES_DIR/alpine-3.20.3.tar.zst, and the array `alpine` of the Alpine minirootfs tarballs.
fathom_bench_bases() {
  local bench="$1" bases="$2" rootfs="$1/bookworm-minbase"
  mkdir -p "$bases"
  if [ ! -d "$rootfs/usr" ]; then
    echo "debootstrap bookworm minbase → $rootfs" >&2
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >&2
  fi
  if [ ! -f "$bases/debian-bookworm.tar.gz" ]; then
    tar -C "$rootfs" --sort=name --numeric-owner --exclude='./var/cache/apt/archives/*.deb' \
      --exclude='./var/lib/apt/lists/*_*' -cf - . | gzip -n -6 >"$bases/debian-bookworm.tar.gz"
  fi
  alpine=(Tests/Fixtures/images/alpine-minirootfs/alpine-minirootfs-{3.7.3,3.10.9,3.11.13}-x86_64.tar.gz)
  if [ ! -f "$bases/alpine-3.20.3.tar.zst" ]; then
    gzip -dc Tests/Fixtures/images/alpine-minirootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz | zstd -q -3 -c >"$bases/alpine-3.20.3.tar.zst"
  fi
}

# fathom_bench_measure RUNS_DIR LABEL COMMAND…: runs the command under /usr/bin/time and leaves
# "wall user sys maxrss_kb registry_cpu_s postgres_cpu_s" in RUNS_DIR/LABEL.time: the registry
# (process $FATHOM_REGISTRY_PID) and PostgreSQL (process tree $FATHOM_PG_PID, when set) share the
# cores, so their CPU time is part of the picture.
fathom_bench_measure() {
  local runs="$1" label="$2" registry postgres status=0
  shift 2
  registry=$(fathom_bench_cpu "$FATHOM_REGISTRY_PID")
  postgres=$(fathom_bench_cpu "${FATHOM_PG_PID:-}")
  /usr/bin/time -f "%e %U %S %M" -o "$runs/$label.time" "$@" || status=$?
  sleep 0.3  # the backends of closed connections are reaped into the postmaster's CPU
  echo "$(cat "$runs/$label.time") $(echo "$(fathom_bench_cpu "$FATHOM_REGISTRY_PID") $registry $(fathom_bench_cpu "${FATHOM_PG_PID:-}") $postgres $(getconf CLK_TCK)" \
    | awk '{printf "%.2f %.2f", ($1 - $2) / $5, ($3 - $4) / $5}')" >"$runs/$label.time"
  return $status
}

# fathom_bench_cpu PID: the clock ticks a process and its children have used (0 without PID or
# once it is gone): the process, its reaped children, and its live children. The live ones count too: PostgreSQL's backends stay
# alive for as long as their connections, so without them a backend's work (the serve's, queueing
# scans before the clock starts) lands in whichever window it exits in, and the WAL writer's and
# checkpointer's would land in none.
fathom_bench_cpu() {
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
  local files=("/proc/$1/stat") child
  for child in $(pgrep -P "$1"); do files+=("/proc/$child/stat"); done
  # The process's own fields 14-17 (its and its reaped children's), a child's 14-15; a child
  # that exits meanwhile is skipped (its time is then its parent's, after the reaping).
  { cat "${files[@]}" 2>/dev/null || true; } | awk '{ total += $14 + $15; if (NR == 1) total += $16 + $17 } END { print total + 0 }'
}

# fathom_bench_fleet_files FLEET_DIR leaves the real files the fleet's added layers carry:
# pure-Python wheels from PyPI in FLEET_DIR/wheels and Debian's runc (a Go binary) in
# FLEET_DIR/runc/usr/sbin/runc.
fathom_bench_fleet_files() {
  local fleet="$1"
  mkdir -p "$fleet/wheels"
  if ! ls "$fleet/wheels/"*.whl >/dev/null 2>&1; then
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$fleet/wheels" \
      requests==2.19.1 urllib3==1.23 idna==2.7 chardet==3.0.4 certifi==2018.4.16 Jinja2==2.10 six==1.11.0 \
      Flask==1.0 Werkzeug==0.14.1 click==6.7 >&2
  fi
  if [ ! -f "$fleet/runc/usr/sbin/runc" ]; then
    (cd "$fleet" && apt-get download runc >&2 && dpkg-deb -x runc_*.deb runc)
  fi
}

# fathom_bench_limit WORK RUNS_DIR: the C decode limit over the fleet's distinct blobs in the
# registry storage under WORK/registry (`gzip -dc | sha256sum` and `zstd -dc | sha256sum` side
# by side, as fathom uses both cores), measured as RUNS_DIR/limit.time.
fathom_bench_limit() {
  local work="$1" runs="$2"
  python3 - "$work" <<'PY' >"$runs/blobs.txt"
import json, sys
work = sys.argv[1]
fleet = json.load(open(f"{work}/fleet.json"))
for digest, layer in sorted(fleet["layers"].items()):
    hex_ = digest.split(":")[1]
    print(layer["compression"], f"{work}/registry/data/docker/registry/v2/blobs/sha256/{hex_[:2]}/{hex_}/data")
PY
  fathom_bench_measure "$runs" limit bash -c '
    (grep "^gzip " "$1" | cut -d" " -f2 | xargs cat | gzip -dc | sha256sum >/dev/null) &
    (grep "^zstd " "$1" | cut -d" " -f2 | xargs cat | zstd -q -dc | sha256sum >/dev/null) &
    wait' limit "$runs/blobs.txt"
}

# fathom_bench_postgres DIR starts Debian's PostgreSQL on a free loopback port with its data in
# DIR (as the postgres user when run as root) and sets FATHOM_PG_PID, FATHOM_PG_PORT and
# FATHOM_PG_BIN. fathom_bench_postgres_url DATABASE creates that database and prints its URL.
fathom_bench_postgres() {
  local dir="$1" as_owner=()
  FATHOM_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown -R postgres:postgres "$dir"
    as_owner=(setpriv --reuid=postgres --regid=postgres --init-groups)
  fi
  "${as_owner[@]}" "$FATHOM_PG_BIN/initdb" -D "$dir/data" -A trust -U fathom -E UTF8 --no-sync >"$dir/initdb.log"
  FATHOM_PG_PORT=$(fathom_free_port)
  # FATHOM_BENCH_PG_STATEMENTS=1 loads pg_stat_statements, to say which statements the CPU goes to.
  local statements=()
  [ -z "${FATHOM_BENCH_PG_STATEMENTS:-}" ] || statements=(-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_planning=on)
  # FATHOM_BENCH_PG_OPTIONS: more server settings, e.g. "-c shared_preload_libraries=auto_explain
  # -c auto_explain.log_min_duration=0 -c auto_explain.log_analyze=on" for each statement's plan and times.
  local options=()
  [ -z "${FATHOM_BENCH_PG_OPTIONS:-}" ] || read -r -a options <<<"$FATHOM_BENCH_PG_OPTIONS"
  "${as_owner[@]}" "$FATHOM_PG_BIN/postgres" -D "$(realpath "$dir")/data" -p "$FATHOM_PG_PORT" -k "$(realpath "$dir")" \
    -c listen_addresses=127.0.0.1 -c max_connections=200 "${statements[@]}" "${options[@]}" >"$dir/postgres.log" 2>&1 &
  FATHOM_PG_PID=$!
  for _ in $(seq 50); do "$FATHOM_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$FATHOM_PG_PORT" && return 0; sleep 0.2; done
  echo "PostgreSQL did not start: $dir/postgres.log" >&2
  return 1
}

# fathom_bench_jobs_field JSON FIELD prints a count of a /v1/jobs/summary answer. Bash alone:
# the benchmarks poll the summary while the clock runs, and starting Python for each look took
# a tenth of a second of a core, three quarters of a core at that rate, out of the two measured.
fathom_bench_jobs_field() {
  [[ $1 =~ \"$2\":([0-9]+) ]] || { echo "no $2 in the job summary: $1" >&2; return 1; }
  echo "${BASH_REMATCH[1]}"
}

fathom_bench_postgres_url() {
  "$FATHOM_PG_BIN/createdb" -h 127.0.0.1 -p "$FATHOM_PG_PORT" -U fathom "$@" >&2
  echo "postgres://fathom@127.0.0.1:$FATHOM_PG_PORT/$1?sslmode=disable"
}

# With FATHOM_BENCH_PG_STATEMENTS set: forgets the statements counted so far in database $1.
fathom_bench_statements_reset() {
  [ -n "${FATHOM_BENCH_PG_STATEMENTS:-}" ] || return 0
  "$FATHOM_PG_BIN/psql" -q -h 127.0.0.1 -p "$FATHOM_PG_PORT" -U fathom -d "$1" \
    -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
}

# With FATHOM_BENCH_PG_STATEMENTS set: writes database $1's statements since the reset, most
# time first, to $2 (calls, total and mean milliseconds, rows, the statement).
fathom_bench_statements() {
  [ -n "${FATHOM_BENCH_PG_STATEMENTS:-}" ] || return 0
  "$FATHOM_PG_BIN/psql" -h 127.0.0.1 -p "$FATHOM_PG_PORT" -U fathom -d "$1" -c "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms,
    round(mean_exec_time::numeric, 3) AS mean_ms, round(total_plan_time::numeric, 1) AS plan_ms, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS statement
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$1') ORDER BY total_exec_time DESC LIMIT 30" \
    -c "SELECT sum(calls) AS statements, round(sum(total_exec_time)::numeric, 1) AS exec_ms, round(sum(total_plan_time)::numeric, 1) AS plan_ms
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$1')" >"$2"
}

# fathom_bench_push_fleet BENCH WORK HOST IMAGES: generates IMAGES images over the fleet's bases
# (fathom_bench_bases and fathom_bench_fleet_files first), pushes them to HOST, describes them in
# WORK/fleet.json, and writes the registry's push notifications for them as it would send them
# (one envelope per 50 manifests) into WORK/events/.
fathom_bench_push_fleet() {
  local bench="$1" work="$2" host="$3" images="$4"
  echo "generating and pushing $images images to $host" >&2
  python3 Benchmarks/fleet/generate.py --registry "$host" --images "$images" \
    --debian "$bench/fleet/bases/debian-bookworm.tar.gz" --alpine "${alpine[@]}" --alpine-zstd "$bench/fleet/bases/alpine-3.20.3.tar.zst" \
    --wheels "$bench/fleet/wheels" --go-binary "$bench/fleet/runc/usr/sbin/runc" --out "$work/fleet.json"
  python3 - "$work/fleet.json" "$host" "$work/events" <<'PY'
import json, os, sys, uuid
fleet, host, out = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
os.makedirs(out, exist_ok=True)
events = [{"id": str(uuid.uuid4()), "timestamp": "2026-11-29T00:00:00.000000000Z", "action": "push",
           "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image["manifest"],
                      "repository": image["repository"], "tag": image["tag"]},
           "request": {"host": host}} for image in fleet["images"]]
for number in range(0, len(events), 50):
    json.dump({"events": events[number:number + 50]}, open(f"{out}/{number // 50:05d}.json", "w"))
PY
}
