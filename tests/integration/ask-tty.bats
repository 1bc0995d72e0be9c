#!/usr/bin/env bats
# Password prompts on real terminals: ask-client's own prompt and ask-agent-tty
# (--query, --watch) in tmux panes, driven with send-keys and read back with
# capture-pane. Each test runs as root in a private mount namespace with a fresh
# /run; the tmux server is started inside it, so its panes share that /run.
# Every wait is bounded polling (5 s); a timeout fails the test with the screen.
load helpers

CLIENT="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/ask-client"
AGENT="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/ask-agent-tty"
D=/run/systemd/ask-password
HINT="(press TAB for no echo)"
BLOCK=/run/systemd/ask-password-block

# --- helpers, run inside the namespace (exported to its bash) -------------

fail() { echo "FAIL: $*"; exit 1; }
expect() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
# Retries "$@" for up to 5 s.
until_ok() { for _ in $(seq 250); do "$@" && return 0; sleep 0.02; done; return 1; }

tm() { tmux -S "$TMUX_SOCK" -f /dev/null "$@"; }
# pane NAME COMMAND: runs COMMAND on the terminal of a new 200x20 session NAME;
# its exit status goes to $T/NAME.rc and the pane stays open for capture-pane.
pane() { tm new-session -d -s "$1" -x 200 -y 20 "$2; echo \$? > $T/$1.rc; exec sleep 600"; }
# Targets are exact session names ("=NAME:"): a bare "b" may match a window named "bash".
screen() { tm capture-pane -p -t "=$1:"; }
keys() { local t="=$1:"; shift; tm send-keys -t "$t" "$@"; }
cursor() { tm display -p -t "=$1:" '#{cursor_x} #{cursor_y}'; }
has_line() { screen "$1" | grep -qxF -- "$2"; }
# Waits until some line of pane $1 is exactly $2 (trailing blanks are not captured).
wait_line() {
        until_ok has_line "$1" "$2" && return 0
        echo "FAIL: no line '$2' in pane $1 within 5 s; screen:"; screen "$1" | grep -v '^$'; exit 1
}
cursor_is() { [ "$(cursor "$1")" = "$2" ]; }
wait_cursor() {
        until_ok cursor_is "$1" "$2" && return 0
        echo "FAIL: cursor of pane $1 is $(cursor "$1"), want $2; screen:"; screen "$1" | grep -v '^$'; exit 1
}
# How many lines of pane $1 contain $2.
count_lines() { screen "$1" | grep -cF -- "$2" || true; }
rc_of() { until_ok test -s "$T/$1.rc" || fail "pane $1 did not finish"; cat "$T/$1.rc"; }
n_asks() { ls "$D" | grep -c '^ask\.' || true; }
asks_are() { [ "$(n_asks)" -eq "$1" ]; }
wait_asks() { until_ok asks_are "$1" || fail "want $1 pending asks, have $(n_asks)"; }
dir_empty() { [ -z "$(ls -A "$D")" ]; }
tty_of() { tm display -p -t "=$1:" '#{pane_tty}'; }
# Whether the termios of pane $1 show flag $2 (e.g. "icanon" or "-icanon").
tty_flag() { stty -a -F "$(tty_of "$1")" | tr -s " ;" "\n\n" | grep -qx -- "$2"; }
# Whether a FIFO has a reader: opening it O_WRONLY|O_NONBLOCK fails with ENXIO if not.
has_reader() { python3 -c 'import os, sys; os.close(os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK))' "$1" 2>/dev/null; }
# A socket file nobody is bound to: connect() gets ECONNREFUSED.
dead_socket() { python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).bind(sys.argv[1])' "$1"; }

setup() {
        need_root "mounts a private /run for the ask-password directory"
        command -v tmux >/dev/null || skip "needs tmux"
        T="$BATS_TEST_TMPDIR"
        TMUX_SOCK="$T/tmux.sock"
        unset TMUX XDG_RUNTIME_DIR
        export CLIENT AGENT D T HINT BLOCK TMUX_SOCK LC_ALL=C.UTF-8
        export -f fail expect until_ok tm pane screen keys cursor has_line wait_line cursor_is wait_cursor \
                count_lines rc_of n_asks asks_are wait_asks dir_empty tty_of tty_flag has_reader dead_socket
}

