#!/usr/bin/env bats
# Password agents: ask-client and ask-agent-tty against each other and against
# systemd 252's systemd-ask-password / systemd-tty-ask-password-agent, each test
# in a private mount namespace with a fresh /run (root), so no real agent interferes.
load helpers

CLIENT="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/ask-client"
AGENT="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/ask-agent-tty"
D=/run/systemd/ask-password

setup() {
        need_root "mounts a private /run for the ask-password directory"
        T="$BATS_TEST_TMPDIR"
        export CLIENT AGENT D T
}

# Runs a bash script with a fresh tmpfs on /run, sharing it between its processes.
in_ns() {
        # The script starts on its own line: "a && b && script &" would background a and b too.
        unshare -m -- bash -c 'mount -t tmpfs tmpfs /run && mkdir -p '"$D"' || exit 1
'"$1"
}

# Waits (bounded) until N ask files are pending.
wait_asks='wait_asks() { for _ in $(seq 200); do [ "$(ls $D | grep -c "^ask\.")" -ge "$1" ] && return 0; sleep 0.02; done; return 1; }; '

@test "systemd-ask-password --no-tty is answered by ask-agent-tty" {
        run --separate-stderr in_ns "$wait_asks"'
                systemd-ask-password --no-tty "Disk:" > $T/out & c=$!
                wait_asks 1
                printf "s3cret\n" | setsid -w $AGENT --query
                wait $c; echo "client=$?"; cat $T/out; ls -A $D | wc -l'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "client=0
s3cret
0" ]
}

@test "ask-client --no-tty is answered by systemd-tty-ask-password-agent" {
        run --separate-stderr in_ns "$wait_asks"'
                $CLIENT --no-tty "Disk:" > $T/out & c=$!
                wait_asks 1
                printf "s3cret\n" | setsid -w systemd-tty-ask-password-agent --query
                wait $c; echo "client=$?"; cat $T/out; ls -A $D | wc -l'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "client=0
s3cret
0" ]
}

@test "ask-client answered by ask-agent-tty; --list matches systemd's" {
        run --separate-stderr in_ns "$wait_asks"'
                $CLIENT --no-tty "Unlock disk:" > $T/out & c=$!
                wait_asks 1
                $AGENT --list; systemd-tty-ask-password-agent --list
                printf "pw\n" | setsid -w $AGENT --query
                wait $c; echo "client=$?"; cat $T/out'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "${lines[0]}" = "${lines[1]}" ]
        [[ "${lines[0]}" == "'Unlock disk:' (PID "*")" ]]
        [ "${lines[2]}" = "client=0" ]
        [ "${lines[3]}" = "pw" ]
}

@test "a message cannot inject keys into the ask file" {
        run --separate-stderr in_ns "$wait_asks"'
                $CLIENT --no-tty "$(printf "line1\nSocket=/tmp/evil\nMessage=fake\\\\")" > $T/out & c=$!
                wait_asks 1
                cat $D/ask.*
                systemd-tty-ask-password-agent --list
                printf "ok\n" | setsid -w systemd-tty-ask-password-agent --query
                wait $c; echo "client=$?"; cat $T/out'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        echo "$output"
        [ "$(printf '%s\n' "$output" | grep -c '^Socket=')" -eq 1 ]
        [[ "$output" == *"Socket=$D/sck."* ]]
        [[ "$output" == *"'line1\x0aSocket=/tmp/evil\x0aMessage=fake\\\\' (PID"* ]]
        [[ "$output" == *"client=0"*"ok" ]]
}

@test "cancel ('-') fails the client with one line; files removed" {
        run --separate-stderr in_ns "$wait_asks"'
                $CLIENT --no-tty "Q:" > $T/out 2> $T/err & c=$!
                wait_asks 1
                /lib/systemd/systemd-reply-password 0 $(ls $D/sck.*)
                wait $c; echo "client=$?"; cat $T/err; ls -A $D | wc -l; wc -c < $T/out'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "client=1
ask-client: failed to query password: Operation canceled
0
0" ]
}

