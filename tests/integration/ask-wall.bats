#!/usr/bin/env bats
# ask-agent-wall: announcements on pseudo-terminals listed in a scratch utmp
# file (--utmp; the real one is never touched), each test in a private mount
# namespace with a fresh /run (root), so no real agent or ask interferes.
load helpers

CLIENT="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/ask-client"
WALL="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/ask-agent-wall"
HELPER="$BATS_TEST_DIRNAME/wall-helper.py"
D=/run/systemd/ask-password

setup() {
        need_root "mounts a private /run for the ask-password directory"
        # wall-helper.py packs glibc's x86-64 struct utmp (384 bytes).
        [ "$(uname -m)" = x86_64 ] || skip "the utmp records of the helper are x86-64's"
        T="$BATS_TEST_TMPDIR"
        unset XDG_RUNTIME_DIR # the system directory only, unless a test says otherwise
        export CLIENT WALL HELPER D T
}

# Functions for the scripts: wait (bounded) for N pending asks, or for N
# announcements on a terminal; a terminal's "MAJOR:MINOR"; its utmp line.
export P='
wait_asks() { for _ in $(seq 250); do [ "$(ls $D | grep -c "^ask\.")" -ge "$1" ] && return 0; sleep 0.02; done; return 1; }
wait_msgs() { for _ in $(seq 250); do [ "$(grep -c "Password entry" "$1")" -ge "$2" ] && return 0; sleep 0.02; done; return 1; }
devno() { printf "%d:%d" 0x$(stat -c %t "$1") 0x$(stat -c %T "$1"); }
line() { echo "${1#/dev/}"; }
'

# Runs script $2 with a fresh tmpfs on /run and $1 pseudo-terminals ($PTY0...),
# whose output lands in $T/pty0.out...
with_ptys() {
        S="$P$2" unshare -m -- bash -c 'mount -t tmpfs tmpfs /run && mkdir -p "$D" && exec python3 "$HELPER" ptys '"$1"' "$T" bash -c "$S"'
}

# The announcement of an ask, with "(TS)" for the timestamp: USER PID MESSAGE.
expected() {
        printf '\r\nBroadcast message from %s@%s (TS):\r\n\r\nPassword entry required for '\''%s'\'' (PID %s).\r\nPlease enter password with ask-agent-tty --query.\r\n\r\n' \
                "$1" "$(hostname)" "$3" "$2"
}

# A terminal's output with each well-formed timestamp replaced by "TS".
normalized() {
        sed -E 's/ \((Mon|Tue|Wed|Thu|Fri|Sat|Sun) [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [A-Za-z0-9+-]+\):/ (TS):/g' "$1"
}