teardown() {
        tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
        if [ -n "${KEY:-}" ]; then
                keyctl purge user "$KEY" >/dev/null 2>&1 || true
        fi
}

# Runs a bash script (set -e) with a fresh tmpfs on /run, shared by its processes
# and by the tmux server it starts. fd 3 (bats) is not handed to the server.
# (The set-up ends with a newline: "a && b && <script starting with cmd &>" would
# put the mount itself in the background.)
in_ns() {
        unshare -m -- bash -ec 'mount -t tmpfs tmpfs /run; mkdir -p "$D"
'"$1" 3>&-
}

# --- ask-client on its own terminal ------------------------------------------

@test "client TTY: message and hint, one '*' per character (ä too), Backspace removes one; stdout is what was typed" {
        run in_ns '
                pane c "$CLIENT --emoji=no Disk: > $T/out 2> $T/err"
                wait_line c "Disk: $HINT"
                wait_cursor c "30 0"
                tty_flag c -icanon || fail "terminal not raw during the prompt"
                tty_flag c -echo || fail "echo not off during the prompt"
                keys c -l "aä"; wait_line c "Disk: **"
                keys c BSpace;  wait_line c "Disk: *"; wait_cursor c "7 0"
                keys c -l "äb"; wait_line c "Disk: ***"
                keys c Enter
                expect "$(rc_of c)" 0 "exit status"
                printf "aäb\n" | cmp - $T/out || fail "stdout: $(od -c $T/out)"
                [ ! -s $T/err ] || fail "stderr: $(cat $T/err)"
                wait_cursor c "0 1"
                tty_flag c icanon || fail "terminal left raw"
                tty_flag c echo || fail "echo left off"
                ls -A $D | wc -l'
        echo "$output"
        [ "$status" -eq 0 ]
        [ "${lines[-1]}" = 0 ] # no ask file: the terminal was used
}

@test "client TTY: Tab switches to '(no echo) ' and hides the rest (a later Tab is literal); Backspace first does too" {
        run in_ns '
                pane c "$CLIENT --emoji=no Disk: > $T/out"
                wait_line c "Disk: $HINT"
                keys c -l "ab"; wait_line c "Disk: **"
                keys c Tab;     wait_line c "Disk: (no echo)"; wait_cursor c "16 0"
                keys c -l "cd"; keys c Tab; keys c -l "e"; keys c Enter
                expect "$(rc_of c)" 0 "exit status"
                printf "abcd\te\n" | cmp - $T/out || fail "stdout: $(od -c $T/out)"
                expect "$(screen c | sed -n 1p)" "Disk: (no echo)" "the prompt line after the input"

                pane d "$CLIENT --emoji=no Key: > $T/out2"
                wait_line d "Key: $HINT"
                keys d BSpace; wait_line d "Key: (no echo)"; wait_cursor d "15 0"
                keys d -l "xy"; keys d Enter
                expect "$(rc_of d)" 0 "exit status"
                expect "$(cat $T/out2)" "xy" "stdout"
                expect "$(screen d | sed -n 1p)" "Key: (no echo)" "the prompt line after the input"'
        echo "$output"
        [ "$status" -eq 0 ]
}

@test "client TTY: Ctrl-U clears the input and its stars" {
        run in_ns '
                pane c "$CLIENT --emoji=no Disk: > $T/out"
                wait_line c "Disk: $HINT"
                keys c -l "xyz"; wait_line c "Disk: ***"
                keys c C-u;      wait_line c "Disk:"; wait_cursor c "6 0"
                keys c -l "ok";  wait_line c "Disk: **"
                keys c Enter
                expect "$(rc_of c)" 0 "exit status"
                printf "ok\n" | cmp - $T/out || fail "stdout: $(od -c $T/out)"'
        echo "$output"
        [ "$status" -eq 0 ]
}

