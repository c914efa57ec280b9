#!/usr/bin/env bash
# The service benchmark: throughput of 1, 2 and 3 `fathom worker` processes taking the jobs of
# `fathom serve` from the shared PostgreSQL store, on the fleet benchmark's images, from two
# sources, and the fleet path (`fathom registry`, one process) over the same images in the same
# run. For each source and worker count, with a fresh database (cold: no layer known), every
# scan is queued first (the registry's push envelopes through POST /v1/events; for the OCI
# source, POST /v1/scans of each image in a mirror of one OCI layout per repository, read with
# --allow-local-sources), then the workers start; the clock runs until the queue is drained.
# Reports the wall, images/s, fathom's CPU per image, PostgreSQL's CPU per image, the registry's
# CPU, and the same run's C decode limit over the same distinct blobs; plots images/s against
# worker processes into docs/service-scale.svg (gnuplot).
#
#   Benchmarks/service-workers.sh [--images 300] [--workers "1 2 3"] [--jobs 1] [--batch 8] [--smoke]
#
# --jobs: the worker loops of each process (`fathom worker --workers`); --batch: the jobs each
# loop claims in one statement and keeps in flight (`--batch`). --smoke: 12 images, 1 and 2
# workers, no plot, to check that the benchmark and its report still work.
#
# PostgreSQL comes from Debian (initdb + postgres as the postgres user when run as root).
# FATHOM_BENCH_PG_STATEMENTS=1 also writes, for each service run, the statements PostgreSQL's
# time went to (pg_stat_statements) into .build-bench/service/runs/statements-SOURCE-COUNT.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source Benchmarks/fleet/lib.sh

images=300
counts="1 2 3"
jobs=1
batch=8
smoke=""
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift 2 ;;
    --workers) counts="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --smoke) images=12; counts="1 2"; smoke=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

fathom_install_packages debootstrap time python3-pip postgresql util-linux gnuplot-nox
export PATH="/opt/swift/usr/bin:$PATH"
fathom=$(fathom_bench_binary)

bench=.build-bench
work=$bench/service
fathom_bench_bases "$bench" "$bench/fleet/bases"
fathom_bench_fleet_files "$bench/fleet"
rm -rf "$work"
mkdir -p "$work/runs"

port=$(fathom_free_port)
fathom_start_registry "$port" "$work/registry"
host=127.0.0.1:$port

# PostgreSQL on a loopback port of its own.
serve_pid=""
trap 'kill "$FATHOM_REGISTRY_PID" $FATHOM_PG_PID $serve_pid 2>/dev/null || true' EXIT
fathom_bench_postgres "$work/pg"
pgpid=$FATHOM_PG_PID

fathom_bench_push_fleet "$bench" "$work" "$host" "$images"
echo token-for-the-benchmark >"$work/token"
# The same images as OCI layouts on local disk: one per repository (the service's mirror), and
# one for all (the fleet path's).
python3 Benchmarks/fleet/export-layout.py "$work" "$work/mirror" --per-repository
python3 Benchmarks/fleet/export-layout.py "$work" "$work/layout"
python3 - "$work/fleet.json" "$(realpath "$work/mirror")" >"$work/scans.txt" <<'PY'
import json, sys
fleet, mirror = json.load(open(sys.argv[1])), sys.argv[2]
for image in fleet["images"]:
    print(json.dumps({"image": f"oci:{mirror}/{image['repository']}:{image['tag']}"}))
PY

summary() { curl -sf -H "Authorization: Bearer token-for-the-benchmark" "http://127.0.0.1:$1/v1/jobs/summary"; }
ticks=$(getconf CLK_TCK)
feeds=(Tests/Fixtures/advisories/alpine-secdb/v3.{7,10,11}/main.yaml
  Tests/Fixtures/advisories/osv-debian12-derived/osv-debian12-derived.tar.gz Tests/Fixtures/advisories/osv-pypi.tar.gz)

# The fleet path over the same images, each source with a fresh database of the same store.
measure() { fathom_bench_measure "$work/runs" "$@"; }
for source in registry oci; do
  echo "fleet path (fathom registry) from the $source source" >&2
  store=$(fathom_bench_postgres_url "fleet$source")
  "$fathom" db import --store "$store" "${feeds[@]}" >/dev/null
  target=$host
  [ "$source" = oci ] && target="oci:$work/layout"
  measure "fleet-$source" "$fathom" registry "$target" --store "$store" --quiet --format json >"$work/runs/fleet-$source.json" || true
