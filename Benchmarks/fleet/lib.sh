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
# "wall user sys maxrss_kb registry_cpu_s" in RUNS_DIR/LABEL.time (the registry, process
# $FATHOM_REGISTRY_PID, shares the cores: its CPU time is part of the picture).
fathom_bench_measure() {
  local runs="$1" label="$2" before status=0
  shift 2
  before=$(awk '{print $14 + $15}' "/proc/$FATHOM_REGISTRY_PID/stat")
  /usr/bin/time -f "%e %U %S %M" -o "$runs/$label.time" "$@" || status=$?
  echo "$(cat "$runs/$label.time") $(echo "$(awk '{print $14 + $15}' "/proc/$FATHOM_REGISTRY_PID/stat") $before $(getconf CLK_TCK)" \
    | awk '{printf "%.2f", ($1 - $2) / $3}')" >"$runs/$label.time"
  return $status
}
