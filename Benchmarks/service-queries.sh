#!/usr/bin/env bash
# The service's queries as the fleet grows: p50 and p95 of the API's and the dashboard's answers
# at 1,000, 10,000 and 100,000 images on PostgreSQL, and the peak RSS of `fathom serve`.
#
# The fleet benchmark's images (SEED of them, default 60) are pushed to Debian's docker-registry
# on loopback and scanned by the service (`serve --workers 2`, push envelopes through POST
# /v1/events), so that their reports and findings are real. Each size is then reached by copying
# those reports (with their scans, heads and listed findings) under new repository names with SQL: scanning
# 100,000 images through the service would take most of an hour on 2 cores, and the queries
# only read what is stored (the copy is vacuumed and analysed, as autovacuum would). Each
# endpoint is asked 30 times in a row at each size (`/v1/images` 5 times; an answer is given up
# on after a minute, once); curl times the answers. The
# benchmark checks its own result: the findings of the most widespread vulnerability must number
# its seed count times the copies, the summary must count every image and as many carrying its
# widest vulnerability as the rows hold, and every answer must be a 200 (or time out: shown as such).
#
#   Benchmarks/service-queries.sh [--sizes "1000 10000 100000"] [--seed 60] [--smoke]
#
# --smoke: 12 seed images, sizes 100 and 300, to check that the benchmark still works.
# FATHOM_BIN measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source Benchmarks/fleet/lib.sh

sizes="1000 10000 100000"
seed=60
asks=30
slow_asks=5
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --smoke) sizes="100 300"; seed=12; asks=5; slow_asks=3; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

fathom_install_packages debootstrap time python3-pip postgresql util-linux
export PATH="/opt/swift/usr/bin:$PATH"
fathom=$(fathom_bench_binary)

bench=.build-bench
work=$bench/queries
fathom_bench_bases "$bench" "$bench/fleet/bases"
fathom_bench_fleet_files "$bench/fleet"
rm -rf "$work"
mkdir -p "$work/runs"

