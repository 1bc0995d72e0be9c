#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The VM stage: boots a stock Debian kernel under qemu (TCG: /dev/kvm here is PVM
# and cannot run stock guests) with the host's root file system shared read-only
# over 9p, so the freshly built tree and its libraries run inside, and runs a
# script there as root with real device-mapper (dm-crypt, loop). Prints TAP.
#
#   BUILD=build tests/vm/run.sh                       the LUKS suite (tests/vm/suite.sh)
#   BUILD=build tests/vm/run.sh tests/bench/home-luks.sh   the LUKS benchmark
#
# The kernel is the version that linux-image-amd64 depends on, fetched with
# apt-get download and unpacked with dpkg-deb -x (never installed), cached in
# $BUILD/vm with busybox depmod's modules.dep. The initramfs (busybox-static and
# the modules' closure) is built every run (< 1 s). The guest writes TAP lines to
# a read-write 9p share ($BUILD/vm/share/results.tap), which this script prints
# after qemu exits. It ends with a plan check: a VM that does not boot, hangs
# (timeout VM_TIMEOUT, default 240 s) or stops early gives "not ok" lines and
# exit status 1. Without root the stage is skipped; without qemu it is installed
# (root), and skipped only if it cannot be installed at all.
set -u
self=$(readlink -f "$0") || exit 1
cd "$(dirname "$self")/../.." || exit 1
ROOT=$PWD
BUILD="${BUILD:-build}"
case $BUILD in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
VM="$BUILD/vm"
SCRIPT="${1:-tests/vm/suite.sh}"
case $SCRIPT in /*) ;; *) SCRIPT="$ROOT/$SCRIPT" ;; esac
TIMEOUT="${VM_TIMEOUT:-240}"
MODULES="loop dm-mod dm-crypt xts ecb aesni-intel af_alg algif_skcipher algif_hash crc32c-generic ext4 virtio_pci 9pnet_virtio 9p"

bail() { # reason: one failing TAP line, exit 1
        echo "not ok - vm: $*"
        exit 1
}

if [ "$(id -u)" != 0 ]; then
        echo "ok - vm: LUKS stage # skip needs root (apt-get download, dm-crypt in the guest)"
        exit 0
fi
mkdir -p "$BUILD" || bail "cannot create $BUILD"
missing=""
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
[ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx insmod || missing="$missing busybox-static"
command -v cpio >/dev/null || missing="$missing cpio"
if [ -n "$missing" ]; then
        echo "# vm: installing$missing" >&2
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } >"$BUILD/vm-apt.log" 2>&1; then
                command -v apt-get >/dev/null && ! command -v qemu-system-x86_64 >/dev/null &&
                        ! apt-cache show qemu-system-x86 >/dev/null 2>&1 &&
                        { echo "ok - vm: LUKS stage # skip qemu-system-x86 cannot be installed here"; exit 0; }
                bail "cannot install$missing (see $BUILD/vm-apt.log)"
        fi
fi
ldd /bin/busybox 2>&1 | grep -q 'not a dynamic executable' || bail "/bin/busybox is not the static one (busybox-static)"

# --- kernel (cached) ---------------------------------------------------------------
mkdir -p "$VM" || bail "cannot create $VM"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$pkg" ] || bail "cannot resolve the kernel of linux-image-amd64 (apt-cache depends)"
kver=${pkg#linux-image-}
kdir="$VM/$pkg"
dep="$kdir/lib/modules/$kver/modules.dep"
# The closure of $MODULES in modules.dep ("path: dep dep ..."); names use - or _ alike.
closure() {
        awk -v want="$MODULES" '
        function norm(s) { gsub("-", "_", s); return s }
        function base(p) { sub(".*/", "", p); sub("\\.ko.*$", "", p); return norm(p) }
        BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) q[norm(w[i])] = 1 }
        { p = $1; sub(":$", "", p); path[base(p)] = p; deps[base(p)] = ""
          for (i = 2; i <= NF; i++) deps[base(p)] = deps[base(p)] " " base($i) }
        END {
                do { grew = 0
                        for (m in q) { k = split(deps[m], d, " "); for (i = 1; i <= k; i++) if (!(d[i] in q)) { q[d[i]] = 1; grew = 1 } }
                } while (grew)
                for (m in q) if (m in path) print path[m]
        }' "$dep"
}
# The cache keeps the kernel and the modules' closure only (not 400 MB of modules).
if [ ! -f "$kdir/boot/vmlinuz-$kver" ] || [ "$(cat "$kdir/modules.list" 2>/dev/null)" != "$MODULES" ]; then
        echo "# vm: fetching $pkg" >&2
        rm -rf "$kdir" "$VM"/"$pkg"_*.deb
        (cd "$VM" && apt-get download "$pkg") >"$VM/download.log" 2>&1 || bail "apt-get download $pkg failed (see $VM/download.log)"
        dpkg-deb -x "$VM"/"$pkg"_*.deb "$kdir" || bail "dpkg-deb -x failed"
        rm -f "$VM"/"$pkg"_*.deb
        /bin/busybox depmod -b "$kdir" "$kver" || bail "busybox depmod failed"
        keep=$(closure) || bail "cannot read $dep"
        (cd "$kdir/lib/modules/$kver" && find . -name '*.ko*' -type f | sed 's|^\./||' | grep -vxF -f <(printf '%s\n' $keep) | xargs -r rm -f)
        rm -rf "$kdir/usr"
        printf '%s' "$MODULES" >"$kdir/modules.list"