@test "client TTY: --echo=yes shows the characters, without the hint" {
        run in_ns '
                pane c "$CLIENT --echo=yes User: > $T/out"
                wait_line c "User:"; wait_cursor c "6 0"
                keys c -l "jö e"; wait_line c "User: jö e"
                keys c BSpace;     wait_line c "User: jö"
                keys c -l "x"; keys c Enter
                expect "$(rc_of c)" 0 "exit status"
                printf "jö x\n" | cmp - $T/out || fail "stdout: $(od -c $T/out)"'
        echo "$output"
        [ "$status" -eq 0 ]
}

@test "client TTY: Ctrl-D skips: '(skipped)', exit 1, nothing on stdout" {
        run in_ns '
                pane c "$CLIENT --emoji=no Disk: > $T/out 2> $T/err"
                wait_line c "Disk: $HINT"
                keys c -l "ab"; wait_line c "Disk: **"
                keys c C-d
                expect "$(rc_of c)" 1 "exit status"
                wait_line c "Disk: **(skipped)"
                [ ! -s $T/out ] || fail "stdout: $(od -c $T/out)"
                expect "$(cat $T/err)" "ask-client: failed to query password: Operation canceled" "stderr"'
        echo "$output"
        [ "$status" -eq 0 ]
}

# --- ask-agent-tty --query on a terminal ------------------------------------

@test "agent --query in a pane answers a background ask-client --no-tty" {
        run in_ns '
                $CLIENT --no-tty "Unlock data:" > $T/out 2> $T/err & c=$!
                wait_asks 1
                pane a "$AGENT --query"
                wait_line a "Unlock data: $HINT"
                keys a -l "s3cr"; wait_line a "Unlock data: ****"
                keys a BSpace; keys a -l "et"; wait_line a "Unlock data: *****"
                keys a Enter
                rc=0; wait $c || rc=$?
                expect "$rc" 0 "client exit status ($(cat $T/err))"
                expect "$(cat $T/out)" "s3cet" "password"
                expect "$(rc_of a)" 0 "agent exit status"
                until_ok dir_empty || fail "files left: $(ls -A $D)"
                expect "$(count_lines a "Unlock data:")" 1 "prompts"'
        echo "$output"
        [ "$status" -eq 0 ]
}

# --- ask-agent-tty --watch ---------------------------------------------------

@test "agent --watch: pending asks prompted oldest first, each once, also when a rescan finds an answered one" {
        run in_ns '
                pids=()
                for m in one two three; do
                        $CLIENT --no-tty "ask-$m:" > $T/$m.out 2>&1 & pids+=($!)
                        wait_asks ${#pids[@]}
                        sleep 0.05 # distinct change times (the order), not synchronization
                done
                pane w "$AGENT --watch"
                for m in one two three; do
                        wait_line w "ask-$m: $HINT"
                        keys w -l "pw-$m"; keys w Enter
                done
                for i in 0 1 2; do wait ${pids[$i]} || fail "client $i failed"; done
                for m in one two three; do expect "$(cat $T/$m.out)" "pw-$m" "answer to $m"; done
                expect "$(screen w | grep -c "^ask-")" 3 "prompts so far"
                until_ok dir_empty || fail "files left: $(ls -A $D)"

                # An answered ask still on disk (its client is stopped) is not prompted again
                # when the next ask makes the agent rescan: the next one is prompted at once.
                $CLIENT --no-tty "held:" > $T/held.out 2>&1 & h=$!
                wait_line w "held: $HINT"
                kill -STOP $h
                keys w -l "pw-held"; keys w Enter
                wait_line w "held: *******"; wait_cursor w "0 4"
                $CLIENT --no-tty "after:" > $T/after.out 2>&1 & a=$!
                wait_line w "after: $HINT"
                asks_are 2 || fail "the held ask should still be pending"
                kill -CONT $h
                wait $h || fail "held client failed"
                keys w -l "pw-after"; keys w Enter
                wait $a || fail "after client failed"
                expect "$(cat $T/held.out) $(cat $T/after.out)" "pw-held pw-after" "answers"
                for m in one two three held after; do
                        expect "$(count_lines w "$m:")" 1 "prompts for $m"
                done
                screen w | grep -v "^$"'
        echo "$output"
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "ask-one: ******" ]
        [ "${lines[1]}" = "ask-two: ******" ]
        [ "${lines[2]}" = "ask-three: ********" ]
        [ "${lines[3]}" = "held: *******" ]
        [ "${lines[4]}" = "after: ********" ]
}

