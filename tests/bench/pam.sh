#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks pam_latchkey: one login = pam_authenticate + pam_open_session +
# pam_close_session through the real libpam (under pam_wrapper, driven by
# tests/pam/pamdriver), on an fscrypt home with a fixed cheap KDF
# (--kdf=t=1,m=64,p=1). Needs root: it re-runs itself in a private mount namespace
# with tmpfs over /var/lib/latchkey and /run/latchkey and a loop ext4 (-O encrypt)
# as /home, so nothing reaches the machine.
#
#   BUILD=build tests/bench/pam.sh
#
# Target (exit status 1 if missed):
#   login overhead beyond the KDF ≤ 20 ms, median.
# Method. A login verifies the password twice over: against the record's password
# hash (yescrypt, crypt(3)'s default cost; home-activate checks it before touching
# the storage) and by unwrapping the fscrypt key slot (the KDF, here the cheap one).
# Their cost is taken as median(`home-activate authenticate U`) − median(`home-activate
# inspect U`): both start the same program, load and verify the same signed record;
# authenticate adds reading the password and checking its hash. The slot unwrap with
# t=1,m=64 KiB is not subtracted, so it counts against us. Overhead = the median over
# rounds of login − (authenticate − inspect), each round running every case once in
# turn (paired, so that noise from the rest of the machine cancels). Info rows (no
# target): the same activate + deactivate run straight, without PAM (what PAM and the
# module add is the difference), and the parts.
#
# Environment: BUILD (default build), BENCH_RUNS (30), BENCH_WARMUP (3).
# Exit status 2 when something could not be measured; without root it only says so (0).
set -u
export LC_ALL=C
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/../.." || exit 2

