#!/usr/bin/env python3
"""Exports the benchmark fleet from the registry's storage as one OCI image layout (blobs
hard-linked, one index entry per tag, ref name `repository:tag`), as `skopeo sync` or `oras`
would mirror it: the fleet source that costs nothing to serve (see ../fleet-scan.sh). With
--per-repository, one layout per repository under OUT (OUT/REPOSITORY, ref name the tag): a
mirror the service reads with --allow-local-sources (see ../service-workers.sh)."""
import json
import os
import sys

work, out = sys.argv[1], sys.argv[2]
per_repository = "--per-repository" in sys.argv[3:]
fleet = json.load(open(f"{work}/fleet.json"))
storage = f"{work}/registry/data/docker/registry/v2/blobs/sha256"


def link(layout, digest):
    hex_ = digest.split(":")[1]
    os.makedirs(f"{layout}/blobs/sha256", exist_ok=True)
    target = f"{layout}/blobs/sha256/{hex_}"
    if not os.path.exists(target):
        os.link(f"{storage}/{hex_[:2]}/{hex_}/data", target)
    return os.path.getsize(target)


layouts = {}
for image in fleet["images"]:
    layout = f"{out}/{image['repository']}" if per_repository else out
    for digest in image["layers"] + [image["config"]]:
        link(layout, digest)
    size = link(layout, image["manifest"])
    layouts.setdefault(layout, []).append({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image["manifest"], "size": size,
        "annotations": {"org.opencontainers.image.ref.name": image["tag"] if per_repository else f"{image['repository']}:{image['tag']}"},
    })
for layout, entries in layouts.items():
    with open(f"{layout}/oci-layout", "w") as handle:
        json.dump({"imageLayoutVersion": "1.0.0"}, handle)
    with open(f"{layout}/index.json", "w") as handle:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}, handle)