@test "agent --watch: a prompt whose ask goes away (answered elsewhere, client killed) ends at once; the next is prompted" {
        run in_ns '
                pids=()
                for m in first second third; do
                        $CLIENT --no-tty "$m:" > $T/$m.out 2> /dev/null & pids+=($!)
                        wait_asks ${#pids[@]}
                        sleep 0.05 # distinct change times (the order), not synchronization
                done
                pane w "$AGENT --watch"
                wait_line w "first: $HINT"
                keys w -l "zz"; wait_line w "first: **"
                # Answered by another agent: the oldest gets "x", the others see the end of input.
                printf "x\n" | setsid -w $AGENT --query
                wait ${pids[0]} || fail "first client failed"
                expect "$(cat $T/first.out)" x "answer to first"
                wait_line w "second: $HINT"
                keys w -l "yy"; wait_line w "second: **"
                # The client gives up (SIGTERM removes its files).
                kill -TERM ${pids[1]}; wait ${pids[1]} || true
                wait_line w "third: $HINT"
                keys w -l "pw3"; keys w Enter
                wait ${pids[2]} || fail "third client failed"
                expect "$(cat $T/third.out)" pw3 "answer to third"
                [ ! -s $T/second.out ] || fail "the killed client printed $(cat $T/second.out)"
                until_ok dir_empty || fail "files left: $(ls -A $D)"
                screen w | grep -v "^$"'
        echo "$output"
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "first: **" ]
        [ "${lines[1]}" = "second: **" ]
        [ "${lines[2]}" = "third: ***" ]
        [ "${#lines[@]}" -eq 3 ]
}

@test "two --watch agents race: the answer in one ends the other's prompt" {
        run in_ns '
                pane a "$AGENT --watch"
                pane b "$AGENT --watch"
                $CLIENT --no-tty "race:" > $T/race.out 2>&1 & c=$!
                wait_line a "race: $HINT"
                wait_line b "race: $HINT"
                keys b -l "lose"; wait_line b "race: ****"
                keys a -l "win"; keys a Enter
                wait $c || fail "client failed"
                expect "$(cat $T/race.out)" win "answer"
                wait_cursor b "0 1" # the prompt ended with its newline
                expect "$(screen b | sed -n 1p)" "race: ****" "loser line"

                $CLIENT --no-tty "again:" > $T/again.out 2>&1 & c=$!
                wait_line a "again: $HINT"
                wait_line b "again: $HINT"
                keys b -l "b2"; keys b Enter
                wait $c || fail "client failed"
                expect "$(cat $T/again.out)" b2 "answer"
                wait_cursor a "0 2"
                for p in a b; do
                        expect "$(count_lines $p race:) $(count_lines $p again:)" "1 1" "prompts in $p"
                done'
        echo "$output"
        [ "$status" -eq 0 ]
}

# --- keyring cache -----------------------------------------------------------

