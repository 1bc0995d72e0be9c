#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# TPM2 credentials: cred-encrypt/cred-decrypt side by side with systemd-creds 252
# on one swtpm (Unix socket, started here, killed by PID at the end), with a
# scratch host key. Every run is preceded by a flush of all transient handles
# and sessions (--prepare, untimed): systemd 252 leaks one session per decrypt
# and swtpm has 3 slots and no resource manager.
#
#   BUILD=build tests/bench/tpm2.sh
#
# Target (exit status 1 if missed): tpm2 and host+tpm2 decrypt, ours median
# ≤ 0.4 × systemd-creds median. Encrypt rows are "info". Also prints the TPM
# commands each tool sends per decrypt (tpm2-tss pcap TCTI) and checks that ours
# leaves no handle behind.
#
# Environment: BUILD (default build), SYSTEMD_CREDS (/usr/bin/systemd-creds),
# BENCH_RUNS (30), BENCH_WARMUP (3), BENCH_KEEP=1 keeps the temporary directory.
set -u
cd "$(dirname "$0")/../.." || exit 2
BUILD="${BUILD:-build}"
case "$BUILD" in /*) BIN="$BUILD" ;; *) BIN="$PWD/$BUILD" ;; esac
ENC="$BIN/cred-encrypt"
DEC="$BIN/cred-decrypt"
SDC="${SYSTEMD_CREDS:-/usr/bin/systemd-creds}"
RUNS="${BENCH_RUNS:-30}"
WARMUP="${BENCH_WARMUP:-3}"
BENCH_TAG=tpm2

die() {
        echo "bench: $*" >&2
        exit 2
}

for c in swtpm tpm2_flushcontext hyperfine python3 "$SDC" "$ENC" "$DEC"; do
        command -v "$c" >/dev/null || die "missing $c (make deps; make)"
done

. tests/bench/scratch.bash
scratch
. tests/bench/hyperfine.bash

mkdir -p "$tmp/state"
swtpm socket --tpm2 --tpmstate dir="$tmp/state" --server type=unixio,path="$tmp/sock" \
        --ctrl type=unixio,path="$tmp/sock.ctrl" --flags startup-clear --log file="$tmp/swtpm.log" &
SERVER_PID=$!
TPM="swtpm:path=$tmp/sock"
export TPM2TOOLS_TCTI="$TPM" SYSTEMD_CREDENTIAL_SECRET="$tmp/host.secret"
for _ in $(seq 200); do tpm2_getrandom 4 >/dev/null 2>&1 && break; sleep 0.01; done
tpm2_getrandom 4 >/dev/null 2>&1 || die "swtpm did not start"
# PCR 7 with a value, as on a machine with Secure Boot.
tpm2_pcrextend 7:sha256=0707070707070707070707070707070707070707070707070707070707070707 || die "pcrextend failed"

printf '#!/bin/sh\ntpm2_flushcontext -t >/dev/null 2>&1; tpm2_flushcontext -l >/dev/null 2>&1; tpm2_flushcontext -s >/dev/null 2>&1; exit 0\n' >"$tmp/flush"
chmod +x "$tmp/flush"
head -c 32 /dev/urandom >"$tmp/pt"
"$ENC" --with-key=host --name=x "$tmp/pt" "$tmp/warm.cred" >/dev/null 2>&1 || die "cannot create the host key"

handles() { tpm2_getcap handles-transient; tpm2_getcap handles-loaded-session; tpm2_getcap handles-saved-session; }

missed=0
printf '%-28s %12s %12s %7s %s\n' "case (median ms)" 'cred-*' systemd-creds ratio target >"$tmp/table"
for key in tpm2 host+tpm2; do
        "$ENC" --tpm2-device="$TPM" --with-key=$key --name=o "$tmp/pt" "$tmp/o-$key.cred" 2>/dev/null || die "cred-encrypt $key failed"
        "$SDC" encrypt --tpm2-device="$TPM" --with-key=$key --name=s "$tmp/pt" "$tmp/s-$key.cred" 2>/dev/null || die "systemd-creds encrypt $key failed"
        "$tmp/flush"
        # Same credential for both (ours, which systemd-creds reads too), PCR 7 bound.
        bench "decrypt-$key" --prepare "$tmp/flush" \
                "$DEC --tpm2-device=$TPM --name=o $tmp/o-$key.cred $tmp/out-o" \
                "$SDC decrypt --tpm2-device=$TPM --name=o $tmp/o-$key.cred $tmp/out-s"
        cmp -s "$tmp/out-o" "$tmp/pt" && cmp -s "$tmp/out-s" "$tmp/pt" || die "decrypt $key: wrong plaintext"
        ratio=$(python3 -c "print('%.2f' % ($o / $s))")
        ok=$(python3 -c "print('ok' if $o <= 0.4 * $s else 'MISSED')")
        [ "$ok" = ok ] || missed=1
        printf '%-28s %12s %12s %7s %s\n' "decrypt $key (PCR 7)" "$o" "$s" "$ratio" "≤ 0.40 $ok" >>"$tmp/table"
        bench "encrypt-$key" --prepare "$tmp/flush" \
                "$ENC --tpm2-device=$TPM --with-key=$key --name=o $tmp/pt $tmp/e-o" \
                "$SDC encrypt --tpm2-device=$TPM --with-key=$key --name=o $tmp/pt $tmp/e-s"
        printf '%-28s %12s %12s %7s %s\n' "encrypt $key (PCR 7)" "$o" "$s" "$(python3 -c "print('%.2f' % ($o / $s))")" info >>"$tmp/table"
done

# TPM commands per decrypt, through the pcap TCTI; and ours must leave nothing loaded.
"$tmp/flush"
echo >>"$tmp/table"
for tool in ours systemd; do
        rm -f "$tmp/$tool.pcap"
        if [ $tool = ours ]; then
                TCTI_PCAP_FILE="$tmp/$tool.pcap" "$DEC" --tpm2-device="pcap:$TPM" --name=o "$tmp/o-tpm2.cred" "$tmp/out" 2>/dev/null
                left=$(handles | grep -c 0x)
        else
                TCTI_PCAP_FILE="$tmp/$tool.pcap" "$SDC" decrypt --tpm2-device="pcap:$TPM" --name=o "$tmp/o-tpm2.cred" "$tmp/out" 2>/dev/null
                left=$(handles | grep -c 0x)
                "$tmp/flush"
        fi
        read -r n list < <(python3 tests/bench/tpm2-count.py "$tmp/$tool.pcap")
        printf '%-8s decrypt tpm2: %2s TPM commands, %s handle(s) left loaded: %s\n' "$tool" "$n" "$left" "$list" >>"$tmp/table"
        [ $tool = systemd ] || [ "$left" = 0 ] || { echo "bench: cred-decrypt left $left TPM handle(s)" >&2; missed=1; }
done
cat "$tmp/table"
exit $missed