port=$(fathom_free_port)
fathom_start_registry "$port" "$work/registry"
host=127.0.0.1:$port
serve_pid=""
trap 'kill "$FATHOM_REGISTRY_PID" $FATHOM_PG_PID $serve_pid 2>/dev/null || true' EXIT
fathom_bench_postgres "$work/pg"
store=$(fathom_bench_postgres_url queries)
sql() { "$FATHOM_PG_BIN/psql" -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$FATHOM_PG_PORT" -U fathom -d queries "$@"; }

fathom_bench_push_fleet "$bench" "$work" "$host" "$seed"

feeds=(Tests/Fixtures/advisories/alpine-secdb/v3.{7,10,11}/main.yaml
  Tests/Fixtures/advisories/osv-debian12-derived/osv-debian12-derived.tar.gz Tests/Fixtures/advisories/osv-pypi.tar.gz)
"$fathom" db import --store "$store" "${feeds[@]}" >/dev/null
echo token-for-the-benchmark >"$work/token"
auth=(-H "Authorization: Bearer token-for-the-benchmark")
api=$(fathom_free_port)
"$fathom" serve --listen "127.0.0.1:$api" --workers 2 --store "$store" --api-token-file "$work/token" \
  --webhook-token-file "$work/token" --db-update-interval off --rescan-interval off --registry "$host" 2>"$work/serve.log" &
serve_pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$api/readyz" >/dev/null && break; sleep 0.1; done
for envelope in "$work/events/"*.json; do
  curl -sf "${auth[@]}" -H "Content-Type: application/json" --data-binary "@$envelope" "http://127.0.0.1:$api/v1/events" >/dev/null
done
echo "the service scans the $seed images" >&2
for _ in $(seq 1200); do
  state=$(curl -sf "${auth[@]}" "http://127.0.0.1:$api/v1/jobs/summary")
  left=$(( $(fathom_bench_jobs_field "$state" queued) + $(fathom_bench_jobs_field "$state" running) ))
  [ "$left" -eq 0 ] && break
  sleep 0.2
done
done_count=$(fathom_bench_jobs_field "$state" done)
[ "$(fathom_bench_jobs_field "$state" dead)" -eq 0 ] || done_count=-1
[ "$done_count" -eq "$seed" ] || { echo "service-queries: the service scanned $done_count of $seed images ($state)" >&2; exit 1; }

# The most widespread vulnerability of the seed, and one seed image to ask for.
read -r id id_seed < <(sql -F ' ' -c "SELECT key, count(*) FROM report_finding_keys GROUP BY key ORDER BY count(*) DESC, key LIMIT 1")
read -r repository tag < <(sql -F ' ' -c "SELECT repository, tag FROM reports ORDER BY name LIMIT 1")
sql -c "CREATE TABLE bench_seed AS SELECT name, repository, tag FROM reports"
echo "asking for $id (in $id_seed seed findings) and the report of $repository:$tag" >&2

copies=0
for size in $sizes; do
  # Copies of every seed report (and its listed findings) under new repositories, up to the size.
  want=$(( (size + seed - 1) / seed - 1 ))
  if [ "$want" -gt "$copies" ]; then
    echo "copying the seed's reports up to $(( (want + 1) * seed )) images" >&2
    sql <<SQL
CREATE TEMP TABLE copies AS
  SELECT s.name AS seed, split_part(s.name, '/', 1) || '/copy' || g || '/' || s.repository || ':' || s.tag AS name,
    'copy' || g || '/' || s.repository AS repository, s.tag
  FROM bench_seed s, generate_series($((copies + 1)), $want) g;
INSERT INTO reports (name, repository, tag, manifest_digest, scan_id, document, findings_listed, os, critical, high, medium, low, unknown,
    findings, fixable, new_findings, resolved, exploited, layers, bytes, chain, fully_checked, missing, counted)
  SELECT c.name, c.repository, c.tag, r.manifest_digest, r.scan_id, r.document, true, r.os, r.critical, r.high, r.medium, r.low, r.unknown,
    r.findings, r.fixable, r.new_findings, r.resolved, r.exploited, r.layers, r.bytes, r.chain, r.fully_checked, r.missing, true
  FROM copies c JOIN reports r ON r.name = c.seed;
-- Each copy's scan (its seed's), the name's head: what a scanned image has in the store.
INSERT INTO scans (name, image_key, scanned_at, advisory_version, findings, findings_digest)
  SELECT c.name, s.image_key, s.scanned_at, s.advisory_version, s.findings, s.findings_digest
  FROM copies c JOIN heads h ON h.name = c.seed JOIN scans s ON s.id = h.scan_id;
INSERT INTO heads (name, scan_id) SELECT s.name, s.id FROM scans s JOIN copies c ON c.name = s.name;
INSERT INTO report_findings (name, ordinal, manifest_digest, id, aliases, package, installed_version, fixed_version, severity, status)
  SELECT c.name, f.ordinal, f.manifest_digest, f.id, f.aliases, f.package, f.installed_version, f.fixed_version, f.severity, f.status
  FROM copies c JOIN report_findings f ON f.name = c.seed;
INSERT INTO report_finding_keys (key, name, ordinal, severity, fixed)
  SELECT k.key, c.name, k.ordinal, k.severity, k.fixed FROM copies c JOIN report_finding_keys k ON k.name = c.seed;
-- The copies carry their seed's vulnerabilities (their layers are the seed's: prefixes and layer findings stand).
UPDATE fleet_vulnerabilities v SET images = v.images + x.n
  FROM (SELECT f.id, count(DISTINCT c.name) AS n FROM copies c JOIN report_findings f ON f.name = c.seed GROUP BY f.id) x WHERE x.id = v.id;
-- The fleet's sums, counted again from every row (the service keeps them as reports land).
DELETE FROM fleet_totals;
INSERT INTO fleet_totals SELECT 0, count(*), sum(critical), sum(high), sum(medium), sum(low), sum(unknown), sum(layers), sum(bytes),
  count(*) FILTER (WHERE exploited > 0) FROM reports;
-- The trend's days: the copies land today (a build from before the trend has none).
DO \$\$ BEGIN IF to_regclass('fleet_days') IS NOT NULL THEN
  DELETE FROM fleet_days;
  INSERT INTO fleet_days SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 0, count(*), sum(critical), sum(high), sum(medium), sum(low),
    sum(unknown) FROM reports;