@test "--accept-cached: answered once by the agent, then from the kernel keyring without an ask file" {
        keyctl show @u >/dev/null 2>&1 || skip "no kernel keyring here"
        KEY="latchkey-test-$$-$RANDOM$RANDOM"
        export KEY
        run in_ns '
                keyctl request user "$KEY" >/dev/null 2>&1 && fail "key $KEY exists already"
                $CLIENT --no-tty --keyname="$KEY" --accept-cached "Cached:" > $T/out1 2>&1 & c=$!
                wait_asks 1
                grep -qx "AcceptCached=1" $D/ask.* || fail "AcceptCached not set"
                printf "kpw\n" | setsid -w $AGENT --query
                wait $c || fail "first client failed: $(cat $T/out1)"
                expect "$(cat $T/out1)" kpw "first answer"
                expect "$(keyctl pipe "$(keyctl request user "$KEY")")" kpw "key payload"
                until_ok dir_empty || fail "files left: $(ls -A $D)"

                # The same call again, with no agent and the directory read-only: only
                # the keyring can answer, and no ask file can be published.
                mount --bind $D $D && mount -o remount,bind,ro $D
                start=$(date +%s%N)
                $CLIENT --no-tty --keyname="$KEY" --accept-cached --timeout=5s "Cached:" > $T/out2 2>&1 \
                        || fail "cached call failed: $(cat $T/out2)"
                ms=$(( ($(date +%s%N) - start) / 1000000 ))
                expect "$(cat $T/out2)" kpw "cached answer"
                [ $ms -lt 1000 ] || fail "took $ms ms"
                dir_empty || fail "files: $(ls -A $D)"
                umount $D

                # Without --accept-cached the agents are asked again; the new password is appended.
                $CLIENT --no-tty --keyname="$KEY" "Cached:" > $T/out3 2>&1 & c=$!
                wait_asks 1
                printf "second\n" | setsid -w $AGENT --query
                wait $c || fail "third client failed: $(cat $T/out3)"
                expect "$(cat $T/out3)" second "third answer"
                keyctl pipe "$(keyctl request user "$KEY")" | od -An -c | tr -s " "
                $CLIENT --no-tty --keyname="$KEY" --accept-cached --multiple --timeout=1s "Cached:"'
        echo "$output"
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = " k p w \0 s e c o n d" ]
        [ "${lines[1]}" = "kpw" ]
        [ "${lines[2]}" = "second" ]
        keyctl purge user "$KEY" >/dev/null
        not keyctl request user "$KEY" >/dev/null 2>&1
}

@test "--accept-cached: a waiting querier takes a password another client just cached" {
        keyctl show @u >/dev/null 2>&1 || skip "no kernel keyring here"
        KEY="latchkey-test-$$-$RANDOM$RANDOM"
        export KEY
        run in_ns '
                $CLIENT --no-tty --keyname="$KEY" --accept-cached --timeout=5s "A:" > $T/a.out 2>&1 & a=$!
                wait_asks 1
                $CLIENT --no-tty --keyname="$KEY" --timeout=5s "B:" > $T/b.out 2>&1 & b=$!
                wait_asks 2
                sock=$(grep -h "^Socket=" $(grep -l "^Message=B:" $D/ask.*) | cut -d= -f2)
                python3 -c "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"+shared\", sys.argv[1])" $sock
                wait $b || fail "B failed: $(cat $T/b.out)"
                wait $a || fail "A was not woken by the cache: $(cat $T/a.out)"
                expect "$(cat $T/a.out) $(cat $T/b.out)" "shared shared" "answers"'
        echo "$output"
        [ "$status" -eq 0 ]
}

# --- --watch removes the asks of dead queriers ------------------------------

