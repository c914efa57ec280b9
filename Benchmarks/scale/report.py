#!/usr/bin/env python3
"""Prints the registry-scale table and writes docs/registry-scale.svg (see ../registry-scale.sh)."""
import json
import os
import subprocess
import sys

work, backend, sizes = sys.argv[1], sys.argv[2], [int(size) for size in sys.argv[3:]]
runs = f"{work}/runs"
scale = json.load(open(f"{work}/scale.json"))


def timing(label):
    wall, user, system, rss, registry, postgres = open(f"{runs}/{label}.time").read().split()
    return {"wall": float(wall), "cpu": float(user) + float(system), "rss": int(rss) / 1024, "registry": float(registry),
            "postgres": float(postgres)}


def load(label):
    try:
        return json.load(open(f"{runs}/{label}.json"))
    except (OSError, ValueError):
        return {}


print(f"Store: {'PostgreSQL (one database per size, on the same machine)' if backend == 'postgres' else 'SQLite'}. "
      f"{scale['tags']:,} tags in {scale['repositories']:,} repositories generated and pushed in {scale['seconds']:.0f} s "
      f"({scale['tags'] / scale['seconds']:,.0f} tags/s); {len(scale['probes']):,} carry the probe package.\n")
print("| tags | cold scan | warm scan | rescan after a 1 % advisory, offline | same, a HEAD per tag | peak RSS cold / warm / rescan / HEADs | store per image |")
print("| ---: | --- | --- | --- | --- | --- | ---: |")
points = []
for size in sizes:
    cold, warm, rescan, heads = (timing(f"{kind}-{size}") for kind in ("cold", "warm", "rescan", "heads"))
    cold_summary, warm_summary = load(f"cold-{size}"), load(f"warm-{size}")
    rescan_report = load(f"rescan-{size}")
    scanned = cold_summary.get("images", {}).get("scanned", 0)
    if cold_summary.get("layers", {}).get("fetched", 0) == 0:
        raise SystemExit(f"registry-scale: the cold run at {size} tags read no layer (a cache answered)")
    if scanned != size or warm_summary.get("images", {}).get("scanned", 0) != size:
        raise SystemExit(f"registry-scale: {size} tags asked, cold scanned {scanned}, warm {warm_summary.get('images', {}).get('scanned')}")
    changed = len(rescan_report.get("changed", []))
    store_bytes = int(open(f"{runs}/store-{size}.size").read())

    def cell(run, count):
        postgres = f", PostgreSQL {run['postgres']:.1f} s" if backend == "postgres" else ""
        return (f"{run['wall']:.1f} s · **{count / run['wall']:,.0f}/s** · fathom CPU {run['cpu']:.1f} s, "
                f"registry {run['registry']:.1f} s{postgres}")

    print(f"| {size:,} | {cell(cold, size)} | {cell(warm, size)} | {cell(rescan, size)} · {changed:,} changed "
          f"| {cell(heads, size)} | {cold['rss']:.0f} / {warm['rss']:.0f} / {rescan['rss']:.0f} / {heads['rss']:.0f} MB "
          f"| {store_bytes / size / 1024:.1f} KB |")
    points.append((size, size / cold["wall"], size / warm["wall"], size / rescan["wall"], size / heads["wall"],
                   cold["rss"], warm["rss"], rescan["rss"], heads["rss"]))

data = f"{work}/scale.dat"
with open(data, "w") as handle:
    for point in points:
        handle.write(" ".join(f"{value:.1f}" for value in point) + "\n")
if os.environ.get("FATHOM_BENCH_NO_PLOT"):
    raise SystemExit(0)  # a smoke run: the README's plot stays the measured one
os.makedirs("docs", exist_ok=True)
plot = "docs/registry-scale-postgres.svg" if backend == "postgres" else "docs/registry-scale.svg"
script = f"""
set terminal svg size 900,360 font 'sans,11'
set output '{plot}'
set multiplot layout 1,2
set logscale xy
set xrange [{min(sizes) * 0.7}:{max(sizes) * 1.4}]
set format x '%.0s%c'
set xlabel 'tags'
set key left top
set ylabel 'images/s'
set title 'Throughput against tags (log scales)'
plot '{data}' using 1:2 with linespoints title 'cold', '' using 1:3 with linespoints title 'warm', \\
     '' using 1:4 with linespoints title 'rescan offline', '' using 1:5 with linespoints title 'rescan, HEAD per tag'
set ylabel 'MB'
set title 'Peak RSS against tags'
unset logscale y
set yrange [0:*]
plot '{data}' using 1:6 with linespoints title 'cold', '' using 1:7 with linespoints title 'warm', \\
     '' using 1:8 with linespoints title 'rescan offline', '' using 1:9 with linespoints title 'rescan, HEADs'
unset multiplot
"""
subprocess.run(["gnuplot"], input=script.encode(), check=True)
print(f"\nplot: {plot}")
