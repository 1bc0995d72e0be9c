#!/usr/bin/env bats
# Credentials made by systemd-creds 252 and 257 (tests/vectors) open with cred-decrypt.
load helpers

setup() {
        setup_scratch
        export SYSTEMD_CREDENTIAL_SECRET="$T/vectors.secret"
}

decrypts_to() { # VECTOR PLAINTEXT [OPTIONS...]
        local v=$1 pt=$2
        shift 2
        run --separate-stderr as_vector_machine "$DEC" "$@" "$VECTORS/$v" "$T/out"
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        cmp "$T/out" "$VECTORS/$pt"
}

@test "v252 host key, default name from the file name" { decrypts_to host-default-name.cred pt-short.txt; }
@test "v252 host key, explicit name" { decrypts_to host-named.cred pt-short.txt --name=db.password; }
@test "v252 host key, no embedded name passes any name check" { decrypts_to host-noname.cred pt-short.txt --name=whatever; }
@test "v252 host key, not-after in 2035 still valid" { decrypts_to host-notafter.cred pt-short.txt --name=expiring; }
@test "v252 host key, empty payload" { decrypts_to host-empty.cred pt-empty.bin --name=empty; }
@test "v252 host key, 32-byte payload" { decrypts_to host-32.cred pt-32.bin --name=secret32; }
@test "v252 host key, 1 MiB payload (systemd 252 itself cannot)" { decrypts_to host-1MiB.cred pt-1MiB.bin --name=big; }
@test "v252 auto key (host on this machine)" { decrypts_to auto.cred pt-short.txt --name=auto; }
@test "v252 null key (tpm2-absent)" { decrypts_to null-named.cred pt-short.txt --name=nullkey; }
@test "v252 auto-initrd (null)" { decrypts_to auto-initrd.cred pt-short.txt --name=autoinitrd; }
@test "v257 host key" { decrypts_to v257-host-named.cred pt-short.txt --name=db.password; }
@test "v257 null key" { decrypts_to v257-null-named.cred pt-short.txt --name=nullkey; }
@test "v257 user-scoped, uid 65534 nobody, with --uid=nobody" { decrypts_to v257-user-nobody.cred pt-short.txt --name=user-nobody --uid=nobody; }
@test "v257 user-scoped, uid 65534, with --uid=65534" { decrypts_to v257-user-nobody.cred pt-short.txt --name=user-nobody --uid=65534; }
@test "v257 user-scoped, made by nobody through io.systemd.Credentials" { decrypts_to v257-user-nobody-ipc.cred pt-short.txt --name=nobody-ipc --uid=nobody; }
@test "v257 user-scoped, root's own (--user as root)" { decrypts_to v257-user-root.cred pt-short.txt --name=user-root --user; }
@test "v257 user-scoped, root's own with --uid=root" { decrypts_to v257-user-root.cred pt-short.txt --name=user-root --uid=root; }
@test "root's --uid= also opens system credentials (ANY_SCOPE, as systemd-creds)" { decrypts_to v257-host-named.cred pt-short.txt --name=db.password --uid=nobody; }
@test "v252 host key via stdin, raw output to stdout" {
        run --separate-stderr as_vector_machine sh -c '"$0" --name=db.password - < "$1"' "$DEC" "$VECTORS/host-named.cred"
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
}

expect_failure() { # VECTOR MESSAGE-PATTERN [OPTIONS...]
        local v=$1 pat=$2
        shift 2
        run --separate-stderr as_vector_machine "$DEC" "$@" "$VECTORS/$v" "$T/out"
        assert_clean_failure
        [ ! -e "$T/out" ]
        [[ "$stderr" == *$pat* ]] || { echo "stderr: $stderr"; return 1; }
}

@test "expired credential is refused" { expect_failure host-expired.cred "expired at 2021-01-01 00:00:00 UTC" --name=expired; }
@test "expired credential opens with --allow-expired" { decrypts_to host-expired.cred pt-short.txt --name=expired --allow-expired; }
@test "not-after honours --timestamp as now" { expect_failure host-notafter.cred "expired" --name=expiring --timestamp="2040-01-01 00:00:00 UTC"; }
@test "name mismatch is refused" { expect_failure host-named.cred 'expected "host-named.cred", got "db.password"'; }
@test "SYSTEMD_CREDENTIAL_VALIDATE_NAME=0 skips the name check" {
        SYSTEMD_CREDENTIAL_VALIDATE_NAME=0 decrypts_to host-named.cred pt-short.txt
}
@test "TPM2 credential without its TPM: clear error" {
        SYSTEMD_TPM2_DEVICE="device:$T/no-tpm" expect_failure tpm2-pcr7.cred "no TPM2 available" --name=tpm2cred
}
@test "user-scoped credential: clear error" { expect_failure v257-user-nobody.cred "user-scoped" --name=user-nobody; }
@test "user-scoped credential for another UID fails the tag check" { expect_failure v257-user-nobody.cred "authentication tag mismatch" --name=user-nobody --uid=0; }
@test "user-scoped credential under another user name fails the tag check" {
        # Same UID 65534, different name: the name is part of the key.
        need_root "bind-mounts a passwd that renames UID 65534"
        sed 's/^nobody:/nobodx:/' /etc/passwd > "$T/passwd"
        run --separate-stderr as_vector_machine unshare -m -- sh -c 'mount --bind "$0" /etc/passwd && exec "$@"' "$T/passwd" \
                "$DEC" --name=user-nobody --uid=65534 "$VECTORS/v257-user-nobody.cred" "$T/out"
        assert_clean_failure
        [[ "$stderr" == *"authentication tag mismatch"* ]] || { echo "$stderr"; return 1; }
}
@test "user-scoped credential on another machine ID fails the tag check" {
        need_root "bind-mounts another machine-id"
        echo 0123456789abcdef0123456789abcdef > "$T/machine-id"
        run --separate-stderr unshare -m -- sh -c 'mount --bind "$0" /etc/machine-id && exec "$@"' "$T/machine-id" \
                "$DEC" --host-key="$T/vectors.secret" --name=user-nobody --uid=nobody "$VECTORS/v257-user-nobody.cred" "$T/out"
        assert_clean_failure
        # The vectors' host key carries the other machine's header: refused before any decryption.
        [[ "$stderr" == *"machine"* ]] || { echo "$stderr"; return 1; }
}
@test "--refuse-null refuses a null-key credential" { expect_failure null-named.cred "null key" --name=nullkey --refuse-null; }
@test "--with-key=host refuses a null-key credential" { expect_failure null-named.cred "key type null" --name=nullkey --with-key=host; }
@test "wrong host key fails the tag check" {
        # A fresh key of our own: right header, different bytes.
        SYSTEMD_CREDENTIAL_SECRET="$T/host.secret" run --separate-stderr as_vector_machine "$ENC" --name=x "$VECTORS/pt-short.txt" "$T/x.cred"
        [ "$status" -eq 0 ]
        [ -f "$T/host.secret" ]
        SYSTEMD_CREDENTIAL_SECRET="$T/host.secret" run --separate-stderr as_vector_machine "$DEC" --name=db.password "$VECTORS/host-named.cred" "$T/out"
        assert_clean_failure
        [[ "$stderr" == *"authentication tag mismatch"* ]]
}