@test "one announcement per ask, exactly systemd's text; repeated runs stay silent; gone asks are forgotten" {
        run --separate-stderr with_ptys 1 '
                python3 $HELPER utmp /run/utmp 7:root:$(line $PTY0)
                $CLIENT --no-tty "Unlock disk:" & c=$!; echo $c > $T/pid
                wait_asks 1
                $WALL --once --utmp=/run/utmp; echo "wall=$?"
                $WALL --once --utmp=/run/utmp; echo "wall=$?"
                wc -l < /run/latchkey/ask-agent-wall.seen
                kill $c; wait $c
                $WALL --once --utmp=/run/utmp; echo "wall=$?"
                wc -l < /run/latchkey/ask-agent-wall.seen'
        [ "$status" -eq 0 ] || { echo "status $status: $output / $stderr"; return 1; }
        [ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
        [ "$output" = "wall=0
wall=0
1
wall=0
0" ]
        cmp <(normalized "$T/pty0.out") <(expected root "$(cat "$T/pid")" "Unlock disk:") || { od -c "$T/pty0.out"; return 1; }
}

@test "--watch: each new ask announced once, earlier ones not again; SIGTERM exits 0" {
        run --separate-stderr with_ptys 1 '
                python3 $HELPER utmp /run/utmp 7:root:$(line $PTY0)
                $WALL --utmp=/run/utmp & w=$!
                $CLIENT --no-tty "first" & c1=$!
                wait_msgs $T/pty0.out 1 || echo "no first"
                $CLIENT --no-tty "second" & c2=$!
                wait_msgs $T/pty0.out 2 || echo "no second"
                kill $c1; wait $c1
                $CLIENT --no-tty "third" & c3=$!
                wait_msgs $T/pty0.out 3 || echo "no third"
                sleep 0.3 # room for a repeated announcement to show
                kill -TERM $w; wait $w; echo "wall=$?"
                echo $c1 $c2 $c3 > $T/pids
                kill $c2 $c3; wait'
        [ "$status" -eq 0 ] || { echo "status $status: $output / $stderr"; return 1; }
        [ "$output" = "wall=0" ] || { echo "$output"; return 1; }
        read -r p1 p2 p3 < "$T/pids"
        cmp <(normalized "$T/pty0.out") <(expected root $p1 first; expected root $p2 second; expected root $p3 third) ||
                { od -c "$T/pty0.out"; return 1; }
}

@test "a terminal whose block FIFO has a reader gets nothing; without a reader or FIFO it does" {
        run --separate-stderr with_ptys 3 '
                python3 $HELPER utmp /run/utmp 7:root:$(line $PTY0) 7:root:$(line $PTY1) 7:root:$(line $PTY2)
                B=/run/systemd/ask-password-block
                mkdir -m 0700 -p $B
                mkfifo -m 0600 $B/$(devno $PTY1) $B/$(devno $PTY2)
                exec 3<> $B/$(devno $PTY1)   # a prompt is open on PTY1; PTY2 has a FIFO, no reader
                $CLIENT --no-tty "Q:" & c=$!; echo $c > $T/pid
                wait_asks 1
                $WALL --once --utmp=/run/utmp; echo "wall=$?"
                exec 3>&-
                kill $c; wait $c; exit 0'
        [ "$status" -eq 0 ] || { echo "status $status: $output / $stderr"; return 1; }
        [ "$output" = "wall=0" ]
        [ ! -s "$T/pty1.out" ] || { od -c "$T/pty1.out"; return 1; }
        cmp <(normalized "$T/pty0.out") <(expected root "$(cat "$T/pid")" "Q:")
        cmp <(normalized "$T/pty2.out") <(expected root "$(cat "$T/pid")" "Q:")
}

@test "only live asks and only logged-in users' terminals (utmp USER_PROCESS, /dev/ prefix either way)" {
        run --separate-stderr with_ptys 4 '
                # USER_PROCESS, USER_PROCESS with /dev/ already, DEAD_PROCESS, USER_PROCESS without a user
                python3 $HELPER utmp /run/utmp 7:root:$(line $PTY0) 7:root:$PTY1 8:root:$(line $PTY2) 7::$(line $PTY3)
                sh -c "exit 0" & dead=$!; wait $dead
                printf "[Ask]\nPID=$dead\nSocket=$D/sck.dead\nMessage=dead\n" > $D/ask.dead
                printf "[Ask]\nPID=$$\nSocket=$D/sck.old\nNotAfter=1\nMessage=expired\n" > $D/ask.expired
                printf "[Ask]\nPID=$$\nMessage=nosocket\n" > $D/ask.junk
                ln -s $D/ask.dead $D/ask.link
                $CLIENT --no-tty "live" & c=$!; echo $c > $T/pid
                wait_asks 5
                $WALL --once --utmp=/run/utmp; echo "wall=$?"
                kill $c; wait $c; exit 0'
        [ "$status" -eq 0 ] || { echo "status $status: $output / $stderr"; return 1; }
        [ "$output" = "wall=0" ]
        cmp <(normalized "$T/pty0.out") <(expected root "$(cat "$T/pid")" live) || { od -c "$T/pty0.out"; return 1; }
        cmp <(normalized "$T/pty1.out") <(expected root "$(cat "$T/pid")" live) || { od -c "$T/pty1.out"; return 1; }
        [ ! -s "$T/pty2.out" ]
        [ ! -s "$T/pty3.out" ]
}

@test "control bytes of a message are shown escaped; no message is 'n/a'" {
        run --separate-stderr with_ptys 1 '
                python3 $HELPER utmp /run/utmp 7:root:$(line $PTY0)
                printf "[Ask]\nPID=$$\nSocket=$D/sck.a\nMessage=red\033[31m bell\a\n" > $D/ask.a
                printf "[Ask]\nPID=$$\nSocket=$D/sck.b\n" > $D/ask.b
                $WALL --once --utmp=/run/utmp; echo "wall=$?"; echo $$ > $T/pid'
        [ "$status" -eq 0 ] || { echo "status $status: $output / $stderr"; return 1; }
        [ "$output" = "wall=0" ]
        not grep -q "$(printf '\033')" "$T/pty0.out"
        not grep -q "$(printf '\a')" "$T/pty0.out"
        pid=$(cat "$T/pid")
        cmp <(normalized "$T/pty0.out") <(expected root $pid 'red\x1b[31m bell\x07'; expected root $pid n/a) ||
                { od -c "$T/pty0.out"; return 1; }
}

@test "a stopped terminal costs at most about 50 ms; the others still get the message" {
        WALL_STOP=0 run --separate-stderr with_ptys 2 '
                python3 $HELPER utmp /run/utmp 7:root:$(line $PTY0) 7:root:$(line $PTY1)
                $CLIENT --no-tty "Q:" & c=$!; echo $c > $T/pid
                wait_asks 1
                ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
                t0=$(date +%s%N)
                timeout 5 $WALL --once --utmp=/run/utmp; echo "wall=$?"
                t1=$(ms $t0)
                # the same again, with nothing left to announce: the cost of a run without writing
                t0=$(date +%s%N)
                timeout 5 $WALL --once --utmp=/run/utmp
                echo $t1 $(ms $t0) > $T/ms
                kill $c; wait $c; exit 0'
        [ "$status" -eq 0 ] || { echo "status $status: $output / $stderr"; return 1; }
        [ "$output" = "wall=0" ]
        read -r with without < "$T/ms"
        echo "took $with ms, $without ms without writing"
        [ $((with - without)) -lt 500 ]
        [ ! -s "$T/pty0.out" ]
        cmp <(normalized "$T/pty1.out") <(expected root "$(cat "$T/pid")" "Q:")
}

@test "--user: the user's own asks, once, on the user's own terminals only" {
        run --separate-stderr with_ptys 2 '
                X=/run/user/65534; U=$X/systemd/ask-password
                install -d -o nobody -g nogroup -m 0700 $X
                as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env XDG_RUNTIME_DIR=$X "$@"; }
                chown nobody $PTY0
                chmod 0666 $PTY1   # root'"'"'s, writable by anyone: still not the user'"'"'s
                python3 $HELPER utmp /run/utmp 7:nobody:$(line $PTY0) 7:root:$(line $PTY1)
                setpriv --reuid=nobody --regid=nogroup --clear-groups env XDG_RUNTIME_DIR=$X $CLIENT --no-tty "mine" & c=$!
                echo $c > $T/pid
                $CLIENT --no-tty "system" & s=$!   # the system wall agent'"'"'s business, not --user'"'"'s
                for _ in $(seq 250); do ls $U 2>/dev/null | grep -q "^ask\." && break; sleep 0.02; done
                wait_asks 1
                as_nobody $WALL --once --user --utmp=/run/utmp; echo "wall=$?"
                as_nobody $WALL --once --user --utmp=/run/utmp; echo "wall=$?"
                kill $c $s; wait'
        [ "$status" -eq 0 ] || { echo "status $status: $output / $stderr"; return 1; }
        [ "$output" = "wall=0
wall=0" ]
        [ ! -s "$T/pty1.out" ] || { od -c "$T/pty1.out"; return 1; }
        cmp <(normalized "$T/pty0.out") <(expected nobody "$(cat "$T/pid")" mine) || { od -c "$T/pty0.out"; return 1; }
}

@test "usage and setup errors: exit 2 and 1, one line on stderr" {
        run --separate-stderr "$WALL" --help
        [ "$status" -eq 0 ]
        [[ "$output" == "usage: ask-agent-wall"* ]]
        run --separate-stderr "$WALL" --bogus
        [ "$status" -eq 2 ]
        [ -z "$output" ]
        run --separate-stderr "$WALL" --once extra
        [ "$status" -eq 2 ]
        [ "$stderr" = "ask-agent-wall: takes no arguments" ]
        run --separate-stderr "$WALL" --once --utmp=
        [ "$status" -eq 2 ]
        run --separate-stderr "$WALL" --once --utmp="$T/missing"
        assert_clean_failure
        [[ "$stderr" == *"cannot open $T/missing"* ]]
        run --separate-stderr env -u XDG_RUNTIME_DIR "$WALL" --once --user
        assert_clean_failure
}

@test "ask-agent-tty --wall runs ask-agent-wall; --wall with other options is a usage error" {
        agent="$(dirname "$WALL")/ask-agent-tty"
        # Under VALGRIND=1 the tools are wrapper scripts; the exec'd binary is the real one.
        real_wall=$(readlink -f "${LATCHKEY_REAL_BUILD:-$(dirname "$WALL")}/ask-agent-wall")
        run --separate-stderr "$agent" --wall --list
        [ "$status" -eq 2 ]
        run --separate-stderr "$agent" --wall extra
        [ "$status" -eq 2 ]
        # It becomes the wall agent from beside it: same executable, SIGTERM ends it with 0.
        run --separate-stderr unshare -m -- bash -c 'mount -t tmpfs tmpfs /run && mkdir -p "$3" || exit 1
                "$1" --wall & w=$!
                # Wait until it is the wall agent and in its watch loop (SIGTERM blocked, read via signalfd).
                for _ in $(seq 200); do
                        [ "$(readlink /proc/$w/exe)" = "$2" ] &&
                                [ $((0x$(awk "/^SigBlk/ { print \$2 }" /proc/$w/status) & 0x4000)) -ne 0 ] && break
                        sleep 0.05
                done
                readlink /proc/$w/exe; kill -TERM $w; wait $w; echo "rc=$?"' _ "$agent" "$real_wall" "$D"
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "${lines[0]}" = "$real_wall" ]
        [ "${lines[1]}" = "rc=0" ]
}