done

for source in registry oci; do
  for count in $counts; do
    echo "$count worker(s), $source source: fresh database, $images scans queued, then the workers" >&2
    database="w$source$count"
    store=$(fathom_bench_postgres_url "$database")
    "$fathom" db import --store "$store" "${feeds[@]}" >/dev/null
    api=$(fathom_free_port)
    "$fathom" serve --listen "127.0.0.1:$api" --workers 0 --store "$store" --api-token-file "$work/token" \
      --webhook-token-file "$work/token" --db-update-interval off --rescan-interval off --registry "$host" \
      --allow-local-sources "$work/mirror" 2>"$work/runs/serve-$source-$count.log" &
    serve_pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api/readyz" >/dev/null && break; sleep 0.1; done
    if [ "$source" = registry ]; then
      for envelope in "$work/events/"*.json; do
        curl -sf -H "Authorization: Bearer token-for-the-benchmark" -H "Content-Type: application/json" \
          --data-binary "@$envelope" "http://127.0.0.1:$api/v1/events" >/dev/null
      done
    else
      while read -r body; do
        curl -sf -H "Authorization: Bearer token-for-the-benchmark" -H "Content-Type: application/json" \
          --data-binary "$body" "http://127.0.0.1:$api/v1/scans" >/dev/null
      done <"$work/scans.txt"
    fi
    queued=$(fathom_bench_jobs_field "$(summary "$api")" queued)
    [ "$queued" -eq "$images" ] || { echo "only $queued of $images scans were queued" >&2; exit 1; }
    fathom_bench_statements_reset "$database"
    pg_before=$(fathom_bench_cpu $pgpid); registry_before=$(fathom_bench_cpu "$FATHOM_REGISTRY_PID")
    start=$(date +%s.%N)
    pids=()
    for index in $(seq "$count"); do
      # FATHOM_BENCH_WORKER_PREFIX: a command the workers run under, e.g. "perf record -o FILE --".
      /usr/bin/time -f "%e %U %S %M" -o "$work/runs/worker-$source-$count-$index.time" ${FATHOM_BENCH_WORKER_PREFIX:-} \
        "$fathom" worker --store "$store" --workers "$jobs" --batch "$batch" --allow-local-sources "$work/mirror" \
        2>"$work/runs/worker-$source-$count-$index.log" &
      pids+=($!)
    done
    while true; do
      state=$(summary "$api")
      left=$(( $(fathom_bench_jobs_field "$state" queued) + $(fathom_bench_jobs_field "$state" running) ))
      [ "$left" -eq 0 ] && break
      sleep 0.1
    done
    end=$(date +%s.%N)
    echo "$state" >"$work/runs/summary-$source-$count.json"
    fathom_bench_statements "$database" "$work/runs/statements-$source-$count.txt"
    # SIGTERM to the workers themselves (children of /usr/bin/time, which then reports them).
    for pid in "${pids[@]}"; do pkill -TERM -P "$pid" || true; done
    wait "${pids[@]}" 2>/dev/null || true
    kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
    sleep 0.5  # the backends of the closed connections are reaped into the postmaster's CPU
    awk -v s="$start" -v e="$end" -v pg0="$pg_before" -v pg1="$(fathom_bench_cpu $pgpid)" -v r0="$registry_before" \
      -v r1="$(fathom_bench_cpu "$FATHOM_REGISTRY_PID")" -v t="$ticks" \
      'BEGIN { printf "%.2f %.2f %.2f\n", e - s, (pg1 - pg0) / t, (r1 - r0) / t }' >"$work/runs/run-$source-$count.txt"
  done
done

echo "C limit over the distinct blobs" >&2
FATHOM_REGISTRY_PID=$FATHOM_REGISTRY_PID fathom_bench_limit "$work" "$work/runs"

