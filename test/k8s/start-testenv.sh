#!/usr/bin/env bash
# Start a throwaway Kubernetes control plane on 127.0.0.1 from binaries built by
# build-testenv.sh: etcd (temp data dir) + kube-apiserver (TLS, static tokens, RBAC)
# + kwok (simulated nodes: pods on its nodes go Running; serves pod logs from a file)
# + optionally kube-scheduler / kube-controller-manager / metrics-server.
#
#   test/k8s/start-testenv.sh <state-dir>
#
# Writes into <state-dir>:
#   env          K8S_API_URL, K8S_CA_FILE, K8S_ADMIN_TOKEN, K8S_LIMITED_TOKEN, K8S_LIMITED_USER,
#                KUBECONFIG, K8S_KWOK_LOG_FILE, K8S_PIDS, K8S_IMAGE_PULL_FAIL_PREFIX,
#                K8S_METRICS (1 when metrics.k8s.io is served) (source it)
#   kubeconfig   admin (token) kubeconfig; kubeconfig-limited: the limited token
#   pids         "<name> <pid>" lines (stop-testenv.sh <state-dir> uses them)
#   pki/ logs/   certificates, component logs
# The limited token authenticates as system:serviceaccount:iarnet-test:limited (groups
# system:serviceaccounts, system:serviceaccounts:iarnet-test, system:authenticated) and
# has no RBAC bindings: tests grant what they need.
#
# Pods whose image is under registry.invalid/ never start: kwok reports ErrImagePull, then
# ImagePullBackOff (test/k8s/kwok-pod-stages.yaml; every other pod runs as with kwok's defaults).
#
# Env knobs:
#   IARNET_K8S_BIN             binaries (default: build-testenv.sh --print-bin)
#   IARNET_K8S_PORT            apiserver port (default: a free port)
#   IARNET_K8S_SCHEDULER       1 (default) start kube-scheduler if built; 0 = pods need spec.nodeName
#   IARNET_K8S_CONTROLLER_MANAGER  0 (default) ; 1 = start it (Deployments, default ServiceAccounts)
#   IARNET_K8S_METRICS         0 (default) ; 1 = serve metrics.k8s.io: kwok emulates kubelet resource
#                              metrics (test/k8s/kwok-metrics.yaml: 100m CPU / 64Mi per container unless
#                              the pod's kwok.x-k8s.io/usage-* annotations say otherwise), a real
#                              metrics-server scrapes them and is registered as an APIService
#                              (nodes need the metrics.k8s.io/resource-metrics-path annotation)
#   IARNET_K8S_START_TIMEOUT   seconds to wait for readiness (default 90)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:?usage: start-testenv.sh <state-dir>}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
BIN="${IARNET_K8S_BIN:-$("$HERE/build-testenv.sh" --print-bin)}"
TIMEOUT="${IARNET_K8S_START_TIMEOUT:-90}"
WANT_SCHED="${IARNET_K8S_SCHEDULER:-1}"
WANT_KCM="${IARNET_K8S_CONTROLLER_MANAGER:-0}"
WANT_METRICS="${IARNET_K8S_METRICS:-0}"
T0="$(date +%s%3N)"

for b in etcd kube-apiserver kwok; do
  [[ -x "$BIN/$b" ]] || { echo "start-testenv: $BIN/$b missing (run test/k8s/build-testenv.sh)" >&2; exit 1; }
done
[[ -x "$BIN/kube-scheduler" ]] || WANT_SCHED=0
[[ -x "$BIN/kube-controller-manager" ]] || WANT_KCM=0
# Asked for explicitly: a missing metrics-server is an error, not a quiet downgrade.
if [[ "$WANT_METRICS" == 1 && ! -x "$BIN/metrics-server" ]]; then
  echo "start-testenv: $BIN/metrics-server missing (run test/k8s/build-testenv.sh)" >&2
  exit 1
