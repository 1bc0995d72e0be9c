#!/usr/bin/env bats
# Credentials for mounts, for real: sshfs against an sshd started here on
# 127.0.0.1, logging in with a password-auth test user (created and removed
# here) whose password lives only in an encrypted credential. Through a pipe
# and through exec mode, with cred-decrypt/latchkey-mount-sshfs.
load helpers

MOUNT_SSHFS="$BATS_TEST_DIRNAME/../../cred-decrypt/latchkey-mount-sshfs"

setup_file() {
        [ "$(id -u)" = 0 ] || return 0 # every test skips through need_root
        D=$(mktemp -d /tmp/latchkey-credmount.XXXXXX)
        chmod 0755 "$D"
        SU="lkcm$$"
        useradd -m -d "$D/home" -s /bin/sh -U "$SU"
        PW="pw-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
        printf '%s:%s\n' "$SU" "$PW" | chpasswd
        printf mounted-ok > "$D/home/hello.txt"
        chown "$SU:" "$D/home/hello.txt"
        install -d -m 0700 "$D/root"
        printf %s "$PW" > "$D/root/pw.txt"
        ssh-keygen -q -t ed25519 -N '' -f "$D/root/hostkey"
        PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        cat > "$D/root/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $PORT
HostKey $D/root/hostkey
PidFile $D/root/sshd.pid
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication no
PermitRootLogin no
AllowUsers $SU
StrictModes no
Subsystem sftp internal-sftp
EOF
        mkdir -p /run/sshd
        "$(command -v sshd)" -D -e -f "$D/root/sshd_config" 2>>"$D/root/sshd.log" 3>&- &
        SSHD_PID=$!
        for _ in $(seq 200); do
                python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$PORT" 2>/dev/null && break
                sleep 0.02
        done
        export D SU PORT SSHD_PID
}

teardown_file() {
        [ -n "${D:-}" ] || return 0
        kill "$SSHD_PID" 2>/dev/null || true
        wait "$SSHD_PID" 2>/dev/null || true
        if mountpoint -q "$D/mnt"; then fusermount -u "$D/mnt" || true; fi
        userdel -r "$SU" 2>/dev/null || true
        rm -rf "$D"
}

setup() {
        need_root "creates a test user and runs sshd"
        command -v sshfs >/dev/null && command -v sshd >/dev/null || { echo "sshfs/openssh-server missing: make deps" >&2; return 1; }
        setup_scratch
        kill -0 "$SSHD_PID" || { echo "sshd is not running: $(cat "$D/root/sshd.log")"; return 1; }
        mkdir -p "$D/mnt"
        # The password, encrypted under a scratch host key; its name is its file name.
        "$ENC" --name=sshfs-pw "$D/root/pw.txt" "$T/sshfs-pw"
        export CRED_DECRYPT="$DEC"
}

teardown() {
        if mountpoint -q "$D/mnt"; then fusermount -u "$D/mnt"; fi
}

SSHFS_OPTS=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)

@test "sshfs mounts with the password piped from cred-decrypt (latchkey-mount-sshfs)" {
        run --separate-stderr "$MOUNT_SSHFS" "$T/sshfs-pw" "$SU@127.0.0.1:$D/home" "$D/mnt" -o port="$PORT" "${SSHFS_OPTS[@]}"
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        mountpoint -q "$D/mnt"
        [ "$(findmnt -n -o FSTYPE "$D/mnt")" = fuse.sshfs ]
        [ "$(cat "$D/mnt/hello.txt")" = mounted-ok ]
        # The password is not in any command line.
        not grep -qa "$(cat "$D/root/pw.txt")" /proc/[0-9]*/cmdline
}

@test "sshfs mounts in exec mode: cred-decrypt --load=... -- sshfs, password from \$CREDENTIALS_DIRECTORY" {
        run --separate-stderr "$MOUNT_SSHFS" --exec "$T/sshfs-pw" "$SU@127.0.0.1:$D/home" "$D/mnt" -o port="$PORT" "${SSHFS_OPTS[@]}"
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        [ "$(cat "$D/mnt/hello.txt")" = mounted-ok ]
}

@test "the same pipe by hand: cred-decrypt --name=pw pw.cred - | sshfs -o password_stdin" {
        cp "$T/sshfs-pw" "$T/pw.cred"
        run --separate-stderr sh -c '"$0" --name=sshfs-pw "$1" - | sshfs -o password_stdin "$2" "$3" -o port="$4" \
                -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR' \
                "$DEC" "$T/pw.cred" "$SU@127.0.0.1:$D/home" "$D/mnt" "$PORT"
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        [ "$(cat "$D/mnt/hello.txt")" = mounted-ok ]
}

@test "a credential that does not decrypt mounts nothing" {
        # Same password, other host key: the tag check fails, sshfs gets no password.
        SYSTEMD_CREDENTIAL_SECRET="$T/other.secret" "$ENC" --name=sshfs-pw "$D/root/pw.txt" "$T/other-pw"
        mkdir -p "$T/x" && mv "$T/other-pw" "$T/x/sshfs-pw"
        run --separate-stderr "$MOUNT_SSHFS" "$T/x/sshfs-pw" "$SU@127.0.0.1:$D/home" "$D/mnt" -o port="$PORT" "${SSHFS_OPTS[@]}"
        [ "$status" -ne 0 ]
        [[ "$stderr" == *"authentication tag mismatch"* ]] || { echo "$stderr"; return 1; }
        not mountpoint -q "$D/mnt"
}
