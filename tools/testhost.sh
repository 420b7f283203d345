#!/usr/bin/env bash
# Test-host machinery: a Docker engine and Debian images that run systemd as PID 1, one per suite:
# Debian 12 (bookworm, the default) and Debian 13 (trixie), tagged pyops-uwsgi-testhost:SUITE.
#
#   tools/testhost.sh up [SUITE...]  use a running Docker engine, or install Debian's docker.io and
#                            start dockerd ourselves; build each suite's test-host image once (cached);
#                            every suite unless some are named.
#   tools/testhost.sh down   stop the dockerd that `up` started (nothing else is touched).
#   tools/testhost.sh run NAME [SUITE]  start a test host container NAME from SUITE's image
#                            (default bookworm; replacing a container of that name) and wait until
#                            its systemd is running.
#   tools/testhost.sh image [SUITE]  print the image name (default bookworm).
#
# Each image is built the same way from debootstrap (no image registry is needed) and carries the
# host's extra CA certificates, so HTTPS from inside works behind a TLS-intercepting proxy.
# Facts behind the flags: see docs/tests.md, "Test hosts".
set -euo pipefail

STATE_DIR=${PYOPS_UWSGI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pyops-uwsgi}
DOCKER_ROOT=$STATE_DIR/docker
PIDFILE=$STATE_DIR/dockerd.pid
# The image repository; each suite is a tag of it.
IMAGE_REPO=${PYOPS_UWSGI_TESTHOST_REPO:-pyops-uwsgi-testhost}
# Bump when the image recipe below changes, so cached images are rebuilt.
IMAGE_REVISION=1
# The suites `up` builds; the first is the default of `run` and `image`. debootstrap 1.0.128 (Debian
# 12's) knows trixie (its scripts/trixie links to sid's) and Debian 12's debian-archive-keyring holds
# the trixie signing keys, so both suites build with the same command.
SUITES="bookworm trixie"
DEFAULT_SUITE=${SUITES%% *}
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,sudo,procps,iproute2
# Units that make no sense in a container.
MASKED_UNITS="getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service
systemd-remount-fs.service sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount
systemd-modules-load.service systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer
e2scrub_all.timer fstrim.timer"

log() { printf '[testhost] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

engine_up() {
  if docker info >/dev/null 2>&1; then
    log "using the running Docker engine"
    return
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing Debian's docker.io"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  mkdir -p "$STATE_DIR"
  log "starting dockerd (data in $DOCKER_ROOT)"
  as_root sh -c "nohup dockerd --data-root '$DOCKER_ROOT' --exec-root /run/pyops-uwsgi-docker \
      --pidfile '$PIDFILE' >'$STATE_DIR/dockerd.log' 2>&1 &"
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return
    sleep 1
  done
  log "dockerd did not answer within 60 s; its log:"
  tail -n 30 "$STATE_DIR/dockerd.log" >&2
  exit 1
}

# Print the PEM blocks of bundle $1 that neither bundle $2 nor the *.crt files under dir $4 hold, one
# file per block, into dir $3. Dir $4 is what the build machine's own ca-certificates package ships:
# only the machine's local additions are copied, never a root that the image's (newer) ca-certificates
# dropped on purpose (trixie's drops TrustCor and E-Tugra, which Debian 12's bundle still holds).
extra_certs() {
  python3 - "$1" "$2" "$3" "$4" <<'PY'
import pathlib, re, sys
pem = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
host = pem.findall(pathlib.Path(sys.argv[1]).read_text())
image = set(pem.findall(pathlib.Path(sys.argv[2]).read_text()))
for shipped in pathlib.Path(sys.argv[4]).glob("**/*.crt"):
    image.update(pem.findall(shipped.read_text()))
out = pathlib.Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
extra = [c for c in host if c not in image]
for i, cert in enumerate(extra):
    (out / f"testhost-host-ca-{i}.crt").write_text(cert + "\n")
print(len(extra))
PY
}

# The image of suite $1 (exits when the suite is not one of SUITES).
image_name() {
  case " $SUITES " in
    *" $1 "*) echo "$IMAGE_REPO:$1" ;;
    *) echo "unknown suite '$1' (known: $SUITES)" >&2; exit 2 ;;
  esac
}

