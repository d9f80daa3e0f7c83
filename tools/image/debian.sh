#!/usr/bin/env bash
# debian.sh — builds the Debian riscv64 system image (`cloison image build debian`).
#
# Usage: debian.sh CLOISON_BINARY [SUITE]   (SUITE defaults to trixie)
# Prints the path of the result: a cloison image archive (docs/images.md) holding
#   disk.qcow2  GPT, one ext4 partition (root, label "root") with /boot, 4 GiB virtual;
#   kernel      U-Boot (S-mode ELF, Debian's u-boot-qemu): it reads the disk's
#               /boot/extlinux/extlinux.conf (u-boot-menu), so the guest boots its own kernel
#               and initramfs and keeps booting the new ones after `apt upgrade`;
#   manifest.json, SHA256SUMS.
# The system: systemd, udev, apt (sources: this host's Debian archive), openssh-server,
# cloud-init (NoCloud only: without a seed it stays off), systemd-networkd with DHCP on every
# ethernet interface, systemd-resolved, sudo, and cloison-agent (src/agent) as a service.
#
# Route: debootstrap's first stage here (no riscv64 code runs on the host), the filesystem
# made from that tree with mkfs.ext4 -d, then the second stage and the configuration run
# inside a cloison VM: the default guest's kernel and initramfs with the disk as vda and a
# 9p share holding the job (cloison_task=, tools/guest/tree.sh). No binfmt, no qemu-user.
#
# Cached: $CLOISON_CACHE/images/debian-SUITE-KEY.cloison, KEY the digest of this recipe, archive.sh and
# of the agent's sources; debootstrap's downloads in $CLOISON_CACHE/debootstrap.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
export LC_ALL=C

log() { echo "image-build: $*" >&2; }
die() { echo "image-build: error: $*" >&2; exit 1; }

CLOISON=${1:?usage: debian.sh CLOISON_BINARY [SUITE]}
export CLOISON_GUEST_SUITE=${2:-trixie}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src" && pwd)
. "$here/../guest/archive.sh"

case $SUITE in
  trixie) VERSION=13 ;;
  forky) VERSION=14 ;;
  *) die "suite $SUITE: this recipe knows trixie and forky" ;;
esac
DISK_SIZE_MIB=4096
# (python3-cffi-backend: debootstrap does not resolve the virtual package python3-cryptography needs.)
PACKAGES=systemd-sysv,udev,dbus,apt,openssh-server,cloud-init,python3-cffi-backend,linux-image-riscv64,initramfs-tools,u-boot-menu,systemd-resolved,iproute2,sudo,netbase,ca-certificates,e2fsprogs,kmod,procps,less,libnss-myhostname

key=$(cat "$0" "$here/../guest/archive.sh" "$src/agent/agent.c" "$src/agent/proto.c" "$src/agent/proto.h" | sha256sum | cut -c1-16)
OUT=$CACHE/images/debian-$SUITE-$key.cloison
if [ -f "$OUT" ] && [ -z "${CLOISON_REBUILD:-}" ]; then echo "$OUT"; exit 0; fi
command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/setup.sh installs it)"
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
[ -f "$CACHE/guest/Image" ] && [ -f "$CACHE/guest/initrd.gz" ] || die "the default guest is missing: run make guest"
mkdir -p "$CACHE/images" "$CACHE/debootstrap"
T0=$SECONDS

WORK=$(mktemp -d "$CACHE/images/build.XXXXXX")
trap 'umount "$WORK/root/proc" 2>/dev/null || true; rm -rf "$WORK"' EXIT
root=$WORK/root

archive_index # sets MIRROR from the apt sources, verifies the suite's index
SECURITY=$(security_uri)

# ---- stage 1, on the host ----
log "debootstrap first stage: $SUITE riscv64 from $MIRROR"
if ! debootstrap --foreign --arch=riscv64 --variant=minbase --components=main --keyring="$KEYRING" \
     --cache-dir="$CACHE/debootstrap" --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" > "$WORK/stage1.log" 2>&1; then
  tail -n 20 "$WORK/stage1.log" >&2; die "debootstrap's first stage failed"
fi
log "first stage done in $((SECONDS - T0)) s ($(du -sm "$root" | cut -f1) MiB)"

# The guest agent, cross-built static (no library of the image's needed).
riscv64-linux-gnu-gcc -static -O2 -s -Wall -I "$src" -o "$root/usr/sbin/cloison-agent" \
  "$src/agent/agent.c" "$src/agent/proto.c" || die "cannot build cloison-agent for riscv64"

