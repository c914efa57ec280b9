#!/usr/bin/env bash
# The service benchmark: throughput of 1, 2 and 3 `fathom worker` processes taking the jobs of
# `fathom serve` from the shared PostgreSQL store, on the fleet benchmark's images. For each
# worker count, with a fresh database (cold: no layer known): the registry's push notification
# envelopes go in through POST /v1/events (one per image, in batches), and once every scan is
# queued the workers start; the clock runs until the queue is drained. Reports images/s, the CPU
# of the workers, PostgreSQL and the registry, and the same run's C decode limit over the same
# distinct blobs.
#
#   Benchmarks/service-workers.sh [--images 300] [--workers "1 2 3"] [--jobs 1] [--smoke]
#
# --smoke: 12 images, 1 and 2 workers, to check that the benchmark and its report still work.
#
# --jobs: the jobs each worker process runs at once (`fathom worker --workers`).
#
# PostgreSQL comes from Debian (initdb + postgres as the postgres user when run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source Benchmarks/fleet/lib.sh

images=300
counts="1 2 3"
jobs=1
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift 2 ;;
    --workers) counts="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --smoke) images=12; counts="1 2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

fathom_install_packages debootstrap time python3-pip postgresql util-linux
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

echo "generating and pushing $images images to $host" >&2
python3 Benchmarks/fleet/generate.py --registry "$host" --images "$images" \
  --debian "$bench/fleet/bases/debian-bookworm.tar.gz" --alpine "${alpine[@]}" --alpine-zstd "$bench/fleet/bases/alpine-3.20.3.tar.zst" \
  --wheels "$bench/fleet/wheels" --go-binary "$bench/fleet/runc/usr/sbin/runc" --out "$work/fleet.json"

# The registry's push notifications, as it would send them: one envelope per 50 manifests.
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
echo token-for-the-benchmark >"$work/token"

summary() { curl -sf -H "Authorization: Bearer token-for-the-benchmark" "http://127.0.0.1:$1/v1/jobs/summary"; }
ticks=$(getconf CLK_TCK)

for count in $counts; do
  echo "$count worker(s): fresh database, $images push events, then the workers" >&2
  database="w$count"
  store=$(fathom_bench_postgres_url "$database")
  "$fathom" db import --store "$store" Tests/Fixtures/advisories/alpine-secdb/v3.{7,10,11}/main.yaml \
    Tests/Fixtures/advisories/osv-debian12-derived/osv-debian12-derived.tar.gz Tests/Fixtures/advisories/osv-pypi.tar.gz >/dev/null
  api=$(fathom_free_port)
  "$fathom" serve --listen "127.0.0.1:$api" --workers 0 --store "$store" --api-token-file "$work/token" \
    --webhook-token-file "$work/token" --db-update-interval off --rescan-interval off --registry "$host" 2>"$work/runs/serve-$count.log" &
  serve_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api/readyz" >/dev/null && break; sleep 0.1; done
  for envelope in "$work/events/"*.json; do
    curl -sf -H "Authorization: Bearer token-for-the-benchmark" -H "Content-Type: application/json" \
      --data-binary "@$envelope" "http://127.0.0.1:$api/v1/events" >/dev/null
  done
  queued=$(summary "$api" | python3 -c 'import json,sys; print(json.load(sys.stdin)["queued"])')
  [ "$queued" -eq "$images" ] || { echo "only $queued of $images scans were queued" >&2; exit 1; }
  pg_before=$(fathom_bench_cpu $pgpid); registry_before=$(fathom_bench_cpu "$FATHOM_REGISTRY_PID")
  start=$(date +%s.%N)
  pids=()
  for index in $(seq "$count"); do
    /usr/bin/time -f "%e %U %S %M" -o "$work/runs/worker-$count-$index.time" \
      "$fathom" worker --store "$store" --workers "$jobs" --layer-concurrency 2 2>"$work/runs/worker-$count-$index.log" &
    pids+=($!)
  done
  while true; do
    state=$(summary "$api")
    left=$(echo "$state" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["queued"] + s["running"])')
    [ "$left" -eq 0 ] && break
    sleep 0.1
  done
  end=$(date +%s.%N)
  echo "$state" >"$work/runs/summary-$count.json"
  # SIGTERM to the workers themselves (children of /usr/bin/time, which then reports them).
  for pid in "${pids[@]}"; do pkill -TERM -P "$pid" || true; done
  wait "${pids[@]}" 2>/dev/null || true
  kill -TERM "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
  serve_pid=""
  sleep 0.5  # the backends of the closed connections are reaped into the postmaster's CPU
  awk -v s="$start" -v e="$end" -v pg0="$pg_before" -v pg1="$(fathom_bench_cpu $pgpid)" -v r0="$registry_before" \
    -v r1="$(fathom_bench_cpu "$FATHOM_REGISTRY_PID")" -v t="$ticks" \
    'BEGIN { printf "%.2f %.2f %.2f\n", e - s, (pg1 - pg0) / t, (r1 - r0) / t }' >"$work/runs/run-$count.txt"
done

echo "C limit over the distinct blobs" >&2
FATHOM_REGISTRY_PID=$FATHOM_REGISTRY_PID fathom_bench_limit "$work" "$work/runs"

python3 - "$work" "$images" "$counts" "$jobs" <<'PY'
import glob, json, sys
work, images, counts, jobs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
limit = float(open(f"{work}/runs/limit.time").read().split()[0])
print(f"{images} images through `fathom serve --workers 0` + `fathom worker` processes ({jobs} jobs at once, 2 layer reads each), "
      f"PostgreSQL store, cold; C limit over the same distinct blobs: {limit:.2f} s\n")
print("| workers | wall (queue drained) | images/s | × the C limit | workers' CPU | PostgreSQL CPU | registry CPU | done / dead | peak RSS per worker |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
base = None
for count in counts:
    wall, pg, registry = map(float, open(f"{work}/runs/run-{count}.txt").read().split())
    times = [open(path).read().split() for path in sorted(glob.glob(f"{work}/runs/worker-{count}-*.time"))]
    cpu = sum(float(t[1]) + float(t[2]) for t in times)
    rss = max(int(t[3]) for t in times) / 1024
    summary = json.load(open(f"{work}/runs/summary-{count}.json"))
    if summary["done"] != images or summary["dead"]:
        raise SystemExit(f"service-workers: {count} workers finished {summary['done']} of {images} scans, {summary['dead']} dead")
    rate = images / wall
    base = base or rate
    print(f"| {count} | {wall:.2f} s | **{rate:.0f}** ({rate / base:.2f}×) | {wall / limit:.2f}× | {cpu:.1f} s | {pg:.1f} s | {registry:.1f} s "
          f"| {summary['done']} / {summary['dead']} | {rss:.0f} MB |")
PY
