#!/usr/bin/env bash
# Build a real Kubernetes control plane for tests from Go modules (no binary downloads):
#   kube-apiserver, kube-controller-manager, kube-scheduler  (k8s.io/kubernetes @ $VERSION)
#   etcd                                                      (go.etcd.io/etcd/server/v3 @ $ETCD_VERSION)
#   kwok                                                      (sigs.k8s.io/kwok/cmd/kwok @ $KWOK_VERSION)
#   metrics-server                                            (sigs.k8s.io/metrics-server @ $METRICS_SERVER_VERSION)
#
# Idempotent: binaries land in $IARNET_K8S_CACHE/<version>/bin (default
# ~/.cache/iarnet-k8s/v1.34.2/bin); whatever is already there and runs is skipped.
# The throwaway Go modules live in <cache>/<version>/src, never inside the repo.
# Go's own caches (GOMODCACHE, GOCACHE) are reused; keep them for warm builds.
#
#   test/k8s/build-testenv.sh                 build everything that is missing
#   test/k8s/build-testenv.sh --print-bin     only print the bin dir
#
# Env knobs:
#   IARNET_K8S_VERSION      (v1.34.2)  Kubernetes tag; staging modules use v0.X.Y
#   IARNET_ETCD_VERSION     (v3.6.4)   etcd server tag
#   IARNET_KWOK_VERSION     (v0.7.0)   kwok tag
#   IARNET_METRICS_SERVER_VERSION (v0.8.0) metrics-server tag (serves metrics.k8s.io from kwok's emulated kubelet metrics)
#   IARNET_K8S_COMPONENTS   ("kube-apiserver kube-scheduler kube-controller-manager etcd kwok metrics-server")
#   IARNET_K8S_BUILD_JOBS   (1)        go build -p; the machine is shared, builds run under nice 19
#   GO                      (go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

VERSION="${IARNET_K8S_VERSION:-v1.34.2}"
ETCD_VERSION="${IARNET_ETCD_VERSION:-v3.6.4}"
KWOK_VERSION="${IARNET_KWOK_VERSION:-v0.7.0}"
METRICS_SERVER_VERSION="${IARNET_METRICS_SERVER_VERSION:-v0.8.0}"
COMPONENTS="${IARNET_K8S_COMPONENTS:-kube-apiserver kube-scheduler kube-controller-manager etcd kwok metrics-server}"
JOBS="${IARNET_K8S_BUILD_JOBS:-1}"
CACHE="${IARNET_K8S_CACHE:-$HOME/.cache/iarnet-k8s}/$VERSION"
BIN="$CACHE/bin"
SRC="$CACHE/src"

if [[ "${1:-}" == "--print-bin" ]]; then
  echo "$BIN"
  exit 0
fi

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$GO" ]] || { echo "build-testenv: no go toolchain (set GO=)" >&2; exit 1; }

