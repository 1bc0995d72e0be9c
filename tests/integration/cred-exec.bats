#!/usr/bin/env bats
# Exec mode: cred-decrypt --load/--import/--set ... -- COMMAND builds a
# $CREDENTIALS_DIRECTORY and execs COMMAND.
load helpers

setup() {
        setup_scratch
        "$ENC" --with-key=host --name=db "$VECTORS/pt-short.txt" "$T/db.cred"
        printf 'plain-value' > "$T/plain.txt"
}

@test "as root: private ramfs/tmpfs, dir 0500, files 0400, read-only, gone after exit" {
        need_root "mounts a private file system"
        run --separate-stderr "$DEC" --load=db:"$T/db.cred" --load=plain:"$T/plain.txt" --set=extra:abc -- \
                sh -c 'cd "$CREDENTIALS_DIRECTORY" && echo "dir=$CREDENTIALS_DIRECTORY" &&
                       stat -c "%n %a %U" . db plain extra && cat db; echo; cat plain; echo; cat extra; echo;
                       findmnt -n -o FSTYPE,OPTIONS --target . ; touch new 2>/dev/null && echo WRITABLE; true'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        echo "$output"
        [ "${lines[0]}" = "dir=/run/latchkey/credentials" ]
        [ "${lines[1]}" = ". 500 root" ]
        [ "${lines[2]}" = "db 400 root" ]
        [ "${lines[3]}" = "plain 400 root" ]
        [ "${lines[4]}" = "extra 400 root" ]
        [ "${lines[5]}" = "s3cr3t-p4ssw0rd" ]
        [ "${lines[6]}" = "plain-value" ]
        [ "${lines[7]}" = "abc" ]
        [[ "${lines[8]}" == tmpfs* || "${lines[8]}" == ramfs* ]]
        [[ "${lines[8]}" == *ro,* ]]
        [[ "${lines[8]}" == *nosymfollow* ]]
        [[ "$output" != *WRITABLE* ]]
        # Nothing of it in our namespace.
        not mountpoint -q /run/latchkey/credentials
        [ -z "$(ls -A /run/latchkey/credentials 2>/dev/null)" ]
}

@test "as root: --user sets the owner" {
        need_root "chowns to another user"
        run --separate-stderr "$DEC" --user=nobody --load=db:"$T/db.cred" -- sh -c 'stat -c "%U %a" "$CREDENTIALS_DIRECTORY" "$CREDENTIALS_DIRECTORY/db"'
        [ "$status" -eq 0 ]
        [ "${lines[0]}" = "nobody 500" ]
        [ "${lines[1]}" = "nobody 400" ]
        # and that user can read it through the chain
        run --separate-stderr "$DEC" --user=nobody --load=db:"$T/db.cred" -- \
                setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c 'cat "$CREDENTIALS_DIRECTORY/db"'
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
}

@test "first ID wins; --set is only a default; COMMAND keeps its own options" {
        run --separate-stderr "$DEC" --set=db:default --load=db:"$T/db.cred" --load=db:"$T/plain.txt" -- \
                sh -c 'cat "$CREDENTIALS_DIRECTORY/db"; echo " $0 $1"' --name=x -q
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "s3cr3t-p4ssw0rd --name=x -q" ]
}

@test "missing absolute path: fatal, unless --set gives a default" {
        run --separate-stderr "$DEC" --load=db:"$T/missing.cred" -- echo RAN
        [ "$status" -eq 1 ]
        [ -z "$output" ]
        [[ "$stderr" == *"not found"* ]]
        run --separate-stderr "$DEC" --load=db:"$T/missing.cred" --set=db:fallback -- sh -c 'cat "$CREDENTIALS_DIRECTORY/db"'
        [ "$status" -eq 0 ]
        [ "$output" = fallback ]
}

@test "a credential that fails to decrypt stops everything: one line, COMMAND not run" {
        cp "$T/db.cred" "$T/renamed.cred"
        run --separate-stderr "$DEC" --load=other:"$T/db.cred" -- echo RAN
        assert_clean_failure
        [[ "$stderr" == *'expected "other", got "db"'* ]]
        [[ "$stderr" == *"$T/db.cred"* ]]
}

@test "COMMAND that cannot be executed: status 127" {
        run -127 --separate-stderr "$DEC" --set=a:b -- /nonexistent/command
        [[ "$stderr" == *"cannot execute"* ]]
}