UUID=$(cat /proc/sys/kernel/random/uuid)
echo "UUID=$UUID / ext4 rw,discard,errors=remount-ro 0 1" > "$root/etc/fstab"
echo debian > "$root/etc/hostname"
# The configuration, run in the image once the second stage has installed everything.
cat > "$root/root/cloison-configure.sh" <<CONFIGURE
#!/bin/sh
set -ex
export DEBIAN_FRONTEND=noninteractive LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin
rm -f /etc/apt/sources.list
cat > /etc/apt/sources.list.d/debian.sources <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
if [ -n "$SECURITY" ]; then cat >> /etc/apt/sources.list.d/debian.sources <<EOF

Types: deb
URIs: $SECURITY
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
fi
# The machine's own name resolves through nss-myhostname (whatever a clone or cloud-init makes it).
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' > /etc/hosts
grep -q '^hosts:.*myhostname' /etc/nsswitch.conf || sed -i 's/^hosts:.*/& myhostname/' /etc/nsswitch.conf
echo LANG=C.UTF-8 > /etc/default/locale
# Network: DHCP on every ethernet interface; names through systemd-resolved.
cat > /etc/systemd/network/80-cloison-dhcp.network <<EOF
[Match]
Type=ether
Name=en* eth*

[Network]
DHCP=yes
EOF
systemctl enable systemd-networkd.service systemd-resolved.service
# network-online: one interface up is enough, and a VM without any waits 20 s, not 2 minutes, and
# does not count it as a failure.
mkdir -p /etc/systemd/system/systemd-networkd-wait-online.service.d
cat > /etc/systemd/system/systemd-networkd-wait-online.service.d/cloison.conf <<EOF
[Service]
ExecStart=
ExecStart=-/usr/lib/systemd/systemd-networkd-wait-online --any --timeout=20
EOF
ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
# cloud-init reads a NoCloud seed (a disk labelled cidata) or an OpenStack config drive, nothing
# else: without one ds-identify turns it off (no network probing, no boot delay). (With a single
# entry ds-identify would not look, and cloud-init would fail every boot without a seed.)
cat > /etc/cloud/cloud.cfg.d/90-cloison.cfg <<EOF
datasource_list: [ NoCloud, ConfigDrive ]
locale: C.UTF-8
EOF
# The guest agent.
cat > /etc/systemd/system/cloison-agent.service <<EOF
[Unit]
Description=cloison guest agent (cloison exec, file copy, shutdown, identity)
Documentation=https://github.com/ (docs/agent.md in cloison)
After=systemd-modules-load.service

[Service]
ExecStartPre=-/usr/sbin/modprobe vmw_vsock_virtio_transport
ExecStart=/usr/sbin/cloison-agent --foreground
Restart=on-failure
RestartSec=2