FATHOM_BENCH_NO_PLOT=$smoke python3 - "$work" "$images" "$counts" "$jobs" "$batch" <<'PY'
import glob, json, os, subprocess, sys
work, images, counts, jobs, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4], sys.argv[5]
limit = float(open(f"{work}/runs/limit.time").read().split()[0])
print(f"{images} images, PostgreSQL store, cold; `fathom worker --workers {jobs} --batch {batch}` processes ({int(jobs) * int(batch)} jobs in flight each), "
      f"layer reads as fathom's default, as the fleet path's ({max(2, 2 * len(os.sched_getaffinity(0)))}); C limit over the same distinct blobs: {limit:.2f} s\n")
print("| path | source | wall | images/s | × the C limit | fathom CPU per image | PostgreSQL CPU per image | registry CPU | done / dead | peak RSS per process |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
fleet = {}
for source in ("registry", "oci"):
    wall, user, system, rss, registry, postgres = open(f"{work}/runs/fleet-{source}.time").read().split()
    summary = json.load(open(f"{work}/runs/fleet-{source}.json"))
    scanned = summary.get("images", {}).get("scanned")
    if scanned != images:
        raise SystemExit(f"service-workers: the fleet path from {source} scanned {scanned} of {images}")
    wall, cpu = float(wall), float(user) + float(system)
    fleet[source] = (wall, cpu)
    print(f"| fleet (`fathom registry`) | {source} | {wall:.2f} s | **{images / wall:.0f}** | {wall / limit:.2f}× | {cpu / images * 1000:.1f} ms "
          f"| {float(postgres) / images * 1000:.1f} ms | {float(registry):.1f} s | {scanned} / 0 | {int(rss) / 1024:.0f} MB |")
points = []
for source in ("registry", "oci"):
    base = None
    for count in counts:
        wall, pg, registry = map(float, open(f"{work}/runs/run-{source}-{count}.txt").read().split())
        # The figures are time's last line: a worker run under a profiler (FATHOM_BENCH_WORKER_PREFIX)
        # ends by the signal, which time reports on a line before them.
        times = [open(path).read().strip().splitlines()[-1].split() for path in sorted(glob.glob(f"{work}/runs/worker-{source}-{count}-*.time"))]
        cpu = sum(float(t[1]) + float(t[2]) for t in times)
        rss = max(int(t[3]) for t in times) / 1024
        summary = json.load(open(f"{work}/runs/summary-{source}-{count}.json"))
        if summary["done"] != images or summary["dead"]:
            raise SystemExit(f"service-workers: {count} workers from {source} finished {summary['done']} of {images} scans, {summary['dead']} dead")
        rate = images / wall
        base = base or rate
        fleet_wall, fleet_cpu = fleet[source]
        print(f"| service, {count} worker process(es) | {source} | {wall:.2f} s ({wall / fleet_wall:.2f}× the fleet path) | **{rate:.0f}** ({rate / base:.2f}× one) "
              f"| {wall / limit:.2f}× | {cpu / images * 1000:.1f} ms ({cpu / fleet_cpu:.2f}× the fleet path) | {pg / images * 1000:.1f} ms "
              f"| {registry:.1f} s | {summary['done']} / {summary['dead']} | {rss:.0f} MB |")
        points.append((source, int(count), rate))
if os.environ.get("FATHOM_BENCH_NO_PLOT"):
    raise SystemExit(0)  # a smoke run: the README's plot stays the measured one
data = f"{work}/service-scale.dat"
with open(data, "w") as handle:
    for source in ("registry", "oci"):
        for point in [p for p in points if p[0] == source]:
            handle.write(f"{point[1]} {point[2]:.1f}\n")
        handle.write("\n\n")
script = f"""
set terminal svg size 700,360 font 'sans,11'
set output 'docs/service-scale.svg'
set title 'fathom serve + fathom worker on PostgreSQL, {images} cold images, 2 cores'
set xlabel 'worker processes'
set ylabel 'images/s'
set xtics 1
set yrange [0:*]
set key left top
plot '{data}' index 0 with linespoints lw 2 title 'service, registry source', \\
     '{data}' index 1 with linespoints lw 2 title 'service, OCI layouts', \\
     {images / fleet['registry'][0]:.1f} with lines dt 2 title 'fleet path, registry', \\
     {images / fleet['oci'][0]:.1f} with lines dt 3 title 'fleet path, OCI layout'
"""
os.makedirs("docs", exist_ok=True)
subprocess.run(["gnuplot"], input=script.encode(), check=True)
PY
