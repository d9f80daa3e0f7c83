#!/usr/bin/env bash
# Builds the default guest's busybox userland tree into $1 (used by mkinitramfs.sh and
# mkrootfs.sh).
#
# The init mounts proc/sys/dev, loads the virtio modules present (with their
# dependencies, resolved from modules.dep), prints a marker line and gives a shell
# on the console. With root=DEV on the kernel command line it mounts DEV (rw unless
# `ro`) and continues with the same init from there. Kernel parameters become init's
# environment:
#   cloison_poweroff=1   power off right after the marker (boot benchmarks)
#   cloison_task=TAG     run run.sh from the 9p share TAG, write its exit status there, power off
set -euo pipefail

CACHE=${CLOISON_CACHE:-$HOME/.cache/cloison}
G=$CACHE/guest
WANT="virtio_mmio virtio_blk virtio_net virtio_rng virtio_console virtio_balloon vmw_vsock_virtio_transport 9pnet_virtio 9p isofs crc32c_generic ext4"
# Loaded only when the board has a display (a virtio GPU): DRM is large and slow to load, so these stay
# xz-compressed in the initramfs (5.5 MiB unpacked would cost every guest that much RAM) and are unpacked
# one at a time when used.
DISPLAY_WANT="virtio_gpu virtio_input evdev"
# Shipped but not loaded at boot: kvm (needs the hypervisor extension; `insmod /lib/modules/kvm.ko`).
OPTIONAL="kvm"
r=$1
[ -f "$G/.complete" ] || { echo "guest tree: run tools/guest/fetch.sh first" >&2; exit 1; }
mkdir -p "$r"/{bin,sbin,etc,proc,sys,dev,tmp,root,mnt,lib/modules/display,usr/bin,usr/sbin}
cp "$G/busybox" "$r/bin/busybox"; chmod 755 "$r/bin/busybox"
# clnet: a TCP throughput tool (busybox nc moves 1 KiB per system call).
riscv64-linux-gnu-gcc -static -O2 -s -o "$r/usr/bin/clnet" "$(dirname "$0")/clnet.c"
# cloison-agent: the guest agent (src/agent), reached by the host over vsock.
src=$(cd "$(dirname "$0")/../../src" && pwd)
riscv64-linux-gnu-gcc -static -O2 -s -Wall -I "$src" -o "$r/usr/sbin/cloison-agent" "$src/agent/agent.c" "$src/agent/proto.c"

# Resolve dependencies in load order (deps first), then decompress the .ko files.
declare -A seen=()
order=()
add_mod() {
  local path=$1 line dep
  [ -n "${seen[$path]:-}" ] && return
  seen[$path]=1
  line=$(grep -E "^${path}:" "$G/modules/modules.dep" || true)
  for dep in ${line#*:}; do add_mod "$dep"; done
  order+=("$path")
}
for m in $WANT; do
  p=$(grep -E "/${m//_/[-_]}\.ko(\.xz|\.zst)?:" "$G/modules/modules.dep" | head -n1 | cut -d: -f1 || true)
  [ -n "$p" ] && add_mod "$p"   # absent means built in
done
: > "$r/etc/modules.order"
# Decompresses module $1 (a modules.dep path) into lib/modules; prints its file name.
install_mod() {
  local name
  name=$(basename "$1"); name=${name%.xz}; name=${name%.zst}
  case "$1" in
    *.xz) xz -dc "$G/modules/$1" > "$r/lib/modules/$name" ;;
    *.zst) zstd -qdc "$G/modules/$1" > "$r/lib/modules/$name" ;;
    *) cp "$G/modules/$1" "$r/lib/modules/$name" ;;
  esac
  echo "$name"
}
for p in "${order[@]}"; do install_mod "$p" >> "$r/etc/modules.order"; done
order=()
for m in $DISPLAY_WANT; do
  p=$(grep -E "/${m//_/[-_]}\.ko(\.xz|\.zst)?:" "$G/modules/modules.dep" | head -n1 | cut -d: -f1 || true)
  [ -n "$p" ] && add_mod "$p"   # (what the others already load is skipped: seen)
done
: > "$r/etc/display.order"
for p in "${order[@]}"; do
  name=$(basename "$p"); name=${name%.xz}; name=${name%.zst}
  case "$p" in
    *.xz) cp "$G/modules/$p" "$r/lib/modules/display/$name.xz" ;;
    *.zst) zstd -qdc "$G/modules/$p" | xz -c > "$r/lib/modules/display/$name.xz" ;;
    *) xz -c "$G/modules/$p" > "$r/lib/modules/display/$name.xz" ;;
  esac
  echo "$name" >> "$r/etc/display.order"
