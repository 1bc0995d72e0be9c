#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks home-activate on a LUKS home against the plain commands that do the
# same, in the same VM boot (the host has no dm-crypt): activate vs cryptsetup
# open + mount, deactivate vs umount + cryptsetup close, each ≤ 1.5× (median of
# BENCH_RUNS interleaved runs, whole processes, password on stdin, the same cheap
# argon2id key slot for both).
#
#   BUILD=build tests/bench/home-luks.sh      on the host: boots the VM (tests/vm/run.sh)
#                                             and runs itself inside
# Output: TAP lines (one per target) and the table as comments. Exit status 1 if a
# target is missed or the VM fails.
set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/../.." || exit 2
if [ -z "${SHARE:-}" ]; then # on the host
        exec env BUILD="${BUILD:-build}" tests/vm/run.sh tests/bench/home-luks.sh
fi

HA="$BUILD/home-activate"
KDF="--kdf=t=4,m=64,p=1"
RUNS="${BENCH_RUNS:-7}"
U=lkbench
IMG=/home/$U.home
W=$(mktemp -d)

now() { date +%s%N; }
# median of the numbers (ns) in file $1, in ms with 1 decimal
median() { sort -n "$1" | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f", m / 1e6 }'; }

fail() { echo "not ok - bench: $*"; echo "1..1"; exit 1; }

mkdir -p /var/lib/latchkey /run/latchkey "$W/mnt"
truncate -s 512M "$W/host-home.img"
mkfs.ext4 -q -F "$W/host-home.img" || fail "mkfs"
mount -o loop "$W/host-home.img" /home || fail "mount /home"
echo pw | "$HA" create --storage=luks --disk-size=96M $KDF $U 2>"$W/err" || fail "create: $(cat "$W/err")"
: >"$W/act"; : >"$W/deact"; : >"$W/open"; : >"$W/close"
for i in $(seq "$RUNS"); do
        t0=$(now); echo pw | "$HA" activate $U || fail "activate"; t1=$(now)
        echo $((t1 - t0)) >>"$W/act"
        t0=$(now); "$HA" deactivate $U || fail "deactivate"; t1=$(now)
        echo $((t1 - t0)) >>"$W/deact"
        t0=$(now)
        printf pw | cryptsetup open --key-file=- $IMG home-$U || fail "cryptsetup open"
        mount -o nosuid,nodev /dev/mapper/home-$U "$W/mnt" || fail "mount"
        t1=$(now)
        echo $((t1 - t0)) >>"$W/open"
        t0=$(now)
        umount "$W/mnt" || fail "umount"
        cryptsetup close home-$U || fail "cryptsetup close"
        t1=$(now)
        echo $((t1 - t0)) >>"$W/close"
done
a=$(median "$W/act"); d=$(median "$W/deact"); o=$(median "$W/open"); c=$(median "$W/close")
n=0 bad=0
row() { # NAME OURS REF
        local r
        n=$((n + 1))
        r=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", a / b }')
        if awk -v r="$r" 'BEGIN { exit !(r <= 1.5) }'; then
                echo "ok $n - bench: $1 $2 ms vs $3 ms = ${r}× (≤ 1.5×)"
        else
                echo "not ok $n - bench: $1 $2 ms vs $3 ms = ${r}× (> 1.5×)"
                bad=1
        fi
}
echo "# LUKS home in the VM (TCG), median of $RUNS runs, argon2id t=4 m=64 KiB p=1 key slot"
row "activate vs cryptsetup open + mount:" "$a" "$o"
row "deactivate vs umount + cryptsetup close:" "$d" "$c"
echo "1..$n"
umount /home
rm -rf "$W"
exit $bad
