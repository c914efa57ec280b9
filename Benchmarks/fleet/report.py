#!/usr/bin/env python3
"""Prints the fleet benchmark's table from the runner's files (see ../fleet-scan.sh)."""
import json
import os
import re
import sys

work, images = sys.argv[1], int(sys.argv[2])
runs = f"{work}/runs"
fleet = json.load(open(f"{work}/fleet.json"))
layers = fleet["layers"]
configs = {image["config"] for image in fleet["images"]}
distinct_bytes = sum(layer["size"] for layer in layers.values())
referenced_bytes = sum(layers[digest]["size"] for image in fleet["images"] for digest in image["layers"])
cores = os.cpu_count()


def timing(label):
    # "wall user sys maxrss_kb registry_cpu_s postgres_cpu_s" (fathom_bench_measure)
    wall, user, system, rss = open(f"{runs}/{label}.time").read().split()[:4]
    return float(wall), float(user), float(system), int(rss)


def registry_cpu(label):
    return float(open(f"{runs}/{label}.time").read().split()[4])


def summary(label):
    try:
        return json.load(open(f"{runs}/{label}.json"))
    except (OSError, ValueError):
        return {}


ACCESS = re.compile(r'"(GET|HEAD) /v2/(\S+)/(blobs|manifests)/(\S+) HTTP/1\.1" (\d+) (\d+) "[^"]*" "([^"]*)"')


def access(label):
    """Per-digest blob GET counts and bytes, from the registry's access log lines."""
    gets, sent, heads = {}, {}, 0
    for line in open(f"{runs}/{label}.log", errors="replace"):
        match = ACCESS.search(line)
        if not match:
            continue
        method, _, kind, reference, status, written, _ = match.groups()
        if kind == "manifests" and method == "HEAD":
            heads += 1
        if kind != "blobs" or method != "GET" or status != "200":
            continue
        gets[reference] = gets.get(reference, 0) + 1
        sent[reference] = sent.get(reference, 0) + int(written)
    return gets, sent, heads


def mb(count):
    return count / 1e6


# A run meant to be cold must have read layers: a store that answered instead makes its time
# meaningless, so the report refuses it.
for run in ("cold", "cold1", "cold-gogc", "cold1-gogc", "layout", "layout1"):
    fetched = summary(run).get("layers", {}).get("fetched", 0)
    if fetched == 0:
        raise SystemExit(f"fleet-scan: the {run} run read no layer (a cache answered); its figures would be wrong")

cold_wall, cold_user, cold_sys, cold_rss = timing("cold")
cold = summary("cold")
scanned = cold.get("images", {}).get("scanned", 0)
failed = cold.get("images", {}).get("failed", 0)
gets, sent, _ = access("cold")
layer_gets = {digest: count for digest, count in gets.items() if digest in layers}
layer_bytes = sum(sent[digest] for digest in layer_gets)
once = all(layer_gets.get(digest) == 1 for digest in layers)
config_gets = sum(count for digest, count in gets.items() if digest in configs)

cold1_wall = timing("cold1")[0]
gogc_wall, gogc_user, gogc_sys, gogc_rss = timing("cold-gogc")
gogc1_wall = timing("cold1-gogc")[0]
warm_wall, _, _, warm_rss = timing("warm")
warm = summary("warm")
warm_gets, _, _ = access("warm")
warm_layer_gets = sum(count for digest, count in warm_gets.items() if digest in layers)
rescan_wall, _, _, rescan_rss = timing("rescan")
rescan = summary("rescan")
heads_wall, _, _, heads_rss = timing("rescan-heads")
rescan_gets, _, rescan_heads = access("rescan")
limit_wall, limit_user, limit_sys, _ = timing("limit")
layout_wall, layout_user, layout_sys, layout_rss = timing("layout")
layout1_wall = timing("layout1")[0]
layout_scanned = summary("layout").get("images", {}).get("scanned", 0)
pull_wall, pull_user, pull_sys, _ = timing("pull-limit")
skopeo_wall, _, _, _ = timing("skopeo")
skopeo_gets, skopeo_sent, _ = access("skopeo")
skopeo_bytes = sum(skopeo_sent.values())

