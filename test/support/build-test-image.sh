#!/usr/bin/env bash
# Builds the local test image (default iarnet-test/busybox:latest) from Debian's
# busybox-static: a rootfs holding /bin/busybox plus one link per applet, piped as a
# tar into `docker import`. No registry is involved, so it works offline.
#
#   test/support/build-test-image.sh            # build only if the image is missing
#   test/support/build-test-image.sh --force    # rebuild (re-tag) even if present
#
# Env: IARNET_TEST_IMAGE (image name), BUSYBOX (path to a static busybox binary),
#      DOCKER_HOST / DOCKER (client binary, default `docker` from PATH).
# Used by .ci/run and by test/support/docker-env.ts (ensureTestImage()).
set -euo pipefail

IMAGE="${IARNET_TEST_IMAGE:-iarnet-test/busybox:latest}"
DOCKER="${DOCKER:-docker}"
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h | --help)
      sed -n '2,11p' "$0"
      exit 0
      ;;
    *)
      echo "build-test-image: unknown argument: $arg" >&2
      exit 2
      ;;
  esac
done

log() { echo "[build-test-image] $*" >&2; }

if ! command -v "$DOCKER" >/dev/null 2>&1; then
  log "no docker client ('$DOCKER') in PATH; install docker.io (apt-get install docker.io)"
  exit 1
fi

# Serialise concurrent callers (parallel test files) on one lock.
LOCK="${TMPDIR:-/tmp}/iarnet-build-test-image.lock"
exec 9>"$LOCK"
if command -v flock >/dev/null 2>&1; then
  flock -w 120 9 || {
    log "timed out waiting for $LOCK"
    exit 1
  }
fi

if [[ $FORCE -eq 0 ]] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE already present"
  exit 0
fi

# Find a *static* busybox (the dynamic one from the `busybox` package would not run
# in a rootfs without a libc).
BUSYBOX="${BUSYBOX:-}"
if [[ -z "$BUSYBOX" ]]; then
  for cand in /bin/busybox /usr/bin/busybox; do
    if [[ -x "$cand" ]]; then
      BUSYBOX="$cand"
      break
    fi
  done
fi
if [[ -z "$BUSYBOX" || ! -x "$BUSYBOX" ]]; then
  log "no busybox binary found; install busybox-static (apt-get install busybox-static)"
  exit 1
fi
if command -v ldd >/dev/null 2>&1 && ldd "$BUSYBOX" >/dev/null 2>&1; then
  log "$BUSYBOX is dynamically linked; install busybox-static (it replaces the busybox package)"
  exit 1
fi

ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/iarnet-rootfs.XXXXXX")"
trap 'rm -rf "$ROOTFS"' EXIT

mkdir -p "$ROOTFS"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var/tmp,proc,sys,dev,run}
chmod 1777 "$ROOTFS/tmp" "$ROOTFS/var/tmp"
chmod 700 "$ROOTFS/root"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
chmod 755 "$ROOTFS/bin/busybox"

# One symlink per applet, at the path busybox itself reports (bin/sh, usr/bin/wget, ...).
count=0
while IFS= read -r applet; do
  [[ -z "$applet" || "$applet" == "bin/busybox" ]] && continue
  mkdir -p "$ROOTFS/$(dirname "$applet")"
  [[ -e "$ROOTFS/$applet" ]] || {
    ln -s /bin/busybox "$ROOTFS/$applet"
    count=$((count + 1))
  }
done < <("$BUSYBOX" --list-full)
if [[ ! -e "$ROOTFS/bin/sh" ]]; then
  log "busybox at $BUSYBOX has no sh applet"
  exit 1
fi

cat >"$ROOTFS/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOTFS/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo 'hosts: files dns' >"$ROOTFS/etc/nsswitch.conf"

version="$("$BUSYBOX" 2>/dev/null | sed -n '1s/^BusyBox \(v[^ ]*\).*/\1/p')"
log "importing $IMAGE (busybox ${version:-unknown}, $count applet links) from $BUSYBOX"
tar --numeric-owner --owner=0 --group=0 -C "$ROOTFS" -cf - . |
  "$DOCKER" import \
    --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' \
    --change 'LABEL org.iarnet.test-image=busybox' \
    --message "iarnet test image from busybox-static ${version:-}" \
    - "$IMAGE" >/dev/null
"$DOCKER" image inspect "$IMAGE" --format '{{.Id}}' >/dev/null
log "built $IMAGE"