END IF; END \$\$;
DELETE FROM fleet_gaps;
INSERT INTO fleet_gaps SELECT g, count(*) FROM reports, unnest(string_to_array(missing, E'\n')) AS g WHERE missing <> '' GROUP BY g;
-- (In place: the copies share the seed's chains, whose other columns stay as the service wrote them.)
UPDATE fleet_chains c SET images = s.n, unchecked = s.u FROM (
  SELECT chain, count(*) AS n, count(*) FILTER (WHERE NOT fully_checked) AS u FROM reports WHERE chain IS NOT NULL GROUP BY chain) AS s
WHERE c.chain = s.chain;
DELETE FROM fleet_keys;
INSERT INTO fleet_keys SELECT key, count(*), count(DISTINCT name) FROM report_finding_keys GROUP BY key;
VACUUM ANALYZE;
SQL
    copies=$want
  fi
  images=$(sql -c "SELECT count(*) FROM reports")
  echo "$images images: asking each endpoint $asks times" >&2
  for endpoint in "findings /v1/findings?id=$id&limit=100" "report /v1/images/$repository/$tag" "images /v1/images?limit=100" \
    "summary /v1/fleet/summary" "dashboard /"; do
    label=${endpoint%% *}
    path=${endpoint#* }
    # What reads every report is asked fewer times, and given up on after a minute.
    times=$asks
    case "$label" in images) times=$slow_asks ;; esac
    : >"$work/runs/$label-$images.times"
    for _ in $(seq "$times"); do
      answer=$(curl -s -o "$work/runs/$label-$images.body" --max-time 60 -w '%{http_code} %{time_total}' "${auth[@]}" "http://127.0.0.1:$api$path" || true)
      echo "$answer" >>"$work/runs/$label-$images.times"
      case "$answer" in 000*) break ;; esac
    done
  done
  # The index answered, and answered everything: the id's findings are the seed's times the copies.
  count=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["count"])' "$work/runs/findings-$images.body")
  [ "$count" -eq $(( id_seed * (copies + 1) )) ] || {
    echo "service-queries: /v1/findings?id=$id counted $count at $images images, not $(( id_seed * (copies + 1) ))" >&2
    exit 1
  }
  # The summary counted every image, and as many images carry its most widespread vulnerability as the rows say.
  python3 - "$work/runs/summary-$images.body" "$images" "$(sql -c "SELECT max(n) FROM (SELECT count(DISTINCT name) AS n FROM report_findings GROUP BY id) x")" <<'PY'
import json, sys
summary, images, widest = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
if summary["images"]["scanned"] != images or summary["mostWidespread"][0]["images"] != widest:
    raise SystemExit(f"service-queries: the summary counted {summary['images']['scanned']} images (not {images}) "
                     f"and {summary['mostWidespread'][0]['images']} carrying the widest vulnerability (not {widest})")
PY
  grep VmHWM "/proc/$serve_pid/status" | awk '{print $2}' >"$work/runs/rss-$images.txt"
done

python3 - "$work/runs" <<'PY'
import glob, os, re, sys
runs = sys.argv[1]
sizes = sorted({int(re.search(r"-(\d+)\.times$", p).group(1)) for p in glob.glob(f"{runs}/*.times")})
labels = [("findings", "`/v1/findings?id=` (first page of 100)"), ("report", "`/v1/images/{repo}/{tag}`"),
          ("images", "`/v1/images` (first page of 100)"), ("summary", "`/v1/fleet/summary`"), ("dashboard", "`/` (dashboard)")]
print("| endpoint | " + " | ".join(f"{size:,} images p50 / p95" for size in sizes) + " |")
print("| --- |" + " ---: |" * len(sizes))
for label, title in labels:
    cells = []
    for size in sizes:
        answers = [line.split() for line in open(f"{runs}/{label}-{size}.times")]
        bad = [a for a in answers if a[0] not in ("200", "000")]
        if bad:
            raise SystemExit(f"service-queries: {label} at {size} images answered {bad[0][0]}")
        if any(a[0] == "000" for a in answers):
            cells.append("over 60 s")
            continue
        times = sorted(float(a[1]) * 1000 for a in answers)
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        cells.append(f"{times[len(times) // 2]:.0f} / {p95:.0f} ms")
    print(f"| {title} | " + " | ".join(cells) + " |")
print("| peak RSS of `fathom serve` | " + " | ".join(f"{int(open(f'{runs}/rss-{size}.txt').read()) / 1024:.0f} MB" for size in sizes) + " |")
PY
