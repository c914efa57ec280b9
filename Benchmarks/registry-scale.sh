#!/usr/bin/env bash
# The registry-scale benchmark: pushes N tags (default 100,000; 100 per repository) over the
# fleet benchmark's Debian and Alpine bases, each tag with its own config and one small
# distinct layer, to Debian's docker-registry on loopback, then measures at 1,000, 10,000 and
# 100,000 tags (the first repositories of the same registry), each size with its own SQLite
# store: cold scan, warm scan, and after importing one advisory that touches 1 % of the tags
# (a Python package only those carry), the rescan offline and with a manifest HEAD per tag.
# Reports images/s, peak RSS, the store's size per image and the registry's CPU, and plots
# images/s and RSS against tags into docs/registry-scale.svg (gnuplot).
#
#   Benchmarks/registry-scale.sh [--tags 100000] [--store sqlite|postgres] [--smoke]
#
# --smoke: 100 tags (one repository), no plot, to check that the benchmark still works.
#
# With --store postgres each size gets a database of its own on Debian's PostgreSQL, started on
# loopback; its CPU is reported beside the registry's, and the plot is
# docs/registry-scale-postgres.svg. Builds under .build-bench/scale (or scale-postgres); the bases
# are shared with fleet-scan.sh. FATHOM_BIN measures another build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
source Benchmarks/fleet/lib.sh

tags=100000
backend=sqlite
smoke=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tags) tags="$2"; shift 2 ;;
    --smoke) tags=100; smoke=1; shift ;;
    --store)
      backend="$2"; shift 2
      case "$backend" in sqlite | postgres) ;; *) echo "--store takes sqlite or postgres, not '$backend'" >&2; exit 2 ;; esac ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

packages=(debootstrap time gnuplot-nox)
[ "$backend" = postgres ] && packages+=(postgresql util-linux)
fathom_install_packages "${packages[@]}"
export PATH="/opt/swift/usr/bin:$PATH"
fathom=$(fathom_bench_binary)  # $FATHOM_BIN, else a release build

bench=.build-bench
work=$bench/scale
[ "$backend" = postgres ] && work=$bench/scale-postgres
fathom_bench_bases "$bench" "$bench/fleet/bases"
rm -rf "$work"
mkdir -p "$work/runs"
port=$(fathom_free_port)
fathom_start_registry "$port" "$work/registry"
trap 'kill "$FATHOM_REGISTRY_PID" ${FATHOM_PG_PID:-} 2>/dev/null || true' EXIT
[ "$backend" = postgres ] && fathom_bench_postgres "$work/pg"
host=127.0.0.1:$port

echo "generating and pushing $tags tags to $host" >&2
python3 Benchmarks/scale/generate.py --registry "$host" --tags "$tags" \
  --debian "$bench/fleet/bases/debian-bookworm.tar.gz" --alpine "${alpine[@]}" --out "$work/scale.json"

feeds=(Tests/Fixtures/advisories/alpine-secdb/v3.{7,10,11}/main.yaml
  Tests/Fixtures/advisories/osv-debian12-derived/osv-debian12-derived.tar.gz Tests/Fixtures/advisories/osv-pypi.tar.gz)
advisories=$work/advisories.db
[ "$backend" = sqlite ] && "$fathom" db import --store "$advisories" "${feeds[@]}" >&2
# The one advisory of the rescan: every version of the package only 1 % of the tags carry.
cat >"$work/probe.json" <<'JSON'
{"id": "FATHOM-SCALE-PROBE-1", "modified": "2026-11-29T00:00:00Z", "summary": "benchmark probe",
 "affected": [{"package": {"ecosystem": "PyPI", "name": "fathom-scale-probe"},
               "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}]}]}
JSON

measure() { fathom_bench_measure "$work/runs" "$@"; }
sizes=()
for size in 1000 10000 100000; do [ "$size" -le "$tags" ] && sizes+=("$size"); done
[ -n "$smoke" ] && sizes=(100)
for size in "${sizes[@]}"; do
  # The first size/100 repositories: scale/r00?, scale/r0??, scale/r???.
  case "$size" in 100) glob='scale/r000' ;; 1000) glob='scale/r00?' ;; 10000) glob='scale/r0??' ;; 100000) glob='scale/r???' ;; esac
  if [ "$backend" = sqlite ]; then
    store=$work/runs/store-$size.db
    cp "$advisories" "$store"
  else
    store=$(fathom_bench_postgres_url "store$size")
    "$fathom" db import --store "$store" "${feeds[@]}" >&2
  fi
  echo "$size tags: cold scan" >&2
  measure "cold-$size" "$fathom" registry "$host" --repo "$glob" --store "$store" --quiet --format json >"$work/runs/cold-$size.json" || true
  echo "$size tags: warm scan" >&2
  measure "warm-$size" "$fathom" registry "$host" --repo "$glob" --store "$store" --quiet --format json >"$work/runs/warm-$size.json" || true
  "$fathom" db import --store "$store" "$work/probe.json" >&2
  if [ "$backend" = sqlite ]; then
    stat -c %s "$store" >"$work/runs/store-$size.size"
    heads=$work/runs/heads-$size.db
    cp "$store" "$heads"
  else
    "$FATHOM_PG_BIN/psql" -h 127.0.0.1 -p "$FATHOM_PG_PORT" -U fathom -d "store$size" -Atc 'SELECT pg_database_size(current_database())' \
      >"$work/runs/store-$size.size"
    heads=$(fathom_bench_postgres_url "heads$size" -T "store$size")
  fi
  echo "$size tags: rescan after the one-advisory import, offline and with HEADs" >&2
  measure "rescan-$size" "$fathom" rescan --offline --store "$store" --quiet --format json >"$work/runs/rescan-$size.json" || true
  measure "heads-$size" "$fathom" rescan --store "$heads" --quiet --format json >"$work/runs/heads-$size.json" || true
  rm -f "$work/runs/heads-$size.db"*
done

FATHOM_BENCH_NO_PLOT=$smoke python3 Benchmarks/scale/report.py "$work" "$backend" "${sizes[@]}"
# 100,000 tags leave about 9 GB of registry data and stores; nothing reads them afterwards.
kill "$FATHOM_REGISTRY_PID" 2>/dev/null || true
kill ${FATHOM_PG_PID:-} 2>/dev/null || true
rm -rf "$work/registry/data" "$work/runs/"*.db* "$work/pg"
