#!/usr/bin/env bats
# Command line, host key handling and output files of cred-encrypt / cred-decrypt.
load helpers

setup() { setup_scratch; }

@test "--help and --version answer on stdout with status 0" {
        for tool in "$ENC" "$DEC"; do
                run --separate-stderr "$tool" --help
                [ "$status" -eq 0 ]
                [[ "$output" == usage:* ]]
                run --separate-stderr "$tool" --version
                [ "$status" -eq 0 ]
                [[ "$output" == *"(latchkey) "[0-9]* ]]
        done
}

usage_error() {
        run --separate-stderr "$@"
        [ "$status" -eq 2 ] || { echo "status $status: $stderr"; return 1; }
        [ -z "$output" ]
}

@test "usage errors exit 2 with nothing on stdout" {
        usage_error "$ENC"
        usage_error "$ENC" a
        usage_error "$ENC" a b c
        usage_error "$ENC" --bogus a b
        usage_error "$ENC" --with-key=bogus "$VECTORS/pt-short.txt" -
        usage_error "$ENC" --timestamp=yesterdayish "$VECTORS/pt-short.txt" -
        usage_error "$ENC" --timestamp=@100 --not-after=@100 "$VECTORS/pt-short.txt" -
        usage_error "$ENC" --pretty --name= "$VECTORS/pt-short.txt" -
        usage_error "$ENC" --pretty --raw --name=a "$VECTORS/pt-short.txt" -
        usage_error "$ENC" --name=a/b "$VECTORS/pt-short.txt" -
        usage_error "$ENC" "$VECTORS/pt-short.txt" "$T/bad:name"
        usage_error "$DEC"
        usage_error "$DEC" a b c
        usage_error "$DEC" --set=novalue -- true
        usage_error "$DEC" --load=bad/id -- true
        usage_error "$DEC" --load=x
        usage_error "$DEC" --timestamp=never a
}

@test "TPM2 key types without a TPM: one clear line, status 1, no output file" {
        # A TPM that is not there (the machine's own, if any, stays out of this).
        export SYSTEMD_TPM2_DEVICE="device:$T/no-tpm"
        for key in tpm2 host+tpm2 tpm2-with-public-key host+tpm2-with-public-key; do
                run --separate-stderr "$ENC" --with-key=$key --tpm2-public-key="$VECTORS/tpm2/pcr-signing-pub.pem" --name=a "$VECTORS/pt-short.txt" "$T/out"
                assert_clean_failure
                [[ "$stderr" == *"no TPM2 available at device:$T/no-tpm"* ]]
                [ ! -e "$T/out" ]
        done
}

@test "a missing host key is created as systemd does: 4112 bytes, 0400, parents made" {
        export SYSTEMD_CREDENTIAL_SECRET="$T/new/dir/credential.secret"
        run "$ENC" --with-key=host --name=a "$VECTORS/pt-short.txt" "$T/a.cred"
        [ "$status" -eq 0 ]
        [ "$(stat -c '%s %a %h' "$SYSTEMD_CREDENTIAL_SECRET")" = "4112 400 1" ]
        # The header is the hashed machine ID: systemd-creds accepts the key and keeps it.
        run systemd-creds decrypt --name=a "$T/a.cred" -
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
        [ -f "$SYSTEMD_CREDENTIAL_SECRET" ]
        # A second encrypt reuses it.
        sum=$(sha256sum < "$SYSTEMD_CREDENTIAL_SECRET")
        run "$ENC" --with-key=host --name=b "$VECTORS/pt-short.txt" "$T/b.cred"
        [ "$status" -eq 0 ]
        [ "$(sha256sum < "$SYSTEMD_CREDENTIAL_SECRET")" = "$sum" ]
}

@test "decrypt never creates a host key" {
        run --separate-stderr "$DEC" --name=db.password "$VECTORS/host-named.cred" -
        assert_clean_failure
        [ ! -e "$SYSTEMD_CREDENTIAL_SECRET" ]
}

@test "host key with loose mode or extra links is refused" {
        run "$ENC" --with-key=host --name=a "$VECTORS/pt-short.txt" "$T/a.cred"
        [ "$status" -eq 0 ]
        chmod 0440 "$SYSTEMD_CREDENTIAL_SECRET"
        run --separate-stderr "$DEC" --name=a "$T/a.cred" -
        assert_clean_failure
        [[ "$stderr" == *"permissive access mode 0440"* ]]
        chmod 0400 "$SYSTEMD_CREDENTIAL_SECRET"
        ln "$SYSTEMD_CREDENTIAL_SECRET" "$T/second-link"
        run --separate-stderr "$DEC" --name=a "$T/a.cred" -
        assert_clean_failure
        [[ "$stderr" == *"too many links"* ]]
        rm "$T/second-link"
        ln -s "$SYSTEMD_CREDENTIAL_SECRET" "$T/symlink.secret"
        SYSTEMD_CREDENTIAL_SECRET="$T/symlink.secret" run --separate-stderr "$DEC" --name=a "$T/a.cred" -
        assert_clean_failure
}