@test "credstore search: encrypted stores first, then plain; --import globs" {
        need_root "mounts a private /run with credstores"
        cp "$T/db.cred" "$T/db-enc"
        # Inside a private mount namespace, /run gets fresh credstores.
        run --separate-stderr unshare -m -- bash -c '
                set -e
                mount -t tmpfs tmpfs /run
                mkdir -p /run/credstore.encrypted /run/credstore
                cp "$1/db.cred" /run/credstore.encrypted/db
                printf plain-db > /run/credstore/db
                printf only-plain > /run/credstore/other
                "$2" --with-key=host --name=app.token "$3" /run/credstore.encrypted/app.token
                printf app-plain > /run/credstore/app.plain
                "$4" --load=db --load=other --load=absent --import="app.*" -- \
                        sh -c "cd \$CREDENTIALS_DIRECTORY && for f in *; do echo \$f=\$(cat \$f); done"
        ' _ "$T" "$ENC" "$VECTORS/pt-short.txt" "$DEC"
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        echo "$output"
        [ "$output" = "app.plain=app-plain
app.token=s3cr3t-p4ssw0rd
db=s3cr3t-p4ssw0rd
other=only-plain" ]
        [[ "$stderr" == *"absent not found"* ]]
}

@test "a credstore file loaded under another ID is checked against that ID, as systemd does" {
        need_root "mounts a private /run with credstores"
        run --separate-stderr unshare -m -- bash -c '
                mount -t tmpfs tmpfs /run && mkdir -p /run/credstore.encrypted &&
                cp "$1/db.cred" /run/credstore.encrypted/db &&
                exec "$2" --load=renamed:db -- echo RAN' _ "$T" "$DEC"
        assert_clean_failure
        [[ "$stderr" == *'expected "renamed", got "db"'* ]]
}

@test "unprivileged: 0700 directory under XDG_RUNTIME_DIR, removed after COMMAND exits" {
        need_root "switches to user nobody for the unprivileged path"
        d=$(mktemp -d /tmp/latchkey-xdg.XXXXXX)
        chmod 0755 "$d"
        install -d -o nobody -g nogroup -m 0700 "$d/xdg"
        "$ENC" --with-key=null --name=token "$VECTORS/pt-short.txt" "$d/token.cred" 2>/dev/null
        chmod 0644 "$d/token.cred"
        run --separate-stderr setpriv --reuid=nobody --regid=nogroup --clear-groups env XDG_RUNTIME_DIR="$d/xdg" \
                "$DEC" --load=token:"$d/token.cred" --set=x:y -- sh -c 'echo "$CREDENTIALS_DIRECTORY"; stat -c "%a %U" "$CREDENTIALS_DIRECTORY" "$CREDENTIALS_DIRECTORY/token"; cat "$CREDENTIALS_DIRECTORY/token"'
        [ "$status" -eq 0 ] || { echo "$stderr"; rm -rf "$d"; return 1; }
        [[ "${lines[0]}" == "$d/xdg/credentials."* ]]
        [ "${lines[1]}" = "500 nobody" ]
        [ "${lines[2]}" = "400 nobody" ]
        [ "${lines[3]}" = "s3cr3t-p4ssw0rd" ]
        # The cleanup process removes it once COMMAND has exited (poll, bounded).
        for _ in $(seq 50); do
                [ -e "${lines[0]}" ] || break
                sleep 0.1
        done
        gone=$([ -e "${lines[0]}" ] && echo no || echo yes)
        rm -rf "$d"
        [ "$gone" = yes ]
}

@test "root without a mount namespace: plain directory stays root's, user cannot change it, removed after" {
        need_root "drops CAP_SYS_ADMIN to force the fallback"
        run --separate-stderr setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin \
                "$DEC" --user=nobody --load=db:"$T/db.cred" -- sh -c '
                        d=$CREDENTIALS_DIRECTORY; echo "$d"
                        stat -c "%U %G %a" "$d" "$d/db"
                        setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "cat \"\$1/db\"; echo; chmod 0700 \"\$1\" 2>/dev/null && echo CHMOD; touch \"\$1/x\" 2>/dev/null && echo WROTE; true" _ "$d"'
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        echo "$output"
        [[ "${lines[0]}" == /run/latchkey/credentials.* ]]
        [ "${lines[1]}" = "root nogroup 550" ]
        [ "${lines[2]}" = "nobody nogroup 400" ]
        [ "${lines[3]}" = "s3cr3t-p4ssw0rd" ]
        [[ "$output" != *CHMOD* && "$output" != *WROTE* ]]
        for _ in $(seq 50); do
                [ -e "${lines[0]}" ] || break
                sleep 0.1
        done
        [ ! -e "${lines[0]}" ]
}
