#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Benchmarks ask-client and ask-agent-tty beside systemd-ask-password and
# systemd-tty-ask-password-agent (the spec's §7.2 and §7.3 measurements). Needs root:
# it re-runs itself in a private mount namespace (unshare -m) with a tmpfs on /run, so
# /run/systemd/ask-password is its own and no real agent ever sees its asks.
#
#   BUILD=build tests/bench/ask.sh        (run at the end of tests/bench/run.sh)
#
# Targets (exit status 1 if one is missed):
#   round trip       median of `ask-client --no-tty Q:` ≤ 0.3 × median of
#                    `systemd-ask-password --no-tty Q:`, both answered by the same
#                    already-watching responder: `ask-agent-tty --watch` in its own
#                    session (no TTY), reading one "pw" line per ask from `yes pw`;
#                    runs back to back, as in the spec. An info row repeats it with
#                    50 ms between runs (hyperfine --prepare), so that the responder has
#                    finished whatever it does after an answer before the next ask.
#   10 000 pending   N `ask-client --no-tty --timeout=0 Q$i` wait with no agent; then
#                    `ask-agent-tty --query` on a pty, its input "pw\n" per ask typed
#                    ahead into the master, until every client has exited: ≤ 2 s for
#                    N = 10 000
#   per-ask growth   µs per ask at N = 10 000 ≤ 2 × µs per ask at N = 100
# systemd-tty-ask-password-agent --query clears the same clients the same way beside
# ours, and `--help` gives each client's start-up cost; those have no target.
#
# Environment: BUILD (default build), SYSTEMD_ASK_PASSWORD (/usr/bin/systemd-ask-password),
# SYSTEMD_TTY_AGENT (/usr/bin/systemd-tty-ask-password-agent), ASK_BENCH_RUNS (100),
# ASK_BENCH_WARMUP (5), ASK_BENCH_GAP (0.05 s between round trips in the info row),
# ASK_BENCH_SIZES ("100 1000 10000"; the first and last give the growth row),
# ASK_BENCH_QUEUE_RUNS (3, median; the largest N runs once), BENCH_KEEP=1 keeps the
# temporary directory (hyperfine JSON, logs) and prints its path.
# Exit status 2 when something could not be measured; without root it only says so (0).
set -u
self=$(readlink -f "$0") || exit 2
cd "$(dirname "$self")/../.." || exit 2

