#!/usr/bin/env bash
# The fleet benchmark: builds N images (default 1,000) that share real base layers, pushes them
# to Debian's docker-registry on loopback, and measures in one run:
#   cold fleet scan (2 cores, and 1 core for the scaling figure), warm fleet scan (every layer
#   known), rescan after an advisory import (offline, and with a manifest HEAD per tag),
#   the C limit over the same distinct blobs (`gzip -dc | sha256sum` and `zstd -dc | sha256sum`,
#   run side by side), and `skopeo sync` of the same images as the pull-only peer.
# Bytes fetched are counted from the registry's own access log, not from fathom's counters.
#
#   Benchmarks/fleet-scan.sh [--images 1000] [--smoke]
#
# --smoke: 12 images, to check that the benchmark and its report still work (scripts/test runs it).
#
# Builds under .build-bench/fleet (the debootstrap root is shared with layer-throughput.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

images=1000
while [ $# -gt 0 ]; do
  case "$1" in
    --images) images="$2"; shift 2 ;;
    --smoke) images=12; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

fathom_install_packages debootstrap time python3-pip util-linux
export PATH="/opt/swift/usr/bin:$PATH"
fathom=$(fathom_bench_binary)  # $FATHOM_BIN, else a release build

bench=.build-bench
work=$bench/fleet
mkdir -p "$work/bases" "$work/wheels"

# Bases: debootstrap bookworm minbase (gzip), the Alpine minirootfs tarballs (gzip), and
# Alpine 3.20.3 recompressed with zstd (Benchmarks/fleet/lib.sh).
source Benchmarks/fleet/lib.sh
fathom_bench_bases "$bench" "$work/bases"
# Real files for the added layers: pure-Python wheels from PyPI and Debian's runc (a Go binary).
fathom_bench_fleet_files "$work"

# A fresh registry each run, so its access log holds only this run.
rm -rf "$work/registry" "$work/runs"
mkdir -p "$work/runs"
port=$(fathom_free_port)
fathom_start_registry "$port" "$work/registry"
trap 'kill "$FATHOM_REGISTRY_PID" 2>/dev/null || true' EXIT
host=127.0.0.1:$port
echo "generating and pushing $images images to $host" >&2
python3 Benchmarks/fleet/generate.py --registry "$host" --images "$images" \
  --debian "$work/bases/debian-bookworm.tar.gz" --alpine "${alpine[@]}" --alpine-zstd "$work/bases/alpine-3.20.3.tar.zst" \
  --wheels "$work/wheels" --go-binary "$work/runc/usr/sbin/runc" --out "$work/fleet.json"

# Advisories: Alpine secdb for the Alpine releases, the Debian 12 feed, PyPI. Go is held back
# for the rescan.
advisories=$work/advisories.db
rm -f "$advisories"*
"$fathom" db import --store "$advisories" Tests/Fixtures/advisories/alpine-secdb/v3.{7,10,11}/main.yaml \
  Tests/Fixtures/advisories/osv-debian12-derived/osv-debian12-derived.tar.gz Tests/Fixtures/advisories/osv-pypi.tar.gz >&2

# Runs a command under /usr/bin/time (see fathom_bench_measure in Benchmarks/fleet/lib.sh).
measure() { fathom_bench_measure "$work/runs" "$@"; }
log_mark() { wc -l <"$work/registry/registry.log"; }

echo "cold fleet scan (2 cores)" >&2
cp "$advisories" "$work/runs/cold.db"
mark=$(log_mark)
measure cold "$fathom" registry "$host" --store "$work/runs/cold.db" --quiet --format json >"$work/runs/cold.json" || true
tail -n +"$((mark + 1))" "$work/registry/registry.log" >"$work/runs/cold.log"

echo "cold fleet scan (1 core)" >&2
cp "$advisories" "$work/runs/cold1.db"
measure cold1 taskset -c 0 "$fathom" registry "$host" --store "$work/runs/cold1.db" --quiet --format json \
  >"$work/runs/cold1.json" || true

echo "warm fleet scan" >&2
mark=$(log_mark)
measure warm "$fathom" registry "$host" --store "$work/runs/cold.db" --quiet --format json >"$work/runs/warm.json" || true
tail -n +"$((mark + 1))" "$work/registry/registry.log" >"$work/runs/warm.log"

