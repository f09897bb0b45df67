#!/usr/bin/env bash
# e2e/offline-cache.sh: build the offline LinuxKit image cache i2kit's end-to-end
# tests boot from, with no container registry and no Docker.
#
# It installs what it needs (Debian packages, the linuxkit CLI v1.8.2 from the
# Go module proxy), assembles local OCI images that stand in for the LinuxKit
# base images i2kit pins (kernel, init, runc, containerd, ca-certificates,
# sysctl, dhcpcd, format, mount) plus a tiny app image (busybox httpd), and imports them into
# a linuxkit cache under the same names, so that `linuxkit build` of an
# ordinary production config works offline.
#
# Idempotent: a second run reuses the built CLI, images and cache (seconds);
# anything missing or built by an older recipe (this file changed) is rebuilt.
#
#   bash e2e/offline-cache.sh            # build or reuse
#   I2KIT_CACHE=/path bash e2e/offline-cache.sh
#   I2KIT_STANDIN_RUNTIME=containerd ... # services through real containerd (heavier, see NOTES.md)
#   I2KIT_FORCE=1 ...                    # rebuild the images and re-import them
#
# Results: $I2KIT_CACHE/images.lock (name + manifest digest of every image),
#          $I2KIT_CACHE/env.sh (LINUXKIT, LINUXKIT_CACHE, I2KIT_APP_IMAGE ...).
set -euo pipefail

# ---------------------------------------------------------------- stand-in names
# The one place the stand-in names live. Base images: the tags of
# components/linuxkit/images.ts (DEFAULT_BASE_IMAGES), so a config i2kit
# renders builds from this cache unchanged. The stand-ins are NOT the official
# images: same names, our own content (see NOTES.md).
IMG_KERNEL="linuxkit/kernel:6.6.71"
IMG_INIT="linuxkit/init:680da6e6f79bb8236a095147d532cd2160e23c9f"
IMG_RUNC="linuxkit/runc:2dfee46421e963d6c0d946137e46fe36fa606d29"
IMG_CONTAINERD="linuxkit/containerd:838b745e38e43309393675ce3cf04bee9047eb91"
IMG_CA="linuxkit/ca-certificates:a4f15fe71bb0ad7560ff78f48504dd2af500a442"
IMG_SYSCTL="linuxkit/sysctl:2fad4cdf96faa97bf7888696b8c3ca00f98137af"
IMG_DHCPCD="linuxkit/dhcpcd:4681273eeea47c26d980958656e60fe70d49e318"
IMG_FORMAT="linuxkit/format:512d4fb6cd40c1d90a4aa8335d1bd167fa34a10e"
IMG_MOUNT="linuxkit/mount:54906e884b21aca02bf5ecae65f3741b89d8c4e6"
IMG_APP="i2kit/demo-httpd:1"          # the tiny app: busybox httpd on :8080, serving /www
ALL_IMAGES="KERNEL INIT RUNC CONTAINERD CA SYSCTL DHCPCD FORMAT MOUNT APP"

# linuxkit v1.8.2 = commit 43200ea6342590c6806f808b318d7f3a69b0cdd8. The Go proxy
# reachable here refuses the commit-hash query, so the same commit is fetched
# by its pseudo-version (see NOTES.md).
LINUXKIT_COMMIT=43200ea6342590c6806f808b318d7f3a69b0cdd8
LINUXKIT_MODVER=v0.0.0-20250915124940-43200ea63425
LINUXKIT_MOD=github.com/linuxkit/linuxkit/src/cmd/linuxkit

# The stand-ins are made of Debian packages, downloaded and unpacked (not
# installed): the kernel of this metapackage, busybox-static, runc (and
# containerd with I2KIT_STANDIN_RUNTIME=containerd).
KERNEL_META=linux-image-cloud-amd64
# Modules the stand-in kernel image ships and loads at boot (the official
# LinuxKit kernel has these built in; Debian's cloud kernel has them as modules).
KERNEL_MODULES="virtio_pci virtio_net virtio_blk virtio_scsi virtio_console virtio_rng virtio_balloon overlay ena"
STANDIN_RUNTIME=${I2KIT_STANDIN_RUNTIME:-runc}   # how the containerd stand-in runs services: runc | containerd

CACHE=${I2KIT_CACHE:-$HOME/.cache/i2kit}
LK=$CACHE/bin/linuxkit
LKC=$CACHE/linuxkit-cache           # the linuxkit image cache (linuxkit --cache / LINUXKIT_CACHE)
OCI=$CACHE/oci                      # OCI archives of the stand-ins
WORK=$CACHE/work                    # staging, unpacked debs, stand-in sources
SELF=$(readlink -f "${BASH_SOURCE[0]}")
T0=$(date +%s.%N)

log() { printf '[offline-cache %6.1fs] %s\n' "$(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
full() { # the docker.io-expanded name linuxkit stores an image under
  local first=${1%%/*}
  case "$1" in
    */*/*) echo "$1" ;;
    */*) case "$first" in *.*|*:*|localhost) echo "$1" ;; *) echo "docker.io/$1" ;; esac ;;
    *) echo "docker.io/library/$1" ;;
  esac
}
img() { local v="IMG_$1"; echo "${!v}"; }
slug() { echo "$1" | tr 'A-Z' 'a-z'; }

