#!/usr/bin/env bash
# Whole-process throughput of `fathom scan` on one large local layer against the C baselines,
# measured in the same run on the same blobs:
#   gzip layer:  fathom  vs  `gzip -dc | sha256sum`
#   zstd layer:  fathom  vs  `zstd -dc`
#   both:        `sha256sum` of the blob alone
# plus fathom's peak RSS. Each figure is the best of $RUNS runs (default 3). Every fathom run is
# cold: it gets a store of its own, and the benchmark fails when a run's store holds no facts
# of the layer afterwards (then something other than a read of the layer answered).
#
#   Benchmarks/layer-throughput.sh [--size-mb 700] [--smoke]
#
# --smoke: a 40 MB layer, one run each, to check that the benchmark still works.
#
# The layer is a debootstrap bookworm minbase root filesystem plus real filler files (the Swift
# toolchain's libraries) up to the size asked for; it is built once under .build-bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh

size_mb=700
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mb) size_mb="$2"; shift 2 ;;
    --smoke) size_mb=40; RUNS=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
runs="${RUNS:-3}"

fathom_install_packages debootstrap time
export PATH="/opt/swift/usr/bin:$PATH"
fathom=$(fathom_bench_binary)  # $FATHOM_BIN, else a release build

work=.build-bench/layer-${size_mb}mb
mkdir -p "$work"
if [ ! -f "$work/layer.tar" ]; then
  rootfs=.build-bench/bookworm-minbase
  if [ ! -d "$rootfs/usr" ]; then
    echo "debootstrap bookworm minbase → $rootfs" >&2
    debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >&2 || {
      echo "debootstrap failed; using filler only" >&2
      mkdir -p "$rootfs"
    }
  fi
  # Filler: the Swift toolchain's real binaries and libraries, up to the size asked for.
  rootfs_bytes=$(du -sb "$rootfs" | cut -f1)
  find /opt/swift -type f -size +16k -printf '%s %P\n' | sort -k2 |
    awk -v limit=$(( size_mb * 1000000 - rootfs_bytes )) '{ sum += $1; if (sum <= limit) print "opt/swift/" $2 }' >"$work/filler.list"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer.tar" \
    -C "$rootfs" . -C / --transform 's,^opt/swift/,opt/filler/,' -T "$work/filler.list"
fi
[ -f "$work/layer.tar.gz" ] || gzip -6 -n -c "$work/layer.tar" >"$work/layer.tar.gz"
[ -f "$work/layer.tar.zst" ] || zstd -q -3 -c "$work/layer.tar" >"$work/layer.tar.zst"
for kind in gz zst; do
  [ -f "$work/oci-$kind/index.json" ] || fathom_make_oci_layout "$work/oci-$kind" bench "$work/layer.tar.$kind" >/dev/null
done

uncompressed=$(stat -c %s "$work/layer.tar")
gz_size=$(stat -c %s "$work/layer.tar.gz")
zst_size=$(stat -c %s "$work/layer.tar.zst")

# best WALL seconds of $runs runs of "$@" (through bash -c), and peak RSS (KiB) of the last.
best() {
  local best_time="" rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f "%e %M" -o "$work/time.out" bash -c "$1" >/dev/null || { echo "failed: $1" >&2; exit 1; }
    read -r elapsed rss <"$work/time.out"
    if [ -z "$best_time" ] || awk "BEGIN{exit !($elapsed < $best_time)}"; then best_time=$elapsed; fi
  done
  echo "$best_time $rss"
}

# A cold fathom scan: a new, empty store each run; afterwards the store must hold the layer's
# facts, or the run did not read the layer and its time means nothing.
cat >"$work/cold-scan.sh" <<SCRIPT
#!/usr/bin/env bash
set -euo pipefail
store="$work/cold-\$\$.db"
rm -f "\$store"*
"$fathom" scan --store "\$store" --format json "\$1" >/dev/null
layers=\$("$fathom" db stats --store "\$store" | sed -n 's/^Layers with facts: \\([0-9]*\\).*/\\1/p')
rm -f "\$store"*
if [ "\$layers" != "1" ]; then echo "layer-throughput: a cold run of \$1 read no layer (store facts: '\$layers')" >&2; exit 1; fi
SCRIPT
chmod +x "$work/cold-scan.sh"

read -r t_gzip_c _ < <(best "gzip -dc $work/layer.tar.gz | sha256sum")
read -r t_gzip_f rss_gzip < <(best "$work/cold-scan.sh oci:$work/oci-gz")
read -r t_zstd_c _ < <(best "zstd -dc $work/layer.tar.zst >/dev/null")
read -r t_zstd_f rss_zstd < <(best "$work/cold-scan.sh oci:$work/oci-zst")
for figure in "$t_gzip_c" "$t_gzip_f" "$t_zstd_c" "$t_zstd_f"; do
  [ -n "$figure" ] || { echo "layer-throughput: a measured run failed (see above)" >&2; exit 1; }
done
read -r t_sha_gz _ < <(best "sha256sum $work/layer.tar.gz")
read -r t_sha_zst _ < <(best "sha256sum $work/layer.tar.zst")

mb() { awk "BEGIN{printf \"%.0f\", $1/1000000}"; }
rate() { awk "BEGIN{printf \"%.0f\", $1/1000000/$2}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $1/$2}"; }

echo
echo "layer: $(mb "$uncompressed") MB uncompressed; gzip $(mb "$gz_size") MB, zstd $(mb "$zst_size") MB; best of $runs; $(nproc) cores"
printf '%-34s %8s %12s %10s %12s\n' "command" "seconds" "MB/s (tar)" "ratio" "peak RSS"
printf '%-34s %8s %12s %10s %12s\n' "gzip -dc | sha256sum" "$t_gzip_c" "$(rate "$uncompressed" "$t_gzip_c")" "1.00" "-"
printf '%-34s %8s %12s %10s %12s\n' "fathom scan (gzip layer)" "$t_gzip_f" "$(rate "$uncompressed" "$t_gzip_f")" "$(ratio "$t_gzip_f" "$t_gzip_c")" "$((rss_gzip / 1024)) MB"
printf '%-34s %8s %12s %10s %12s\n' "zstd -dc" "$t_zstd_c" "$(rate "$uncompressed" "$t_zstd_c")" "1.00" "-"
printf '%-34s %8s %12s %10s %12s\n' "fathom scan (zstd layer)" "$t_zstd_f" "$(rate "$uncompressed" "$t_zstd_f")" "$(ratio "$t_zstd_f" "$t_zstd_c")" "$((rss_zstd / 1024)) MB"
printf '%-34s %8s\n' "sha256sum (gzip blob)" "$t_sha_gz"
printf '%-34s %8s\n' "sha256sum (zstd blob)" "$t_sha_zst"