done
for m in $OPTIONAL; do
  p=$(grep -E "/${m}\.ko(\.xz|\.zst)?:" "$G/modules/modules.dep" | head -n1 | cut -d: -f1 || true)
  [ -n "$p" ] && install_mod "$p" > /dev/null
done

cat > "$r/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s 2>/dev/null
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
# (Once: the init on a root disk finds them loaded by the initramfs' init.)
[ -n "$CLOISON_ON_ROOT" ] || for m in $(cat /etc/modules.order); do insmod /lib/modules/$m 2>/dev/null; done
# A display (virtio device 16, the GPU): its driver, the console on it (fbcon), input devices.
if [ -z "$CLOISON_ON_ROOT" ] && grep -qx 0x0010 /sys/bus/virtio/devices/*/device 2>/dev/null; then
  for m in $(cat /etc/display.order); do
    xzcat /lib/modules/display/$m.xz > /tmp/$m && insmod /tmp/$m 2>/dev/null; rm -f /tmp/$m
  done
fi
# root=DEV on the kernel command line: mount it and continue there (once).
root=$(sed -n 's/.*\broot=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$root" ] && [ -z "$CLOISON_ON_ROOT" ]; then
  mode=rw; grep -qw ro /proc/cmdline && mode=ro
  for i in $(seq 50); do [ -b "$root" ] && break; sleep 0.1; done
  mkdir -p /newroot
  if mount -o $mode "$root" /newroot; then
    echo "cloison-guest: root on $root ($mode)"
    umount /dev/pts /dev /sys /proc
    export CLOISON_ON_ROOT=1
    exec switch_root /newroot /init
  fi
  echo "cloison-guest: cannot mount $root; staying in the initramfs"
fi
hostname cloison-guest
ip link set lo up
# eth0: cloison_ip=A.B.C.D/N (static), cloison_ip=off, or DHCP (the default when there is an eth0).
ipcfg=$(sed -n 's/.*\bcloison_ip=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -e /sys/class/net/eth0 ] && [ "$ipcfg" != off ]; then
  ip link set eth0 up
  if [ -n "$ipcfg" ]; then
    ip addr add "$ipcfg" dev eth0
  else
    udhcpc -i eth0 -q -n -t 5 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1
  fi
  echo "cloison-guest: eth0 $(ip -4 -o addr show dev eth0 | awk '{print $4}')"
fi
# The guest agent (cloison exec, graceful stop, file copy): once, from the initramfs or the root disk.
[ -c /dev/vsock ] || [ -d /sys/bus/virtio/drivers/vmw_vsock_virtio_transport ] && cloison-agent
echo "cloison-guest: userspace ready ($(nproc) cpus)"
# cloison_task=TAG: a batch job (the image builders' second stage). The 9p share TAG holds run.sh;
# it runs with the share as its directory, its exit status goes to TAG's status file, then power off.
task=$(sed -n 's/.*\bcloison_task=\([^ ]*\).*/\1/p' /proc/cmdline)
if [ -n "$task" ] && [ -z "$CLOISON_ON_ROOT" ]; then
  mkdir -p /task
  if mount -t 9p -o trans=virtio,version=9p2000.L "$task" /task; then
    (cd /task && sh ./run.sh); echo $? > /task/status
    umount /task
  else
    echo "cloison-guest: cannot mount the task share $task"
  fi
  sync; poweroff -f
fi
# A root disk can bring its own service: /etc/cloison-rc runs in the background (the cluster tests'
# writer is one).
if [ -x /etc/cloison-rc ]; then setsid /etc/cloison-rc </dev/null >/dev/console 2>&1 & fi
if [ -n "$cloison_poweroff" ]; then poweroff -f; fi
# A second shell on the virtio console (hvc0), when the board has one. Like a getty's
# "askfirst" it starts at the first Enter typed there, silently: both consoles print on the
# same terminal, and a shell starting by itself would interleave with ttyS0's output.
if [ -c /dev/hvc0 ]; then
  (while true; do setsid sh -c 'read -r _ && exec sh -l' </dev/hvc0 >/dev/hvc0 2>&1 || sleep 1; done) &
fi
# A shell on the screen (tty1) when there is one, as a getty would start.
if [ -e /sys/class/graphics/fb0 ]; then
  (while true; do setsid sh -c 'exec sh -l <>/dev/tty1 >&0 2>&1' || sleep 1; done) &
fi
while true; do setsid cttyhack sh -l; done
INIT
chmod 755 "$r/init"
echo 'export PS1="guest# "' > "$r/etc/profile"
cat > "$r/etc/udhcpc.script" <<'DHCP'
#!/bin/sh
# busybox udhcpc hook: configure the interface from the lease.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via ${router%% *} dev "$interface"
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done ;;
esac
exit 0
DHCP
chmod 755 "$r/etc/udhcpc.script"