BUILD="${BUILD:-build}"
case $BUILD in
/*) ;;
*) BUILD="$PWD/$BUILD" ;;
esac
RUNS="${BENCH_RUNS:-30}"
WARMUP="${BENCH_WARMUP:-3}"
LIMIT_MS=20

die() {
        echo "bench-pam: $*" >&2
        exit 2
}

if [ "$(id -u)" != 0 ]; then
        echo "bench-pam: skipped, needs root (loop ext4, tmpfs state directories, mounts)" >&2
        exit 0
fi

HA="$BUILD/home-activate"
DRV="$BUILD/tests/pamdriver"
MOD="$BUILD/pam_latchkey.so"
for f in "$HA" "$DRV" "$MOD"; do
        [ -e "$f" ] || die "missing $f (run: make BUILD=$BUILD)"
done
WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -n 1)
[ -n "$WRAPPER" ] || die "missing libpam_wrapper.so (make deps)"
[ -e /sys/fs/ext4/features/encryption ] || die "this kernel's ext4 has no encryption support"

if [ "${BENCH_PAM_INNER:-0}" != 1 ]; then
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench-pam.XXXXXX") || exit 2
        trap 'rm -rf "$tmp"' EXIT
        BENCH_PAM_INNER=1 BENCH_TMP="$tmp" unshare -m -- "$self"
        exit $?
fi

# --- inside the namespace ---------------------------------------------------------
tmp="$BENCH_TMP"
set -e
mount --make-rprivate /
mkdir -p /var/lib/latchkey /run/latchkey
mount -t tmpfs -o mode=0755 tmpfs /var/lib/latchkey
mount -t tmpfs -o mode=0755 tmpfs /run/latchkey
truncate -s 64M "$tmp/home.img"
mkfs.ext4 -q -O encrypt -F "$tmp/home.img"
mount -o loop "$tmp/home.img" /home
u=lkbench
"$HA" create --storage=fscrypt --kdf=t=1,m=64,p=1 "$u" <<<"bench-pw" 2>"$tmp/create.log" ||
        { cat "$tmp/create.log" >&2; die "home-activate create failed"; }
mkdir "$tmp/svc"
: >"$tmp/svc/other"
printf '%s\n' "auth required $MOD home_activate=$HA" "session required $MOD home_activate=$HA" >"$tmp/svc/bench"
export PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$tmp/svc"
set +e

# Every iteration runs each case once, in turn, so that drift and noise from the
# rest of the machine reach all of them alike; each sample is one run in µs, timed
# with $EPOCHREALTIME around it, stdin the password (a here-string).
login() { LD_PRELOAD="$WRAPPER" "$DRV" bench "$u" auth,open,close; }
straight() { "$HA" activate "$u" && "$HA" deactivate "$u"; }
authenticate() { "$HA" authenticate "$u"; }
inspect() { "$HA" inspect "$u"; }
driver() { LD_PRELOAD="$WRAPPER" "$DRV" bench nosuchuser open,close; }
CASES="login straight authenticate inspect driver"
for c in $CASES; do : >"$tmp/$c"; done
echo "bench-pam: $WARMUP + $RUNS rounds of: $CASES" >&2
for ((i = 0; i < WARMUP + RUNS; i++)); do
        for c in $CASES; do
                t0=$EPOCHREALTIME
                "$c" <<<"bench-pw" >"$tmp/$c.out" 2>&1 || { cat "$tmp/$c.out" >&2; die "$c failed"; }
                t1=$EPOCHREALTIME
                ((i < WARMUP)) || echo $((${t1/./} - ${t0/./})) >>"$tmp/$c"
        done
        [ $i -ne 0 ] || ! findmnt "/home/$u" >/dev/null || die "the home is still mounted after close_session"
done
median_ms() {
        sort -n "$tmp/$1" | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f", m / 1000 }'
}
# Per round: login - (authenticate - inspect); the target is on the median of these.
paste "$tmp/login" "$tmp/authenticate" "$tmp/inspect" | awk '{ print $1 - ($2 - $3) }' >"$tmp/overhead"

L=$(median_ms login)
S=$(median_ms straight)
A=$(median_ms authenticate)
I=$(median_ms inspect)
D=$(median_ms driver)
KDF=$(awk -v a="$A" -v i="$I" 'BEGIN { k = a - i; printf "%.2f", k < 0 ? 0 : k }')
OVER=$(median_ms overhead)
MOD_ADDS=$(awk -v l="$L" -v s="$S" 'BEGIN { printf "%.2f", l - s }')
RESULT=$(awk -v o="$OVER" -v lim="$LIMIT_MS" 'BEGIN { print (o <= lim) ? "PASS" : "FAIL" }')

echo
echo "pam_latchkey login (auth + open_session + close_session), fscrypt home, --kdf=t=1,m=64,p=1;"
echo "medians of $RUNS runs after $WARMUP warm-up; cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ×$(nproc)"
{
        echo "case|median ms|target|result"
        echo "login through PAM|$L|-|info"
        echo "password hash + KDF share (authenticate - inspect)|$KDF|-|info"
        echo "login overhead beyond the KDF|$OVER|<= $LIMIT_MS ms|$RESULT"
        echo "activate + deactivate without PAM|$S|-|info"
        echo "what PAM + the module add (login - that)|$MOD_ADDS|-|info"
        echo "home-activate authenticate|$A|-|info"
        echo "home-activate inspect|$I|-|info"
        echo "driver + libpam (open + close, user without a home)|$D|-|info"
} | awk -F'|' '
        { for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
        END {
                for (r = 1; r <= n; r++) {
                        line = sprintf("%-" w[1] "s", c[r, 1])
                        for (i = 2; i <= 4; i++) line = line " | " sprintf("%" w[i] "s", c[r, i])
                        print line
                        if (r == 1) { s = ""; for (i = 1; i <= 4; i++) { d = ""; for (j = 0; j < w[i]; j++) d = d "-"; s = s (i > 1 ? "-+-" : "") d } print s }
                }
        }'
[ "$RESULT" = PASS ]
