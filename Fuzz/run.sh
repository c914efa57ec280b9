#!/usr/bin/env bash
# Builds the libFuzzer targets (with AddressSanitizer) and runs each for SECONDS, starting from a
# seed corpus made of the test fixtures. A crash, a leak, a timeout or an out-of-memory stops
# the run: its input is kept in Fuzz/findings/ and the script exits 1. Turn each finding into a
# regression test before fixing it.
#
#   Fuzz/run.sh [SECONDS] [TARGET...]      (default: 60 seconds each, every target)
#
# FATHOM_FUZZ_SEED fixes libFuzzer's seed (scripts/test sets it, so CI explores the same inputs
# each run and a failure there is one anyone can reproduce); unset, each run explores anew.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(FuzzTar FuzzGzip FuzzZstd FuzzDpkg FuzzApk FuzzRpm FuzzAdvisories FuzzOCI FuzzVersions)
fi
export FATHOM_FUZZ=1
# Swift's crash backtracer and ASan's reports would both claim the crash; libFuzzer needs ASan's.
export SWIFT_BACKTRACE=enable=no
flags=(--build-path .build-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library)
for target in "${targets[@]}"; do
    swift build "${flags[@]}" --product "$target" 2>&1 | grep -v "Cannot export local symbol" | grep -E "error|warning: |Compiling|Build" || true
    test -x ".build-fuzz/debug/$target" || { echo "fuzz: $target did not build" >&2; exit 1; }
done

if [ -n "${FUZZ_WORK:-}" ]; then
    work=$FUZZ_WORK
else
    work=$(mktemp -d /tmp/fathom-fuzz.XXXXXX)
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p Fuzz/findings "$work"
fixtures=Tests/Fixtures

# Seeds: real inputs of each kind, small enough to mutate quickly.
seed() {  # seed TARGET FILE...
    local target=$1
    shift
    mkdir -p "$work/$target"
    for file in "$@"; do
        if [ -f "$file" ]; then head -c 262144 "$file" > "$work/$target/$(basename "$(dirname "$file")")-$(basename "$file")"; fi
    done
}
tarseeds="$work/tar-sources"
mkdir -p "$tarseeds/root/etc" "$tarseeds/root/usr/lib"
printf 'ID=alpine\nVERSION_ID=3.7.3\n' > "$tarseeds/root/etc/os-release"
ln -sf ../../etc/os-release "$tarseeds/root/usr/lib/os-release"
mkdir -p "$tarseeds/root/a-directory-with-a-name-longer-than-one-hundred-bytes-to-need-a-gnu-long-name-or-a-pax-record-xxxxxxxxxxxx"
for format in gnu oldgnu pax posix ustar; do
    tar --format=$format -C "$tarseeds/root" -cf "$tarseeds/$format.tar" . 2>/dev/null || true
done
seed FuzzTar "$tarseeds"/*.tar
mkdir -p "$work/FuzzGzip" "$work/FuzzZstd"
for file in "$tarseeds"/*.tar; do
    gzip -c "$file" > "$work/FuzzGzip/$(basename "$file").gz"
    zstd -q -c "$file" > "$work/FuzzZstd/$(basename "$file").zst"
done
seed FuzzDpkg "$fixtures"/pkgdb/dpkg/*/var/lib/dpkg/status "$fixtures"/pkgdb/dpkg/distroless-status.d/var/lib/dpkg/status.d/libsqlite3-0
seed FuzzApk "$fixtures"/pkgdb/apk/scalibr/*
mkdir -p "$work/FuzzRpm"
i=0
for file in "$fixtures/pkgdb/rpm/libuuid-bdb/Packages" "$fixtures/pkgdb/rpm/sle15-bci-ndb/Packages.db" "$fixtures/pkgdb/rpm/cbl-mariner-2.0-sqlite/rpmdb.sqlite"; do
    { printf "\\x$(printf %02x $i)"; cat "$file"; } > "$work/FuzzRpm/$(basename "$file")"
    i=$((i + 1))
done
mkdir -p "$work/FuzzAdvisories"
for file in $(ls "$fixtures"/advisories/osv-*-sample/*/*.json 2>/dev/null | head -40); do
    { printf '\x00'; cat "$file"; } > "$work/FuzzAdvisories/osv-$(basename "$file")"
done
for file in "$fixtures"/advisories/alpine-secdb/v3.7/main.yaml; do
    { printf '\x02'; head -c 65536 "$file"; } > "$work/FuzzAdvisories/secdb.yaml"
done
seed FuzzOCI $(find "$fixtures/images" -path '*blobs/sha256/*' -size -8k | head -40) $(find "$fixtures/images" -name index.json | head -10)
mkdir -p "$work/FuzzVersions"
n=0
for ecosystem in 0 1 2 3 4 5 6; do
    for triple in '1.0\n1.0-1\n2.0' '1:2.3~rc1-4\n2.3\n1:2.3' '1.2.3-r4\n1.2.3_alpha\n1.2.3.4' '1.0a1\n1.0.post1\n1.0.dev0' \
        '1.2.3-beta.1\n1.2.3\n1.2.4' 'v1.2.3\nv1.2.3-pre\nv2.0.0+incompatible' '1.0-alpha-1\n1.0-SNAPSHOT\n1.0.0.RELEASE'; do
        printf "\\x$(printf %02x $ecosystem)$triple" > "$work/FuzzVersions/seed-$n"
        n=$((n + 1))
    done
done

seed_flag=()
if [ -n "${FATHOM_FUZZ_SEED:-}" ]; then seed_flag=(-seed="$FATHOM_FUZZ_SEED"); fi
status=0
for target in "${targets[@]}"; do
    mkdir -p "$work/$target" "$work/$target-corpus"
    [ -d "Fuzz/corpus/$target" ] && cp -r "Fuzz/corpus/$target/." "$work/$target/" 2>/dev/null || true
    echo "fuzz: $target for ${seconds}s ($(ls "$work/$target" | wc -l) seeds)"
    if ! ".build-fuzz/debug/$target" "$work/$target-corpus" "$work/$target" "${seed_flag[@]}" -max_total_time="$seconds" -max_len=262144 \
        -rss_limit_mb=2048 -timeout=20 -artifact_prefix="Fuzz/findings/$target-" -print_final_stats=1 \
        > "$work/$target.log" 2>&1; then
        echo "fuzz: $target FOUND A FAILURE (input in Fuzz/findings/):" >&2
        grep -E "Fatal error|ERROR: |SUMMARY|Test unit written" "$work/$target.log" | head -8 >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$target.log" | tr '\n' ' '
        echo
    fi
done
exit $status