APT_UPDATED=0
apt_update_once() { [ "$APT_UPDATED" = 1 ] && return; log "apt-get update"; apt-get update -qq >/dev/null || die "apt-get update failed"; APT_UPDATED=1; }
apt_install() { # apt_install pkg... (installs only the missing ones)
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  apt_update_once
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

# ---------------------------------------------------------------- host tools
ensure_host_tools() {
  [ "$(id -u)" = 0 ] || die "run as root (apt-get, and image trees with root-owned files)"
  command -v apt-get >/dev/null || die "needs a Debian/Ubuntu host (apt-get)"
  local pkgs=(qemu-system-x86 ca-certificates curl)
  command -v python3 >/dev/null || pkgs+=(python3)
  apt_install "${pkgs[@]}"
  command -v go >/dev/null || die "needs Go >= 1.22 on PATH (linuxkit v1.8.2 asks for go 1.24.2; with GOTOOLCHAIN=auto go fetches that toolchain from the module proxy)"
  [ -s /etc/ssl/certs/ca-certificates.crt ] || die "/etc/ssl/certs/ca-certificates.crt missing"
}

# ---------------------------------------------------------------- linuxkit CLI
ensure_linuxkit() {
  if [ -x "$LK" ] && [ "$(cat "$LK.commit" 2>/dev/null)" = "$LINUXKIT_COMMIT" ]; then
    log "linuxkit: reusing $LK ($("$LK" version 2>/dev/null | head -1))"; return
  fi
  local ldflags="-s -w -X $LINUXKIT_MOD/version.Version=v1.8.2 -X $LINUXKIT_MOD/version.GitCommit=$LINUXKIT_COMMIT"
  local dir
  mkdir -p "$CACHE/bin" "$WORK/empty"
  rm -f "$LK.commit"
  log "linuxkit: go install $LINUXKIT_MOD@$LINUXKIT_COMMIT (v1.8.2)"
  if ! (cd "$WORK/empty" && GOFLAGS='' GOBIN="$CACHE/bin" go install -trimpath -ldflags "$ldflags" "$LINUXKIT_MOD@$LINUXKIT_COMMIT") 2>"$WORK/go-install.err"; then
    # The Go proxy reachable here refuses the commit-hash query (403) and the
    # module's version list (which `go install mod@version` reads for its
    # deprecation check). So: download the same commit by its pseudo-version
    # and build it as the main module, whose go.mod/go.sum pin every
    # dependency. The sum database does not know this pseudo-version either,
    # so it is skipped for this one module (its dependencies are still checked).
    log "linuxkit: that failed ($(tail -1 "$WORK/go-install.err" | cut -c1-120)...); building $LINUXKIT_MODVER, the same commit"
    dir=$(cd "$WORK/empty" && GOFLAGS='' GONOSUMDB=$LINUXKIT_MOD \
          go mod download -json "$LINUXKIT_MOD@$LINUXKIT_MODVER" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
      || die "go mod download $LINUXKIT_MOD@$LINUXKIT_MODVER failed"
    (cd "$dir" && GOFLAGS='' GOBIN="$CACHE/bin" go install -trimpath -ldflags "$ldflags" .) || die "building linuxkit failed"
  fi
  "$LK" version | grep -q "$LINUXKIT_COMMIT" || die "built linuxkit does not report $LINUXKIT_COMMIT"
  echo "$LINUXKIT_COMMIT" > "$LK.commit"
  log "linuxkit: built $LK"
}

# ---------------------------------------------------------------- Debian packages
# fetch_deb PKG -> unpacks into $WORK/deb/PKG, prints that dir
fetch_deb() {
  local pkg=$1 ver file dest=$WORK/deb/$1
  ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then apt_update_once; ver=$(apt-cache policy "$pkg" | awk '/Candidate:/ {print $2}'); fi
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no Debian package $pkg"
  mkdir -p "$CACHE/debs"
  file=$(ls "$CACHE/debs/${pkg}_"*"_amd64.deb" 2>/dev/null | while read -r f; do [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && echo "$f"; done | head -1)
  if [ -z "$file" ]; then
    log "apt-get download $pkg=$ver"
    (cd "$CACHE/debs" && apt-get download -qq "$pkg=$ver" 2>/dev/null) || { apt_update_once; (cd "$CACHE/debs" && apt-get download -qq "$pkg=$ver"); } || die "apt-get download $pkg failed"
    file=$(ls "$CACHE/debs/${pkg}_"*"_amd64.deb" | while read -r f; do [ "$(dpkg-deb -f "$f" Version)" = "$ver" ] && echo "$f"; done | head -1)
  fi
  if [ ! -f "$dest/.from" ] || [ "$(cat "$dest/.from")" != "$(basename "$file")" ]; then
    rm -rf "$dest"; mkdir -p "$dest"; dpkg-deb -x "$file" "$dest"; basename "$file" > "$dest/.from"
  fi
  echo "$dest"
}

# ---------------------------------------------------------------- stand-in sources
write_sources() {
  mkdir -p "$WORK/src/standin"
  cat > "$WORK/src/standin/go.mod" <<'EOF'
module i2kit.local/standin

go 1.22
EOF
  cat > "$WORK/src/standin/main.go" <<'EOF'
// i2kit stand-in for the Go tools of linuxkit/init (init, service).
// Not LinuxKit code: a small re-implementation, stdlib only, of what the
// official binaries do with the layout `linuxkit build` writes:
//
//	/init                  copy the initramfs into a tmpfs, move it to /, exec /sbin/init
//	/etc/init.d/010-onboot  run /containers/onboot/* in order with runc, waiting for each
//	/etc/init.d/020-containerd  start /containers/services/* (runc, or containerd+ctr if present)
//	/usr/bin/service [system-init|onboot|onshutdown|services|ls]
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	runcBin      = "/usr/bin/runc"
	ctrBin       = "/usr/bin/ctr"
	containerdBn = "/usr/bin/containerd"
	// Where LinuxKit's service tool writes logs when no memlogd runs (its
	// runc.go and cmd.go): onboot and onshutdown under /run/log/<kind>
	// (linked from /var/log/<kind> once they are done), services in /var/log.
	runLogDir = "/run/log"
	varLogDir = "/var/log"
)

// fileLog is LinuxKit's file log sink (pkg/init/cmd/service/logging.go):
// the log named n is the file <dir>/<n>.log.
type fileLog struct{ dir string }

func (f fileLog) path(n string) string { return filepath.Join(f.dir, n+".log") }

// create empties or creates the log, as LinuxKit's Path does before a service starts.
func (f fileLog) create(n string) (*os.File, error) {
	if err := os.MkdirAll(f.dir, 0755); err != nil {
		return nil, err
	}
	return os.OpenFile(f.path(n), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0644)
}

// dump copies the log to the console (init's stdout), as LinuxKit's Dump does.
func (f fileLog) dump(n string) {
	in, err := os.Open(f.path(n))
	if err != nil {
		fmt.Printf("Error writing %s to console: %v\n", f.path(n), err)
		return
	}
	defer in.Close()
	_, _ = io.Copy(os.Stdout, in)
}

// symlink makes link point at the log directory (LinuxKit: /var/log/onboot -> /run/log/onboot).
func (f fileLog) symlink(link string) {
	if err := os.MkdirAll(filepath.Dir(link), 0755); err != nil {
		logf("log link %s: %v", link, err)
	} else if err := os.Symlink(f.dir, link); err != nil && !os.IsExist(err) {
		logf("log link %s: %v", link, err)
	}
}

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "[standin %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "service" && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	_ = args
	switch name {
	case "init":
		initMain()
	case "010-onboot", "onboot":
		os.Exit(runOnce("/containers/onboot", "onboot"))
	case "010-onshutdown", "onshutdown":
		os.Exit(runOnce("/containers/onshutdown", "onshutdown"))
	case "020-containerd", "services":
		os.Exit(startServices())
	case "system-init":
		st := runOnce("/containers/onboot", "onboot")
		if s := startServices(); s != 0 {
			st = s
		}
		os.Exit(st)
	case "ls":
		for _, d := range []string{"/containers/onboot", "/containers/services"} {
			ents, _ := os.ReadDir(d)
			for _, e := range ents {
				fmt.Println(filepath.Join(d, e.Name()))
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "usage: service system-init|onboot|onshutdown|services|ls (called as %q)\n", name)
		os.Exit(2)
	}
}

// ---------------------------------------------------------------- /init

func initMain() {
	var sfs syscall.Statfs_t
	if err := syscall.Statfs("/", &sfs); err != nil {
		logf("statfs /: %v", err)
	} else if sfs.Type == 0x858458f6 || sfs.Type == 0x01021994 { // ramfs, tmpfs
		if err := copyRoot("/mnt"); err != nil {
			logf("copy root failed: %v", err)
			time.Sleep(5 * time.Second)
			os.Exit(1)
		}
	}
	err := syscall.Exec("/sbin/init", []string{"/sbin/init"}, os.Environ())
	logf("exec /sbin/init: %v", err)
	os.Exit(1)
}

func setMeta(path string, st *syscall.Stat_t, mode os.FileMode, isLink bool) error {
	if err := os.Lchown(path, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if !isLink {
		if err := syscall.Chmod(path, uint32(st.Mode&07777)); err != nil {
			return err
		}
		ts := []syscall.Timespec{st.Atim, st.Mtim}
		_ = syscall.UtimesNano(path, ts)
	}
	return nil
}

// copyRoot copies the initramfs (one file at a time, deleting each source
// file once copied so memory use stays near one copy) into a tmpfs at
// newRoot, then makes that tmpfs the root: runc needs pivot_root, which an
// initramfs root does not allow.
func copyRoot(newRoot string) error {
	var rst syscall.Stat_t
	if err := syscall.Lstat("/", &rst); err != nil {
		return err
	}
	if err := syscall.Mount("rootfs", newRoot, "tmpfs", 0, ""); err != nil {
		return err
	}
	buf := make([]byte, 64*1024)
	var dirs []string
	err := filepath.Walk("/", func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		st := info.Sys().(*syscall.Stat_t)
		dest := filepath.Join(newRoot, path)
		if info.IsDir() {
			if path == newRoot {
				return filepath.SkipDir
			}
			if path != "/" {
				if err := os.Mkdir(dest, 0700); err != nil && !os.IsExist(err) {
					return err
				}
			}
			dirs = append(dirs, path)
			if st.Dev != rst.Dev {
				return filepath.SkipDir
			}
			return nil
		}
		if st.Dev != rst.Dev {
			return nil
		}
		mode := info.Mode()
		switch {
		case mode.IsRegular():
			out, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0600)
			if err != nil {
				return err
			}
			in, err := os.Open(path)
			if err != nil {
				out.Close()
				return err
			}
			_, err = io.CopyBuffer(out, in, buf)
			in.Close()
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			_ = os.Remove(path)
			return setMeta(dest, st, mode, false)
		case mode&os.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dest); err != nil {
				return err
			}
			_ = os.Remove(path)
			return setMeta(dest, st, mode, true)
		case mode&(os.ModeDevice|os.ModeNamedPipe) != 0:
			if err := syscall.Mknod(dest, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
			return setMeta(dest, st, mode, false)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// directory metadata last (a read-only directory would block its own copy)
	for i := len(dirs) - 1; i >= 0; i-- {
		var st syscall.Stat_t
		if err := syscall.Lstat(dirs[i], &st); err != nil {
			continue
		}
		_ = setMeta(filepath.Join(newRoot, dirs[i]), &st, 0, false)
	}
	// free what is left of the initramfs, then move the tmpfs onto /
	ents, _ := os.ReadDir("/")
	for _, e := range ents {
		p := "/" + e.Name()
		if p == newRoot {
			continue
		}
		var st syscall.Stat_t
		if syscall.Lstat(p, &st) == nil && st.Dev == rst.Dev {
			_ = os.RemoveAll(p)
		}
	}
	if err := os.Chdir(newRoot); err != nil {
		return err
	}
	if err := syscall.Mount(".", "/", "", syscall.MS_MOVE, ""); err != nil {
		return err
	}
	if err := syscall.Chroot("."); err != nil {
		return err
	}
	return os.Chdir("/")
}

// ---------------------------------------------------------------- runtime.json

type mount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type,omitempty"`
	Source      string   `json:"source,omitempty"`
	Options     []string `json:"options,omitempty"`
}

type runtimeConfig struct {
	Mounts     []mount           `json:"mounts"`
	Mkdir      []string          `json:"mkdir"`
	Cgroups    []string          `json:"cgroups"`
	Interfaces json.RawMessage   `json:"interfaces"`
	BindNS     map[string]string `json:"bindNS"`
	Namespace  *string           `json:"namespace"`
}

var mountFlags = map[string]struct {
	clear bool
	flag  uintptr
}{
	"async": {true, syscall.MS_SYNCHRONOUS}, "atime": {true, syscall.MS_NOATIME},
	"bind": {false, syscall.MS_BIND}, "defaults": {false, 0}, "dev": {true, syscall.MS_NODEV},
	"diratime": {true, syscall.MS_NODIRATIME}, "dirsync": {false, syscall.MS_DIRSYNC},
	"exec": {true, syscall.MS_NOEXEC}, "mand": {false, syscall.MS_MANDLOCK},
	"noatime": {false, syscall.MS_NOATIME}, "nodev": {false, syscall.MS_NODEV},
	"nodiratime": {false, syscall.MS_NODIRATIME}, "noexec": {false, syscall.MS_NOEXEC},
	"nomand": {true, syscall.MS_MANDLOCK}, "norelatime": {true, syscall.MS_RELATIME},
	"nostrictatime": {true, syscall.MS_STRICTATIME}, "nosuid": {false, syscall.MS_NOSUID},
	"private": {false, syscall.MS_PRIVATE}, "rbind": {false, syscall.MS_BIND | syscall.MS_REC},
	"relatime": {false, syscall.MS_RELATIME}, "remount": {false, syscall.MS_REMOUNT},
	"ro": {false, syscall.MS_RDONLY}, "rw": {true, syscall.MS_RDONLY},
	"shared": {false, syscall.MS_SHARED}, "slave": {false, syscall.MS_SLAVE},
	"strictatime": {false, syscall.MS_STRICTATIME}, "suid": {true, syscall.MS_NOSUID},
	"sync": {false, syscall.MS_SYNCHRONOUS}, "unbindable": {false, syscall.MS_UNBINDABLE},
}

func parseOptions(opts []string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok && f.flag != 0 {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
		} else if !ok {
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

func prepare(bundle string) error {
	var rt runtimeConfig
	if b, err := os.ReadFile(filepath.Join(bundle, "runtime.json")); err == nil {
		if err := json.Unmarshal(b, &rt); err != nil {
			return fmt.Errorf("runtime.json: %v", err)
		}
	}
	rootfs := filepath.Join(bundle, "rootfs")
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(rootfs, p)
	}
	for _, m := range rt.Mounts {
		dir := abs(m.Destination)
		if err := os.MkdirAll(dir, 0755); err != nil {
			return err
		}
		for _, o := range m.Options {
			if kv := strings.SplitN(o, "=", 2); len(kv) == 2 && (kv[0] == "upperdir" || kv[0] == "workdir") {
				if err := os.MkdirAll(kv[1], 0755); err != nil {
					return err
				}
			}
		}
		flags, data := parseOptions(m.Options)
		if err := syscall.Mount(m.Source, dir, m.Type, flags, data); err != nil {
			return fmt.Errorf("mount %s on %s (%s %v): %v", m.Source, dir, m.Type, m.Options, err)
		}
	}
	for _, d := range rt.Mkdir {
		if err := os.MkdirAll(abs(d), 0755); err != nil {
			return err
		}
	}
	for _, c := range rt.Cgroups {
		_ = os.MkdirAll(filepath.Join("/sys/fs/cgroup", c), 0755)
	}
	if s := strings.TrimSpace(string(rt.Interfaces)); s != "" && s != "null" && s != "[]" {
		logf("%s: runtime.json interfaces are not supported by the stand-in; ignored", filepath.Base(bundle))
	}
	for ns, p := range rt.BindNS {
		if p != "" {
			logf("%s: runtime.json bindNS.%s is not supported by the stand-in; ignored", filepath.Base(bundle), ns)
		}
	}
	if rt.Namespace != nil && *rt.Namespace != "" {
		logf("%s: runtime.json namespace is not supported by the stand-in; ignored", filepath.Base(bundle))
	}
	return nil
}

func cleanup(bundle string) {
	_ = syscall.Unmount(filepath.Join(bundle, "rootfs"), syscall.MNT_DETACH)
	_ = syscall.Unmount(filepath.Join(bundle, "tmp"), syscall.MNT_DETACH)
}

func bundles(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func nullIn() *os.File {
	f, err := os.Open("/dev/null")
	if err != nil {
		return nil
	}
	return f
}

// runOnce runs each bundle of dir to completion, in order (onboot, onshutdown).
// As LinuxKit's runcInit: stdout to <kind>.<name>.out.log, stderr to
// <kind>.<name>.log under /run/log/<kind>, both copied to the console once
// the container has exited, and /var/log/<kind> linked to that directory.
func runOnce(dir, kind string) int {
	status := 0
	logger := fileLog{filepath.Join(runLogDir, kind)}
	for _, name := range bundles(dir) {
		bundle := filepath.Join(dir, name)
		t0 := time.Now()
		if err := prepare(bundle); err != nil {
			logf("%s %s: prepare: %v", kind, name, err)
			status = 1
			continue
		}
		outLog, errLog := kind+"."+name+".out", kind+"."+name
		stdout, err := logger.create(outLog)
		if err != nil {
			logf("%s %s: log: %v", kind, name, err)
			status = 1
			continue
		}
		stderr, err := logger.create(errLog)
		if err != nil {
			stdout.Close()
			logf("%s %s: log: %v", kind, name, err)
			status = 1
			continue
		}
		cmd := exec.Command(runcBin, "run", "--bundle", bundle, name)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nullIn(), stdout, stderr
		err = cmd.Run()
		stdout.Close()
		stderr.Close()
		logger.dump(outLog)
		logger.dump(errLog)
		if err != nil {
			logf("%s %s: %v (log %s)", kind, name, err, logger.path(errLog))
			status = 1
		} else {
			logf("%s %s: done in %.1fs", kind, name, time.Since(t0).Seconds())
		}
		cleanup(bundle)
	}
	logger.symlink(filepath.Join(varLogDir, kind))
	return status
}

// startServices starts every service bundle detached. With containerd and
// ctr in the image (the "containerd" runtime of the stand-in) it starts
// containerd and creates the tasks through it, as LinuxKit does; otherwise
// it runs them with `runc run -d` directly.
func startServices() int {
	const dir = "/containers/services"
	names := bundles(dir)
	useCtr := false
	if _, err := os.Stat(ctrBin); err == nil {
		if _, err := os.Stat(containerdBn); err == nil {
			useCtr = true
			if err := startContainerd(); err != nil {
				logf("containerd: %v; falling back to runc", err)
				useCtr = false
			}
		}
	}
	status := 0
	logger := fileLog{varLogDir}
	for _, name := range names {
		bundle := filepath.Join(dir, name)
		if err := prepare(bundle); err != nil {
			logf("service %s: prepare: %v", name, err)
			status = 1
			continue
		}
		// LinuxKit (cmd.go): stdout to /var/log/<name>.out.log, stderr to /var/log/<name>.log.
		stdout, err := logger.create(name + ".out")
		if err != nil {
			logf("service %s: log: %v", name, err)
			status = 1
			continue
		}
		stderr, err := logger.create(name)
		if err != nil {
			stdout.Close()
			logf("service %s: log: %v", name, err)
			status = 1
			continue
		}
		var cmd *exec.Cmd
		if useCtr {
			spec, err := absRootSpec(bundle)
			if err != nil {
				logf("service %s: %v", name, err)
				status = 1
				stdout.Close()
				stderr.Close()
				continue
			}
			// ctr has one log file for both streams: stderr's.
			cmd = exec.Command(ctrBin, "--namespace", "services.linuxkit", "run", "--detach",
				"--runtime", "io.containerd.runc.v2", "--log-uri", "file://"+logger.path(name),
				"--config", spec, name)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = nullIn(), os.Stderr, os.Stderr
		} else {
			cmd = exec.Command(runcBin, "run", "--detach", "--bundle", bundle,
				"--pid-file", filepath.Join("/run", "service."+name+".pid"), name)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = nullIn(), stdout, stderr
		}
		if err := cmd.Run(); err != nil {
			// LinuxKit's service tool prints why a task did not start (containerd's
			// error, with runc's message) on the console: runc's message is in the log.
			logger.dump(name)
			logf("service %s: start failed: %v (log %s)", name, err, logger.path(name))
			status = 1
		} else {
			how := "runc"
			if useCtr {
				how = "containerd"
			}
			logf("service %s: started (%s)", name, how)
		}
		stdout.Close()
		stderr.Close()
	}
	return status
}

// absRootSpec writes a copy of the bundle's config.json whose root.path is
// absolute: under containerd the bundle directory is the shim's, not ours.
func absRootSpec(bundle string) (string, error) {
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return "", err
	}
	var spec map[string]interface{}
	if err := json.Unmarshal(b, &spec); err != nil {
		return "", err
	}
	root, _ := spec["root"].(map[string]interface{})
	if root == nil {
		root = map[string]interface{}{}
		spec["root"] = root
	}
	p, _ := root["path"].(string)
	if p == "" {
		p = "rootfs"
	}
	if !filepath.IsAbs(p) {
		root["path"] = filepath.Join(bundle, p)
	}
	out, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	path := filepath.Join("/run", "service."+filepath.Base(bundle)+".spec.json")
	return path, os.WriteFile(path, out, 0600)
}

func startContainerd() error {
	lf, err := fileLog{varLogDir}.create("containerd")
	if err != nil {
		return err
	}
	args := []string{}
	if _, err := os.Stat("/etc/containerd/config.toml"); err == nil {
		args = append(args, "--config", "/etc/containerd/config.toml")
	}
	cmd := exec.Command(containerdBn, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nullIn(), lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	_ = os.WriteFile("/run/containerd.pid", []byte(strconv.Itoa(cmd.Process.Pid)), 0644)
	go func() { _ = cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if exec.Command(ctrBin, "version").Run() == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("containerd did not answer within 60s (log %s)", lf.Name())
}
EOF
  cat > "$WORK/src/mkoci.py" <<'EOF'
#!/usr/bin/env python3
"""Build a single-layer OCI image archive (image-layout tar) from a directory.

Deterministic: sorted entries, uid/gid 0, fixed mtimes, gzip mtime 0, so the
same input tree always gives the same digests. The archive's index.json names
the image twice (by tag and by digest) with the io.containerd.image.name
annotation that `linuxkit cache import` reads.

usage: mkoci.py --rootfs DIR --name docker.io/repo:tag --out FILE.tar
                [--label k=v]... [--entrypoint JSON] [--cmd JSON] [--env K=V]...
prints: <name> <manifest digest>
"""
import argparse, gzip, hashlib, io, json, os, stat, sys, tarfile

EPOCH = 0


def layer_tar(root):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(rel):
            full = os.path.join(root, rel) if rel else root
            for name in sorted(os.listdir(full)):
                r = f"{rel}/{name}" if rel else name
                p = os.path.join(root, r)
                st = os.lstat(p)
                ti = tarfile.TarInfo(r)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                ti.mtime = EPOCH
                ti.mode = stat.S_IMODE(st.st_mode)
                if stat.S_ISDIR(st.st_mode):
                    ti.type = tarfile.DIRTYPE
                    tf.addfile(ti)
                    add(r)
                elif stat.S_ISLNK(st.st_mode):
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = os.readlink(p)
                    tf.addfile(ti)
                elif stat.S_ISREG(st.st_mode):
                    ti.size = st.st_size
                    with open(p, "rb") as f:
                        tf.addfile(ti, f)
                else:
                    sys.exit(f"mkoci: unsupported file type: {p}")
        add("")
    return buf.getvalue()


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rootfs", required=True)
    ap.add_argument("--name", required=True, help="full name, e.g. docker.io/linuxkit/init:tag")
    ap.add_argument("--out", required=True)
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--entrypoint")
    ap.add_argument("--cmd")
    a = ap.parse_args()

    raw = layer_tar(a.rootfs)
    gz = gzip.compress(raw, compresslevel=6, mtime=0)
    cfg = {"Env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
           "WorkingDir": "/"}
    if a.label:
        cfg["Labels"] = dict(l.split("=", 1) for l in a.label)
    if a.entrypoint:
        cfg["Entrypoint"] = json.loads(a.entrypoint)
    if a.cmd:
        cfg["Cmd"] = json.loads(a.cmd)
    config = canon({
        "architecture": "amd64", "os": "linux", "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": [sha(raw)]},
        "history": [{"created_by": "i2kit e2e/offline-cache.sh stand-in"}],
    })
    manifest = canon({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(gz), "size": len(gz)}],
    })
    mdig = sha(manifest)
    repo, tag = a.name.rsplit(":", 1) if ":" in a.name.split("/")[-1] else (a.name, "latest")
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdig, "size": len(manifest),
            "platform": {"architecture": "amd64", "os": "linux"}}
    index = canon({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        dict(desc, annotations={"io.containerd.image.name": f"{repo}:{tag}", "org.opencontainers.image.ref.name": tag}),
        dict(desc, annotations={"io.containerd.image.name": f"{repo}@{mdig}"}),
    ]})

    tmp = a.out + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as out:
        def put(name, data, mode=0o644, dir=False):
            ti = tarfile.TarInfo(name)
            ti.mtime, ti.mode = EPOCH, mode
            if dir:
                ti.type = tarfile.DIRTYPE
                out.addfile(ti)
            else:
                ti.size = len(data)
                out.addfile(ti, io.BytesIO(data))
        put("oci-layout", canon({"imageLayoutVersion": "1.0.0"}))
        put("index.json", index)
        put("blobs", None, 0o755, True)
        put("blobs/sha256", None, 0o755, True)
        for blob in (gz, config, manifest):
            put("blobs/sha256/" + sha(blob).split(":")[1], blob)
    os.replace(tmp, a.out)
    print(f"{repo}:{tag} {mdig} layer={len(gz)} uncompressed={len(raw)}")


if __name__ == "__main__":
    main()
EOF
}

build_standin_bin() {
  log "go build stand-in init/service (static, stdlib only)"
  (cd "$WORK/src/standin" && CGO_ENABLED=0 GOFLAGS='' GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w" -o "$WORK/standin.bin" .) \
    || die "building the stand-in init/service failed"
}

# copy_with_libs BIN DEST_ROOT DEST_PATH: a dynamically linked Debian binary plus the libraries it needs
copy_with_libs() {
  local bin=$1 root=$2 dst=$3 lib
  install -D -m 0755 "$bin" "$root$dst"
  for lib in $(ldd "$bin" | awk '/=>/ {print $3} /^\t\/lib/ {print $1}'); do
    [ -f "$lib" ] || continue
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
}

# busybox_tree ROOT [all]: static busybox at /bin/busybox (+ every applet link with "all", else sh only)
busybox_tree() {
  local root=$1 bb=$BUSYBOX/bin/busybox a
  install -D -m 0755 "$bb" "$root/bin/busybox"
  ln -sf busybox "$root/bin/sh"
  if [ "${2:-}" = all ]; then
    for a in $("$bb" --list-full); do
      [ -e "$root/$a" ] || [ -L "$root/$a" ] && continue
      mkdir -p "$root/$(dirname "$a")"; ln -s /bin/busybox "$root/$a"
    done
  fi
}

base_etc() { # minimal /etc of an Alpine-like base (what alpine-baselayout gives LinuxKit images)
  local root=$1
  mkdir -p "$root/etc" "$root/root" "$root/tmp" "$root/var" "$root/proc" "$root/sys" "$root/dev" "$root/run"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > "$root/etc/passwd"
  printf 'root:x:0:root\nnogroup:x:65534:\n' > "$root/etc/group"
  printf 'root:*::0:::::\n' > "$root/etc/shadow"; chmod 0640 "$root/etc/shadow"
}

stage() { local d=$WORK/rootfs/$1; rm -rf "$d"; mkdir -p "$d"; echo "$d"; }

mkoci() { # mkoci KEY ROOTFS [mkoci.py args...]
  local key=$1 root=$2; shift 2
  local name out
  name=$(full "$(img "$key")"); out=$OCI/$(slug "$key").tar
  python3 "$WORK/src/mkoci.py" --rootfs "$root" --name "$name" --out "$out" "$@" > "$OCI/$(slug "$key").digest.tmp" \
    || die "mkoci $name failed"
  mv "$OCI/$(slug "$key").digest.tmp" "$OCI/$(slug "$key").digest"
  log "built $(cat "$OCI/$(slug "$key").digest")"
}

# ---------------------------------------------------------------- the stand-in images
build_kernel() {
  local kpkg kdeb kver r mods tmp
  kpkg=$(apt-cache depends "$KERNEL_META" 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
  [ -n "$kpkg" ] || { apt_update_once; kpkg=$(apt-cache depends "$KERNEL_META" | awk '/Depends: linux-image-/ {print $2; exit}'); }
  [ -n "$kpkg" ] || die "cannot resolve $KERNEL_META"
  kdeb=$(fetch_deb "$kpkg")
  kver=$(ls "$kdeb/lib/modules" | head -1)
  r=$(stage kernel); tmp=$WORK/kmod; rm -rf "$tmp"; mkdir -p "$tmp/lib/modules"
  cp "$kdeb/boot/vmlinuz-$kver" "$r/kernel"
  # dependency closure of KERNEL_MODULES, from a modules.dep made by busybox depmod
  cp -a "$kdeb/lib/modules/$kver" "$tmp/lib/modules/"
  "$BUSYBOX/bin/busybox" depmod -b "$tmp" "$kver"
  mods=$(awk -v want="$KERNEL_MODULES" '
    function norm(p,  b) { b=p; sub(/.*\//,"",b); sub(/\.ko.*$/,"",b); gsub(/-/,"_",b); return b }
    { sub(/:$/,"",$1); path[norm($1)]=$1; line=$2; for(i=3;i<=NF;i++) line=line" "$i; deps[norm($1)]=line }
    END {
      n=split(want, w, " "); for(i=1;i<=n;i++) q[w[i]]=1
      changed=1; while(changed){ changed=0; for(m in q){ if(!(m in path)) { print "MISSING " m > "/dev/stderr"; delete q[m]; continue }
        k=split(deps[m], d, " "); for(j=1;j<=k;j++){ x=norm(d[j]); if(!(x in q)){ q[x]=1; changed=1 } } } }
      for(m in q) print path[m]
    }' "$tmp/lib/modules/$kver/modules.dep" | sort)
  mkdir -p "$WORK/kt/lib/modules/$kver"; rm -rf "$WORK/kt"; mkdir -p "$WORK/kt/lib/modules/$kver" "$WORK/kt/etc/modules-load.d"
  for m in $mods; do install -D -m 0644 "$tmp/lib/modules/$kver/$m" "$WORK/kt/lib/modules/$kver/$m"; done
  for f in modules.builtin modules.builtin.modinfo modules.order; do [ -f "$kdeb/lib/modules/$kver/$f" ] && cp "$kdeb/lib/modules/$kver/$f" "$WORK/kt/lib/modules/$kver/"; done
  "$BUSYBOX/bin/busybox" depmod -b "$WORK/kt" "$kver"
  printf '# i2kit stand-in kernel (%s): modules the official LinuxKit kernel has built in\n' "$kpkg" > "$WORK/kt/etc/modules-load.d/i2kit-standin-kernel.conf"
  for m in $KERNEL_MODULES; do echo "$m" >> "$WORK/kt/etc/modules-load.d/i2kit-standin-kernel.conf"; done
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$WORK/kt" -cf "$r/kernel.tar" lib etc
  echo "$kpkg $kver" > "$r/kernel.version"
  rm -rf "$tmp"
  mkoci KERNEL "$r"
}

build_init() {
  local r; r=$(stage init)
  busybox_tree "$r" all
  base_etc "$r"
  mkdir -p "$r/usr/bin" "$r/etc/init.d" "$r/etc/ssl/certs" "$r/mnt" "$r/containers" "$r/etc/modules-load.d"
  install -m 0755 "$WORK/standin.bin" "$r/usr/bin/service"
  ln -s usr/bin/service "$r/init"                        # the kernel runs /init: copy rootfs to tmpfs, exec /sbin/init
  cat > "$r/etc/inittab" <<'EOF'
# i2kit stand-in for linuxkit/init's inittab
::sysinit:/bin/rc.init
::ctrlaltdel:/bin/rc.shutdown reboot
::shutdown:/bin/rc.shutdown noop
EOF
  cat > "$r/bin/rc.init" <<'EOF'
#!/bin/sh
# i2kit stand-in for linuxkit/init's rc.init: mounts, cgroup v2, modules, hostname, /etc/init.d/*
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc -o nodev,nosuid,noexec,relatime proc /proc
# LinuxKit's root filesystem is read-only: only tmpfs mounts (/run, /tmp, /var, /dev) can be written
mount -o remount,ro / || echo "rc.init: could not make / read-only" >&2
mount -t sysfs -o nodev,nosuid,noexec,relatime sysfs /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs -o nosuid,noexec,relatime,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o nosuid,noexec,relatime,gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o nodev,nosuid,noexec,relatime shm /dev/shm
mount -t mqueue -o nodev,nosuid,noexec,relatime mqueue /dev/mqueue
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o nodev,nosuid,noexec,relatime,mode=0755 tmpfs /run
mount -t tmpfs -o nodev,nosuid,relatime,mode=1777 tmpfs /tmp
# /var as LinuxKit's rc.init makes it: a tmpfs with the standard directories
mount -t tmpfs -o nodev,nosuid,noexec,relatime,size=50%,mode=0755 tmpfs /var
mkdir -p /var/cache /var/empty /var/lib /var/local /var/lock /var/log /var/opt /var/spool /var/tmp
chmod 0555 /var/empty; chmod 1777 /var/tmp
ln -s /run /var/run
mount -t cgroup2 -o nodev,nosuid,noexec,relatime cgroup2 /sys/fs/cgroup
mount -t securityfs -o nodev,nosuid,noexec,relatime securityfs /sys/kernel/security 2>/dev/null
mount --make-rshared /
mkdir -p /run/resolvconf /run/log
touch /run/resolvconf/resolv.conf
ip link set lo up
for f in /etc/modules-load.d/*.conf; do
  [ -f "$f" ] || continue
  for m in $(grep -v '^#' "$f"); do modprobe "$m" 2>/dev/null || echo "rc.init: modprobe $m failed" >&2; done
done
if [ -s /etc/hostname ]; then hostname -F /etc/hostname
else
  mac=$(cat /sys/class/net/eth0/address 2>/dev/null | tr -d ':')
  hostname "linuxkit-${mac:-$(cat /proc/sys/kernel/random/uuid | cut -c1-12)}"
fi
for s in /etc/init.d/*; do [ -x "$s" ] && "$s"; done
used() { awk '/^MemTotal:/ {t=$2} /^MemAvailable:/ {a=$2} END {printf "used=%dMiB total=%dMiB available=%dMiB", (t-a)/1024, t/1024, a/1024}' /proc/meminfo; }
echo "i2kit-standin: init.d done at uptime $(cut -d' ' -f1 /proc/uptime)s; mem $(used)"
( sleep 10; echo "i2kit-standin: mem after services settled (uptime $(cut -d' ' -f1 /proc/uptime)s): $(used)" > /dev/console ) &
EOF
  cat > "$r/bin/rc.shutdown" <<'EOF'
#!/bin/sh
# i2kit stand-in for linuxkit/init's rc.shutdown
[ -d /etc/shutdown.d ] && for s in /etc/shutdown.d/*; do [ -x "$s" ] && "$s"; done
kill -TERM -1 2>/dev/null; sleep 1; kill -KILL -1 2>/dev/null
sync; umount -a -r 2>/dev/null
case "$1" in reboot) reboot -f ;; poweroff) poweroff -f ;; esac
EOF
  chmod 0755 "$r/bin/rc.init" "$r/bin/rc.shutdown"
  printf '\nWelcome to LinuxKit (i2kit offline stand-in images)\n\n' > "$r/etc/issue"
  cat > "$r/etc/init.d/000-issue" <<'EOF'
#!/bin/sh
[ -f /etc/issue ] && cat /etc/issue
EOF
  chmod 0755 "$r/etc/init.d/000-issue"
  mkoci INIT "$r"
}

build_runc() {
  local r d; r=$(stage runc); d=$(fetch_deb runc)
  copy_with_libs "$d/usr/sbin/runc" "$r" /usr/bin/runc
  mkdir -p "$r/etc/init.d" "$r/etc/shutdown.d"
  ln -s /usr/bin/service "$r/etc/init.d/010-onboot"
  ln -s /usr/bin/service "$r/etc/shutdown.d/010-onshutdown"
  mkoci RUNC "$r"
}

build_containerd() {
  local r d b; r=$(stage containerd)
  mkdir -p "$r/etc/init.d" "$r/etc/containerd"
  ln -s /usr/bin/service "$r/etc/init.d/020-containerd"
  cat > "$r/etc/containerd/config.toml" <<'EOF'
version = 2
state = "/run/containerd"
root = "/var/lib/containerd"

[plugins."io.containerd.grpc.v1.cri"]
  disabled = true

[grpc]
  address = "/run/containerd/containerd.sock"
  uid = 0
  gid = 0

[debug]
  address = "/run/containerd/debug.sock"
  level = "info"

[metrics]
  address = ""
EOF
  if [ "$STANDIN_RUNTIME" = containerd ]; then
    d=$(fetch_deb containerd)
    for b in containerd ctr containerd-shim-runc-v2; do copy_with_libs "$d/usr/bin/$b" "$r" "/usr/bin/$b"; done
  fi
  echo "$STANDIN_RUNTIME" > "$r/etc/containerd/i2kit-standin-runtime"
  mkoci CONTAINERD "$r"
}

build_ca() {
  local r; r=$(stage ca)
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
  mkoci CA "$r"
}

build_sysctl() {
  local r; r=$(stage sysctl)
  busybox_tree "$r"
  # read-only image on a read-only root: the mount points runc needs must be in the image
  mkdir -p "$r/etc/sysctl.d" "$r/usr/bin" "$r/proc" "$r/sys" "$r/dev"
  cat > "$r/etc/sysctl.d/00-linuxkit.conf" <<'EOF'
# the settings of linuxkit/sysctl's 00-linuxkit.conf
net.ipv4.tcp_syncookies = 1
net.ipv4.conf.default.rp_filter = 1
net.ipv4.conf.all.rp_filter = 1
net.ipv4.ping_group_range=999 59999
vm.max_map_count = 262144
vm.overcommit_memory = 1
net.core.somaxconn = 1024
net.ipv4.neigh.default.gc_thresh1 = 80000
net.ipv4.neigh.default.gc_thresh2 = 90000
net.ipv4.neigh.default.gc_thresh3 = 100000
fs.aio-max-nr = 1048576
fs.inotify.max_user_watches = 524288
fs.file-max = 524288
kernel.kptr_restrict = 2
net.ipv4.conf.all.send_redirects = 0
net.ipv4.conf.default.accept_redirects = 0
net.ipv4.conf.default.accept_source_route = 0
net.ipv6.conf.all.accept_redirects = 0
net.ipv6.conf.default.accept_redirects = 0
kernel.dmesg_restrict = 1
kernel.perf_event_paranoid = 3
fs.protected_hardlinks = 1
fs.protected_symlinks = 1
kernel.unprivileged_bpf_disabled=1
EOF
  cat > "$r/usr/bin/sysctl" <<'EOF'
#!/bin/sh
# i2kit stand-in for linuxkit/sysctl: apply /etc/sysctl.d/*.conf
n=0
for f in /etc/sysctl.d/*.conf; do
  [ -f "$f" ] || continue
  /bin/busybox sysctl -q -e -p "$f" || echo "sysctl: some keys of $f not applied" >&2
  n=$((n+1))
done
echo "sysctl: applied $n file(s)"
EOF
  chmod 0755 "$r/usr/bin/sysctl"
  mkoci SYSCTL "$r" --cmd '["/usr/bin/sysctl"]' \
    --label 'org.mobyproject.config={"pid":"host","readonly":true,"capabilities":["CAP_SYS_ADMIN","CAP_NET_ADMIN"]}'
}

build_dhcpcd() {
  local r; r=$(stage dhcpcd)
  busybox_tree "$r" all
  base_etc "$r"
  rm -f "$r/sbin/dhcpcd"
  cat > "$r/dhcpcd.conf" <<'EOF'
# linuxkit/dhcpcd's /dhcpcd.conf; the stand-in honours allowinterfaces only
allowinterfaces eth*
hostname
clientid
persistent
option rapid_commit
option domain_name_servers, domain_name, domain_search, host_name
option classless_static_routes
option ntp_servers
option interface_mtu
require dhcp_server_identifier
slaac private
nodelay
noarp
waitip 4
EOF
  cat > "$r/sbin/dhcpcd" <<'EOF'
#!/bin/sh
# i2kit stand-in for dhcpcd, on busybox udhcpc. Accepts dhcpcd's usual
# arguments (--nobackground, -f FILE, -1); "-1" = take one lease and exit.
oneshot=0; conf=/dhcpcd.conf
while [ $# -gt 0 ]; do
  case "$1" in -1|--oneshot) oneshot=1 ;; -f|--config) conf=$2; shift ;; esac; shift
done
pat=$(awk '$1=="allowinterfaces" {print $2}' "$conf" 2>/dev/null); pat=${pat:-eth*}
ifs=""
for i in 1 2 3 4 5 6 7 8 9 10; do
  for p in /sys/class/net/*; do n=${p##*/}; case "$n" in $pat) ifs="$ifs $n" ;; esac; done
  [ -n "$ifs" ] && break; sleep 0.5
done
[ -n "$ifs" ] || { echo "dhcpcd: no interface matching $pat" >&2; exit 1; }
rc=0
for n in $ifs; do
  ip link set "$n" up
  if [ "$oneshot" = 1 ]; then
    udhcpc -i "$n" -f -q -n -t 20 -T 1 -A 1 -s /usr/share/udhcpc/default.script || rc=1
  else
    udhcpc -i "$n" -f -t 20 -T 1 -s /usr/share/udhcpc/default.script &
  fi
done
[ "$oneshot" = 1 ] || wait
exit $rc
EOF
  mkdir -p "$r/usr/share/udhcpc"
  cat > "$r/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure the interface, default route and /etc/resolv.conf
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    { [ -n "$domain" ] && echo "search $domain"; for d in $dns; do echo "nameserver $d"; done; } > /etc/resolv.conf
    echo "dhcpcd: $interface bound to $ip/${mask:-24} via ${router:-none}, dns ${dns:-none}"
    ;;
esac
exit 0
EOF
  chmod 0755 "$r/sbin/dhcpcd" "$r/usr/share/udhcpc/default.script"
  mkoci DHCPCD "$r" --cmd '["/sbin/dhcpcd","--nobackground","-f","/dhcpcd.conf"]' \
    --label 'org.mobyproject.config={"binds":["/run/resolvconf:/etc"],"capabilities":["CAP_NET_ADMIN","CAP_NET_BIND_SERVICE","CAP_NET_RAW","CAP_SYS_ADMIN"]}'
}

build_format() {
  local r; r=$(stage format)
  busybox_tree "$r" all
  base_etc "$r"
  cat > "$r/usr/bin/format" <<'EOF'
#!/bin/sh
# i2kit stand-in for linuxkit/format: give the first disk that has no
# partition one partition and a filesystem. Busybox only, so the filesystem is
# ext2 (mke2fs), which the kernel's ext4 driver mounts. Flags are accepted and ignored.
for d in /sys/block/*; do
  n=${d##*/}
  case "$n" in loop*|ram*|sr*|zram*|nbd*|dm-*|md*|fd*) continue ;; esac
  [ "$(cat "$d/ro" 2>/dev/null)" = 1 ] && continue
  if ls "$d" | grep -q "^$n"; then echo "format: /dev/$n is already partitioned"; exit 0; fi
  case "$n" in *[0-9]) p=${n}p1 ;; *) p=${n}1 ;; esac
  echo "format: partitioning /dev/$n"
  printf 'o\nn\np\n1\n\n\nw\n' | fdisk "/dev/$n" >/dev/null 2>&1
  for i in 1 2 3 4 5 6 7 8 9 10; do [ -b "/dev/$p" ] && break; sleep 0.2; done
  [ -b "/dev/$p" ] || { echo "format: /dev/$p did not appear" >&2; exit 1; }
  mke2fs -L LINUXKIT "/dev/$p" >/dev/null && echo "format: /dev/$p formatted (ext2)"
  exit $?
done
echo "format: no disk to format"
EOF
  chmod 0755 "$r/usr/bin/format"
  mkoci FORMAT "$r" --cmd '["/usr/bin/format"]' \
    --label 'org.mobyproject.config={"binds":["/dev:/dev"],"devices":[{"path":"all","type":"b"}],"capabilities":["CAP_SYS_ADMIN","CAP_MKNOD"],"net":"new","ipc":"new"}'
}