image_build() {
  local suite=$1 image want="$IMAGE_REVISION" started=$SECONDS
  image=$(image_name "$suite")
  if [ "$(docker image inspect -f '{{ index .Config.Labels "pyops.revision" }}' "$image" 2>/dev/null)" = "$want" ]; then
    log "image $image is cached"
    return
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  local work rootfs
  work=$(mktemp -d "$STATE_DIR/build.XXXXXX")
  rootfs=$work/rootfs
  log "debootstrap $suite into $rootfs (about a minute)"
  # No mirror argument: debootstrap's own default is used unless DEBOOTSTRAP_MIRROR is set.
  as_root debootstrap --variant=minbase --include="$PACKAGES" "$suite" "$rootfs" ${DEBOOTSTRAP_MIRROR:+"$DEBOOTSTRAP_MIRROR"} \
    >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }

  # Trust what the build machine trusts (for example a TLS-intercepting proxy's CA): add the host's
  # extra CAs the Debian way, so ca-certificates keeps them on upgrades.
  local host_bundle=/etc/ssl/certs/ca-certificates.crt
  if [ -r "$host_bundle" ]; then
    local n
    n=$(as_root env PATH="$PATH" bash -c "$(declare -f extra_certs); extra_certs '$host_bundle' '$rootfs/etc/ssl/certs/ca-certificates.crt' '$rootfs/usr/local/share/ca-certificates' /usr/share/ca-certificates/mozilla")
    log "adding $n CA certificate(s) from the build machine"
    as_root chroot "$rootfs" update-ca-certificates >/dev/null
  fi
  for unit in $MASKED_UNITS; do
    as_root ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb
  log "importing the root file system"
  as_root tar -C "$rootfs" -c . | docker import - "$image-base" >/dev/null
  cat >"$work/Dockerfile" <<DOCKERFILE
FROM $image-base
ENV container=docker
LABEL pyops.revision="$want"
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$work" >/dev/null 2>"$work/build.err" \
    || { cat "$work/build.err" >&2; exit 1; }
  docker image rm "$image-base" >/dev/null 2>&1 || true
  as_root rm -rf "$work"
  log "built $image in $((SECONDS - started)) s ($(docker image inspect -f '{{ .Size }}' "$image" | awk '{printf "%d MB", $1/1e6}'))"
}

engine_down() {
  if [ -f "$PIDFILE" ]; then
    local pid
    pid=$(cat "$PIDFILE")
    log "stopping the dockerd we started (pid $pid)"
    as_root kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do as_root kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    as_root rm -f "$PIDFILE"
  fi
}

# The same flags as the platform in .config/molecule/config.yml (keep them in step).
host_run() {
  local name=$1 image
  image=$(image_name "${2:-$DEFAULT_SUITE}")
  docker image inspect "$image" >/dev/null 2>&1 || { log "no image $image: run '$0 up' first"; exit 1; }
  docker rm -f "$name" >/dev/null 2>&1 || true
  docker run -d --name "$name" --hostname "$name" \
    --cap-add SYS_ADMIN --security-opt seccomp=unconfined --cgroupns host \
    -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock \
    "$image" /lib/systemd/systemd >/dev/null
  local state=""
  for _ in $(seq 1 60); do
    state=$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)
    case "$state" in running|degraded) log "test host $name: systemd $state"; return ;; esac
    sleep 0.5
  done
  log "test host $name: systemd did not come up (state: ${state:-none})"
  exit 1
}

case "${1:-}" in
  up) engine_up; shift; # shellcheck disable=SC2086 # SUITES is a space-separated list
      [ $# -gt 0 ] || set -- $SUITES; for suite in "$@"; do image_build "$suite"; done ;;
  down) engine_down ;;
  run) [ -n "${2:-}" ] || { echo "usage: $0 run NAME [SUITE]" >&2; exit 2; }; host_run "$2" "${3:-}" ;;
  image) image_name "${2:-$DEFAULT_SUITE}" ;;
  *) echo "usage: $0 up|down|run NAME [SUITE]|image [SUITE]" >&2; exit 2 ;;
esac
