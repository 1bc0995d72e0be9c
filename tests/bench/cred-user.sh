#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Unprivileged decrypt through the credential service: user "nobody" runs
# cred-decrypt on a 32-byte user-scoped credential; it cannot read the host key,
# so it asks cred-decrypt --serve, started per connection by
# systemd-socket-activate --accept --inetd (as latchkey-creds.socket would).
# Whole process, as hyperfine -N sees it: client start, connect, the service's
# fork+exec, decrypt, answer. Encrypt through the service is "info".
#
#   BUILD=build tests/bench/cred-user.sh        (as root)
#
# Target (exit status 1 if missed): decrypt median ≤ 5 ms.
#
# Environment: BUILD (default build), BENCH_RUNS (50), BENCH_WARMUP (5),
# BENCH_KEEP=1 keeps the temporary directory.
set -u
cd "$(dirname "$0")/../.." || exit 2
BUILD="${BUILD:-build}"
case "$BUILD" in /*) BIN="$BUILD" ;; *) BIN="$PWD/$BUILD" ;; esac
ENC="$BIN/cred-encrypt"
DEC="$BIN/cred-decrypt"
RUNS="${BENCH_RUNS:-50}"
WARMUP="${BENCH_WARMUP:-5}"
BENCH_TAG=cred-user
TARGET_MS=5

die() {
        echo "bench: $*" >&2
        exit 2
}

[ "$(id -u)" = 0 ] || die "run as root: starts the credential service and switches to user nobody"
for c in hyperfine python3 systemd-socket-activate setpriv "$ENC" "$DEC"; do
        command -v "$c" >/dev/null || die "missing $c (make deps; make)"
done

. tests/bench/scratch.bash
scratch
. tests/bench/hyperfine.bash

chmod 0755 "$tmp"
install -d -m 0700 "$tmp/root"
install -d -o nobody -g nogroup -m 0700 "$tmp/nobody"
head -c 32 /dev/urandom >"$tmp/root/pt"
"$ENC" --host-key="$tmp/root/host.secret" --uid=nobody --name=b32 "$tmp/root/pt" "$tmp/b32.cred" 2>/dev/null ||
        die "cannot make the credential"
chmod 0644 "$tmp/b32.cred"
cp "$tmp/root/pt" "$tmp/nobody/pt" && chown nobody:nogroup "$tmp/nobody/pt"

systemd-socket-activate --accept --inetd -l "$tmp/creds.sock" "$DEC" --serve --host-key="$tmp/root/host.secret" \
        2>"$tmp/serve.log" &
SERVER_PID=$!
for _ in $(seq 200); do [ -S "$tmp/creds.sock" ] && break; sleep 0.01; done
[ -S "$tmp/creds.sock" ] || die "the service did not come up: $(cat "$tmp/serve.log")"
chmod 0666 "$tmp/creds.sock"

# hyperfine itself runs as nobody, so only cred-decrypt is timed.
as_nobody() {
        setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH="$PATH" \
                LATCHKEY_CREDS_SOCKET="$tmp/creds.sock" SYSTEMD_CREDENTIAL_SECRET="$tmp/root/host.secret" "$@"
}
as_nobody "$DEC" --name=b32 "$tmp/b32.cred" - | cmp -s - "$tmp/root/pt" || die "decrypt through the service failed"

run_bench() { # ID COMMAND
        local id=$1 json="$tmp/nobody/$1.json"
        echo "$BENCH_TAG: $id" >&2
        as_nobody hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$json" "$2" \
                >"$tmp/$id.log" 2>&1 || { cat "$tmp/$id.log" >&2; die "hyperfine failed for $id"; }
        medians "$json"
}
dec=$(run_bench decrypt32 "$DEC --name=b32 $tmp/b32.cred -")
enc=$(run_bench encrypt32 "$ENC --user --name=b32 $tmp/nobody/pt -")

ok=$(python3 -c 'import sys; print(1 if float(sys.argv[1]) <= float(sys.argv[2]) else 0)' "$dec" "$TARGET_MS")
printf '%-48s %10s %10s  %s\n' "cred-user (unprivileged, through the service)" "median ms" "target" "verdict"
printf '%-48s %10s %10s  %s\n' "decrypt 32 B" "$dec" "≤ $TARGET_MS" "$([ "$ok" = 1 ] && echo PASS || echo FAIL)"
printf '%-48s %10s %10s  %s\n' "encrypt 32 B" "$enc" "-" "info"
[ "$ok" = 1 ]
