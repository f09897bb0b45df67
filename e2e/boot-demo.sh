#!/usr/bin/env bash
# e2e/boot-demo.sh: build a small, production-shaped LinuxKit config into
# kernel+initrd from the offline cache of e2e/offline-cache.sh, boot it under
# QEMU software emulation (TCG), and wait until its busybox httpd service
# answers on a forwarded loopback port with the page baked in through `files:`.
#
#   bash e2e/boot-demo.sh                 # runs offline-cache.sh first (fast when cached)
#   I2KIT_DEMO_PORT=18080 bash e2e/boot-demo.sh
#   I2KIT_DEMO_MEM=256 I2KIT_DEMO_TIMEOUT=180 I2KIT_DEMO_SMP=1 bash e2e/boot-demo.sh
#   I2KIT_DEMO_VOLUME=1 ...               # stateful variant: blank data disk, format + mount onboot
#   I2KIT_DEMO_CONFIG=x.yml I2KIT_DEMO_EXPECT=text ...  # boot that config instead (a blank data
#                                         # disk is attached when it uses linuxkit/format)
#   I2KIT_DEMO_KEEP=1 ...                 # leave the VM running (prints how to stop it)
#
# Exit 0 when the page was served; the serial log and build outputs stay in
# $I2KIT_CACHE/boot-demo/ (kept on failure too, with the log's tail printed).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${I2KIT_CACHE:-$HOME/.cache/i2kit}
OUT=$CACHE/boot-demo
SMP=${I2KIT_DEMO_SMP:-1}
TIMEOUT=${I2KIT_DEMO_TIMEOUT:-180}
PAGE="hello from the i2kit boot demo: files: baked page"

say() { printf '[boot-demo] %s\n' "$*" >&2; }

if [ "${I2KIT_DEMO_SKIP_CACHE:-0}" != 1 ]; then
  bash "$HERE/offline-cache.sh" >/dev/null
fi
[ -s "$CACHE/env.sh" ] || { say "no $CACHE/env.sh: run e2e/offline-cache.sh"; exit 1; }
# shellcheck disable=SC1091
. "$CACHE/env.sh"
command -v qemu-system-x86_64 >/dev/null || { say "qemu-system-x86_64 missing: run e2e/offline-cache.sh"; exit 1; }
# The runc-only stand-in fits in 256 MiB; with real containerd in the initrd
# (I2KIT_STANDIN_RUNTIME=containerd) the unpacked initramfs alone is ~130 MiB.
if grep -q "runtime of the containerd stand-in: containerd" "$CACHE/images.lock" 2>/dev/null; then
  MEM=${I2KIT_DEMO_MEM:-512}
else
  MEM=${I2KIT_DEMO_MEM:-256}
fi

