#!/usr/bin/env bash
# Stop an env started by start-testenv.sh <state-dir>: only the pids it recorded
# (reverse start order; TERM, then KILL after 10 s), then remove etcd's temp data dir.
#   test/k8s/stop-testenv.sh <state-dir>
set -uo pipefail
DIR="${1:?usage: stop-testenv.sh <state-dir>}"
PIDS="$DIR/pids"
[[ -f "$PIDS" ]] || { echo "stop-testenv: no $PIDS" >&2; exit 0; }

mapfile -t LINES < <(tac "$PIDS")
# Alive and not a zombie (PID 1 on some CI machines does not reap orphans).
alive() {
  local st
  st="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
  [[ -n "$st" && "$st" != Z* ]]
}
for l in "${LINES[@]}"; do
  read -r name pid <<<"$l"
  [[ -n "${pid:-}" ]] && alive "$pid" && kill -TERM "$pid" 2>/dev/null && echo "stop-testenv: TERM $name ($pid)"
done
deadline=$(($(date +%s) + 10))
for l in "${LINES[@]}"; do
  read -r name pid <<<"$l"
  [[ -n "${pid:-}" ]] || continue
  while alive "$pid" && (($(date +%s) < deadline)); do sleep 0.1; done
  if alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null && echo "stop-testenv: KILL $name ($pid)"
  fi
done
rm -f "$PIDS"
if [[ -f "$DIR/etcd-data-dir" ]]; then
  d="$(cat "$DIR/etcd-data-dir")"
  [[ "$d" == */iarnet-etcd.* && -d "$d" ]] && rm -rf "$d"
  rm -f "$DIR/etcd-data-dir"
fi
echo "stop-testenv: stopped"
