#!/usr/bin/env bats
# User-scoped credentials for unprivileged users, through the credential service
# (cred-decrypt --serve) started for real by systemd-socket-activate --accept --inetd,
# as test users created here and removed afterwards.
load helpers

setup_file() {
        [ "$(id -u)" = 0 ] || return 0 # every test skips through need_root
        D=$(mktemp -d /tmp/latchkey-creduser.XXXXXX)
        chmod 0755 "$D"
        UA="lkca$$" UB="lkcb$$"
        useradd -m -d "$D/home-a" -s /bin/sh -U "$UA"
        useradd -m -d "$D/home-b" -s /bin/sh -U "$UB"
        install -d -m 0700 "$D/root"
        install -d -o "$UA" -g "$UA" -m 0700 "$D/run-$UA"
        install -d -o "$UB" -g "$UB" -m 0700 "$D/run-$UB"
        # The service's host key: root's alone, in a 0700 directory.
        "$ENC" --host-key="$D/root/host.secret" --with-key=host --name=x - - </dev/null >/dev/null 2>&1
        export D UA UB
}

teardown_file() {
        [ -n "${D:-}" ] || return 0
        userdel -r "$UA" 2>/dev/null || true
        userdel -r "$UB" 2>/dev/null || true
        rm -rf "$D"
}

setup() {
        need_root "creates test users and runs the privileged credential service"
        setup_scratch
        SOCK="$D/creds.sock"
        rm -f "$SOCK" "$D/serve.log"
}

teardown() {
        stop_service
}

# Starts cred-decrypt --serve behind systemd-socket-activate on $SOCK with host key $1;
# "$@" after it run first (e.g. as_vector_machine). Socket mode 0666, as the .socket unit.
start_service() { # HOST_KEY [WRAPPER...]
        local key=$1
        shift
        "$@" sh -c 'echo $$ >"$0"; exec systemd-socket-activate --accept --inetd -l "$1" "$2" --serve --host-key="$3"' \
                "$D/sa.pid" "$SOCK" "$DEC" "$key" 2>>"$D/serve.log" 3>&- &
        for _ in $(seq 200); do
                [ -S "$SOCK" ] && break
                sleep 0.01
        done
        [ -S "$SOCK" ] || { echo "service did not come up: $(cat "$D/serve.log")"; return 1; }
        chmod 0666 "$SOCK"
}

stop_service() {
        [ -f "$D/sa.pid" ] || return 0
        kill "$(cat "$D/sa.pid")" 2>/dev/null || true
        for _ in $(seq 100); do
                kill -0 "$(cat "$D/sa.pid")" 2>/dev/null || break
                sleep 0.01
        done
        rm -f "$D/sa.pid" "$SOCK"
}

# Runs "$@" as test user $1 with a clean environment that points at the live service and at a
# host key the user cannot read.
as_user() { # USER COMMAND...
        local u=$1 home
        shift
        home=$(getent passwd "$u" | cut -d: -f6)
        setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups env -i PATH="$PATH" HOME="$home" USER="$u" \
                XDG_RUNTIME_DIR="$D/run-$u" LATCHKEY_CREDS_SOCKET="$SOCK" SYSTEMD_CREDENTIAL_SECRET="$D/root/host.secret" "$@"
}

# UA's credential "mysecret" in ~/.config/credstore.encrypted, made through the service.
make_user_cred() {
        as_user "$UA" sh -c 'mkdir -p ~/.config/credstore.encrypted && printf %s "s3cr3t-of-a" |
                "$0" --user - ~/.config/credstore.encrypted/mysecret' "$ENC"
        CRED="$D/home-a/.config/credstore.encrypted/mysecret"
        [ -f "$CRED" ]
}

@test "unprivileged --user: encrypt and decrypt through the live service, key BY_HOST_SCOPED" {
        start_service "$D/root/host.secret"
        make_user_cred
        [ "$(base64 -d "$CRED" | od -An -v -tx1 -N16 | tr -d ' \n')" = 55b9ed1d38594d43a8319d2ebb332ac6 ]
        run --separate-stderr as_user "$UA" "$DEC" --user "$CRED" -
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "s3cr3t-of-a" ]
        # Without --user too: through the service, the scope is always the caller's.
        run --separate-stderr as_user "$UA" "$DEC" "$CRED" -
        [ "$status" -eq 0 ] && [ "$output" = "s3cr3t-of-a" ]
        # The user really could not read the host key: it went through the service.
        grep -q "Connection from PID [0-9]*/UID $(id -u "$UA")" "$D/serve.log"
        # Root opens it locally with --uid=.
        run --separate-stderr "$DEC" --host-key="$D/root/host.secret" --uid="$UA" --name=mysecret "$CRED" -
        [ "$status" -eq 0 ] && [ "$output" = "s3cr3t-of-a" ]
}