BUILD="${BUILD:-build}"
case $BUILD in
/*) ;;
*) BUILD="$PWD/$BUILD" ;;
esac
CLIENT="$BUILD/ask-client"
AGENT="$BUILD/ask-agent-tty"
SD_CLIENT="${SYSTEMD_ASK_PASSWORD:-/usr/bin/systemd-ask-password}"
SD_AGENT="${SYSTEMD_TTY_AGENT:-/usr/bin/systemd-tty-ask-password-agent}"
RUNS="${ASK_BENCH_RUNS:-100}"
WARMUP="${ASK_BENCH_WARMUP:-5}"
GAP="${ASK_BENCH_GAP:-0.05}"
SIZES="${ASK_BENCH_SIZES:-100 1000 10000}"
QRUNS="${ASK_BENCH_QUEUE_RUNS:-3}"
ASK_DIR=/run/systemd/ask-password

die() {
        echo "bench-ask: $*" >&2
        exit 2
}

if [ "$(id -u)" != 0 ]; then
        echo "bench-ask: skipped, needs root (a private tmpfs on /run in its own mount namespace)" >&2
        exit 0
fi
for tool in "$CLIENT" "$AGENT"; do
        [ -x "$tool" ] || die "missing $tool (run: make BUILD=$BUILD)"
done
for tool in "$SD_CLIENT" "$SD_AGENT"; do
        [ -x "$tool" ] || die "missing $tool"
done
for tool in hyperfine python3 unshare mount yes setsid; do
        command -v "$tool" >/dev/null || die "missing $tool"
done

# Once more in a private mount namespace, with /run a fresh tmpfs.
if [ "${LATCHKEY_ASK_BENCH_NS:-}" != 1 ]; then
        # shellcheck disable=SC2093 # die only runs when exec fails
        exec unshare -m --propagation private -- env LATCHKEY_ASK_BENCH_NS=1 BUILD="$BUILD" "$self" "$@"
        die "cannot run unshare -m"
fi
mount -t tmpfs -o mode=0755 tmpfs /run || die "cannot mount a tmpfs on /run"
mkdir -p "$ASK_DIR" || exit 2

# Only the system directory; no credential, keyring or debugging shortcut answers instead.
unset XDG_RUNTIME_DIR CREDENTIALS_DIRECTORY LATCHKEY_LOG_LEVEL NOTIFY_SOCKET SYSTEMD_ASK_PASSWORD_AGENT_PASSWORD
export TERM=xterm

max=0
for n in $SIZES; do
        [ "$n" -gt "$max" ] && max=$n
done
# Every pending client is a process: raise the soft limit when it is too low.
if [ "$(ulimit -u)" != unlimited ] && [ "$(ulimit -u)" -lt $((max + 512)) ]; then
        ulimit -S -u $((max + 512)) 2>/dev/null || die "ulimit -u $(ulimit -u) is below $((max + 512))"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench-ask.XXXXXX") || exit 2
watch_pid=
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
        [ -n "$watch_pid" ] && kill "$watch_pid" 2>/dev/null
        if [ "${BENCH_KEEP:-0}" = 1 ]; then
                echo "bench-ask: kept $tmp" >&2
        else
                rm -rf "$tmp"
        fi
}
trap cleanup EXIT
cd "$tmp" || exit 2

# queued.py N CLIENT -- AGENT...: starts N clients waiting with no agent, waits for their
# N ask files, then runs AGENT on a new pty (its controlling TTY) with N "pw\n" lines
# typed ahead and its output drained, and reaps everything. Prints one JSON line; the
# clock runs from spawning the agent until the last client has exited.
cat >queued.py <<'EOF'
import errno, json, os, pty, select, signal, sys, time

ASK_DIR = "/run/systemd/ask-password"

def count_asks():
    with os.scandir(ASK_DIR) as it:
        return sum(1 for e in it if e.name.startswith("ask."))

def main():
    n, client = int(sys.argv[1]), sys.argv[2]
    agent = sys.argv[sys.argv.index("--") + 1:]
    out = os.open("clients.out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    err = os.open("clients.err", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)]
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    clients, status = set(), {}
    if count_asks():
        sys.exit("queued: %s is not empty" % ASK_DIR)
    try:
        t = time.monotonic()
        for i in range(1, n + 1):
            clients.add(os.posix_spawn(client, [client, "--no-tty", "--timeout=0", "Q%d" % i], os.environ,
                                       file_actions=actions, setsid=True))
        spawn_s = time.monotonic() - t
        deadline = time.monotonic() + 60 + n / 100
        while count_asks() < n:
            if time.monotonic() > deadline:
                sys.exit("queued: only %d of %d ask files appeared" % (count_asks(), n))
            if any(os.waitpid(p, os.WNOHANG)[0] for p in list(clients)[:50]):
                sys.exit("queued: a client exited before any agent ran (see clients.err)")
            time.sleep(0.005)
        pending = b"pw\n" * n
        t0 = time.monotonic()
        pid, master = pty.fork()
        if pid == 0:
            try:
                os.execv(agent[0], agent)
            finally:
                os._exit(127)
        os.set_blocking(master, False)
        done = agent_done = agent_status = None
        progress, out_bytes = time.monotonic(), 0
        while done is None or agent_done is None:
            r, w, _ = select.select([master, wake_r], [master] if pending else [], [], 1.0)
            if master in r:
                try:
                    out_bytes += len(os.read(master, 65536))
                except OSError as e:
                    if e.errno != errno.EIO:  # EIO: the agent has gone
                        raise
            if w:
                try:
                    pending = pending[os.write(master, pending[:65536]):]
                except BlockingIOError:
                    pass
            if wake_r in r:
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
            while True:
                try:
                    p, st = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if p == 0:
                    break
                progress = time.monotonic()
                if p == pid:
                    agent_done, agent_status = progress, os.waitstatus_to_exitcode(st)
                else:
                    clients.discard(p)
                    status[p] = os.waitstatus_to_exitcode(st)
                    if not clients:
                        done = progress
            if time.monotonic() - progress > 30:
                sys.exit("queued: no progress for 30 s: %d clients waiting, agent %s, %d input bytes unwritten"
                         % (len(clients), "running" if agent_done is None else "exited %d" % agent_status,
                            len(pending)))
        with open("clients.out", "rb") as f:
            answers = f.read().count(b"pw")  # writes of concurrent clients may interleave
        print(json.dumps({"n": n, "spawn_s": spawn_s, "total_s": done - t0, "agent_s": agent_done - t0,
                          "agent_status": agent_status, "failed": sum(1 for s in status.values() if s != 0),
                          "answers": answers, "unwritten": len(pending), "out_bytes": out_bytes}))
    finally:
        for p in clients:
            try:
                os.kill(p, signal.SIGTERM)
            except ProcessLookupError:
                pass

main()
EOF

BENCH_TAG=bench-ask
# shellcheck source=tests/bench/hyperfine.bash
. "$(dirname "$self")/hyperfine.bash"
# shellcheck source=tests/bench/table.bash
. "$(dirname "$self")/table.bash"

# --- 1. round trip with an already-watching responder ---------------------------
# The responder is our agent in its own session, so it has no TTY and reads its answers
# from stdin: one line per ask, from a pipe that never runs dry. $! is the agent itself
# (setsid only forks when it is a process group leader, which a background job here is not).
yes pw | setsid "$AGENT" --watch 2>"$tmp/watch.log" &
watch_pid=$!
answer=$(timeout 10 "$CLIENT" --no-tty --timeout=5s Q: 2>>"$tmp/watch.log")
[ "$answer" = pw ] || { cat "$tmp/watch.log" >&2; die "the watching agent did not answer ask-client"; }
answer=$(timeout 10 "$SD_CLIENT" --no-tty --timeout=5s Q: 2>>"$tmp/watch.log")
[ "$answer" = pw ] || { cat "$tmp/watch.log" >&2; die "the watching agent did not answer systemd-ask-password"; }
[ "$(awk '{ print $6 }' "/proc/$watch_pid/stat")" = "$watch_pid" ] || die "the watching agent is not in its own session"

bench round-trip \
        -n ours "$CLIENT --no-tty Q:" \
        -n systemd "$SD_CLIENT --no-tty Q:"
row "round trip --no-tty Q:, watching agent" "$o" "$s" ms ratio 0.3

bench round-trip-gap --prepare "sleep $GAP" \
        -n ours "$CLIENT --no-tty Q:" \
        -n systemd "$SD_CLIENT --no-tty Q:"
row "  the same, ${GAP} s between runs" "$o" "$s" ms info -

bench help \
        -n ours "$CLIENT --help" \
        -n systemd "$SD_CLIENT --help"
row "start-up, --help" "$o" "$s" ms info -

kill "$watch_pid" 2>/dev/null
wait "$watch_pid" 2>/dev/null
watch_pid=
rm -f "$ASK_DIR"/* 2>/dev/null

# --- 2. one agent clearing N pending asks --------------------------------------
# queued ID N AGENT...: sets q to the median total (s) over the runs, checks every answer.
queued() {
        local id=$1 n=$2 runs=$QRUNS i json
        shift 2
        [ "$n" = "$max" ] && runs=1
        : >"$tmp/$id.totals"
        for i in $(seq "$runs"); do
                echo "bench-ask: $id ($n pending, run $i of $runs)" >&2
                if ! json=$(python3 "$tmp/queued.py" "$n" "$CLIENT" -- "$@" 2>"$tmp/$id.err"); then
                        cat "$tmp/$id.err" "$tmp/clients.err" >&2
                        rm -f "$ASK_DIR"/* 2>/dev/null
                        die "$id failed"
                fi
                echo "$json" >>"$tmp/$id.log"
                python3 -c '
import json, sys
r = json.loads(sys.argv[1])
bad = []
if r["failed"]: bad.append("%d clients failed" % r["failed"])
if r["answers"] != r["n"]: bad.append("%d answers for %d asks" % (r["answers"], r["n"]))
if r["agent_status"] != 0: bad.append("agent exit status %d" % r["agent_status"])
if bad: sys.exit(", ".join(bad))
print("%.6f" % r["total_s"])
' "$json" >>"$tmp/$id.totals" || { cat "$tmp/clients.err" >&2; die "$id: wrong result"; }
                [ -z "$(ls -A "$ASK_DIR")" ] || die "$id: files left in $ASK_DIR"
        done
        q=$(sort -g "$tmp/$id.totals" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
}

declare -A per_ask
first=${SIZES%% *}
for n in $SIZES; do
        queued "ours-$n" "$n" "$AGENT" --query
        oq=$q
        queued "systemd-$n" "$n" "$SD_AGENT" --query
        sq=$q
        o=$(printf %.3f "$oq")
        s=$(printf %.3f "$sq")
        if [ "$n" = 10000 ]; then
                row "$n pending, agent --query on a pty" "$o" "$s" s abs 2
        else
                row "$n pending, agent --query on a pty" "$o" "$s" s info -
        fi
        per_ask[o$n]=$(awk -v t="$oq" -v n="$n" 'BEGIN { printf "%.1f", t / n * 1e6 }')
        per_ask[s$n]=$(awk -v t="$sq" -v n="$n" 'BEGIN { printf "%.1f", t / n * 1e6 }')
        row "  per ask" "${per_ask[o$n]}" "${per_ask[s$n]}" µs info -
done
if [ "$first" != "$max" ]; then
        row "per-ask time, $max vs $first pending" \
                "$(awk -v a="${per_ask[o$max]}" -v b="${per_ask[o$first]}" 'BEGIN { printf "%.2f", a / b }')" \
                "$(awk -v a="${per_ask[s$max]}" -v b="${per_ask[s$first]}" 'BEGIN { printf "%.2f", a / b }')" \
                × abs 2 noratio
fi

echo "latchkey $("$CLIENT" --version | awk '{ print $NF }') vs $("$SD_CLIENT" --version | head -n 1);" \
        "$(hyperfine --version), $RUNS runs after $WARMUP warm-up;" \
        "pending: median of $QRUNS runs ($max: 1 run), timed from starting the agent to the last client's exit"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1) ×$(nproc); kernel $(uname -r);" \
        "$ASK_DIR on $(stat -f -c %T "$ASK_DIR")"
table "case|ours|systemd|ratio|target|result"
exit "$failed"