fi
closure=$(closure)
[ -n "$closure" ] || bail "no modules found in $dep"

# --- initramfs ------------------------------------------------------------------------
ird="$VM/initramfs"
rm -rf "$ird" && mkdir -p "$ird/bin" "$ird/lib/modules/$kver" || bail "cannot create $ird"
cp /bin/busybox "$ird/bin/busybox"
for m in $closure; do
        mkdir -p "$ird/lib/modules/$kver/$(dirname "$m")"
        cp "$kdir/lib/modules/$kver/$m" "$ird/lib/modules/$kver/$m"
done
grep -F -f <(printf '%s:\n' $closure) "$dep" >"$ird/lib/modules/$kver/modules.dep"
cp "$ROOT/tests/vm/init" "$ird/init" && chmod 0755 "$ird/init"
printf '%s\n' $MODULES >"$ird/modules"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$VM/initrd.gz" || bail "cannot pack the initramfs"

# --- run --------------------------------------------------------------------------------
share="$VM/share"
rm -rf "$share" && mkdir -p "$share" || bail "cannot create $share"
# What the guest runs, as root, in the host root (read-only) with tmpfs over /run,
# /var/lib/latchkey and /tmp; ROOT and BUILD as here.
cat >"$share/job" <<EOF
export ROOT='$ROOT' BUILD='$BUILD' SHARE='$share'
cd '$ROOT' && bash '$SCRIPT' >'$share/results.tap' 2>'$share/stderr'
EOF
start=$(date +%s.%N)
timeout --foreground -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 \
        -nographic -no-reboot -nodefaults -serial "file:$VM/console.log" \
        -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$VM/initrd.gz" \
        -append "console=ttyS0 quiet panic=-1 rdinit=/init latchkey.share=$share" \
        -fsdev local,id=r,path=/,security_model=none,readonly=on,multidevs=remap \
        -device virtio-9p-pci,fsdev=r,mount_tag=hostroot \
        -fsdev local,id=s,path="$share",security_model=none \
        -device virtio-9p-pci,fsdev=s,mount_tag=share </dev/null >"$VM/qemu.log" 2>&1
rc=$?
wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "# vm: qemu exited with status $rc after ${wall} s (console: $VM/console.log)"
# A log tail as TAP comments: printable characters only, whole lines.
comment() { { tail -n "$1" "$2"; echo; } | tr -cd '[:print:]\n' | grep . | sed 's/^/# /'; }
if [ $rc -eq 124 ]; then
        echo "not ok - vm: timed out after $TIMEOUT s"
fi
if [ ! -s "$share/results.tap" ]; then
        comment 5 "$VM/qemu.log"
        comment 30 "$VM/console.log"
        bail "the guest reported nothing (did not boot or could not run $SCRIPT)"
fi
cat "$share/results.tap"
[ -s "$share/stderr" ] && sed 's/^/# stderr: /' "$share/stderr" | tail -n 40
# The plan: "1..N" must be there and N lines reported, else the guest stopped early.
plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$share/results.tap" | tail -n 1)
got=$(grep -cE '^(not )?ok ' "$share/results.tap")
[ -n "$plan" ] || bail "the guest's TAP has no plan (it stopped early)"
[ "$got" -eq "$plan" ] || bail "the guest reported $got of $plan tests"
grep -q '^not ok ' "$share/results.tap" && exit 1
[ $rc -eq 0 ] || exit 1
exit 0