@test "interop: an independent decoder that opens the v257 vector also opens our scoped credential" {
        start_service "$D/root/host.secret"
        make_user_cred
        # The decoder is right about systemd's derivation (v257 vector, uid 65534 "nobody")...
        run python3 "$BATS_TEST_DIRNAME/scoped-verify.py" "$VECTORS/host.secret" "$VECTORS/machine-id" 65534 nobody \
                "$VECTORS/v257-user-nobody.cred"
        [ "$status" -eq 0 ] && [ "$output" = "s3cr3t-p4ssw0rd" ]
        # ...and gets the same key and AAD from ours.
        run python3 "$BATS_TEST_DIRNAME/scoped-verify.py" "$D/root/host.secret" /etc/machine-id "$(id -u "$UA")" "$UA" "$CRED"
        [ "$status" -eq 0 ] || { echo "$output"; return 1; }
        [ "$output" = "s3cr3t-of-a" ]
}

@test "another user's credential is refused" {
        start_service "$D/root/host.secret"
        make_user_cred
        install -m 0644 "$CRED" "$D/a.cred"
        run --separate-stderr as_user "$UB" "$DEC" --name=mysecret "$D/a.cred" -
        assert_clean_failure
        [[ "$stderr" == *"credential service: credential is corrupted, or made with another key, machine or user"* ]] || { echo "$stderr"; return 1; }
}

@test "a credential made with another machine ID (scratch host key + machine-id pair) is refused" {
        start_service "$D/root/host.secret"
        echo 0123456789abcdef0123456789abcdef > "$T/other-machine-id"
        printf %s "elsewhere" | unshare -m -- sh -c 'mount --bind "$0" /etc/machine-id && exec "$@"' "$T/other-machine-id" \
                "$ENC" --host-key="$T/other.secret" --uid="$UA" --name=mysecret - "$T/other.cred"
        chmod 0644 "$T/other.cred"
        cp "$T/other.cred" "$D/other.cred" && chmod 0644 "$D/other.cred"
        run --separate-stderr as_user "$UA" "$DEC" --name=mysecret "$D/other.cred" -
        assert_clean_failure
        [[ "$stderr" == *"credential service: credential is corrupted, or made with another key, machine or user"* ]] || { echo "$stderr"; return 1; }
        # Root, on this machine, with the very host key it was made with: its header names the other machine.
        run --separate-stderr "$DEC" --host-key="$T/other.secret" --uid="$UA" --name=mysecret "$T/other.cred" -
        assert_clean_failure
}

@test "a request naming a foreign UID is refused, for decrypt and encrypt" {
        start_service "$D/root/host.secret"
        make_user_cred
        run --separate-stderr as_user "$UA" "$DEC" --uid="$UB" --name=mysecret "$CRED" -
        assert_clean_failure
        [[ "$stderr" == *"credential service: requests for another UID are refused"* ]] || { echo "$stderr"; return 1; }
        run --separate-stderr as_user "$UA" sh -c 'printf x | "$0" --uid="$1" --name=x - -' "$ENC" "$UB"
        assert_clean_failure
        [[ "$stderr" == *"requests for another UID are refused"* ]]
        grep -q "UID $(id -u "$UA") asked for a credential of UID $(id -u "$UB"), refused" "$D/serve.log"
}

@test "system credentials are not opened for users (scope mismatch)" {
        start_service "$D/root/host.secret"
        printf %s "system-only" | "$ENC" --host-key="$D/root/host.secret" --with-key=host --name=sys - "$D/sys.cred"
        chmod 0644 "$D/sys.cred"
        run --separate-stderr as_user "$UA" "$DEC" --name=sys "$D/sys.cred" -
        assert_clean_failure
        [[ "$stderr" == *"scope mismatch"* ]] || { echo "$stderr"; return 1; }
}

@test "timestamps more than 30 s away are refused by the service; plain encrypt without --user is refused" {
        start_service "$D/root/host.secret"
        run --separate-stderr as_user "$UA" sh -c 'printf x | "$0" --user --timestamp="2030-01-01 00:00:00 UTC" --name=x - -' "$ENC"
        assert_clean_failure
        [[ "$stderr" == *"30 s"* ]]
        run --separate-stderr as_user "$UA" sh -c 'printf x | "$0" --name=x - -' "$ENC"
        assert_clean_failure
        [[ "$stderr" == *"--user"* ]]
}

