#!/usr/bin/env python3
"""Exports the benchmark fleet from the registry's storage as one OCI image layout (blobs
hard-linked, one index entry per tag, ref name `repository:tag`), as `skopeo sync` or `oras`
would mirror it: the fleet source that costs nothing to serve (see ../fleet-scan.sh)."""
import json
import os
import sys

work, out = sys.argv[1], sys.argv[2]
fleet = json.load(open(f"{work}/fleet.json"))
storage = f"{work}/registry/data/docker/registry/v2/blobs/sha256"
os.makedirs(f"{out}/blobs/sha256", exist_ok=True)


def link(digest):
    hex_ = digest.split(":")[1]
    target = f"{out}/blobs/sha256/{hex_}"
    if not os.path.exists(target):
        os.link(f"{storage}/{hex_[:2]}/{hex_}/data", target)
    return os.path.getsize(target)


entries = []
for image in fleet["images"]:
    for digest in image["layers"] + [image["config"]]:
        link(digest)
    size = link(image["manifest"])
    entries.append({
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image["manifest"], "size": size,
        "annotations": {"org.opencontainers.image.ref.name": f"{image['repository']}:{image['tag']}"},
    })
with open(f"{out}/oci-layout", "w") as handle:
    json.dump({"imageLayoutVersion": "1.0.0"}, handle)
with open(f"{out}/index.json", "w") as handle:
    json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}, handle)