[Install]
WantedBy=multi-user.target
EOF
systemctl enable cloison-agent.service
# Host keys are made on each copy's first boot (cloud-init does it when it runs; this unit
# when it does not), never shipped in the image.
cat > /etc/systemd/system/cloison-ssh-keygen.service <<EOF
[Unit]
Description=SSH host keys for this machine
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
EOF
systemctl enable cloison-ssh-keygen.service
rm -f /etc/ssh/ssh_host_*
apt-get clean
rm -f /var/lib/apt/lists/*_* /etc/dpkg/dpkg.cfg.d/cloison-build
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id
rm -f /root/cloison-configure.sh
CONFIGURE
chmod 755 "$root/root/cloison-configure.sh"
# Set before the second stage, so the kernel's installation makes the initramfs and the boot menu
# once and right (files of our own, not the packages' conffiles). U-Boot reads
# /boot/extlinux/extlinux.conf, which u-boot-menu rewrites at each kernel install (root= from fstab).
# (U_BOOT_FDT_DIR: no such directory, so U-Boot hands the kernel the board's device tree.)
mkdir -p "$root/etc/u-boot-menu/conf.d" "$root/etc/initramfs-tools/conf.d" "$root/usr/share/initramfs-tools/modules.d"
cat > "$root/etc/u-boot-menu/conf.d/cloison.conf" <<EOF
U_BOOT_PROMPT="0"
U_BOOT_TIMEOUT="1"
U_BOOT_PARAMETERS="rw console=ttyS0 quiet"
U_BOOT_FDT_DIR="/boot/dtbs/"
EOF
# The initramfs holds only what mounts the root on cloison's board (virtio-mmio, ext4).
echo MODULES=list > "$root/etc/initramfs-tools/conf.d/cloison"
printf 'virtio_mmio\nvirtio_blk\next4\ncrc32c_generic\n' > "$root/usr/share/initramfs-tools/modules.d/cloison"
# The second stage looks packages up in the suite's whole index with grep (60 MB, minutes under
# emulation): leave it the stanzas of the packages it installs.
want=$(cat "$root/debootstrap/required" "$root/debootstrap/base" | tr '\n' ' ')
for f in "$root"/var/lib/apt/lists/*_Packages; do
  [ -f "$f" ] || die "no package index in the first stage's tree"
  awk -v want="$want" '
    BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) keep[w[i]] = 1 }
    /^Package: / { on = ($2 in keep) }
    on { print }' "$f" > "$f.cloison" && mv "$f.cloison" "$f"
done
# dpkg skips its fsyncs while the image is built (the VM's disk ignores flushes anyway).
mkdir -p "$root/etc/dpkg/dpkg.cfg.d"; echo force-unsafe-io > "$root/etc/dpkg/dpkg.cfg.d/cloison-build"

# ---- the disk: GPT, one partition from 1 MiB, the ext4 made from the tree ----
disk=$WORK/disk.raw
truncate -s "${DISK_SIZE_MIB}M" "$disk"
printf 'label: gpt\nstart=2048, type=0FC63DAF-8483-4772-8F69-7D84798DE709, name=root, attrs=LegacyBIOSBootable\n' |
  sfdisk -q "$disk" || die "sfdisk failed"
mkfs.ext4 -q -L root -U "$UUID" -d "$root" -E offset=$((1 << 20)) "$disk" $(((DISK_SIZE_MIB - 2) * 1024))k ||
  die "mkfs.ext4 failed"
rm -rf "$root"

# ---- stage 2, in a cloison VM ----
task=$WORK/task
mkdir -p "$task"
cat > "$task/run.sh" <<'RUN'
set -e
mkdir -p /target
mount -t ext4 /dev/vda1 /target
mount -t proc proc /target/proc
mount -t sysfs sysfs /target/sys
mount --bind /dev /target/dev
mount -t devpts devpts /target/dev/pts
echo "image-build: second stage"
if ! chroot /target /debootstrap/debootstrap --second-stage; then
  cp /target/debootstrap/debootstrap.log /task/ 2>/dev/null; exit 1
fi
echo "image-build: configuration"
chroot /target /root/cloison-configure.sh
# (debootstrap may have unmounted some of them already; /target's own umount below checks.)
for m in /target/dev/pts /target/dev /target/sys /target/proc; do umount "$m" 2>/dev/null || true; done
fstrim /target 2>/dev/null || true
umount /target
echo "image-build: done"
RUN
LOG=$CACHE/images/debian-$SUITE-build.log
log "second stage in a cloison VM (minutes; log: $LOG; a look inside:" \
    "cloison exec --sock $WORK/api.sock -- ps -ef)"
t1=$SECONDS
"$CLOISON" run -m 2G -c 2 --api-sock "$WORK/api.sock" --balloon off --disk "$disk,format=raw,cache=unsafe" --share "$task:task" \
  --append "console=ttyS0 quiet cloison_task=task" </dev/null 2>&1 |
  while IFS= read -r line; do printf '%4d %s\n' $((SECONDS - t1)) "$line"; done > "$LOG" ||
  { tail -n 30 "$LOG" >&2; die "the build VM failed (log: $LOG)"; }
if [ "$(cat "$task/status" 2>/dev/null)" != 0 ]; then
  tail -n 30 "$LOG" >&2
  [ -f "$task/debootstrap.log" ] && tail -n 30 "$task/debootstrap.log" >&2
  die "the second stage failed (status $(cat "$task/status" 2>/dev/null || echo missing); log: $LOG)"
fi
log "second stage done in $((SECONDS - t1)) s"

# ---- the archive ----
out=$WORK/out
mkdir -p "$out"
qemu-img convert -f raw -O qcow2 "$disk" "$out/disk.qcow2" || die "qemu-img convert failed"
rm -f "$disk"
uboot=$(archive_deb u-boot-qemu)
mkdir -p "$WORK/uboot"; dpkg-deb -x "$uboot" "$WORK/uboot"
cp "$WORK/uboot/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf" "$out/kernel"
cat > "$out/manifest.json" <<EOF
{"format": "cloison-image/1", "name": "debian-$VERSION", "version": "$SUITE-$(date -u +%Y%m%d)",
 "os": "Debian GNU/Linux $VERSION ($SUITE)", "architecture": "riscv64",
 "description": "Debian $VERSION with systemd, openssh-server, cloud-init (NoCloud) and cloison-agent; boots its own kernel through U-Boot",
 "cpus": 2, "memory": 1073741824, "boot": {"append": "", "kernel": true, "initrd": false},
 "created_at": $(date +%s)}
EOF
(cd "$out" && sha256sum manifest.json disk.qcow2 kernel > SHA256SUMS &&
 tar --format=ustar --owner=0 --group=0 -cf "$OUT.part" manifest.json disk.qcow2 kernel SHA256SUMS)
mv "$OUT.part" "$OUT"
for old in "$CACHE/images/debian-$SUITE-"*.cloison; do [ "$old" = "$OUT" ] || rm -f "$old"; done # older recipes
log "$OUT ($(du -m "$OUT" | cut -f1) MiB) in $((SECONDS - T0)) s"
echo "$OUT"