@test "malformed, truncated and oversized requests are answered with an error; the service stays healthy" {
        start_service "$D/root/host.secret"
        make_user_cred
        cat > "$D/badreq.py" <<'EOF'
import socket, struct, sys
path = sys.argv[1]
def ask(data, shut=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(path)
    try:
        s.sendall(data)
    except BrokenPipeError:
        pass
    if shut:
        s.shutdown(socket.SHUT_WR)
    buf = b""
    while True:
        try:
            c = s.recv(65536)
        except ConnectionResetError:
            break
        if not c:
            break
        buf += c
    s.close()
    (n,) = struct.unpack_from("<I", buf)
    body = buf[4:4 + n]
    assert len(body) == n and body[:4] == b"LKCA" and body[4] == 1, buf
    status, err, ln = body[5], struct.unpack_from("<I", body, 8)[0], struct.unpack_from("<I", body, 12)[0]
    return status, err, body[16:16 + ln].decode()
good = b"LKCQ" + bytes([1, 2]) + struct.pack("<HIQQBBHI", 0, 0, 0, 0, 0, 0, 0, 3) + b"abc"
cases = {
    "garbage": struct.pack("<I", 40) + bytes(range(40)),
    "bad-version": struct.pack("<I", len(good)) + good[:4] + b"\x02" + good[5:],
    "bad-op": struct.pack("<I", len(good)) + good[:5] + b"\x09" + good[6:],
    "length-mismatch": struct.pack("<I", len(good) + 1) + good + b"x",
    "unknown-flag": struct.pack("<I", len(good)) + good[:6] + b"\x80\x00" + good[8:],
    "truncated-body": struct.pack("<I", 100) + good[:10],
    "truncated-length": b"\x10\x00",
    "empty": b"",
    "oversized": struct.pack("<I", 0xFFFFFFF0) + b"LKCQ",
}
for name, data in cases.items():
    status, err, msg = ask(data)
    print(name, status, err, msg)
    assert status == 1 and err != 0, name
# A well-formed request for a credential that is garbage: answered, not crashed.
status, err, msg = ask(struct.pack("<I", len(good)) + good)
print("bad-credential", status, err, msg)
assert status == 1
EOF
        run --separate-stderr as_user "$UA" python3 "$D/badreq.py" "$SOCK"
        [ "$status" -eq 0 ] || { echo "$output $stderr"; return 1; }
        [[ "$output" == *"garbage 1 74 malformed request"* ]] || { echo "$output"; return 1; }
        [[ "$output" == *"oversized 1 7 request too large"* ]]
        [[ "$output" == *"truncated-body 1 74 truncated request"* ]]
        # Healthy afterwards.
        run --separate-stderr as_user "$UA" "$DEC" --name=mysecret "$CRED" -
        [ "$status" -eq 0 ] && [ "$output" = "s3cr3t-of-a" ]
        not grep -q "died with signal" "$D/serve.log"
}

@test "exec mode as a user: --load searches ~/.config/credstore.encrypted and \$XDG_RUNTIME_DIR/credstore" {
        start_service "$D/root/host.secret"
        make_user_cred
        as_user "$UA" sh -c 'mkdir -p "$XDG_RUNTIME_DIR/credstore" && printf plain-value > "$XDG_RUNTIME_DIR/credstore/plainone"'
        run --separate-stderr as_user "$UA" "$DEC" --load=mysecret --load=plainone -- \
                sh -c 'cat "$CREDENTIALS_DIRECTORY/mysecret"; echo; cat "$CREDENTIALS_DIRECTORY/plainone"; echo; stat -c %U "$CREDENTIALS_DIRECTORY/mysecret"'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "${lines[0]}" = "s3cr3t-of-a" ]
        [ "${lines[1]}" = "plain-value" ]
        [ "${lines[2]}" = "$UA" ]
        # UB finds nothing of UA's: the search is per user.
        run --separate-stderr as_user "$UB" "$DEC" --load=mysecret -- sh -c 'ls "$CREDENTIALS_DIRECTORY"'
        [ "$status" -eq 0 ] && [ -z "$output" ]
}

@test "v257 user vectors open through the service as their owning user (nobody)" {
        start_service "$T/vectors.secret" as_vector_machine
        install -m 0644 "$VECTORS/v257-user-nobody.cred" "$VECTORS/v257-user-nobody-ipc.cred" "$D/"
        run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH="$PATH" \
                LATCHKEY_CREDS_SOCKET="$SOCK" SYSTEMD_CREDENTIAL_SECRET="$D/root/host.secret" \
                "$DEC" --user --name=user-nobody "$D/v257-user-nobody.cred" -
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "s3cr3t-p4ssw0rd" ]
        run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH="$PATH" \
                LATCHKEY_CREDS_SOCKET="$SOCK" SYSTEMD_CREDENTIAL_SECRET="$D/root/host.secret" \
                "$DEC" --name=nobody-ipc "$D/v257-user-nobody-ipc.cred" -
        [ "$status" -eq 0 ] && [ "$output" = "s3cr3t-p4ssw0rd" ]
        # The test user is not nobody: refused.
        run --separate-stderr as_user "$UA" "$DEC" --name=user-nobody "$D/v257-user-nobody.cred" -
        assert_clean_failure
}

@test "--serve needs a connected AF_UNIX socket on standard input" {
        run --separate-stderr "$DEC" --serve </dev/null
        assert_clean_failure
        [[ "$stderr" == *"SO_PEERCRED"* ]]
        run --separate-stderr "$DEC" --serve extra </dev/null
        [ "$status" -eq 2 ]
}

@test "no service: the client says so in one line" {
        run --separate-stderr as_user "$UA" "$DEC" --name=x "$VECTORS/v257-user-nobody.cred" -
        assert_clean_failure
        [[ "$stderr" == *"cannot reach the credential service at $SOCK"* ]] || { echo "$stderr"; return 1; }
}
