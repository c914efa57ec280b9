#!/usr/bin/env python3
"""Builds a fleet of images that share real base layers and pushes it to a registry.

Bases: a debootstrap Debian bookworm minbase root filesystem (gzip) and the Alpine
minirootfs tarballs (gzip; 3.20.3 recompressed with zstd). Each of N images takes one base and
adds 1-3 small layers of its own: service config files (always), unpacked Python wheels
(often), a Go binary (rarely). About a third of the added layers are zstd, the rest gzip.

Images are pushed with the distribution API (monolithic uploads, cross-repository mounts for
blobs the registry already holds), as `fleet/svc-NNN:vM`, ten tags per repository. A JSON
description of what was pushed (distinct layers with sizes, configs, images) is written to
--out so the runner can check fetched bytes against the registry's own access log.
"""
import argparse
import datetime
import gzip
import hashlib
import http.client
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import zipfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip", "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compress(tar_bytes, compression):
    if compression == "gzip":
        return gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    return subprocess.run(["zstd", "-q", "-3", "-c"], input=tar_bytes, stdout=subprocess.PIPE, check=True).stdout


def make_tar(files):
    """files: list of (path, bytes, mode). Deterministic headers."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = set()
        for path, _, _ in files:
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directories.add("/".join(parts[:depth]))
        for directory in sorted(directories):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = 1700000000
            tar.addfile(info)
        for path, data, mode in files:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = mode
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Layer:
    def __init__(self, blob, diff_id, compression, created_by):
        self.blob = blob
        self.digest = sha256(blob)
        self.diff_id = diff_id
        self.compression = compression
        self.created_by = created_by


def layer_from_files(files, compression, created_by):
    tar_bytes = make_tar(files)
    return Layer(compress(tar_bytes, compression), sha256(tar_bytes), compression, created_by)


def layer_from_blob(path, compression, created_by):
    with open(path, "rb") as handle:
        blob = handle.read()
    if compression == "gzip":
        plain = gzip.decompress(blob)
    else:
        plain = subprocess.run(["zstd", "-q", "-dc"], input=blob, stdout=subprocess.PIPE, check=True).stdout
    return Layer(blob, sha256(plain), compression, created_by)


class Registry:
    def __init__(self, host):
        self.host = host
        self.connection = http.client.HTTPConnection(host, timeout=120)
        self.known = {}  # blob digest -> a repository holding it

    def request(self, method, path, body=None, headers=None):
        self.connection.request(method, path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        data = response.read()
        return response, data

    def push_blob(self, repository, digest, blob):
        if digest in self.known:
            if self.known[digest] == repository:
                return
            response, _ = self.request("POST", f"/v2/{repository}/blobs/uploads/?mount={digest}&from={self.known[digest]}")
            if response.status == 201:
                return
            location = response.getheader("Location")
            if response.status == 202 and location:
                self.request("DELETE", location)
        response, _ = self.request("POST", f"/v2/{repository}/blobs/uploads/")
        if response.status != 202:
            sys.exit(f"upload start failed for {repository}: HTTP {response.status}")
        location = response.getheader("Location")
        separator = "&" if "?" in location else "?"
        response, data = self.request(
            "PUT", f"{location}{separator}digest={digest}", body=blob,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(blob))})
        if response.status != 201:
            sys.exit(f"upload of {digest} to {repository} failed: HTTP {response.status} {data[:200]!r}")
        self.known[digest] = repository

    def push_manifest(self, repository, tag, manifest):
        response, data = self.request(
            "PUT", f"/v2/{repository}/manifests/{tag}", body=manifest, headers={"Content-Type": OCI_MANIFEST})
        if response.status != 201:
            sys.exit(f"manifest push {repository}:{tag} failed: HTTP {response.status} {data[:200]!r}")


def wheel_files(path, prefix):
    files = []
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            files.append((f"{prefix}/{member.filename}", archive.read(member), 0o644))
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--registry", required=True)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--debian", required=True, help="bookworm minbase layer (.tar.gz)")
    parser.add_argument("--alpine", nargs="+", required=True, help="Alpine minirootfs .tar.gz files")
    parser.add_argument("--alpine-zstd", nargs="*", default=[], help="Alpine minirootfs recompressed as .tar.zst")
    parser.add_argument("--wheels", required=True, help="directory of .whl files")
    parser.add_argument("--go-binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    bases = [layer_from_blob(args.debian, "gzip", "debootstrap --variant=minbase bookworm")]
    bases += [layer_from_blob(path, "gzip", f"ADD {os.path.basename(path)} /") for path in args.alpine]
    bases += [layer_from_blob(path, "zstd", f"ADD {os.path.basename(path)} /") for path in args.alpine_zstd]
    wheels = sorted(os.path.join(args.wheels, name) for name in os.listdir(args.wheels) if name.endswith(".whl"))
    wheel_cache = {path: wheel_files(path, "usr/local/lib/python3.11/site-packages") for path in wheels}
    with open(args.go_binary, "rb") as handle:
        go_binary = handle.read()

    registry = Registry(args.registry)
    now = datetime.datetime.now(datetime.timezone.utc)
    distinct = {}
    images = []
    for number in range(args.images):
        repository = f"fleet/svc-{number // 10:03d}"
        tag = f"v{number % 10}"
        name = f"svc-{number:04d}"
        # Half the fleet on Debian, the rest spread over the Alpine releases.
        base = bases[0] if number % 2 == 0 else bases[1 + (number // 2) % (len(bases) - 1)]
        layers = [base]

        def pick_compression():
            return "zstd" if rng.random() < 0.33 else "gzip"

        config_files = [
            (f"etc/{name}/config.yaml", f"service: {name}\nport: {8000 + number % 1000}\nreplicas: {1 + number % 5}\n".encode(), 0o644),
            (f"usr/local/bin/{name}-entrypoint", f"#!/bin/sh\nexec /usr/local/bin/{name} --config /etc/{name}/config.yaml\n".encode(), 0o755),
        ]
        layers.append(layer_from_files(config_files, pick_compression(), f"COPY {name}/ /"))
        if rng.random() < 0.6 and wheel_cache:
            chosen = rng.sample(wheels, rng.randint(1, min(3, len(wheels))))
            files = [entry for path in chosen for entry in wheel_cache[path]]
            files.append((f"usr/local/lib/python3.11/site-packages/{name}.pth", f"# {name}\n".encode(), 0o644))
            layers.append(layer_from_files(files, pick_compression(), "RUN pip install " + " ".join(os.path.basename(p).split("-")[0] for p in chosen)))
        if rng.random() < 0.04:
            files = [(f"usr/local/bin/{name}", go_binary, 0o755), (f"usr/local/share/{name}/VERSION", f"{number}\n".encode(), 0o644)]
            layers.append(layer_from_files(files, pick_compression(), f"COPY {name} /usr/local/bin/"))

        created = (now - datetime.timedelta(days=rng.randint(0, 60), seconds=rng.randint(0, 86399))).strftime("%Y-%m-%dT%H:%M:%SZ")
        config = json.dumps({
            "architecture": "amd64", "os": "linux", "created": created,
            "config": {"Env": ["PATH=/usr/local/bin:/usr/bin:/bin"], "Entrypoint": [f"/usr/local/bin/{name}-entrypoint"]},
            "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
            "history": [{"created": created, "created_by": layer.created_by} for layer in layers],
        }, sort_keys=True).encode()
        for layer in layers:
            registry.push_blob(repository, layer.digest, layer.blob)
            distinct[layer.digest] = {"size": len(layer.blob), "compression": layer.compression}
        config_digest = sha256(config)
        registry.push_blob(repository, config_digest, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPES[layer.compression], "digest": layer.digest, "size": len(layer.blob)} for layer in layers],
        }, sort_keys=True).encode()
        registry.push_manifest(repository, tag, manifest)
        images.append({"repository": repository, "tag": tag, "config": config_digest, "manifest": sha256(manifest),
                       "layers": [layer.digest for layer in layers]})
        if (number + 1) % 100 == 0:
            print(f"pushed {number + 1}/{args.images} images", file=sys.stderr)

    with open(args.out, "w") as handle:
        json.dump({"images": images, "layers": distinct}, handle, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