rows = [
    ("images in the fleet", f"{images:,} ({len(layers):,} distinct layers, {mb(distinct_bytes):.1f} MB distinct of {mb(referenced_bytes):.1f} MB referenced)"),
    ("cold fleet scan, 2 cores", f"{cold_wall:.2f} s · {scanned / cold_wall:,.0f} images/s · {mb(distinct_bytes) / cold_wall:.1f} MB/s distinct · fathom CPU {cold_user + cold_sys:.2f} s ({100 * (cold_user + cold_sys) / cold_wall / cores:.0f} % of {cores} cores), registry CPU {registry_cpu('cold'):.2f} s · peak RSS {cold_rss / 1024:.0f} MB · {scanned} scanned, {failed} failed"),
    ("cold fleet scan, fathom pinned to 1 core", f"{cold1_wall:.2f} s · 2 cores are {cold1_wall / cold_wall:.2f}× faster"),
    ("C limit (gzip -dc / zstd -dc + sha256sum, side by side)", f"{limit_wall:.2f} s, CPU {limit_user + limit_sys:.2f} s · cold scan wall is {cold_wall / limit_wall:.2f}× the limit, its CPU {(cold_user + cold_sys) / (limit_user + limit_sys):.2f}×"),
    ("cold fleet scan over an OCI layout, 2 cores", f"{layout_wall:.2f} s · {layout_scanned / layout_wall:,.0f} images/s · {layout_wall / limit_wall:.2f}× the C limit · fathom CPU {layout_user + layout_sys:.2f} s ({(layout_user + layout_sys) / (limit_user + limit_sys):.2f}× the limit's) · peak RSS {layout_rss / 1024:.0f} MB"),
    ("same layout, fathom pinned to 1 core", f"{layout1_wall:.2f} s · 2 cores are {layout1_wall / layout_wall:.2f}× faster"),
    ("registry pull limit (curl → C decoder → sha256sum, 2 per core)", f"{pull_wall:.2f} s, CPU {pull_user + pull_sys:.2f} s + registry {registry_cpu('pull-limit'):.2f} s · cold registry scan is {cold_wall / pull_wall:.2f}× this"),
    ("cold fleet scan, registry under GOGC=400", f"{gogc_wall:.2f} s · {summary('cold-gogc').get('images', {}).get('scanned', 0) / gogc_wall:,.0f} images/s · {gogc_wall / limit_wall:.2f}× the limit · fathom CPU {gogc_user + gogc_sys:.2f} s, registry CPU {registry_cpu('cold-gogc'):.2f} s · peak RSS {gogc_rss / 1024:.0f} MB"),
    ("same, fathom pinned to 1 core", f"{gogc1_wall:.2f} s · 2 cores are {gogc1_wall / gogc_wall:.2f}× faster"),
    ("skopeo sync (pull only, same images)", f"{skopeo_wall:.2f} s · {mb(skopeo_bytes):.1f} MB pulled · cold scan is {skopeo_wall / cold_wall:.1f}× faster"),
    ("layer bytes fetched (registry access log)", f"{layer_bytes:,} B = distinct {distinct_bytes:,} B: {'yes' if layer_bytes == distinct_bytes and once else 'NO'} · every layer GET once: {'yes' if once else 'NO'} · {config_gets} config GETs"),
    ("warm fleet scan", f"{warm_wall:.2f} s · {warm.get('images', {}).get('scanned', 0) / warm_wall:,.0f} images/s · {warm_layer_gets} layer GETs · peak RSS {warm_rss / 1024:.0f} MB"),
    ("rescan after advisory import (offline)", f"{rescan_wall:.2f} s · {rescan.get('images', 0) / rescan_wall:,.0f} images/s · {len(rescan.get('changed', []))} images changed · peak RSS {rescan_rss / 1024:.0f} MB"),
    ("rescan with a manifest HEAD per tag", f"{heads_wall:.2f} s · {images / heads_wall:,.0f} images/s · {rescan_heads} HEADs · {sum(rescan_gets.values())} blob GETs"),
]
width = max(len(label) for label, _ in rows)
print(f"| {'measure'.ljust(width)} | result |")
print(f"| {'-' * width} | ------ |")
for label, value in rows:
    print(f"| {label.ljust(width)} | {value} |")