build_mount() {
  local r; r=$(stage mount)
  busybox_tree "$r" all
  base_etc "$r"
  cat > "$r/usr/bin/mountie" <<'EOF'
#!/bin/sh
# i2kit stand-in for linuxkit/mount's mountie: mount the first partition that
# holds a filesystem at PATH (default /var/lib/docker). Flags before PATH are ignored.
while [ $# -gt 1 ]; do shift; done
path=${1:-/var/lib/docker}
for d in /sys/class/block/*; do
  [ -f "$d/partition" ] || continue
  n=${d##*/}
  mkdir -p "$path"
  if mount "/dev/$n" "$path" 2>/dev/null; then echo "mountie: /dev/$n mounted on $path"; exit 0; fi
done
echo "mountie: no partition with a filesystem to mount on $path" >&2
exit 1
EOF
  chmod 0755 "$r/usr/bin/mountie"
  mkoci MOUNT "$r" --cmd '["/usr/bin/mountie"]' \
    --label 'org.mobyproject.config={"binds":["/dev:/dev","/var:/var:rshared,rbind","/:/hostroot"],"devices":[{"path":"all","type":"b"}],"capabilities":["CAP_SYS_ADMIN"],"rootfsPropagation":"shared","net":"new","ipc":"new"}'
}

build_app() {
  local r; r=$(stage app)
  busybox_tree "$r"
  ln -s busybox "$r/bin/httpd"
  base_etc "$r"
  mkdir -p "$r/www"
  echo "i2kit demo-httpd: the image's own page" > "$r/www/index.html"
  mkoci APP "$r" --entrypoint '["/bin/httpd","-f","-v","-p","8080","-h","/www"]'
}

