#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks home-activate on an fscrypt home (issue: activate and deactivate ≤ 50 ms
# each, whole process, with the key slot KDF at a fixed cheap cost; the KDF's share
# printed apart). Needs root: it re-runs itself in a private mount namespace with
# tmpfs over /var/lib/latchkey and /run/latchkey and a loop ext4 (-O encrypt) as /home.
#
#   BUILD=build tests/bench/home.sh        (run by tests/bench/run.sh)
#
# Rows: activate (deactivated before each run by hyperfine --prepare), deactivate
# (activated before each run), both whole processes with the password on stdin;
# then, from $BUILD/bench/kdf-time, the median of one key slot unwrap at the same
# cost, one yescrypt check of the record's hash, and one unwrap at the calibrated
# default cost (target ~1 s, as LUKS2 calibrates; no pass/fail on it).
# Environment: BUILD (default build), HOME_BENCH_KDF (t=1,m=64,p=1), BENCH_RUNS (30),
# BENCH_WARMUP (3). Exit status 1 if a target is missed, 2 if it could not measure.
set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/../.." || exit 2
BUILD="${BUILD:-build}"
case $BUILD in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
HA="$BUILD/home-activate"
KDF_TIME="$BUILD/bench/kdf-time"
KDF="${HOME_BENCH_KDF:-t=1,m=64,p=1}"
RUNS="${BENCH_RUNS:-30}"
WARMUP="${BENCH_WARMUP:-3}"
BENCH_TAG=bench-home

die() {
        echo "bench-home: $*" >&2
        exit 2
}

if [ "$(id -u)" != 0 ]; then
        echo "bench-home: skipped, needs root (loop mount, tmpfs state in its own mount namespace)" >&2
        exit 0
fi
[ -x "$HA" ] || die "missing $HA (run: make BUILD=$BUILD)"
[ -x "$KDF_TIME" ] || die "missing $KDF_TIME (run: make bench)"
for tool in hyperfine python3 unshare mkfs.ext4; do
        command -v "$tool" >/dev/null || die "missing $tool"
done
if [ "${LATCHKEY_HOME_BENCH_NS:-}" != 1 ]; then
        # shellcheck disable=SC2093 # die only runs when exec fails
        exec unshare -m -- env LATCHKEY_HOME_BENCH_NS=1 BUILD="$BUILD" "$self" "$@"
        die "cannot run unshare -m"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench-home.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
mount --make-rprivate / || die "cannot make / private"
mkdir -p /var/lib/latchkey /run/latchkey
mount -t tmpfs -o mode=0755 tmpfs /var/lib/latchkey && mount -t tmpfs -o mode=0755 tmpfs /run/latchkey ||
        die "cannot mount the tmpfs state directories"
truncate -s 64M "$tmp/home.img" && mkfs.ext4 -q -O encrypt -F "$tmp/home.img" &&
        mount -o loop "$tmp/home.img" /home || die "cannot mount a loop ext4 on /home"
echo bench >"$tmp/pw"
"$HA" create --storage=fscrypt --kdf="$KDF" lkbench <"$tmp/pw" 2>/dev/null || die "cannot create the home"
# shellcheck source=tests/bench/hyperfine.bash
. "$(dirname "$self")/hyperfine.bash"

# Through hyperfine's shell (stdin redirection); it subtracts the shell's own start-up.
timed() {
        local id=$1
        shift
        echo "$BENCH_TAG: $id" >&2
        hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$tmp/$id.json" "$@" \
                >"$tmp/$id.log" 2>&1 || { cat "$tmp/$id.log" >&2; die "hyperfine failed for $id"; }
        medians "$tmp/$id.json"
}
act=$(timed activate --prepare "$HA deactivate lkbench 2>/dev/null" "$HA activate lkbench <$tmp/pw") || exit 2
"$HA" deactivate lkbench 2>/dev/null
deact=$(timed deactivate --prepare "$HA activate lkbench <$tmp/pw 2>/dev/null" "$HA deactivate lkbench") || exit 2
"$HA" deactivate lkbench 2>/dev/null
read -r kdf_line < <("$KDF_TIME" "$KDF" 50) || die "kdf-time failed"
eval "$(printf '%s\n' "$kdf_line" | tr ' ' '\n' | sed -n 's/^\(unwrap_ms\|yescrypt_ms\|default_ms\)=/\1=/p')"
default_cost=${kdf_line##*default=}

failed=0
verdict() { python3 -c "import sys; print('ok' if float(sys.argv[1]) <= float(sys.argv[2]) else 'MISSED')" "$1" "$2"; }
echo
echo "home-activate, fscrypt home on a loop ext4, KDF $KDF; hyperfine $RUNS runs after $WARMUP warm-up"
printf '%-44s %10s  %s\n' "case" "median ms" "target"
for row in "activate (whole process)|$act|50" "deactivate (whole process)|$deact|50"; do
        IFS='|' read -r name ms target <<<"$row"
        v=$(verdict "$ms" "$target")
        [ "$v" = ok ] || failed=1
        printf '%-44s %10s  ≤ %s ms %s\n' "$name" "$ms" "$target" "$v"
done
printf '%-44s %10s  (info: inside activate)\n' "  KDF: one key slot unwrap ($KDF)" "$unwrap_ms"
printf '%-44s %10s  (info: inside activate)\n' "  yescrypt check of the record" "$yescrypt_ms"
printf '%-44s %10s  (info: ~1000 ms wanted)\n' "default KDF, calibrated ($default_cost)" "$default_ms"
exit "$failed"
