#!/bin/sh
# The agent image's whole tree, built into ROOTFS: the static binary and the
# mount points LinuxKit needs in the image. Used by the Dockerfile (what the
# components push) and by the QEMU tests (the same tree, packed offline).
#   sh agent/build.sh ROOTFS      (GOARCH picks the architecture; default: the host's)
set -eu
out=${1:?usage: build.sh ROOTFS}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")"
mkdir -p "$out/usr/bin"
CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o "$out/usr/bin/i2kit-agent" ./cmd/i2kit-agent
# A readonly LinuxKit service's root is the image's own tree on the VM's
# read-only root: every bind's destination must exist in the image, or runc
# cannot mount it (e2e/NOTES.md, "Logs and the read-only root").
for dir in etc/i2kit etc/ssl/certs run/i2kit var/log proc sys dev tmp; do
  mkdir -p "$out/$dir"
done
: > "$out/etc/i2kit/agent.json"
