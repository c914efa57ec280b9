#!/usr/bin/env bash
# Runs every benchmark script at its smoke size (`--smoke`: tiny inputs, each under a minute
# once its bases are built) with the build FATHOM_BIN names (scripts/test: the static release
# binary it builds for the image; else the debug build), so that a broken benchmark or report fails
# the test command instead of waiting for someone to measure. The figures mean nothing: the
# README's come from release builds at full size.
#
#   Benchmarks/smoke.sh            (scripts/test runs it; FATHOM_BIN names another binary)
set -euo pipefail
cd "$(dirname "$0")/.."
export FATHOM_BIN=${FATHOM_BIN:-.build/debug/fathom}
logs=.build-bench/smoke
mkdir -p "$logs"
for run in "fleet-scan.sh" "layer-throughput.sh" "registry-scale.sh" "registry-scale.sh --store postgres" "service-workers.sh" "service-queries.sh" "db-update.sh"; do
    log="$logs/$(echo "$run" | tr ' ' '_' | tr -d '-').log"
    started=$(date +%s)
    # shellcheck disable=SC2086 # the run's words are its arguments
    if ! Benchmarks/$run --smoke >"$log" 2>&1; then
        echo "benchmark smoke run failed: Benchmarks/$run --smoke (log: $log)" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    echo "benchmark smoke run: Benchmarks/$run --smoke passed in $(( $(date +%s) - started )) s" >&2
done