fi
if [[ -s "$DIR/pids" ]]; then
  echo "start-testenv: $DIR/pids exists; stop that env first (stop-testenv.sh $DIR)" >&2
  exit 1
fi

free_port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
PORT="${IARNET_K8S_PORT:-$(free_port)}"
ETCD_PORT="$(free_port)"
ETCD_PEER_PORT="$(free_port)"
KWOK_PORT="$(free_port)"

PKI="$DIR/pki"
LOGS="$DIR/logs"
mkdir -p "$PKI" "$LOGS"
: >"$DIR/pids"
ETCD_DATA="$(mktemp -d "${TMPDIR:-/tmp}/iarnet-etcd.XXXXXX")"
echo "$ETCD_DATA" >"$DIR/etcd-data-dir"

cleanup_on_error() {
  echo "start-testenv: failed; stopping what was started (logs in $LOGS)" >&2
  for f in "$LOGS"/*.log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done
  "$HERE/stop-testenv.sh" "$DIR" >&2 || true
}
trap cleanup_on_error ERR

# ---------------------------------------------------------------- certificates & tokens
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=iarnet-test-ca" \
  -keyout "$PKI/ca.key" -out "$PKI/ca.crt"
cert() { # cert NAME SUBJ [SAN]
  local n="$1" subj="$2" san="${3:-}"
  ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$PKI/$n.key" -out "$PKI/$n.csr"
  {
    echo "basicConstraints=CA:FALSE"
    echo "keyUsage=digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=serverAuth,clientAuth"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$PKI/$n.ext"
  ossl x509 -req -in "$PKI/$n.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -extfile "$PKI/$n.ext" -out "$PKI/$n.crt"
  rm -f "$PKI/$n.csr" "$PKI/$n.ext"
}
cert apiserver "/CN=kube-apiserver" \
  "IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1"
cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
cert front-proxy-client "/CN=front-proxy-client"
cert kwok "/CN=kwok" "IP:127.0.0.1,DNS:localhost"
# The aggregator dials the APIService's Service (ExternalName localhost) but verifies the name
# <service>.<namespace>.svc.
cert metrics-server "/CN=metrics-server" \
  "DNS:metrics-server.kube-system.svc,DNS:localhost,IP:127.0.0.1"
ossl genrsa -out "$PKI/sa.key" 2048
ossl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub"

tok() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }
ADMIN_TOKEN="$(tok)"
LIMITED_TOKEN="$(tok)"
COMPONENT_TOKEN="$(tok)"
LIMITED_USER="system:serviceaccount:iarnet-test:limited"
cat >"$PKI/tokens.csv" <<EOF
$ADMIN_TOKEN,iarnet-admin,uid-iarnet-admin,"system:masters"
$LIMITED_TOKEN,$LIMITED_USER,uid-iarnet-limited,"system:serviceaccounts,system:serviceaccounts:iarnet-test"
$COMPONENT_TOKEN,iarnet-components,uid-iarnet-components,"system:masters"
EOF
chmod 600 "$PKI"/*.key "$PKI/tokens.csv"

API_URL="https://127.0.0.1:$PORT"
kubeconfig() { # kubeconfig FILE TOKEN
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: iarnet-test
  cluster:
    server: $API_URL
    certificate-authority: $PKI/ca.crt
users:
- name: user
  user:
    token: $2
contexts:
- name: iarnet-test
  context: {cluster: iarnet-test, user: user}
current-context: iarnet-test
EOF
  chmod 600 "$1"
}
kubeconfig "$DIR/kubeconfig" "$ADMIN_TOKEN"
kubeconfig "$DIR/kubeconfig-limited" "$LIMITED_TOKEN"
kubeconfig "$DIR/kubeconfig-components" "$COMPONENT_TOKEN"

start() { # start NAME CMD...
  local name="$1"
  shift
  "$@" >"$LOGS/$name.log" 2>&1 &
  echo "$name $!" >>"$DIR/pids"
  echo "    $name pid $!"
}
wait_for() { # wait_for WHAT CMD...
  local what="$1" deadline=$(($(date +%s) + TIMEOUT))
  shift
  local pid
  pid="$(awk -v n="$what" '$1 == n {print $2}' "$DIR/pids")"
  until "$@" >/dev/null 2>&1; do
    if [[ -n "$pid" && "$(ps -o stat= -p "$pid" 2>/dev/null || echo Z)" == Z* ]]; then
      echo "start-testenv: $what (pid $pid) exited" >&2
      return 1
    fi
    if (($(date +%s) >= deadline)); then
      echo "start-testenv: $what not ready after ${TIMEOUT}s" >&2
      return 1
    fi
    sleep 0.2
  done
}
ms() { echo "$(($(date +%s%3N) - T0))ms"; }

# ---------------------------------------------------------------- etcd
echo "==> [k8s-testenv] starting in $DIR"
start etcd "$BIN/etcd" --name=iarnet-test --data-dir="$ETCD_DATA" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="iarnet-test=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync --log-level=warn
wait_for etcd curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
echo "    etcd ready ($(ms))"

# ---------------------------------------------------------------- kube-apiserver
# Without kube-controller-manager nothing creates default ServiceAccounts nor lifts the
# node.kubernetes.io/not-ready taint that TaintNodesByCondition puts on new Nodes.
ADMISSION=()
[[ "$WANT_KCM" == 1 ]] || ADMISSION=("--disable-admission-plugins=ServiceAccount,TaintNodesByCondition")
start kube-apiserver "$BIN/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$PORT" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --authorization-mode=Node,RBAC "${ADMISSION[@]}" \
  --service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none \
  --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP \
  --requestheader-client-ca-file="$PKI/ca.crt" --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
  --allow-privileged=true --v=1
wait_for kube-apiserver curl -fsS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" "$API_URL/readyz"
echo "    kube-apiserver ready on $API_URL ($(ms))"

# ---------------------------------------------------------------- kwok
KWOK_LOG_FILE="$DIR/kwok-pod.log"
printf '%s stdout F hello from kwok\n%s stdout F iarnet test log line 2\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)" "$(date -u +%Y-%m-%dT%H:%M:%S.000000000Z)" >"$KWOK_LOG_FILE"
cat >"$DIR/kwok.yaml" <<EOF
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: all-pods
spec:
  logs:
  - logsFile: $KWOK_LOG_FILE
    follow: false
EOF
KWOK_CONFIGS=(--config="$DIR/kwok.yaml" --config="$HERE/kwok-pod-stages.yaml")
[[ "$WANT_METRICS" == 1 ]] && KWOK_CONFIGS+=(--config="$HERE/kwok-metrics.yaml")
start kwok "$BIN/kwok" --kubeconfig="$DIR/kubeconfig-components" "${KWOK_CONFIGS[@]}" \
  --manage-all-nodes=true --node-ip=127.0.0.1 --node-port="$KWOK_PORT" \
  --server-address="127.0.0.1:$KWOK_PORT" \
  --tls-cert-file="$PKI/kwok.crt" --tls-private-key-file="$PKI/kwok.key"

if [[ "$WANT_SCHED" == 1 ]]; then
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$DIR/kubeconfig-components" \
    --authentication-kubeconfig="$DIR/kubeconfig-components" \
    --authorization-kubeconfig="$DIR/kubeconfig-components" \
    --bind-address=127.0.0.1 --secure-port="$(free_port)" --leader-elect=false --v=1
fi
if [[ "$WANT_KCM" == 1 ]]; then
  start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$DIR/kubeconfig-components" \
    --authentication-kubeconfig="$DIR/kubeconfig-components" \
    --authorization-kubeconfig="$DIR/kubeconfig-components" \
    --bind-address=127.0.0.1 --secure-port="$(free_port)" --leader-elect=false \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials=false --controllers='*,-nodeipam,-cloud-node-lifecycle' --v=1
fi
wait_for kwok curl -fsSk "https://127.0.0.1:$KWOK_PORT/healthz"
echo "    kwok ready on 127.0.0.1:$KWOK_PORT ($(ms))"

# ---------------------------------------------------------------- metrics-server (opt-in)
if [[ "$WANT_METRICS" == 1 ]]; then
  MS_PORT="$(free_port)"
  # 10 s is metrics-server's shortest resolution; a pod shows up after two scrapes (a CPU rate).
  start metrics-server "$BIN/metrics-server" --kubeconfig="$DIR/kubeconfig-components" \
    --authentication-kubeconfig="$DIR/kubeconfig-components" \
    --authorization-kubeconfig="$DIR/kubeconfig-components" \
    --bind-address=127.0.0.1 --secure-port="$MS_PORT" \
    --tls-cert-file="$PKI/metrics-server.crt" --tls-private-key-file="$PKI/metrics-server.key" \
    --kubelet-preferred-address-types=InternalIP --kubelet-use-node-status-port \
    --kubelet-certificate-authority="$PKI/ca.crt" \
    --metric-resolution=10s --kubelet-request-timeout=5s --v=1
  wait_for metrics-server curl -fsS --cacert "$PKI/ca.crt" "https://127.0.0.1:$MS_PORT/livez"
  # Registered like in a real cluster: the aggregator proxies /apis/metrics.k8s.io to it and checks
  # its certificate against caBundle. No --enable-aggregator-routing: an ExternalName Service is
  # how the aggregator reaches a server outside the (nonexistent) pod network.
  api() { # api METHOD PATH [JSON]
    curl -fsS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
      -H 'Content-Type: application/json' -X "$1" "$API_URL$2" ${3:+--data "$3"} >/dev/null
  }
  api POST /api/v1/namespaces/kube-system/services \
    '{"apiVersion":"v1","kind":"Service","metadata":{"name":"metrics-server","namespace":"kube-system"},
      "spec":{"type":"ExternalName","externalName":"localhost","ports":[{"port":'"$MS_PORT"',"protocol":"TCP"}]}}'
  api POST /apis/apiregistration.k8s.io/v1/apiservices \
    '{"apiVersion":"apiregistration.k8s.io/v1","kind":"APIService","metadata":{"name":"v1beta1.metrics.k8s.io"},
      "spec":{"group":"metrics.k8s.io","version":"v1beta1","groupPriorityMinimum":100,"versionPriority":100,
      "caBundle":"'"$(base64 -w0 <"$PKI/ca.crt")"'",
      "service":{"name":"metrics-server","namespace":"kube-system","port":'"$MS_PORT"'}}}'
  wait_for metrics-server curl -fsS --cacert "$PKI/ca.crt" -H "Authorization: Bearer $ADMIN_TOKEN" \
    "$API_URL/apis/metrics.k8s.io/v1beta1/nodes"
  echo "    metrics-server ready on 127.0.0.1:$MS_PORT, metrics.k8s.io served ($(ms))"
fi

cat >"$DIR/env" <<EOF
K8S_API_URL=$API_URL
K8S_CA_FILE=$PKI/ca.crt
K8S_ADMIN_TOKEN=$ADMIN_TOKEN
K8S_LIMITED_TOKEN=$LIMITED_TOKEN
K8S_LIMITED_USER=$LIMITED_USER
KUBECONFIG=$DIR/kubeconfig
K8S_KWOK_LOG_FILE=$KWOK_LOG_FILE
K8S_PIDS=$DIR/pids
K8S_IMAGE_PULL_FAIL_PREFIX=registry.invalid/
K8S_METRICS=$WANT_METRICS
EOF
trap - ERR
echo "==> [k8s-testenv] up in $(ms): $API_URL  (source $DIR/env)"
cat "$DIR/pids"