@test "a host key of another machine is refused and never deleted" {
        need_root "bind-mounts another machine ID over /etc/machine-id"
        echo 0123456789abcdef0123456789abcdef > "$T/other-machine-id"
        export SYSTEMD_CREDENTIAL_SECRET="$T/vectors.secret"
        for tool in "$ENC --name=a $VECTORS/pt-short.txt $T/out" "$DEC --name=db.password $VECTORS/host-named.cred $T/out"; do
                run --separate-stderr unshare -m -- sh -c 'mount --bind "$0" /etc/machine-id && exec $1' "$T/other-machine-id" "$tool"
                assert_clean_failure
                [[ "$stderr" == *"belongs to another machine"* ]]
                cmp "$T/vectors.secret" "$VECTORS/host.secret"
                [ ! -e "$T/out" ]
        done
}

@test "auto skips a host key on tmpfs (no TPM2 yet: refuses); explicit host uses it" {
        d=$(mktemp -d /dev/shm/latchkey-test.XXXXXX)
        export SYSTEMD_CREDENTIAL_SECRET="$d/credential.secret"
        run --separate-stderr "$ENC" --name=a "$VECTORS/pt-short.txt" "$T/out"
        assert_clean_failure
        [[ "$stderr" == *"temporary file system"* ]]
        run "$ENC" --with-key=host --name=a "$VECTORS/pt-short.txt" "$T/out"
        status_host=$status
        rm -rf "$d"
        [ "$status_host" -eq 0 ]
}

@test "default names: OUTPUT's file name on encrypt, INPUT's on decrypt; none via stdout" {
        run "$ENC" "$VECTORS/pt-short.txt" "$T/db-password"
        [ "$status" -eq 0 ]
        run "$DEC" "$T/db-password" -
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
        cp "$T/db-password" "$T/other"
        run --separate-stderr "$DEC" "$T/other" -
        assert_clean_failure
        [[ "$stderr" == *'expected "other", got "db-password"'* ]]
        run --separate-stderr bash -c '"$1" "$2" - > "$3"' _ "$ENC" "$VECTORS/pt-short.txt" "$T/anon"
        [ "$status" -eq 0 ]
        [[ "$stderr" == *"not embedding"* ]]
        run "$DEC" --name=anything "$T/anon" -
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
}

@test "output files: Base64 lines of 79 and a final newline; --raw binary; modes" {
        umask 022
        run "$ENC" --name=big "$VECTORS/pt-32.bin" "$T/b64"
        [ "$status" -eq 0 ]
        [ "$(stat -c %a "$T/b64")" = 644 ]
        [ "$(tail -c 1 "$T/b64" | od -An -c | tr -d ' ')" = '\n' ]
        [ -z "$(head -n -1 "$T/b64" | awk 'length($0) != 79')" ]
        run "$ENC" --raw --name=big "$VECTORS/pt-32.bin" "$T/raw"
        [ "$status" -eq 0 ]
        # 48 header + ALIGN8(20+3) metadata + 32 payload + 16 tag
        [ "$(stat -c %s "$T/raw")" -eq $((48 + 24 + 32 + 16)) ]
        run "$DEC" --name=big "$T/raw" "$T/plain"
        [ "$status" -eq 0 ]
        cmp "$T/plain" "$VECTORS/pt-32.bin"
        [ "$(stat -c %a "$T/plain")" = 600 ]
}

@test "outputs that are not regular files are refused, not replaced" {
        mkfifo "$T/fifo"
        ln -s "$T/target" "$T/link"
        for out in "$T/fifo" "$T/link"; do
                run --separate-stderr "$ENC" --name=a "$VECTORS/pt-short.txt" "$out"
                assert_clean_failure
                [[ "$stderr" == *"not a regular file"* ]]
        done
        [ -p "$T/fifo" ]
        [ -L "$T/link" ]
        [ ! -e "$T/target" ]
}

@test "relative and calendar timestamps are accepted" {
        for ts in now @1735689600 "2025-01-01 00:00:00 UTC" "2025-01-01" "12:00" "-5min" "1h ago"; do
                run --separate-stderr "$ENC" --name=a --timestamp="$ts" --not-after="2100-01-01 UTC" "$VECTORS/pt-short.txt" "$T/a"
                [ "$status" -eq 0 ] || { echo "$ts: $stderr"; return 1; }
        done
}