# ---------------------------------------------------------------- import
# cache_missing NAME DIGEST [NAME DIGEST]...: prints each NAME the linuxkit
# cache does not hold under that manifest digest with all of its blobs
cache_missing() {
  python3 - "$LKC" "$@" <<'EOF'
import json, os, sys
cache, args = sys.argv[1], sys.argv[2:]
try:
    idx = json.load(open(os.path.join(cache, "index.json")))
except Exception:
    idx = {}
blob = lambda d: os.path.join(cache, "blobs", *d.split(":"))
have = {m.get("annotations", {}).get("org.opencontainers.image.ref.name"): m["digest"] for m in idx.get("manifests", [])}
for name, digest in zip(args[0::2], args[1::2]):
    ok = have.get(name) == digest and os.path.exists(blob(digest))
    if ok:
        man = json.load(open(blob(digest)))
        ok = all(os.path.exists(blob(x["digest"])) for x in [man["config"]] + man["layers"])
    if not ok:
        print(name)
EOF
}

import_all() {
  local k name digest imported=0
  mkdir -p "$LKC"
  for k in $ALL_IMAGES; do
    name=$(full "$(img "$k")"); digest=$(awk '{print $2}' "$OCI/$(slug "$k").digest")
    [ -z "$(cache_missing "$name" "$digest" "${name%:*}@$digest" "$digest")" ] && continue
    log "linuxkit cache import $(slug "$k").tar ($name)"
    "$LK" -q cache import --cache "$LKC" "$OCI/$(slug "$k").tar" || die "linuxkit cache import $name failed"
    [ -z "$(cache_missing "$name" "$digest")" ] || die "after import, the cache still lacks $name@$digest"
    imported=$((imported+1))
  done
  log "linuxkit cache: $imported image(s) imported, $(echo $ALL_IMAGES | wc -w) present in $LKC"
}

