#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the libFuzzer targets build-fuzz/fuzz-* (make fuzz-build) on a seed corpus
# made from tests/vectors/*.cred, as Base64 text and decoded to raw bytes.
#
#   tests/fuzz/run.sh            fuzz each target for $FUZZ_SECONDS (default 60) seconds
#   tests/fuzz/run.sh --replay   run each target once over the seed corpus only
#
# Corpora live in a temporary directory, never in the repository. Crash, leak and
# timeout reproducers go to build-fuzz/artifacts/TARGET/, full logs to
# build-fuzz/logs/TARGET.log. Prints one line per target; exits non-zero if any
# target crashed, leaked, timed out or ran out of memory.
#
# Environment: FUZZ_SECONDS, FUZZ_JOBS (targets run at once; default nproc),
# FUZZ_MAX_LEN (longest input while fuzzing; default 16384), FUZZ_TARGETS
# (space-separated names in build-fuzz/, or paths; default all), FUZZ_ARGS (extra
# libFuzzer flags).
set -u
cd "$(dirname "$0")/../.." || exit 1

mode=fuzz
case "${1:-}" in
--replay) mode=replay ;;
"") ;;
*)
        echo "usage: $0 [--replay]" >&2
        exit 2
        ;;
esac

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_MAX_LEN="${FUZZ_MAX_LEN:-16384}"
FUZZ_JOBS="${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}"
outdir="$PWD/build-fuzz"
suffix=""
[ "$mode" = replay ] && suffix="-replay"

targets=()
if [ -n "${FUZZ_TARGETS:-}" ]; then
        for t in $FUZZ_TARGETS; do
                case $t in
                */*) targets+=("$t") ;;
                *) targets+=("$outdir/$t") ;;
                esac
        done
else
        for t in "$outdir"/fuzz-*; do
                [ -f "$t" ] && [ -x "$t" ] && targets+=("$t")
        done
fi
if [ ${#targets[@]} -eq 0 ]; then
        echo "no fuzz targets in build-fuzz/ (run: make fuzz-build)" >&2
        exit 1
fi
for t in "${targets[@]}"; do
        if [ ! -x "$t" ]; then
                echo "missing fuzz target $t (run: make fuzz-build)" >&2
                exit 1
        fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
# fuzz-cred writes its scratch host key under $TMPDIR: keep it in here too.
export TMPDIR="$tmp"
mkdir -p "$outdir/logs"

# Seeds for fuzz-cred's roundtrip (0x01) and seal (0x02) modes; see fuzz-cred.c.
synthetic_seeds() {
        local d=$1
        # roundtrip: flags 0x00, name "secret", 32 bytes of plaintext
        printf '\x01\x00\x06secret0123456789abcdef0123456789abcdef' >"$d/synthetic-roundtrip-named"
        # roundtrip: Base64 path, expiring in the future, no name
        printf '\x01\x21\x00hello world' >"$d/synthetic-roundtrip-b64"
        # seal: null key, IV 12, timestamp unset, not-after unset, name "x", payload "hi"
        printf '\x02\x00\x0c\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00\x00\x00x\x00\x00\x00hi' \
                >"$d/synthetic-seal-null"
        # seal: host key, expected name "x", no name embedded, empty payload
        printf '\x02\x03\x0c\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00' \
                >"$d/synthetic-seal-host"
}

make_corpus() {
        local target=$1 d=$2 f base
        mkdir -p "$d"
        for f in tests/vectors/*.cred; do
                [ -f "$f" ] || continue
                base=$(basename "$f" .cred)
                cp "$f" "$d/$base.cred"
                chmod u+w "$d/$base.cred"
                base64 -d <"$f" >"$d/$base.raw" 2>/dev/null || rm -f "$d/$base.raw"
        done
        case "$(basename "$target")" in
        fuzz-cred) synthetic_seeds "$d" ;;
        fuzz-ask) cp tests/vectors/ask/* "$d/" ;;
        fuzz-userrecord) cp tests/vectors/home/* "$d/" ;;
        fuzz-keyslot) cp tests/vectors/keyslot/* "$d/" ;;
        fuzz-credserve) cp tests/vectors/credserve/* "$d/" ;;
        esac
}

# Executions from a libFuzzer log: the final stats if printed, else the last "#N" status line.
execs_of() {
        local log=$1 n
        n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
        if [ -z "$n" ]; then
                n=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
        fi
        echo "${n:-0}"
}

verdict_of() {
        local log=$1 rc=$2
        if [ "$rc" -eq 0 ]; then
                echo ok
        elif grep -q 'ERROR: LeakSanitizer' "$log"; then
                echo LEAK
        elif grep -q 'ERROR: libFuzzer: timeout' "$log"; then
                echo TIMEOUT
        elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
                echo OOM
        else
                echo "CRASH (exit $rc)"
        fi
}

run_one() {
        local target=$1 name corpus log art rc start end
        name=$(basename "$target")
        corpus="$tmp/corpus-$name"
        log="$outdir/logs/$name$suffix.log"
        art="$outdir/artifacts/$name/"
        make_corpus "$target" "$corpus"
        mkdir -p "$art"
        start=$(date +%s)
        if [ "$mode" = replay ]; then
                # Every seed once, at full length (the 1 MiB vector too).
                # shellcheck disable=SC2086
                "$target" -runs=0 -max_len=4194304 -timeout=60 -print_final_stats=1 \
                        -artifact_prefix="$art" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
        else
                # shellcheck disable=SC2086
                "$target" -max_total_time="$FUZZ_SECONDS" -max_len="$FUZZ_MAX_LEN" -timeout=25 \
                        -print_final_stats=1 -artifact_prefix="$art" ${FUZZ_ARGS:-} "$corpus" >"$log" 2>&1
        fi
        rc=$?
        end=$(date +%s)
        echo "$rc $((end - start)) $(execs_of "$log") $(find "$corpus" -type f | wc -l)" >"$tmp/result-$name"
}

# Run up to FUZZ_JOBS targets at once.
running=0
for t in "${targets[@]}"; do
        run_one "$t" &
        running=$((running + 1))
        if [ "$running" -ge "$FUZZ_JOBS" ]; then
                wait -n
                running=$((running - 1))
        fi
done
wait

failed=0
for t in "${targets[@]}"; do
        name=$(basename "$t")
        log="$outdir/logs/$name$suffix.log"
        if [ ! -f "$tmp/result-$name" ]; then
                printf '%-14s no result\n' "$name:"
                failed=1
                continue
        fi
        read -r rc secs execs units <"$tmp/result-$name"
        verdict=$(verdict_of "$log" "$rc")
        if [ "$mode" = replay ]; then
                printf '%-14s %s inputs replayed, %s\n' "$name:" "$execs" "$verdict"
        else
                printf '%-14s %s execs in %s s (%s execs/s), corpus %s, %s\n' "$name:" "$execs" "$secs" \
                        "$((execs / (secs > 0 ? secs : 1)))" "$units" "$verdict"
        fi
        if [ "$verdict" != ok ]; then
                failed=1
                sed -n 's/^artifact_prefix=.*; Test unit written to \(.*\)$/  reproducer: \1/p' "$log"
                echo "  log: $log"
                # The first report, up to ASan's shadow dump.
                grep -E -A40 '^(==[0-9]+==ERROR|.*runtime error:|fuzz-cred: check failed|==[0-9]+== ERROR)' "$log" |
                        sed -e '/^Shadow bytes around/,$d' -e '/^--$/,$d' | head -n 40 | sed 's/^/  /'
        fi
done
exit "$failed"
