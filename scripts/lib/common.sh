# Shared helpers for fathom's scripts. Source it; do not run it.

# Packages the build, the tests, the quick start and the benchmarks use, from Debian.
FATHOM_APT_PACKAGES=(
  pkg-config zlib1g-dev libzstd-dev libsqlite3-dev
  docker-registry skopeo umoci zstd gzip tar coreutils curl openssl apache2-utils python3 python3-pip python3-rpm python3-yaml ruby php-cli php-composer-semver nginx-light dpkg debootstrap binutils postgresql pgbouncer util-linux chromium buildah
)

# Installs whichever of the packages are missing (as root, or through sudo).
fathom_install_packages() {
  local missing=()
  for package in "${FATHOM_APT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ "${#missing[@]}" -eq 0 ]; then return 0; fi
  echo "installing: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# A TCP port nothing listens on.
fathom_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Starts docker-registry on 127.0.0.1:$1 with storage in $2; sets FATHOM_REGISTRY_PID.
fathom_start_registry() {
  local port="$1" dir="$2"
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
YAML
  docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
  FATHOM_REGISTRY_PID=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "docker-registry did not start; see $dir/registry.log" >&2
  return 1
}

# Writes an OCI image layout at $1 tagged $2 whose layers are the gzip/zstd/plain tar files
# $3…, in order (media types follow the files' magic bytes). Prints the manifest digest.
fathom_make_oci_layout() {
  local out="$1" tag="$2"
  shift 2
  mkdir -p "$out/blobs/sha256"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
  local layers="" diffids="" history=""
  for layer in "$@"; do
    local digest size diffid media magic
    digest=$(sha256sum "$layer" | cut -d' ' -f1)
    size=$(stat -c %s "$layer")
    magic=$(head -c 4 "$layer" | od -An -tx1 | tr -d ' \n')
    case "$magic" in
      1f8b*) media="application/vnd.oci.image.layer.v1.tar+gzip"; diffid=$(gzip -dc "$layer" | sha256sum | cut -d' ' -f1) ;;
      28b52ffd) media="application/vnd.oci.image.layer.v1.tar+zstd"; diffid=$(zstd -dc "$layer" | sha256sum | cut -d' ' -f1) ;;
      *) media="application/vnd.oci.image.layer.v1.tar"; diffid="$digest" ;;
    esac
    cp "$layer" "$out/blobs/sha256/$digest"
    layers="$layers${layers:+,}{\"mediaType\":\"$media\",\"digest\":\"sha256:$digest\",\"size\":$size}"
    diffids="$diffids${diffids:+,}\"sha256:$diffid\""
    history="$history${history:+,}{\"created\":\"2026-01-01T00:00:00Z\",\"created_by\":\"ADD $(basename "$layer") /\"}"
  done
  local config configdigest configsize manifest manifestdigest manifestsize
  config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2026-01-01T00:00:00Z\",\"config\":{\"Env\":[\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffids]},\"history\":[$history]}"
  configdigest=$(printf '%s' "$config" | sha256sum | cut -d' ' -f1)
  configsize=$(printf '%s' "$config" | wc -c)
  printf '%s' "$config" >"$out/blobs/sha256/$configdigest"
  manifest="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$configdigest\",\"size\":$configsize},\"layers\":[$layers]}"
  manifestdigest=$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
  manifestsize=$(printf '%s' "$manifest" | wc -c)
  printf '%s' "$manifest" >"$out/blobs/sha256/$manifestdigest"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifestdigest" "$manifestsize" "$tag" >"$out/index.json"
  echo "sha256:$manifestdigest"
}

# The Python references the tests check against, installed from PyPI into .build/python-oracle
# once: the CVSS reference library (FIRST's calculators' logic, maintained by Red Hat), and
# jsonschema, PyYAML and openapi-spec-validator for the published schemas and OpenAPI documents,
# kubernetes-validate (with its bundled Kubernetes schemas) for deploy/kubernetes, and
# schemathesis, which fuzzes the service against its own OpenAPI document; cyclonedx-python-lib
# (its JSON validator), spdx-tools and packageurl-python for the SBOM formats and their purls, and
# websocket-client, which drives headless Chromium over the DevTools protocol (Tests/Browser).
fathom_install_python_oracles() {
  local target=".build/python-oracle"
  if PYTHONPATH="$target" python3 -c 'import cvss, jsonschema, yaml, openapi_spec_validator, kubernetes_validate, schemathesis, cyclonedx.validation.json, packageurl, spdx_tools, websocket' \
    2>/dev/null; then
    return 0
  fi
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$target" \
    'cvss==3.6' 'jsonschema==4.23.0' 'PyYAML==6.0.2' 'openapi-spec-validator==0.7.1' 'kubernetes-validate==1.37.0' \
    'schemathesis==4.32.5' 'cyclonedx-python-lib[json-validation]==10.4.1' 'packageurl-python==0.17.6' 'spdx-tools==0.8.5' 'websocket-client==1.8.0' >&2
}

# The fathom a benchmark measures: $FATHOM_BIN (another build, e.g. the one before a change, in
# the same conditions), else a fresh release build of this checkout. Prints its path.
fathom_bench_binary() {
  if [ -n "${FATHOM_BIN:-}" ]; then realpath "$FATHOM_BIN"; return; fi
  swift build -c release --product fathom >&2 || return 1
  echo "$PWD/.build/release/fathom"
}