if [[ ! "$VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]]; then
  echo "build-testenv: IARNET_K8S_VERSION must be a plain tag like v1.34.2 (got $VERSION)" >&2
  exit 2
fi
MINOR="${BASH_REMATCH[1]}"
STAGING_VERSION="v0.${MINOR}.${BASH_REMATCH[2]}"

mkdir -p "$BIN" "$SRC/kubernetes" "$SRC/etcd"
# One build per cache dir and group at a time (k8s, etcd and kwok may build concurrently).
lock() { eval "exec $1>\"$CACHE/.build-$2.lock\""; flock "$1"; }

export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -p=$JOBS"
export GOTOOLCHAIN=local
NICE=(nice -n 19)
GOMODCACHE_DIR="$("$GO" env GOMODCACHE)"

now() { date +%s; }
du_mb() { du -sm "$1" 2>/dev/null | cut -f1 || echo 0; }
declare -a REPORT=()
T0="$(now)"
MOD0="$(du_mb "$GOMODCACHE_DIR")"

have() { # binary present and runnable
  [[ -x "$BIN/$1" ]] && "$BIN/$1" --version >/dev/null 2>&1
}

step() { # step NAME CMD...: time a build step
  local name="$1" t
  shift
  t="$(now)"
  echo "==> [k8s-testenv] $name"
  "$@"
  REPORT+=("$(printf '%-26s %5ss' "$name" "$(($(now) - t))")")
}

# ---------------------------------------------------------------- kubernetes module
k8s_module() {
  cd "$SRC/kubernetes"
  if [[ ! -f go.mod || ! -f .staging-$VERSION ]]; then
    # Staging module list comes from k8s.io/kubernetes' own go.mod (its local replaces).
    local gomod
    gomod="$("${NICE[@]}" "$GO" mod download -json "k8s.io/kubernetes@$VERSION" |
      sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
    [[ -f "$gomod" ]] || { echo "build-testenv: cannot download k8s.io/kubernetes@$VERSION" >&2; return 1; }
    {
      printf 'module iarnet.local/k8s-testenv\n\ngo 1.24.0\n\n'
      grep -oE '^[[:space:]]*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk '{print $1}' | sort -u |
        while read -r m; do echo "replace $m => $m $STAGING_VERSION"; done
    } >go.mod
    rm -f go.sum
    touch ".staging-$VERSION"
  fi
  echo "    $(grep -c '^replace' go.mod) staging modules replaced at $STAGING_VERSION"
}

k8s_get() {
  cd "$SRC/kubernetes"
  local pkgs=()
  for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c@$VERSION"); done
  "${NICE[@]}" "$GO" get "${pkgs[@]}"
}

k8s_build() {
  local c="$1" date
  cd "$SRC/kubernetes"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$date"
  done
  "${NICE[@]}" "$GO" build -trimpath -ldflags "$ld" -o "$BIN/.$c.tmp" "k8s.io/kubernetes/cmd/$c"
  mv -f "$BIN/.$c.tmp" "$BIN/$c"
}

# ---------------------------------------------------------------- etcd module
etcd_build() {
  cd "$SRC/etcd"
  if [[ ! -f go.mod || ! -f ".etcd-$ETCD_VERSION" ]]; then
    printf 'module iarnet.local/etcd-testenv\n\ngo 1.24.0\n' >go.mod
    rm -f go.sum
    "${NICE[@]}" "$GO" get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    touch ".etcd-$ETCD_VERSION"
  fi
  "${NICE[@]}" "$GO" build -trimpath -ldflags "-s -w" -o "$BIN/.etcd.tmp" go.etcd.io/etcd/server/v3
  mv -f "$BIN/.etcd.tmp" "$BIN/etcd"
}

kwok_build() {
  GOBIN="$BIN/.kwok-gobin" "${NICE[@]}" "$GO" install -trimpath \
    -ldflags "-s -w" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv -f "$BIN/.kwok-gobin/kwok" "$BIN/kwok"
  rmdir "$BIN/.kwok-gobin" 2>/dev/null || true
}

# metrics-server has no replace directives: `go install` works. It pins its own k8s.io
# staging modules (v0.33 for v0.8.0), so it shares little with the kube-apiserver build.
metrics_server_build() {
  GOBIN="$BIN/.metrics-server-gobin" "${NICE[@]}" "$GO" install -trimpath \
    -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION" \
    "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
  mv -f "$BIN/.metrics-server-gobin/metrics-server" "$BIN/metrics-server"
  rmdir "$BIN/.metrics-server-gobin" 2>/dev/null || true
}

# ---------------------------------------------------------------- main
want_k8s=()
for c in $COMPONENTS; do
  case "$c" in
    kube-apiserver | kube-scheduler | kube-controller-manager | kubectl)
      if have "$c"; then echo "==> [k8s-testenv] $c: cached"; else want_k8s+=("$c"); fi
      ;;
  esac
done
if ((${#want_k8s[@]})); then
  lock 9 k8s
  step "k8s module setup" k8s_module
  step "k8s download (go get)" k8s_get "${want_k8s[@]}"
  for c in "${want_k8s[@]}"; do step "build $c" k8s_build "$c"; done
fi
for c in $COMPONENTS; do
  case "$c" in
    etcd) lock 8 etcd; if have etcd; then echo "==> [k8s-testenv] etcd: cached"; else step "build etcd $ETCD_VERSION" etcd_build; fi ;;
    kwok) lock 7 kwok; if have kwok; then echo "==> [k8s-testenv] kwok: cached"; else step "build kwok $KWOK_VERSION" kwok_build; fi ;;
    metrics-server)
      lock 6 metrics-server
      if have metrics-server; then echo "==> [k8s-testenv] metrics-server: cached"
      else step "build metrics-server $METRICS_SERVER_VERSION" metrics_server_build; fi
      ;;
  esac
done

echo
echo "==> [k8s-testenv] done in $(($(now) - T0))s; GOMODCACHE grew $(($(du_mb "$GOMODCACHE_DIR") - MOD0)) MB"
for r in "${REPORT[@]}"; do echo "    $r"; done
for c in $COMPONENTS; do
  [[ -x "$BIN/$c" ]] && printf '    %-24s %4s MB  %s\n' "$c" "$(du_mb "$BIN/$c")" \
    "$("$BIN/$c" --version 2>&1 | head -1)"
done
echo "BIN=$BIN"
