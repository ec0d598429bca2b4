#!/usr/bin/env bash
# Build the `helm` CLI from Go modules (no binary downloads): helm.sh/helm/v3/cmd/helm @ $VERSION.
# Used to render and lint deploy/helm/iarnet in tests (test/integration/helm-chart.test.ts).
#
# Idempotent: the binary lands in $IARNET_K8S_CACHE/helm-<version>/bin/helm (default
# ~/.cache/iarnet-k8s/helm-v3.22.0/bin/helm); if it is already there and runs, nothing is built.
# Go's own caches (GOMODCACHE, GOCACHE) are reused; helm shares most of its dependencies
# (k8s.io/client-go, apimachinery, ...) with build-testenv.sh.
#
#   test/k8s/build-helm.sh               build if missing; prints timings
#   test/k8s/build-helm.sh --print-bin   only print the path of the helm binary
#
# Env knobs:
#   IARNET_HELM_VERSION     (v3.22.0)  helm.sh/helm/v3 tag
#   IARNET_K8S_CACHE        (~/.cache/iarnet-k8s)
#   IARNET_K8S_BUILD_JOBS   (1)        go build -p; the machine is shared, builds run under nice 19
#   GO                      (go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

VERSION="${IARNET_HELM_VERSION:-v3.22.0}"
JOBS="${IARNET_K8S_BUILD_JOBS:-1}"
CACHE="${IARNET_K8S_CACHE:-$HOME/.cache/iarnet-k8s}/helm-$VERSION"
BIN="$CACHE/bin"
HELM="$BIN/helm"

if [[ "${1:-}" == "--print-bin" ]]; then
  echo "$HELM"
  exit 0
fi
if [[ -n "${1:-}" ]]; then
  echo "usage: build-helm.sh [--print-bin]" >&2
  exit 2
fi
if [[ ! "$VERSION" =~ ^v3\.[0-9]+\.[0-9]+$ ]]; then
  # v4 moved packages around (internal/version, cmd layout); only v3 is wired here.
  echo "build-helm: IARNET_HELM_VERSION must be a v3 tag like v3.22.0 (got $VERSION)" >&2
  exit 2
fi

GO="${GO:-$(command -v go || echo /usr/local/go/bin/go)}"
[[ -x "$GO" ]] || { echo "build-helm: no go toolchain (set GO=)" >&2; exit 1; }

now() { date +%s; }
du_mb() { du -sm "$1" 2>/dev/null | cut -f1 || echo 0; }

mkdir -p "$BIN"
# One build per cache dir at a time (two test runs may call this concurrently).
exec 9>"$CACHE/.build.lock"
flock 9

# Cached when the binary runs and was built by this script's current recipe (no network needed).
RECIPE="$VERSION stamped-k8s-version"
if [[ -x "$HELM" && "$(cat "$BIN/.recipe" 2>/dev/null)" == "$RECIPE" ]] && "$HELM" version --short >/dev/null 2>&1; then
  echo "==> [helm] $VERSION: cached ($("$HELM" version --short))"
echo "HELM=$HELM"
  exit 0
fi

export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false -p=$JOBS"
export GOTOOLCHAIN=local
NICE=(nice -n 19)
GOMODCACHE_DIR="$("$GO" env GOMODCACHE)"
T0="$(now)"
MOD0="$(du_mb "$GOMODCACHE_DIR")"

# The stamps helm's Makefile sets (`go install pkg@version` sets none): the version (the commit
# is unknown: the module proxy does not record it) and, most important, the Kubernetes version `helm template`
# and `helm lint` assume — derived like the Makefile from the client-go in helm's go.mod
# (v0.35.x -> 1.35); unstamped it is 1.20 and charts with kubeVersion >= 1.21 refuse to render.
INFO="$("$GO" mod download -json "helm.sh/helm/v3@$VERSION")"
GOMOD="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$INFO")"
[[ -f "$GOMOD" ]] || { echo "build-helm: cannot download helm.sh/helm/v3@$VERSION" >&2; exit 1; }
CLIENT_GO="$(awk '$1 == "k8s.io/client-go" { print $2; exit }' "$GOMOD")"
if [[ ! "$CLIENT_GO" =~ ^v0\.([0-9]+)\. ]]; then
  echo "build-helm: no k8s.io/client-go v0.X.Y in $GOMOD (got '$CLIENT_GO')" >&2
  exit 1
fi
K8S_MINOR="${BASH_REMATCH[1]}"
LD="-s -w -X helm.sh/helm/v3/internal/version.version=$VERSION"
LD+=" -X helm.sh/helm/v3/internal/version.metadata= -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in pkg/lint/rules pkg/chartutil; do
  LD+=" -X helm.sh/helm/v3/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/$p.k8sVersionMinor=$K8S_MINOR"
done

echo "==> [helm] go install helm.sh/helm/v3/cmd/helm@$VERSION"
GOBIN="$BIN/.gobin" "${NICE[@]}" "$GO" install -trimpath -ldflags "$LD" "helm.sh/helm/v3/cmd/helm@$VERSION"
mv -f "$BIN/.gobin/helm" "$HELM"
echo "$RECIPE" >"$BIN/.recipe"
rmdir "$BIN/.gobin" 2>/dev/null || true

echo
echo "==> [helm] done in $(($(now) - T0))s; GOMODCACHE grew $(($(du_mb "$GOMODCACHE_DIR") - MOD0)) MB"
printf '    helm %4s MB  %s\n' "$(du_mb "$HELM")" "$("$HELM" version --short 2>&1 | head -1)"
echo "    assumes Kubernetes 1.$K8S_MINOR (k8s.io/client-go $CLIENT_GO)"
echo "HELM=$HELM"