@test "agent --watch removes stale asks (dead PID, refused socket in the same directory), nothing else" {
        run in_ns '
                sh -c "exit 0" & dead=$!; wait $dead
                # A client killed with SIGKILL leaves its ask file and socket behind.
                $CLIENT --no-tty "killed:" > /dev/null 2>&1 & k=$!
                wait_asks 1
                kill -KILL $k; wait $k || true
                killed=$(ls $D | grep "^ask\.")
                ksock=$(ls $D | grep "^sck\.")
                # Dead PIDs the agent must leave alone:
                mkdir /run/far; dead_socket /run/far/sck.far
                printf "[Ask]\nPID=$dead\nSocket=/run/far/sck.far\n" > $D/ask.far        # socket elsewhere
                printf "[Ask]\nPID=$dead\nSocket=$D/sck.missing\n" > $D/ask.nosock       # no socket
                : > $D/plain
                printf "[Ask]\nPID=$dead\nSocket=$D/plain\n" > $D/ask.notsock            # not a socket
                $CLIENT --no-tty "live:" > $T/live.out 2>&1 & l=$!
                wait_asks 5
                lsock=$(grep -h "^Socket=" $(grep -l "^Message=live:" $D/ask.*) | cut -d= -f2)
                printf "[Ask]\nPID=$dead\nSocket=$lsock\n" > $D/ask.bound                # socket still bound
                # --query leaves stale files alone.
                setsid -w $AGENT --query < /dev/null
                [ -e $D/$killed ] && [ -e $D/$ksock ] || fail "--query removed the stale ask"

                pane w "$AGENT --watch"
                wait_line w "live: $HINT"
                until_ok test ! -e $D/$killed || fail "stale ask not removed: $(ls -A $D)"
                [ ! -e $D/$ksock ] || fail "stale socket not removed"
                for f in ask.far ask.nosock ask.notsock ask.bound plain; do [ -e $D/$f ] || fail "$f removed"; done
                [ -e /run/far/sck.far ] || fail "socket outside the directory removed"
                keys w -l "lpw"; keys w Enter
                wait $l || fail "live client failed"
                expect "$(cat $T/live.out)" lpw "answer"

                # Killed while the agent watches: removed at the next rescan (a new ask).
                $CLIENT --no-tty "killed2:" > /dev/null 2>&1 & k=$!
                wait_line w "killed2: $HINT"
                kill -KILL $k; wait $k || true
                [ -n "$(ls $D | grep "^sck\.")" ] || fail "SIGKILL should leave the socket"
                keys w Enter  # the prompt goes on (systemd too); the send fails harmlessly
                $CLIENT --no-tty "next:" > $T/next.out 2>&1 & n=$!
                wait_line w "next: $HINT"
                keys w -l "npw"; keys w Enter
                wait $n || fail "next client failed"
                expect "$(cat $T/next.out)" npw "answer"
                until_ok test -z "$(ls $D | grep "^sck\.")" || fail "stale socket not removed: $(ls -A $D)"
                for m in live: killed2: next:; do expect "$(count_lines w $m)" 1 "prompts for $m"; done
                expect "$(count_lines w killed:)" 0 "prompts for the dead ask"
                ls $D | sort | tr "\n" " "'
        echo "$output"
        [ "$status" -eq 0 ]
        [ "${lines[-1]}" = "ask.bound ask.far ask.nosock ask.notsock plain " ]
}

# --- /run/systemd/ask-password-block -----------------------------------------

@test "agent with a controlling TTY holds a FIFO <major>:<minor> in $BLOCK open while it prompts" {
        run in_ns '
                # Without a controlling terminal: nothing is created.
                setsid -w $AGENT --query < /dev/null
                [ ! -e $BLOCK ] || fail "created without a TTY"

                $CLIENT --no-tty "Blocked:" > $T/out 2>&1 & c=$!
                wait_asks 1
                pane a "$AGENT --query"
                wait_line a "Blocked: $HINT"
                tty=$(tty_of a)
                fifo=$BLOCK/$((0x$(stat -c %t $tty))):$((0x$(stat -c %T $tty)))
                [ -p $fifo ] || fail "no FIFO $fifo: $(ls -la $BLOCK)"
                expect "$(stat -c %a $BLOCK) $(stat -c %a $fifo)" "700 600" "modes"
                has_reader $fifo || fail "the FIFO has no reader while the agent prompts"
                expect "$(ls $BLOCK)" "${fifo##*/}" "FIFOs"
                keys a -l "pw"; keys a Enter
                wait $c || fail "client failed"
                expect "$(cat $T/out)" pw "answer"
                expect "$(rc_of a)" 0 "agent exit status"
                ! has_reader $fifo || fail "the FIFO still has a reader after the agent exited"

                # --watch holds it for its whole life, between prompts too.
                pane w "$AGENT --watch"
                tty=$(tty_of w)
                wfifo=$BLOCK/$((0x$(stat -c %t $tty))):$((0x$(stat -c %T $tty)))
                until_ok has_reader $wfifo || fail "--watch agent holds no reader on $wfifo"'
        echo "$output"
        [ "$status" -eq 0 ]
}
