#!/usr/bin/env bash
# `fathom db update` over every feed in ../shared/data/advisories (else the same feeds among the
# repository's test fixtures, whose crates.io set is a sample: a clone with nothing beside it),
# served by nginx on loopback in the upstream layouts (OSV's crates.io export zipped as OSV
# serves it), measured in one run:
#   full update into an empty store   vs  curl downloading the same files (the transfer alone)
#   update with nothing changed       (one conditional request per feed, counted in nginx's log)
#
#   Benchmarks/db-update.sh [--smoke]
#
# --smoke: the same run (it takes well under a minute), accepted so that every benchmark takes it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/common.sh
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

fathom_install_packages nginx-light curl time
export PATH="/opt/swift/usr/bin:/usr/sbin:$PATH"
fathom=$(fathom_bench_binary)  # $FATHOM_BIN, else a release build
if [ -d ../shared/data/advisories ]; then
  data=$(realpath ../shared/data/advisories)
  pypi=$data/osv-pypi/osv-pypi.tar.gz go=$data/osv-go/osv-go.tar.gz crates=$data/osv-crates/crates
else
  data=$PWD/Tests/Fixtures/advisories
  pypi=$data/osv-pypi.tar.gz go=$data/osv-go.tar.gz crates=$data/osv-crates-sample/crates
  echo "db-update: no ../shared/data beside the repository: the test fixtures' feeds (crates.io: a sample)" >&2
fi
work=$PWD/.build-bench/db-update
rm -rf "$work"
mkdir -p "$work/www" "$work/tmp"

# The served tree, in the upstream layouts.
feeds=$work/feeds.yaml
echo "feeds:" >"$feeds"
port=$(fathom_free_port)
add() { # name, served path, source file
  mkdir -p "$(dirname "$work/www/$2")"
  cp "$3" "$work/www/$2"
  printf '  - name: %s\n    url: http://127.0.0.1:%s/%s\n' "$1" "$port" "$2" >>"$feeds"
}
for file in "$data"/alpine-secdb/v3.*/*.yaml; do
  release=$(basename "$(dirname "$file")")
  repository=$(basename "$file" .yaml)
  add "alpine-secdb-$release-$repository" "secdb.alpinelinux.org/$release/$repository.yaml" "$file"
done
add osv-pypi osv-vulnerabilities.storage.googleapis.com/PyPI/all.tar.gz "$pypi"
add osv-go osv-vulnerabilities.storage.googleapis.com/Go/all.tar.gz "$go"
add osv-debian12 osv-vulnerabilities.storage.googleapis.com/Debian/all.tar.gz "$data/osv-debian12-derived/osv-debian12-derived.tar.gz"
python3 -c 'import sys, zipfile, pathlib
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(pathlib.Path(sys.argv[2]).glob("*.json")): z.write(p, p.name)' "$work/crates-all.zip" "$crates"
add osv-crates-io osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip "$work/crates-all.zip"
count=$(grep -c '  - name:' "$feeds")

cat >"$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
user root root;
pid $work/nginx.pid;
error_log $work/error.log;
events { worker_connections 64; }
http {
    access_log $work/access.log;
    client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp;
    uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
    server { listen 127.0.0.1:$port; root $work/www; }
}
CONF
nginx -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

timed() { /usr/bin/time -f "%e %M" -o "$work/time.out" "$@" >"$work/out.txt" 2>"$work/err.txt" || { cat "$work/err.txt" >&2; exit 1; }; cat "$work/time.out"; }
requests() { wc -l <"$work/access.log"; }

read -r t_curl _ < <(timed bash -c "grep -o 'http://[^ ]*' '$feeds' | xargs -n 1 curl -s -o /dev/null")
# The same files imported from disk, one source each: the parse and store cost without HTTP.
import_args=()
while read -r path; do import_args+=("$work/www/$path"); done < <(grep -o "127.0.0.1:$port/[^ ]*" "$feeds" | cut -d/ -f2-)
read -r t_import _ < <(timed bash -c 'store=$1; shift; for file in "$@"; do "'"$fathom"'" db import --store "$store" "$file" >/dev/null || exit 1; done' _ "$work/import.db" "${import_args[@]}")
before=$(requests)
read -r t_full rss_full < <(timed "$fathom" db update --feeds "$feeds" --store "$work/store.db")
imported=$(grep -cE 'advisor(y|ies) imported' "$work/out.txt")
records=$("$fathom" db stats --store "$work/store.db" | awk 'NR > 1 && NF >= 2 && $2 ~ /^[0-9]+$/ { sum += $2 } /^$/ { exit } END { print sum }')
full_requests=$(( $(requests) - before ))
before=$(requests)
read -r t_same rss_same < <(timed "$fathom" db update --feeds "$feeds" --store "$work/store.db")
not_modified=$(grep -c 'not modified' "$work/out.txt")
same_requests=$(( $(requests) - before ))
same_304=$(tail -n "$same_requests" "$work/access.log" | grep -c '" 304 ')
[ "$imported" -eq "$count" ] || { echo "db-update: the full update imported $imported of $count feeds" >&2; exit 1; }
[ "$not_modified" -eq "$count" ] || { echo "db-update: the second update did not find every feed unchanged" >&2; exit 1; }

echo
echo "$count feeds, $records advisories; $(nproc) cores"
printf '%-46s %8s %s\n' "run" "seconds" "notes"
printf '%-46s %8s %s\n' "curl, the same $count files (transfer only)" "$t_curl" ""
printf '%-46s %8s %s\n' "fathom db import, the same files from disk" "$t_import" "one process per file"
printf '%-46s %8s %s\n' "fathom db update, empty store" "$t_full" "$full_requests requests, $imported feeds imported, peak RSS $((rss_full / 1024)) MB"
printf '%-46s %8s %s\n' "fathom db update, nothing changed" "$t_same" "$same_requests requests ($same_304 answered 304), peak RSS $((rss_same / 1024)) MB"