@test "timeout: status 1, 'Timer expired', nothing left behind" {
        run --separate-stderr in_ns '
                $CLIENT --no-tty --timeout=300ms "Q:"; echo "client=$?"; ls -A $D | wc -l'
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "client=1" ]
        [ "${lines[1]}" = "0" ]
        [ "$stderr" = "ask-client: failed to query password: Timer expired" ]
}

@test "SIGTERM and SIGHUP: files removed, the client dies of the signal" {
        for sig in TERM HUP; do
                run --separate-stderr in_ns "$wait_asks"'
                        $CLIENT --no-tty "Q:" & c=$!
                        wait_asks 1
                        kill -'$sig' $c; wait $c; echo "client=$?"; ls -A $D | wc -l'
                [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
                [ "${lines[1]}" = 0 ] || { echo "$sig: ${lines[*]}"; return 1; }
                [ "${lines[0]}" = "client=$((128 + $(kill -l $sig)))" ] || { echo "$sig: ${lines[*]}"; return 1; }
        done
}

@test "SIGINT while ignored (background job): files removed, status 1, one line" {
        run --separate-stderr in_ns "$wait_asks"'
                $CLIENT --no-tty "Q:" 2> $T/err & c=$!
                wait_asks 1
                kill -INT $c; wait $c; echo "client=$?"; ls -A $D | wc -l; cat $T/err'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "client=1
0
ask-client: failed to query password: Interrupted system call" ]
}

@test "--multiple prints every password; replies from other users are ignored" {
        run --separate-stderr in_ns "$wait_asks"'
                $CLIENT --no-tty --multiple "Q:" > $T/out & c=$!
                wait_asks 1
                s=$(ls $D/sck.*)
                chmod 0666 $s   # let nobody reach the socket: the uid check must still refuse it
                setpriv --reuid=nobody --regid=nogroup --clear-groups python3 -c "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"+intruder\", sys.argv[1])" $s
                python3 -c "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"x-invalid\", sys.argv[1])" $s
                python3 -c "import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"+a\0\0b\", sys.argv[1])" $s
                wait $c; echo "client=$?"; cat $T/out'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "client=0
a

b" ]
}

@test "credential first: \$CREDENTIALS_DIRECTORY/password answers without an ask file" {
        mkdir "$T/creds"
        printf 'from-cred' > "$T/creds/password"
        printf 'other\0second' > "$T/creds/custom"
        run --separate-stderr in_ns '
                CREDENTIALS_DIRECTORY=$T/creds $CLIENT --no-tty --timeout=200ms "Q:"
                CREDENTIALS_DIRECTORY=$T/creds $CLIENT --no-tty --timeout=200ms --multiple --credential=custom "Q:"
                ls -A $D | wc -l'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "from-cred
other
second
0" ]
}

@test "agent skips dead PIDs, expired asks, symlinks and junk; answers live ones once" {
        run --separate-stderr in_ns "$wait_asks"'
                sh -c "exit 0" & dead=$!; wait $dead
                printf "[Ask]\nPID=$dead\nSocket=$D/sck.dead\nMessage=dead\n" > $D/ask.dead
                printf "[Ask]\nPID=$$\nSocket=$D/sck.old\nNotAfter=1\nMessage=expired\n" > $D/ask.expired
                printf "[Ask]\nPID=$$\nMessage=nosocket\n" > $D/ask.junk
                printf "[Ask]\nPID=$$\nSocket=$D/sck.x\nSocket=/tmp/evil\nMessage=twosockets\n" > $D/ask.two
                ln -s $D/ask.dead $D/ask.link
                $CLIENT --no-tty "live" > $T/out & c=$!
                wait_asks 6
                $AGENT --list
                printf "pw\n" | setsid -w $AGENT --query
                wait $c; echo "client=$?"; cat $T/out'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [[ "${lines[0]}" == "'live' (PID "* ]]
        [ "${#lines[@]}" -eq 3 ]
        [ "${lines[1]}" = "client=0" ]
        [ "${lines[2]}" = "pw" ]
}

@test "EOF with no input answers nothing (systemd would send an empty password)" {
        run --separate-stderr in_ns "$wait_asks"'
                $CLIENT --no-tty --timeout=2s "Q:" > $T/out & c=$!
                wait_asks 1
                setsid -w $AGENT --query < /dev/null
                ls $D | grep -c "^ask\."
                wait $c; echo "client=$?"'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "${lines[0]}" = 1 ]          # still pending after the agent ran
        [ "${lines[1]}" = "client=1" ] # timed out instead of getting ""
}

@test "agent shows control bytes of a message escaped, never raw" {
        run --separate-stderr in_ns '
                printf "[Ask]\nPID=$$\nSocket=$D/sck.x\nMessage=red\033[31m bell\a\n" > $D/ask.esc
                $AGENT --list | od -c | grep -c "033" ; $AGENT --list'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "${lines[0]}" = 0 ]
        [ "${lines[1]}" = "'red\x1b[31m bell\x07' (PID $(echo "${lines[1]}" | sed 's/.*PID \([0-9]*\).*/\1/'))" ]
}

@test "per-user directory: hostile entries are refused, the user's own ask is answered" {
        run --separate-stderr in_ns "$wait_asks"'
                X=/run/user/65534; U=$X/systemd/ask-password
                install -d -o nobody -g nogroup -m 0700 $X
                as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env XDG_RUNTIME_DIR=$X "$@"; }
                as_nobody $CLIENT --no-tty "mine" > $T/out & c=$!
                for _ in $(seq 200); do ls $U 2>/dev/null | grep -q "^ask\." && break; sleep 0.02; done
                own=$(ls $U | grep "^ask\.")
                # a root-owned ask in the user dir, a group-writable one, one whose socket is elsewhere, a symlink
                printf "[Ask]\nPID=$$\nSocket=$U/sck.root\nMessage=rootowned\n" > $U/ask.root
                as_nobody sh -c "printf \"[Ask]\nPID=$$\nSocket=$U/sck.gw\nMessage=groupwritable\n\" > $U/ask.gw; chmod 0664 $U/ask.gw"
                as_nobody sh -c "printf \"[Ask]\nPID=$$\nSocket=/run/systemd/ask-password/sck.y\nMessage=elsewhere\n\" > $U/ask.far"
                as_nobody ln -s $U/$own $U/ask.link
                as_nobody $AGENT --list
                printf "pw\n" | as_nobody setsid -w $AGENT --query
                wait $c; echo "client=$?"; cat $T/out'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        echo "$output"
        [[ "${lines[0]}" == "'mine' (PID "* ]]
        [ "${#lines[@]}" -eq 3 ]
        [ "${lines[1]}" = "client=0" ]
        [ "${lines[2]}" = "pw" ]
}

@test "many concurrent clients (more than the 128 inotify instances a user may hold) all get their answer" {
        # 300; 140 under valgrind (a few hundred valgrind processes would not fit in memory).
        export N=$([ "${LATCHKEY_VALGRIND:-0}" = 1 ] && echo 140 || echo 300)
        run --separate-stderr in_ns "$wait_asks"'
                pids=""
                for i in $(seq $N); do $CLIENT --no-tty "Q$i" > $T/out.$i & pids="$pids $!"; done
                wait_asks $N
                yes pw | head -n $N | setsid -w $AGENT --query
                failed=0; for p in $pids; do wait $p || failed=$((failed + 1)); done
                echo "failed=$failed"; cat $T/out.* | sort | uniq -c | sed "s/^ *//"; ls -A $D | wc -l'
        [ "$status" -eq 0 ] || { echo "$stderr" | head -5; return 1; }
        [ "$output" = "failed=0
$N pw
0" ]
}
