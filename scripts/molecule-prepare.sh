#!/usr/bin/env bash
# Make this machine able to run the molecule scenarios, idempotently:
#   1. the container engine (podman with runc, which works where crun does not: cgroup v1 without
#      systemd) and debootstrap, from Debian's packages, with a containers.conf drop-in;
#   2. the scenarios' image, built locally from a Debian rootfs (no container registry is
#      reachable here), skipped when an image built from the same inputs already exists.
#
# Environment:
#   BENCH_MOLECULE_DRIVER  podman (default) or docker: which engine imports the image. With docker,
#                    step 1 is skipped (install docker yourself); the image is the same.
#   BENCH_MOLECULE_IMAGE   image name (default localhost/channels-bench-molecule:bookworm).
#   DEBIAN_MIRROR    mirror debootstrap and the image's apt use (default http://deb.debian.org/debian);
#   DEBIAN_SECURITY_MIRROR likewise for bookworm-security.
#   FORCE_REBUILD=1  rebuild the image even when it is current.
set -euo pipefail
script=$(readlink -f "$0")
cd "$(dirname "$script")/.."

driver=${BENCH_MOLECULE_DRIVER:-podman}
image=${BENCH_MOLECULE_IMAGE:-localhost/channels-bench-molecule:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
suite=bookworm

# What Ansible and the verifier need inside the container, tini (a PID 1 that reaps the zombies
# daemons leave when they double-fork and that stops on SIGTERM), and the shared libraries that
# the host's pyenv CPython 3.6 (bind-mounted read-only by the python_stack scenarios) links against.
image_packages=(
  python3 python3-venv python3-apt
  iproute2 procps curl sudo ca-certificates apt-utils init-system-helpers lsb-base tini
  libssl3 libffi8 libsqlite3-0 libbz2-1.0 liblzma5 libreadline8 libncursesw6 libnsl2
  libexpat1 libtirpc3 libuuid1 zlib1g
)
# The engine packages, all from Debian (slirp4netns and uidmap serve rootless users too), and
# rsync, which the testproject role's synchronize runs on the controller.
host_packages=(podman runc conmon netavark aardvark-dns iptables slirp4netns uidmap
  fuse-overlayfs catatonit debootstrap rsync)
label=org.channels-bench.image-inputs

log() { echo "molecule-prepare: $*"; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    log "$1 needs root (run it once with sudo)" >&2
    exit 1
  fi
}

install_host_packages() {
  local wanted=("$@") missing=() package
  for package in "${wanted[@]}"; do
    dpkg-query -W -f '${Status}\n' "$package" 2>/dev/null | grep -q '^install ok installed$' \
      || missing+=("$package")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  need_root "installing ${missing[*]}"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

configure_podman() {
  # A drop-in, so that the distribution's containers.conf stays untouched. runc because crun fails
  # on this cgroup layout; cgroupfs and file events because there is no systemd; ulimits under
  # the machine's own hard limits (the platforms also set them, for engines without this file).
  local dropin=/etc/containers/containers.conf.d/50-channels-bench.conf want
  want=$(cat <<'EOF'
# Written by scripts/molecule-prepare.sh (channels-bench molecule scenarios).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
)
  if [ ! -f "$dropin" ] || [ "$(cat "$dropin")" != "$want" ]; then
    need_root "writing $dropin"
    mkdir -p "$(dirname "$dropin")"
    printf '%s\n' "$want" > "$dropin"
    log "wrote $dropin"
  fi
}

host_ca_bundle=/etc/ssl/certs/ca-certificates.crt

# Write each PEM certificate of bundle $1 that bundle $2 lacks into directory $3, one per file
# (update-ca-certificates links one certificate per file); print how many.
extra_certificates() {
  python3 - "$1" "$2" "$3" <<'PY'
import pathlib
import re
import sys

def certificates(path: str) -> list[str]:
    with open(path, encoding="ascii", errors="replace") as bundle:
        text = bundle.read()
    pattern = r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----"
    return ["\n".join(line.strip() for line in block.splitlines()) for block in re.findall(pattern, text, re.S)]

known = set(certificates(sys.argv[2]))
extra = [block for block in certificates(sys.argv[1]) if block not in known]
for number, block in enumerate(extra, start=1):
    pathlib.Path(sys.argv[3], f"channels-bench-host-{number}.crt").write_text(block + "\n")
print(len(extra))
PY
}

image_inputs_hash() {
  # The image is rebuilt when what goes into it changes: its packages, the build steps (the
  # functions' bodies), the suite, the mirrors, or the certificates the host trusts.
  {
    echo "${image_packages[*]} $suite $mirror $security_mirror $label"
    declare -f build_image extra_certificates
    cat "$host_ca_bundle" 2>/dev/null || true
  } | sha256sum | cut -c1-16
}

build_image() {
  local want have old_id rootfs
  want=$(image_inputs_hash)
  have=$("$driver" image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)
  old_id=$("$driver" image inspect --format '{{ .Id }}' "$image" 2>/dev/null || true)
  if [ "$have" = "$want" ] && [ "${FORCE_REBUILD:-0}" != 1 ]; then
    log "image $image is current ($want)"
    return 0
  fi
  need_root "debootstrap"
  log "building $image from a Debian $suite rootfs (inputs $want; takes a few minutes)"
  rootfs=$(mktemp -d /var/tmp/channels-bench-rootfs.XXXXXX)
  # shellcheck disable=SC2064  # expand now: the path is fixed
  trap "rm -rf '$rootfs'" EXIT
  debootstrap --variant=minbase --include="$(IFS=,; echo "${image_packages[*]}")" \
    "$suite" "$rootfs" "$mirror" > "$rootfs.log" 2>&1 || {
    tail -n 30 "$rootfs.log" >&2
    rm -f "$rootfs.log"
    exit 1
  }
  rm -f "$rootfs.log"
  # Trust what the host trusts: where a TLS-inspecting proxy's CA is in the host's bundle (as on
  # this machine), apt over https, pip and npm in the container need it too.
  if [ -f "$host_ca_bundle" ]; then
    local added
    added=$(extra_certificates "$host_ca_bundle" "$rootfs$host_ca_bundle" \
      "$rootfs/usr/local/share/ca-certificates")
    if [ "$added" -gt 0 ]; then
      # (rehash warns about the bundle file itself; the exit status still counts)
      chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
      log "added $added certificate(s) the host trusts beyond Debian's"
    fi
  fi
  # A throwaway test container needs no fsync per unpacked file nor documentation: dpkg then
  # installs Debian's npm (some 400 node-* packages, which the loadtest role pulls) far faster.
  printf '%s\n' force-unsafe-io 'path-exclude=/usr/share/doc/*' 'path-exclude=/usr/share/man/*' \
    'path-exclude=/usr/share/info/*' > "$rootfs/etc/dpkg/dpkg.cfg.d/90-molecule-speedup"
  # pip and node carry their own CA lists: point them at the system's.
  printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$rootfs/etc/pip.conf"
  # Updates and security too, so that the roles install current packages.
  cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security_mirror $suite-security main
EOF
  # Package lists as of the build: the roles' apt tasks (cache_valid_time) refresh them when they
  # are older than they allow, as on any host. Emptied lists with a fresh mtime would look current.
  chroot "$rootfs" apt-get -o APT::Sandbox::User=root update -qq
  # The engine provides these at run time; downloaded packages only make the image bigger.
  rm -f "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/*
  tar --numeric-owner --xattrs -C "$rootfs" -c . \
    | "$driver" import $([ "$driver" = podman ] && echo --quiet) \
        --change "LABEL $label=$want" \
        --change 'CMD ["/usr/bin/tini", "--", "sleep", "infinity"]' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
        - "$image" >/dev/null
  # The image it replaces, unless a container still uses it.
  if [ -n "$old_id" ]; then
    "$driver" rmi "$old_id" >/dev/null 2>&1 || true
  fi
  log "built $image"
}

if [ "$driver" = podman ]; then
  install_host_packages "${host_packages[@]}"
  configure_podman
else
  install_host_packages debootstrap rsync
  command -v "$driver" >/dev/null || { log "$driver is not installed" >&2; exit 1; }
fi
build_image
