# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the benchmark scripts (sourced): hyperfine runs reduced to medians.
# Needs $tmp, $WARMUP, $RUNS, $BENCH_TAG and a die() function.

# hyperfine JSON → median of each command in ms, one per line.
medians() {
        python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print("%.3f" % (r["median"] * 1000))
' "$1"
}

# bench ID [HYPERFINE OPTION...] COMMAND...: ours, and systemd's if a second command
# is given. Sets o and s to the medians (ms); "-" for a missing command.
bench() {
        local id=$1 json="$tmp/$1.json"
        shift
        echo "$BENCH_TAG: $id" >&2
        if ! hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --style basic --export-json "$json" "$@" \
                >"$tmp/$id.log" 2>&1; then
                cat "$tmp/$id.log" >&2
                die "hyperfine failed for $id"
        fi
        { medians "$json"; echo -; } | head -n 2 | tr '\n' ' ' >"$tmp/$id.medians"
        read -r o s <"$tmp/$id.medians"
}
