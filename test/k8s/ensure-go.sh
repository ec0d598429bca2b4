#!/usr/bin/env bash
# Print the path of a Go toolchain new enough to build the Kubernetes test environment
# (Kubernetes 1.34 needs Go >= 1.24; Debian 12's golang is 1.19), fetching one if needed.
#
# Order: $GO, `go` on PATH, /usr/local/go/bin/go, then a toolchain cached in
# ${IARNET_GO_CACHE:-$HOME/.cache/iarnet-go}. When none is new enough, the toolchain is
# downloaded from the Go module proxy as the module golang.org/toolchain (the same zip `go`
# itself fetches for GOTOOLCHAIN switches; no other download source), checked against the
# checksum database's go.sum line for it, and unpacked into the cache.
#
#   test/k8s/ensure-go.sh          -> /path/to/bin/go on stdout (progress on stderr)
#
# Knobs: IARNET_GO_VERSION (1.24.6: the version fetched when none fits), IARNET_GO_MIN (1.24),
# GOPROXY (first entry used; default https://proxy.golang.org).
set -euo pipefail

MIN="${IARNET_GO_MIN:-1.24}"
WANT="${IARNET_GO_VERSION:-1.24.6}"
CACHE="${IARNET_GO_CACHE:-$HOME/.cache/iarnet-go}"
PROXY="${GOPROXY:-https://proxy.golang.org}"
PROXY="${PROXY%%,*}"
[[ "$PROXY" == "direct" || "$PROXY" == "off" ]] && PROXY="https://proxy.golang.org"
# The checksum database through the proxy (the GOPROXY protocol's /sumdb/ passthrough): only the
# proxy itself is reachable from these machines.
SUMDB="$PROXY/sumdb/sum.golang.org"

log() { echo "ensure-go: $*" >&2; }

# "go1.26.8" -> 0 when >= MIN.
new_enough() {
  local v="${1#go}" major minor min_major min_minor
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%.*}"
  min_major="${MIN%%.*}"
  min_minor="${MIN#*.}"
  [[ "$major" =~ ^[0-9]+$ && "$minor" =~ ^[0-9]+$ ]] || return 1
  ((major > min_major || (major == min_major && minor >= min_minor)))
}

try_go() {
  local go="$1" v
  [[ -n "$go" && -x "$go" ]] || return 1
  v="$(GOTOOLCHAIN=local "$go" env GOVERSION 2>/dev/null)" || return 1
  if new_enough "$v"; then
    log "using $go ($v)"
    echo "$go"
    return 0
  fi
  log "$go is $v, older than go$MIN"
  return 1
}

try_go "${GO:-}" && exit 0
try_go "$(command -v go || true)" && exit 0
try_go /usr/local/go/bin/go && exit 0
try_go "$CACHE/go$WANT/go/bin/go" && exit 0

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) log "unsupported machine $(uname -m)"; exit 1 ;;
esac
module="golang.org/toolchain"
version="v0.0.1-go$WANT.linux-$arch"
zip="$CACHE/$version.zip"
mkdir -p "$CACHE"
command -v curl >/dev/null && command -v unzip >/dev/null || { log "needs curl and unzip"; exit 1; }

log "fetching $module@$version from $PROXY"
curl -fsSL --retry 3 -o "$zip.part" "$PROXY/$module/@v/$version.zip"
# The module's h1: hash (sha256 over the sorted file list) as Go computes it, checked against the
# checksum database, so a proxy cannot hand out a tampered toolchain.
expected="$(curl -fsSL --retry 3 "$SUMDB/lookup/$module@$version" | awk -v m="$module" -v v="$version" '$1 == m && $2 == v {print $3}')"
[[ -n "$expected" ]] || { log "no checksum for $module@$version in $SUMDB"; exit 1; }
rm -rf "$CACHE/unpack" && mkdir -p "$CACHE/unpack"
unzip -q "$zip.part" -d "$CACHE/unpack"
prefix="$module@$version"
actual="h1:$(cd "$CACHE/unpack" && find "$prefix" -type f | LC_ALL=C sort | while read -r f; do
  printf '%s  %s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$f"
done | sha256sum | cut -d' ' -f1 | xxd -r -p | base64)"
if [[ "$actual" != "$expected" ]]; then
  log "checksum mismatch for $module@$version: got $actual, the checksum database says $expected"
  exit 1
fi
rm -rf "$CACHE/go$WANT"
mkdir -p "$CACHE/go$WANT"
mv "$CACHE/unpack/$prefix" "$CACHE/go$WANT/go"
rm -rf "$CACHE/unpack" "$zip.part"
chmod +x "$CACHE/go$WANT/go/bin/"* "$CACHE/go$WANT/go/pkg/tool/"*/* 2>/dev/null || true
try_go "$CACHE/go$WANT/go/bin/go"