echo "rescan after importing the Go advisories" >&2
"$fathom" db import --store "$work/runs/cold.db" Tests/Fixtures/advisories/osv-go.tar.gz >&2
cp "$work/runs/cold.db" "$work/runs/rescan-heads.db"
mark=$(log_mark)
measure rescan "$fathom" rescan --store "$work/runs/cold.db" --offline --quiet --format json >"$work/runs/rescan.json" || true
measure rescan-heads "$fathom" rescan --store "$work/runs/rescan-heads.db" --quiet --format json >"$work/runs/rescan-heads.json" || true
tail -n +"$((mark + 1))" "$work/registry/registry.log" >"$work/runs/rescan.log"

echo "C limit over the distinct blobs" >&2
fathom_bench_limit "$work" "$work/runs"

# The same fleet from an OCI layout (blobs on local disk): what fathom itself costs, with no
# registry sharing the cores, on 2 cores and pinned to 1.
echo "cold fleet scans over an OCI layout of the same images" >&2
rm -rf "$work/layout"
python3 Benchmarks/fleet/export-layout.py "$work" "$work/layout"
cp "$advisories" "$work/runs/layout.db"
measure layout "$fathom" registry "oci:$work/layout" --store "$work/runs/layout.db" --quiet --format json >"$work/runs/layout.json" || true
cp "$advisories" "$work/runs/layout1.db"
measure layout1 taskset -c 0 "$fathom" registry "oci:$work/layout" --store "$work/runs/layout1.db" --quiet --format json \
  >"$work/runs/layout1.json" || true

# The registry's own limit: each distinct blob pulled with curl and piped through the C
# decoder and sha256sum, as many at once as fathom reads layers (two per core).
echo "registry pull limit (curl | gzip/zstd -dc | sha256sum)" >&2
python3 - "$work" <<'PY' >"$work/runs/pulls.txt"
import json, sys
fleet = json.load(open(f"{sys.argv[1]}/fleet.json"))
repository = {}
for image in fleet["images"]:
    for digest in image["layers"]:
        repository.setdefault(digest, image["repository"])
for digest, layer in sorted(fleet["layers"].items()):
    print(layer["compression"], repository[digest], digest)
PY
measure pull-limit bash -c '
  xargs -P "$(( 2 * $(nproc) ))" -L 1 sh -c "curl -sf http://$2/v2/\$1/blobs/\$2 | \$0 -q -dc 2>/dev/null | sha256sum >/dev/null" <"$1"
  ' pull-limit "$work/runs/pulls.txt" "$host"

echo "skopeo sync of the same images (pull only)" >&2
python3 - "$work" "$host" <<'PY' >"$work/runs/sync.yaml"
import json, sys
work, host = sys.argv[1], sys.argv[2]
fleet = json.load(open(f"{work}/fleet.json"))
tags = {}
for image in fleet["images"]:
    tags.setdefault(image["repository"], []).append(image["tag"])
print(f"{host}:\n  tls-verify: false\n  images:")
for repository, names in sorted(tags.items()):
    print(f"    {repository}: [{', '.join(names)}]")
PY
rm -rf "$work/runs/skopeo"
mkdir -p "$work/runs/skopeo"
mark=$(log_mark)
measure skopeo skopeo sync --src yaml --dest dir "$work/runs/sync.yaml" "$work/runs/skopeo" >/dev/null
tail -n +"$((mark + 1))" "$work/registry/registry.log" >"$work/runs/skopeo.log"
rm -rf "$work/runs/skopeo"

# The registry shares the two cores, and most of its CPU is Go's garbage collector: the cold
# scans again with the registry's collector relaxed (GOGC=400), same store state, same blobs.
echo "cold fleet scans with the registry under GOGC=400" >&2
kill "$FATHOM_REGISTRY_PID"
wait "$FATHOM_REGISTRY_PID" 2>/dev/null || true
GOGC=400 docker-registry serve "$work/registry/config.yml" >>"$work/registry/registry.log" 2>&1 &
FATHOM_REGISTRY_PID=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
cp "$advisories" "$work/runs/cold-gogc.db"
measure cold-gogc "$fathom" registry "$host" --store "$work/runs/cold-gogc.db" --quiet --format json >"$work/runs/cold-gogc.json" || true
cp "$advisories" "$work/runs/cold1-gogc.db"
measure cold1-gogc taskset -c 0 "$fathom" registry "$host" --store "$work/runs/cold1-gogc.db" --quiet --format json \
  >"$work/runs/cold1-gogc.json" || true

python3 Benchmarks/fleet/report.py "$work" "$images"
