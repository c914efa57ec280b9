#!/usr/bin/env bash
# Builds fathom's container image from nothing but Debian's packages, with buildah: no base image
# from a hub. The same layout as deploy/Containerfile:
#   layer 1  a minimal Debian bookworm root (debootstrap minbase, plus the libraries fathom loads:
#            libc, zlib1g, libzstd1, libsqlite3-0, and ca-certificates), upgraded from
#            bookworm-security at every build, with a `fathom` user (uid 10001, home
#            /var/lib/fathom);
#   layer 2  /usr/local/bin/fathom, the release binary with the Swift runtime linked in
#            (--static-swift-stdlib);
#   config   user 10001, entrypoint fathom, `serve --listen 0.0.0.0:8080` as the default command,
#            ports 8080 and 9090, XDG_CACHE_HOME=/var/lib/fathom/cache, org.opencontainers.image.*
#            labels.
#
#   deploy/build-image.sh [--push REF] [--name NAME] [--binary PATH] [--root-cache DIR]
#                         [--mirror URL] [--security-mirror URL] [--tls-verify=false] [--root-only]
#
#   --push REF          push the image to docker://REF (e.g. registry.example.internal/fathom:0.1.0)
#   --name NAME         the image's name in buildah's local storage (default localhost/fathom:VERSION)
#   --binary PATH       use this fathom binary instead of building it (it must not need the Swift
#                       runtime's shared libraries)
#   --root-cache DIR    where the debootstrap root is kept between runs (default .build/image-root)
#   --mirror URL        the Debian mirror (default http://deb.debian.org/debian)
#   --security-mirror URL  Debian's security archive (default http://deb.debian.org/debian-security)
#   --tls-verify=false  push to a registry on plain HTTP or with a certificate not trusted here
#   --root-only         only make and upgrade the root in --root-cache (the downloads), print its
#                       path, and stop
#
# Needs root (debootstrap and buildah's mount), debootstrap, buildah, strip (binutils), and the
# Swift toolchain unless --binary is given. Prints the image's name, digest and size.
set -Eeuo pipefail
# A failure names its step (-E: inside functions too): debootstrap's and apt's output before it can be long.
trap 'echo "build-image.sh: failed (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
cd "$(dirname "$0")/.."

push="" name="" binary="" root_only="" root_cache=".build/image-root" mirror="http://deb.debian.org/debian" tls_verify="true"
security="http://deb.debian.org/debian-security"
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push="${2:?--push needs an image reference}"; shift 2 ;;
    --name) name="${2:?--name needs a name}"; shift 2 ;;
    --binary) binary="${2:?--binary needs a path}"; shift 2 ;;
    --root-cache) root_cache="${2:?--root-cache needs a directory}"; shift 2 ;;
    --mirror) mirror="${2:?--mirror needs a URL}"; shift 2 ;;
    --security-mirror) security="${2:?--security-mirror needs a URL}"; shift 2 ;;
    --tls-verify=false) tls_verify="false"; shift ;;
    --root-only) root_only="true"; shift ;;
    -h|--help) sed -n '2,/^set -Eeuo/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
tools=(debootstrap chroot)
[ -n "$root_only" ] || tools+=(buildah strip)
[ -n "$binary$root_only" ] || tools+=(swift)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "build-image.sh: $tool is not installed (apt-get install $tool)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "build-image.sh: run it as root (debootstrap and buildah mount need it)" >&2; exit 1; }

# The root: minbase and the libraries fathom loads, kept for later runs (debootstrap downloads).
root="$root_cache/bookworm"
make_root() {
  if [ ! -f "$root/.complete" ]; then
    rm -rf --one-file-system "$root" "$root.partial"
    mkdir -p "$root_cache"
    echo "debootstrap --variant=minbase bookworm from $mirror" >&2
    debootstrap --variant=minbase --include=ca-certificates,libsqlite3-0,zlib1g,libzstd1 bookworm "$root.partial" "$mirror" >&2
    useradd --root "$(realpath "$root.partial")" --system -K SYS_UID_MAX=10001 -K SYS_GID_MAX=10001 --uid 10001 --user-group --home-dir /var/lib/fathom \
      --create-home --shell /usr/sbin/nologin fathom
    install -d -o 10001 -g 10001 "$root.partial/var/lib/fathom/cache"
    touch "$root.partial/.complete"
    mv "$root.partial" "$root"
  fi
}
# Security fixes at every build: a scanner's own image ships none of what it would report.
# --root-only does it too, so that a build soon after (the test suite's) finds nothing to fetch
# but apt's lists.
upgrade_root() {
  echo "apt-get upgrade from bookworm-security ($security)" >&2
  echo "deb $security bookworm-security main" >"$root/etc/apt/sources.list.d/security.list"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # In the root, with an environment of its own: the host's (a TMPDIR that exists only on the
  # host, as the test suite sets) broke ca-certificates' maintainer script. Proxies pass.
  in_root() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
      ${http_proxy:+http_proxy="$http_proxy"} ${https_proxy:+https_proxy="$https_proxy"} ${no_proxy:+no_proxy="$no_proxy"} \
      chroot "$root" "$@"
  }
  # An upgrade an earlier build left half done is finished first.
  in_root dpkg --configure -a >&2
  in_root apt-get -o Acquire::Retries=3 update -qq >&2
  in_root apt-get -o Acquire::Retries=3 upgrade -y -qq >&2
  # What an image does not carry: downloaded packages, apt's lists, the build host's names, and
  # (as Debian's slim images) manuals, translations and documents other than the copyright files.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* "$root"/etc/resolv.conf "$root"/etc/hostname \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
}
if [ -n "$root_only" ]; then make_root; upgrade_root; echo "$root"; exit 0; fi

