#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks cred-encrypt/cred-decrypt side by side with systemd-creds on the same
# files, in a temporary directory with a scratch host key ($SYSTEMD_CREDENTIAL_SECRET,
# exported for both tools; /var/lib/systemd/credential.secret is never touched).
#
#   BUILD=build tests/bench/run.sh        (make bench)
#
# Targets (exit status 1 if one is missed):
#   decrypt 32 B, host key     ours median ≤ 0.3 × systemd-creds median
#   encrypt 32 B, host key     ours median ≤ 0.3 × systemd-creds median
#   decrypt 1 MiB, host key    ours median ≤ 10 ms (systemd 252 cannot do 1 MiB;
#                              an 800 KiB row gives both tools for reference)
#   peak RSS, decrypt 32 B     max over runs of GNU time %M ≤ 4096 KiB
# Rows marked "info" have no target: writing to stdout shows the cost without the
# output file (ours writes it atomically with fsync, systemd-creds 252 does not).
#
# Then tests/bench/ask.sh (the password tools), home.sh (home-activate), pam.sh
# (pam_latchkey), tpm2.sh (TPM2 credentials on swtpm), cred-user.sh (the credential
# service for unprivileged users) and home-luks.sh (LUKS homes, in
# the VM), each with its own table and
# targets (the first three as root; see there); the exit status is 1 if any target is
# missed, 2 if something could not be measured.
#
# Environment: BUILD (default build), SYSTEMD_CREDS (default /usr/bin/systemd-creds),
# BENCH_RUNS (30), BENCH_WARMUP (3), BENCH_RSS_RUNS (10), BENCH_KEEP=1 keeps the
# temporary directory (hyperfine JSON and logs) and prints its path.
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD

BUILD="${BUILD:-build}"
case "$BUILD" in /*) BIN="$BUILD" ;; *) BIN="$PWD/$BUILD" ;; esac
ENC="$BIN/cred-encrypt"
DEC="$BIN/cred-decrypt"
SDC="${SYSTEMD_CREDS:-/usr/bin/systemd-creds}"
RUNS="${BENCH_RUNS:-30}"
WARMUP="${BENCH_WARMUP:-3}"
RSS_RUNS="${BENCH_RSS_RUNS:-10}"
GNU_TIME=/usr/bin/time

die() {
        echo "bench: $*" >&2
        exit 2
}

for tool in "$ENC" "$DEC"; do
        [ -x "$tool" ] || die "missing $tool (run: make BUILD=$BUILD)"
done
[ -x "$SDC" ] || die "missing $SDC"
command -v hyperfine >/dev/null || die "missing hyperfine"
command -v python3 >/dev/null || die "missing python3"
[ -x "$GNU_TIME" ] || die "missing GNU time ($GNU_TIME)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench.XXXXXX") || exit 2
if [ "${BENCH_KEEP:-0}" = 1 ]; then
        trap 'echo "bench: kept $tmp" >&2' EXIT
else
        trap 'rm -rf "$tmp"' EXIT
fi
cd "$tmp" || exit 2

# Both tools read the same scratch key; nothing may switch their checks off.
export SYSTEMD_CREDENTIAL_SECRET="$tmp/host.secret"
unset LATCHKEY_LOG_LEVEL SYSTEMD_CREDENTIAL_VALIDATE_NAME SYSTEMD_CREDENTIAL_VALIDATE_NOT_AFTER

"$SDC" setup >setup.log 2>&1 || { cat setup.log >&2; die "systemd-creds setup failed"; }
[ -f host.secret ] || die "systemd-creds setup did not create $SYSTEMD_CREDENTIAL_SECRET"

head -c 32 /dev/urandom >pt-32.bin
head -c 1048576 /dev/urandom >pt-1MiB.bin
head -c 819200 /dev/urandom >pt-800KiB.bin

# Inputs: the 32 B and 800 KiB credentials come from systemd-creds, the 1 MiB one
# from ours (systemd-creds 252 refuses more than 1152 KiB of encrypted data).
"$SDC" encrypt --name=secret32 --with-key=host pt-32.bin host-32.cred 2>>setup.log ||
        die "systemd-creds encrypt (32 B) failed"
"$SDC" encrypt --name=secret800k --with-key=host pt-800KiB.bin host-800KiB.cred 2>>setup.log ||
        die "systemd-creds encrypt (800 KiB) failed"
"$ENC" --name=secret1m --with-key=host pt-1MiB.bin host-1MiB.cred || die "cred-encrypt (1 MiB) failed"

# Sanity: each tool decrypts what the other wrote, to the same bytes.
same() { # PLAINTEXT COMMAND...: the command writes "check", which must equal PLAINTEXT
        local pt=$1
        shift
        rm -f check
        "$@" 2>>setup.log && cmp -s check "$pt"
}
same pt-32.bin "$DEC" --name=secret32 host-32.cred check ||
        die "cred-decrypt does not decrypt systemd-creds' 32 B credential"
same pt-800KiB.bin "$DEC" --name=secret800k host-800KiB.cred check ||
        die "cred-decrypt does not decrypt systemd-creds' 800 KiB credential"
same pt-1MiB.bin "$DEC" --name=secret1m host-1MiB.cred check ||
        die "cred-decrypt does not decrypt its own 1 MiB credential"
"$ENC" --name=secret32 --with-key=host pt-32.bin enc-ours.cred || die "cred-encrypt (32 B) failed"
same pt-32.bin "$SDC" decrypt --name=secret32 enc-ours.cred check ||
        die "systemd-creds does not decrypt cred-encrypt's 32 B credential"
rm -f check

BENCH_TAG=bench
# shellcheck source=tests/bench/hyperfine.bash
. "$ROOT/tests/bench/hyperfine.bash"

# peak_rss COMMAND... : sets rss to the max of GNU time %M over RSS_RUNS runs, in KiB.
peak_rss() {
        local max=0 kib
        for _ in $(seq "$RSS_RUNS"); do
                "$GNU_TIME" -f %M -o "$tmp/rss" "$@" >/dev/null 2>>"$tmp/rss.log" || die "failed: $*"
                kib=$(tail -n 1 "$tmp/rss")
                [ "$kib" -gt "$max" ] && max=$kib
        done
        rss=$max
}

# shellcheck source=tests/bench/table.bash
. "$ROOT/tests/bench/table.bash"
TABLE_UNIT=ms # named in the table's header, not after each time

bench decrypt-32 \
        -n ours "$DEC --name=secret32 host-32.cred out-ours" \
        -n systemd "$SDC decrypt --name=secret32 host-32.cred out-sd"
row "decrypt 32 B, host key" "$o" "$s" ms ratio 0.3

bench encrypt-32 \
        -n ours "$ENC --name=secret32 --with-key=host pt-32.bin enc-ours.cred" \
        -n systemd "$SDC encrypt --name=secret32 --with-key=host pt-32.bin enc-sd.cred"
row "encrypt 32 B, host key" "$o" "$s" ms ratio 0.3

bench decrypt-1MiB \
        -n ours "$DEC --name=secret1m host-1MiB.cred out-1m"
row "decrypt 1 MiB, host key" "$o" "$s" ms abs 10

bench decrypt-800KiB \
        -n ours "$DEC --name=secret800k host-800KiB.cred out-800k-ours" \
        -n systemd "$SDC decrypt --name=secret800k host-800KiB.cred out-800k-sd"
row "decrypt 800 KiB, host key" "$o" "$s" ms info -

bench decrypt-32-stdout \
        -n ours "$DEC --name=secret32 host-32.cred -" \
        -n systemd "$SDC decrypt --name=secret32 host-32.cred -"
row "decrypt 32 B to stdout" "$o" "$s" ms info -

bench encrypt-32-stdout \
        -n ours "$ENC --name=secret32 --with-key=host pt-32.bin -" \
        -n systemd "$SDC encrypt --name=secret32 --with-key=host pt-32.bin -"
row "encrypt 32 B to stdout" "$o" "$s" ms info -

bench decrypt-1MiB-stdout \
        -n ours "$DEC --name=secret1m host-1MiB.cred -"
row "decrypt 1 MiB to stdout" "$o" "$s" ms info -

echo "bench: peak RSS" >&2
peak_rss "$DEC" --name=secret32 host-32.cred out-ours
o=$rss
peak_rss "$SDC" decrypt --name=secret32 host-32.cred out-sd
s=$rss
row "peak RSS, decrypt 32 B" "$o" "$s" KiB abs 4096

echo
echo "latchkey $("$DEC" --version | awk '{ print $NF }') vs $("$SDC" --version | head -n 1);" \
        "$(hyperfine --version), $RUNS runs after $WARMUP warm-up, RSS max of $RSS_RUNS runs"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ×$(nproc);" \
        "temp dir on $(stat -f -c %T "$tmp")"
table "case|ours median ms|systemd median ms|ratio|target|result"

for script in ask home pam tpm2 cred-user home-luks; do
        echo
        BUILD="$BUILD" "$ROOT/tests/bench/$script.sh"
        status=$?
        [ "$status" -gt "$failed" ] && failed=$status
done
exit "$failed"