write_lock() {
  local k name digest
  {
    echo "# i2kit offline stand-in images: name, manifest digest (written by e2e/offline-cache.sh)"
    echo "# kernel: $(cat "$WORK/rootfs/kernel/kernel.version" 2>/dev/null || cat "$OCI/kernel.version" 2>/dev/null)"
    echo "# services runtime of the containerd stand-in: $STANDIN_RUNTIME"
    for k in $ALL_IMAGES; do
      name=$(full "$(img "$k")"); digest=$(awk '{print $2}' "$OCI/$(slug "$k").digest")
      printf '%-78s %s\n' "$name" "$digest"
    done
  } > "$CACHE/images.lock"
  cat > "$CACHE/env.sh" <<EOF
# source me: the offline linuxkit setup built by e2e/offline-cache.sh
export LINUXKIT="$LK"
export LINUXKIT_CACHE="$LKC"
export I2KIT_IMG_KERNEL="$IMG_KERNEL"
export I2KIT_IMG_INIT="$IMG_INIT"
export I2KIT_IMG_RUNC="$IMG_RUNC"
export I2KIT_IMG_CONTAINERD="$IMG_CONTAINERD"
export I2KIT_IMG_CA="$IMG_CA"
export I2KIT_IMG_SYSCTL="$IMG_SYSCTL"
export I2KIT_IMG_DHCPCD="$IMG_DHCPCD"
export I2KIT_IMG_FORMAT="$IMG_FORMAT"
export I2KIT_IMG_MOUNT="$IMG_MOUNT"
export I2KIT_APP_IMAGE="${IMG_APP%:*}@$(awk '{print $2}' "$OCI/app.digest")"
EOF
}