# The binary: the Swift runtime linked in, so the root needs only Debian's C libraries.
if [ -z "$binary" ]; then
  echo "building the release binary (--static-swift-stdlib, in .build-static)" >&2
  swift build -c release --product fathom --static-swift-stdlib --scratch-path .build-static >&2
  binary=".build-static/release/fathom"
fi
[ -x "$binary" ] || { echo "build-image.sh: $binary is not an executable" >&2; exit 1; }
libraries="$(ldd "$binary")"
if grep -q 'libswift\|libFoundation\|libdispatch' <<<"$libraries"; then
  echo "build-image.sh: $binary needs the Swift runtime's shared libraries; build it with --static-swift-stdlib" >&2
  exit 1
fi
version="$("$binary" --version | sed -n '1s/^fathom //p')"
[ -n "$name" ] || name="localhost/fathom:$version"

make_root
upgrade_root
# Every shared library the binary needs is in the root.
for library in $(awk '/=>/ { print $1 }' <<<"$libraries"); do
  if ! find "$root/lib" "$root/usr/lib" -name "$library" -print -quit | grep -q .; then
    echo "build-image.sh: the root has no $library, which $binary needs" >&2
    exit 1
  fi
done

base="" container="" stripped="" committed="" verified=""
cleanup() {
  [ -z "$stripped" ] || rm -f "$stripped"
  [ -z "$container" ] || buildah rm "$container" >/dev/null 2>&1 || true
  [ -z "$base" ] || buildah rm "$base" >/dev/null 2>&1 || true
  # An image that did not run is not left under its name.
  [ -z "$committed" ] || [ -n "$verified" ] || buildah rmi "$name" >/dev/null 2>&1 || true
  # The root's own name; its layer stays, shared by the image.
  buildah rmi "localhost/fathom-root:build" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Symbols and debug information are half the binary; an image does not need them.
stripped="$(mktemp)"
strip -o "$stripped" "$binary"

# Layer 1: the root, committed as an image of its own so that the binary is a layer apart.
base="$(buildah from scratch)"
mount="$(buildah mount "$base")"
tar --numeric-owner --exclude=./.complete -C "$root" -cf - . | tar --numeric-owner -C "$mount" -xpf -
buildah unmount "$base" >/dev/null
buildah commit --quiet --format oci --rm "$base" localhost/fathom-root:build >/dev/null
base=""

# Layer 2: the binary; then the configuration.
container="$(buildah from localhost/fathom-root:build)"
buildah copy --quiet --chmod 0755 "$container" "$stripped" /usr/local/bin/fathom >/dev/null
revision="$(git -c safe.directory="$PWD" rev-parse HEAD 2>/dev/null || echo unknown)"
buildah config \
  --user 10001:10001 --workingdir /var/lib/fathom \
  --env XDG_CACHE_HOME=/var/lib/fathom/cache \
  --port 8080 --port 9090 \
  --entrypoint '["/usr/local/bin/fathom"]' --cmd 'serve --listen 0.0.0.0:8080' \
  --label org.opencontainers.image.title=fathom \
  --label "org.opencontainers.image.description=A container-registry vulnerability scanner: CLI, service and scan workers" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --label org.opencontainers.image.base.name=debian:bookworm-minbase \
  "$container"
buildah commit --quiet --format oci "$container" "$name" >/dev/null
committed=1
buildah rm "$container" >/dev/null
# The image runs, as its user, before it is pushed: a library missing from the root fails here,
# not in a pod. (In a container of its own, so that nothing the run writes is kept.)
container="$(buildah from "$name")"
buildah run --isolation chroot "$container" -- /usr/local/bin/fathom version >/dev/null
verified=1
size="$(buildah images --format '{{.Size}}' "$name" | head -n 1)"
echo "built $name ($size uncompressed)"

if [ -n "$push" ]; then
  digest_file="$(mktemp)"
  buildah push --quiet --tls-verify="$tls_verify" --digestfile "$digest_file" "$name" "docker://$push"
  echo "pushed $push@$(cat "$digest_file")"
  rm -f "$digest_file"
fi
