#!/usr/bin/env python3
"""Generates the registry-scale fleet (see ../registry-scale.sh): N tags over the fleet
benchmark's bases (Debian bookworm minbase and the Alpine minirootfs releases), 100 tags per
repository `scale/rNNN`, each tag with its own small config and one small distinct layer of
real files (a service's configuration; in 1 % of the tags also a Python package's metadata,
`fathom-scale-probe`, which the one-advisory rescan then touches). Pushed through the
distribution API by several processes at once (threads would share one core through the
interpreter lock); a base a repository needs is mounted from the first, not uploaded again."""
import argparse
import json
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "fleet"))
from generate import LAYER_TYPES, OCI_CONFIG, OCI_MANIFEST, Registry, layer_from_blob, layer_from_files, sha256  # noqa: E402

TAGS_PER_REPOSITORY = 100
# Set before the worker processes fork, so the base blobs are shared, not pickled.
ARGS = None
BASES = []


def push_repositories(worker):
    """Pushes every `workers`-th repository; returns (tags pushed, probe tags)."""
    args, bases = ARGS, BASES
    repositories = (args.tags + TAGS_PER_REPOSITORY - 1) // TAGS_PER_REPOSITORY
    registry = Registry(args.registry)
    registry.known.update({base.digest: "scale/r000" for base in bases})
    done, probes, started = 0, [], time.monotonic()
    for index in range(worker, repositories, args.workers):
        repository = f"scale/r{index:03d}"
        for tag_number in range(TAGS_PER_REPOSITORY):
            number = index * TAGS_PER_REPOSITORY + tag_number
            if number >= args.tags:
                break
            base = bases[number % len(bases)]
            name = f"svc-{number:06d}"
            files = [
                (f"etc/{name}/config.yaml", f"service: {name}\nport: {8000 + number % 1000}\n".encode(), 0o644),
                (f"usr/local/bin/{name}-entrypoint", f"#!/bin/sh\nexec {name} --config /etc/{name}/config.yaml\n".encode(), 0o755),
            ]
            if number % 100 == 42:
                metadata = "Metadata-Version: 2.1\nName: fathom-scale-probe\nVersion: 1.0\n\n"
                files.append(("usr/lib/python3/dist-packages/fathom_scale_probe-1.0.dist-info/METADATA", metadata.encode(), 0o644))
            layer = layer_from_files(files, "gzip", f"COPY {name}/ /")
            config = json.dumps({
                "architecture": "amd64", "os": "linux", "created": "2026-11-01T00:00:00Z",
                "config": {"Entrypoint": [f"/usr/local/bin/{name}-entrypoint"]},
                "rootfs": {"type": "layers", "diff_ids": [base.diff_id, layer.diff_id]},
                "history": [{"created_by": base.created_by}, {"created_by": layer.created_by}],
            }, sort_keys=True).encode()
            registry.push_blob(repository, base.digest, base.blob)
            registry.push_blob(repository, layer.digest, layer.blob)
            config_digest = sha256(config)
            registry.push_blob(repository, config_digest, config)
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": LAYER_TYPES[item.compression], "digest": item.digest, "size": len(item.blob)}
                           for item in (base, layer)],
            }, sort_keys=True).encode()
            tag = f"t{tag_number:03d}"
            registry.push_manifest(repository, tag, manifest)
            if number % 100 == 42:
                probes.append(f"{repository}:{tag}")
            done += 1
            if worker == 0 and done % 2500 == 0:
                rate = done * args.workers / (time.monotonic() - started)
                print(f"pushed about {done * args.workers:,}/{args.tags:,} tags ({rate:,.0f}/s)", file=sys.stderr)
    return done, probes


def main():
    global ARGS, BASES
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", required=True)
    parser.add_argument("--tags", type=int, default=100_000)
    parser.add_argument("--debian", required=True)
    parser.add_argument("--alpine", nargs="+", required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--out", required=True)
    ARGS = parser.parse_args()
    BASES = [layer_from_blob(ARGS.debian, "gzip", "debootstrap --variant=minbase bookworm")]
    BASES += [layer_from_blob(path, "gzip", f"ADD {os.path.basename(path)} /") for path in ARGS.alpine]
    repositories = (ARGS.tags + TAGS_PER_REPOSITORY - 1) // TAGS_PER_REPOSITORY
    started = time.monotonic()
    # Every base is uploaded once, to the first repository; the others mount it.
    first = Registry(ARGS.registry)
    for base in BASES:
        first.push_blob("scale/r000", base.digest, base.blob)
    with multiprocessing.get_context("fork").Pool(ARGS.workers) as pool:
        results = pool.map(push_repositories, range(ARGS.workers))
    done = sum(count for count, _ in results)
    probes = sorted(probe for _, found in results for probe in found)
    elapsed = time.monotonic() - started
    with open(ARGS.out, "w") as handle:
        json.dump({"tags": done, "repositories": repositories, "probes": probes, "seconds": elapsed,
                   "bases": {base.digest: len(base.blob) for base in BASES}}, handle, indent=1, sort_keys=True)
    if done != ARGS.tags:
        sys.exit(f"pushed {done} of {ARGS.tags} tags")


if __name__ == "__main__":
    main()