# warn when components/linuxkit/images.ts pins other tags than the stand-ins use
check_pins() {
  local ts k ref repo pinned
  ts=$(dirname "$SELF")/../components/linuxkit/images.ts
  [ -f "$ts" ] || return 0
  for k in $ALL_IMAGES; do
    ref=$(img "$k"); repo=${ref%%:*}
    case "$repo" in linuxkit/*) ;; *) continue ;; esac
    pinned=$(grep -o "\"$repo:[^\"]*\"" "$ts" | head -1 | tr -d '"')
    if [ -n "$pinned" ] && [ "$pinned" != "$ref" ]; then
      log "WARNING: components/linuxkit/images.ts pins $pinned but the stand-in is $ref: update IMG_$k at the top of this script"
    fi
  done
}

# ---------------------------------------------------------------- main
main() {
  mkdir -p "$CACHE" "$OCI" "$WORK"
  exec 9>"$CACHE/.offline-cache.lock"; flock 9   # one run at a time per cache
  check_pins
  ensure_host_tools
  ensure_linuxkit

  local recipe k absent=0
  write_sources   # always: test/e2e/harness.ts uses $I2KIT_CACHE/work/src/mkoci.py for its app images
  recipe=$( { sha256sum < "$SELF"; echo "runtime=$STANDIN_RUNTIME"; } | sha256sum | cut -c1-16)
  for k in $ALL_IMAGES; do [ -s "$OCI/$(slug "$k").tar" ] && [ -s "$OCI/$(slug "$k").digest" ] || absent=1; done
  if [ "${I2KIT_FORCE:-0}" != 1 ] && [ "$absent" = 0 ] && [ "$(cat "$OCI/recipe" 2>/dev/null)" = "$recipe" ]; then
    log "stand-in images: reusing $OCI (recipe $recipe)"
  else
    log "stand-in images: building (recipe $recipe)"
    rm -f "$OCI/recipe"
    build_standin_bin
    BUSYBOX=$(fetch_deb busybox-static)
    build_kernel; cp "$WORK/rootfs/kernel/kernel.version" "$OCI/kernel.version"
    build_init; build_runc; build_containerd; build_ca; build_sysctl; build_dhcpcd; build_format; build_mount; build_app
    rm -rf "$WORK/rootfs" "$WORK/kt" "$WORK/deb"   # the .debs stay in $CACHE/debs
    echo "$recipe" > "$OCI/recipe"
    if [ "${I2KIT_FORCE:-0}" = 1 ]; then rm -rf "$LKC"; fi
  fi
  import_all
  write_lock
  log "done: $CACHE/images.lock, $CACHE/env.sh"
  cat "$CACHE/images.lock"
}

main "$@"; exit $?
