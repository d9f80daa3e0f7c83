#!/usr/bin/env bash
# Installs every Debian package cloison needs to build, test and benchmark.
# Idempotent: installs only what is missing. Safe to run as root on a fresh Debian 12.
set -euo pipefail

PKGS=(
  build-essential meson ninja-build pkg-config           # build
  clang libclang-rt-14-dev clang-format                    # libFuzzer harnesses; formatting check
  libfdt-dev device-tree-compiler                          # device tree
  libjansson-dev zlib1g-dev                                # JSON, compressed qcow2 clusters
  libslirp-dev libglib2.0-dev iproute2 iputils-ping        # user-mode NAT; network tests
  e2fsprogs                                                # guest root filesystem image (mkfs.ext4 -d)
  opensbi                                                  # default firmware (fw_dynamic.bin)
  curl ca-certificates xz-utils zstd cpio kmod gpgv debian-archive-keyring  # guest fetch
  python3                                                  # integration test driver
  qemu-system-misc qemu-user qemu-utils                    # peers: system, user-mode, qemu-img
  gcc-riscv64-linux-gnu binutils-riscv64-linux-gnu libc6-dev-riscv64-cross  # riscv64 test programs
  libseccomp-dev libnl-route-3-dev                         # containers: seccomp filter, veth pairs
  busybox-static                                           # containers: the test root filesystem
  libsqlite3-dev python3-prometheus-client bash-completion  # daemon: state DB; /metrics parser (tests); completion
  crun runc                                                # containers: peers for bench/container.sh
  corosync libcpg-dev libvotequorum-dev libgnutls28-dev nftables  # cluster: membership, join channel; tests
  haproxy                                                  # service load balancers (cloison lb)
  help2man                                                 # man pages from the help texts
  libarchive-dev libxml2-dev                               # VM images: archives (export, import, OVA); OVF
  genisoimage                                              # cloud-init NoCloud seeds (cidata ISO)
  debootstrap fdisk openssh-client                         # Debian system image: first stage, GPT (sfdisk); ssh to it
  libpng-dev libvncserver-dev tesseract-ocr                # VM displays: PNG screenshots, VNC; OCR in tests
  libmicrohttpd-dev libwslay-dev                          # remote API: HTTPS (with GnuTLS), WebSocket framing
  novnc openssl chromium python3-websocket                 # web interface: noVNC; xterm.js check; browser tests
  websockify wrk nginx-light                               # bench/web.sh peers: WebSocket proxy, HTTPS load, static TLS
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
echo "setup: (a few minutes on a fresh machine)" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
$SUDO apt-get update -q >/dev/null
if [ -t 2 ]; then # on a terminal, apt's own progress (downloads, then unpacking)
  $SUDO apt-get install -y --no-install-recommends -o Dpkg::Progress-Fancy=1 "${missing[@]}" >&2
else
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: installed ${#missing[@]} packages in $((SECONDS - start)) s" >&2