PORT=${I2KIT_DEMO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
rm -rf "$OUT"; mkdir -p "$OUT/build"
YML=$OUT/demo.yml
SERIAL=$OUT/serial.log

# A normal LinuxKit config, shaped like the ones i2kit renders: pinned base
# images by tag, the app image by digest, sysctl + dhcpcd onboot, one service
# on the host network with a file baked in through `files:` and bound in.
# With I2KIT_DEMO_VOLUME=1 it is a stateful one: a blank data disk, format +
# mount onboot (as i2kit renders for named volumes), and the service serves
# its page from the mounted volume, adding the volume's filesystem type.
VOLUME=${I2KIT_DEMO_VOLUME:-0}
CONFIG=${I2KIT_DEMO_CONFIG:-}
if [ -n "$CONFIG" ]; then
  # boot a given config instead (e.g. one i2kit rendered); success = the body contains I2KIT_DEMO_EXPECT
  EXPECT=${I2KIT_DEMO_EXPECT:?with I2KIT_DEMO_CONFIG, set I2KIT_DEMO_EXPECT to a string the page must contain}
  cp "$CONFIG" "$YML"
else
{
cat <<EOF
kernel:
  image: $I2KIT_IMG_KERNEL
  cmdline: "console=ttyS0"
init:
  - $I2KIT_IMG_INIT
  - $I2KIT_IMG_RUNC
  - $I2KIT_IMG_CONTAINERD
  - $I2KIT_IMG_CA
onboot:
  - name: sysctl
    image: $I2KIT_IMG_SYSCTL
  - name: dhcpcd
    image: $I2KIT_IMG_DHCPCD
    command: ["/sbin/dhcpcd", "--nobackground", "-f", "/dhcpcd.conf", "-1"]
EOF
if [ "$VOLUME" = 1 ]; then cat <<EOF
  - name: format
    image: $I2KIT_IMG_FORMAT
  - name: mount
    image: $I2KIT_IMG_MOUNT
    command: ["/usr/bin/mountie", "/var/lib/i2kit"]
EOF
fi
cat <<EOF
services:
  - name: web
    image: $I2KIT_APP_IMAGE
    net: host
    capabilities:
      - CAP_NET_BIND_SERVICE
    binds:
      - /etc/i2kit/files/web:/www:ro
EOF
if [ "$VOLUME" = 1 ]; then cat <<'EOF'
      - /var/lib/i2kit:/data
    command: ["/bin/sh", "-c", "mkdir -p /data/www && { cat /www/index.html; echo \"volume: $(busybox awk '$2==\"/data\" {print $3}' /proc/mounts)\"; } > /data/www/index.html && exec /bin/httpd -f -v -p 8080 -h /data/www"]
EOF
fi
cat <<EOF
files:
  - path: etc/i2kit/files/web/index.html
    contents: "$PAGE\n"
    mode: "0644"
EOF
} > "$YML"
fi
DISK=()
if [ "$VOLUME" = 1 ] || [ "${I2KIT_DEMO_DISK:-0}" = 1 ] || grep -q "linuxkit/format" "$YML"; then
  truncate -s 64M "$OUT/data.img"
  DISK=(-drive "file=$OUT/data.img,format=raw,if=virtio")
fi

say "linuxkit build --format kernel+initrd (offline cache $LINUXKIT_CACHE)"
t0=$(date +%s.%N)
"$LINUXKIT" build -q --cache "$LINUXKIT_CACHE" --format kernel+initrd --name demo --dir "$OUT/build" "$YML"
t1=$(date +%s.%N)
KERNEL=$OUT/build/demo-kernel INITRD=$OUT/build/demo-initrd.img CMDLINE=$(cat "$OUT/build/demo-cmdline")
ksz=$(stat -c %s "$KERNEL"); isz=$(stat -c %s "$INITRD")

say "booting: qemu-system-x86_64 TCG, -m $MEM, -smp $SMP, 127.0.0.1:$PORT -> guest :8080"
qemu-system-x86_64 -accel tcg -m "$MEM" -smp "$SMP" -nographic -monitor none -no-reboot \
  -serial "file:$SERIAL" \
  -kernel "$KERNEL" -initrd "$INITRD" -append "$CMDLINE" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:8080" -device virtio-net-pci,netdev=n0,romfile= \
  -device virtio-rng-pci "${DISK[@]}" \
  > "$OUT/qemu.out" 2>&1 &
QPID=$!
echo "$QPID" > "$OUT/qemu.pid"
tboot=$(date +%s.%N)
stop_qemu() {
  if kill -0 "$QPID" 2>/dev/null; then kill "$QPID" 2>/dev/null || true; wait "$QPID" 2>/dev/null || true; fi
}
[ "${I2KIT_DEMO_KEEP:-0}" = 1 ] || trap stop_qemu EXIT

ok=0
while :; do
  now=$(date +%s.%N)
  if awk -v a="$tboot" -v b="$now" -v t="$TIMEOUT" 'BEGIN{exit !(b-a>t)}'; then break; fi
  if ! kill -0 "$QPID" 2>/dev/null; then say "QEMU exited early"; break; fi
  if grep -aq -e "Initramfs unpacking failed" -e "Kernel panic" "$SERIAL" 2>/dev/null; then
    say "guest failed: $(grep -a -m1 -e "Initramfs unpacking failed" -e "Kernel panic" "$SERIAL" | tr -d '\r') (too little memory for the initrd? -m $MEM)"
    break
  fi
  body=$(curl -fsS --max-time 2 "http://127.0.0.1:$PORT/" 2>/dev/null || true)
  if [ -n "$CONFIG" ]; then
    case "$body" in *"$EXPECT"*) ok=1; tready=$now; break ;; esac
  elif [ "$VOLUME" = 1 ]; then
    case "$body" in "$PAGE"$'\n'"volume: ext"*) ok=1; tready=$now; break ;; esac
  elif [ "$body" = "$PAGE" ]; then ok=1; tready=$now; break; fi
  sleep 0.5
done

if [ "$ok" != 1 ]; then
  say "FAILED: no page on 127.0.0.1:$PORT within ${TIMEOUT}s; serial log kept: $SERIAL"
  tail -n 40 "$SERIAL" >&2 || true
  cat "$OUT/qemu.out" >&2 || true
  exit 1
fi

# memory as the stand-in init reports it on the console (MemTotal - MemAvailable)
mem=""
for _ in $(seq 1 30); do
  mem=$(grep -a "i2kit-standin: mem after services settled" "$SERIAL" | tail -1 | sed 's/.*: //' || true)
  [ -n "$mem" ] && break
  sleep 0.5
done
[ -n "$mem" ] || mem=$(grep -a "i2kit-standin: init.d done" "$SERIAL" | tail -1 | sed 's/.*; mem //' || true)
kready=$(grep -a "i2kit-standin: init.d done at uptime" "$SERIAL" | tail -1 | sed 's/.*uptime \([0-9.]*\)s.*/\1/' || true)

awk -v b0="$t0" -v b1="$t1" -v s="$tboot" -v r="$tready" -v k="$ksz" -v i="$isz" -v mem="$mem" -v ku="${kready:-?}" -v port="$PORT" -v m="$MEM" 'BEGIN{
  printf "boot-demo: OK  page served on 127.0.0.1:%s\n", port
  printf "  linuxkit build (offline):   %.1f s\n", b1-b0
  printf "  boot to ready (QEMU start -> first good HTTP answer, TCG): %.1f s  (guest uptime at init.d done: %s s)\n", r-s, ku
  printf "  kernel %.1f MB + initrd %.1f MB = %.1f MB\n", k/1048576, i/1048576, (k+i)/1048576
  printf "  guest memory (-m %s): %s\n", m, mem
}'
say "serial log: $SERIAL"
if [ "${I2KIT_DEMO_KEEP:-0}" = 1 ]; then say "VM left running: kill $QPID"; fi
