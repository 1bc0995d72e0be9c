# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the benchmark scripts (sourced): a scratch directory and the one server a
# bench starts in the background, both gone when the bench exits.
# Needs a die() function.

# scratch: makes $tmp and, on exit, stops $SERVER_PID if set (so that no server
# outlives the bench), then removes $tmp (BENCH_KEEP=1 keeps it and names it).
scratch() {
        tmp=$(mktemp -d) || die "cannot make a temporary directory"
        SERVER_PID=
        trap scratch_cleanup EXIT
}

# shellcheck disable=SC2317 # run by the EXIT trap
scratch_cleanup() {
        [ -z "$SERVER_PID" ] || { kill -TERM "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; }
        if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi
}
