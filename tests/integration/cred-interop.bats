#!/usr/bin/env bats
# Live interop with the installed systemd-creds 252, both directions, on a
# scratch host key (SYSTEMD_CREDENTIAL_SECRET), never the machine's own.
load helpers

setup() {
        command -v systemd-creds >/dev/null || { echo "systemd-creds missing: install the systemd package" >&2; return 1; }
        setup_scratch
        # Random secrets of every size the issue names: 0, 1, 32, 4096 and 800 KiB.
        for size in 0 1 32 4096 819200; do
                head -c $size /dev/urandom > "$T/secret-$size"
        done
}

# systemd 252 names the null key "tpm2-absent"; we accept both spellings.
systemd_key() { [ "$1" = null ] && echo tpm2-absent || echo "$1"; }

@test "systemd-creds setup makes a host key cred-encrypt accepts, and the reverse" {
        SYSTEMD_CREDENTIAL_SECRET="$T/sd.secret" run systemd-creds setup
        [ "$status" -eq 0 ]
        SYSTEMD_CREDENTIAL_SECRET="$T/sd.secret" run "$ENC" --with-key=host --name=a "$T/secret-32" "$T/a.cred"
        [ "$status" -eq 0 ]
        SYSTEMD_CREDENTIAL_SECRET="$T/sd.secret" run systemd-creds decrypt --name=a "$T/a.cred" "$T/a.out"
        [ "$status" -eq 0 ]
        cmp "$T/secret-32" "$T/a.out"
        # Our freshly created key: systemd keeps it (a header mismatch would make it delete the file).
        run "$ENC" --with-key=host --name=b "$T/secret-32" "$T/b.cred"
        [ "$status" -eq 0 ]
        [ "$(stat -c '%s %a %h' "$T/host.secret")" = "4112 400 1" ]
        run systemd-creds decrypt --name=b "$T/b.cred" "$T/b.out"
        [ "$status" -eq 0 ]
        cmp "$T/secret-32" "$T/b.out"
        [ -f "$T/host.secret" ]
}

@test "systemd-creds encrypts (host, null; 0 B to 800 KiB), cred-decrypt opens" {
        systemd-creds setup >/dev/null
        for key in host null; do
                for size in 0 1 32 4096 819200; do
                        rm -f "$T/out"
                        systemd-creds encrypt --with-key="$(systemd_key $key)" --name="s$size" "$T/secret-$size" "$T/s$size.cred" 2>/dev/null ||
                                { echo "systemd-creds encrypt $key $size failed"; return 1; }
                        "$DEC" --name="s$size" "$T/s$size.cred" "$T/out" 2>"$T/err" ||
                                { echo "cred-decrypt $key $size: $(cat "$T/err")"; return 1; }
                        cmp "$T/secret-$size" "$T/out" || { echo "mismatch $key $size"; return 1; }
                done
        done
}

@test "cred-encrypt encrypts (host, null; 0 B to 800 KiB), systemd-creds opens" {
        for key in host null; do
                for size in 0 1 32 4096 819200; do
                        rm -f "$T/out"
                        "$ENC" --with-key=$key --name="s$size" "$T/secret-$size" "$T/s$size.cred" 2>"$T/err" ||
                                { echo "cred-encrypt $key $size: $(cat "$T/err")"; return 1; }
                        systemd-creds decrypt --name="s$size" "$T/s$size.cred" "$T/out" 2>"$T/err" ||
                                { echo "systemd-creds decrypt $key $size: $(cat "$T/err")"; return 1; }
                        cmp "$T/secret-$size" "$T/out" || { echo "mismatch $key $size"; return 1; }
                done
        done
}

@test "pipes: systemd-creds encrypt | cred-decrypt and cred-encrypt | systemd-creds decrypt" {
        systemd-creds setup >/dev/null
        run bash -c 'systemd-creds encrypt --name= "$1" - | "$2" - -' _ "$T/secret-32" "$DEC"
        [ "$status" -eq 0 ]
        run bash -c '"$2" --name= "$1" - | systemd-creds decrypt - - | cmp - "$1"' _ "$T/secret-32" "$ENC"
        [ "$status" -eq 0 ]
}

@test "not-after set by cred-encrypt is honoured by systemd-creds, and the reverse" {
        run "$ENC" --name=exp --timestamp="2020-01-01 00:00:00 UTC" --not-after="2021-01-01 00:00:00 UTC" "$T/secret-32" "$T/exp.cred"
        [ "$status" -eq 0 ]
        run systemd-creds decrypt --name=exp "$T/exp.cred" -
        [ "$status" -ne 0 ]
        [[ "$output" == *"time passed"* ]]
        run systemd-creds encrypt --name=later --not-after=+1h "$T/secret-32" "$T/later.cred"
        [ "$status" -eq 0 ]
        run --separate-stderr "$DEC" --name=later --timestamp=+2h "$T/later.cred" -
        [ "$status" -eq 1 ]
        [[ "$stderr" == *expired* ]]
        run "$DEC" --name=later "$T/later.cred" "$T/later.out"
        [ "$status" -eq 0 ]
        cmp "$T/secret-32" "$T/later.out"
}

@test "--pretty output is a SetCredentialEncrypted= line whose data systemd-creds decrypts" {
        run --separate-stderr "$ENC" -p --name=mysql-password --timestamp="2025-01-01 00:00:00 UTC" "$VECTORS/pt-short.txt" -
        [ "$status" -eq 0 ]
        printf '%s\n' "$output" > "$T/pretty.conf"
        # Same layout as systemd 252's own (tests/vectors/host-pretty.conf): line lengths 40, 79, 79, 30.
        [ "$(awk '{ print length($0) }' "$T/pretty.conf" | tr '\n' ' ')" = \
          "$(awk '{ print length($0) }' "$VECTORS/host-pretty.conf" | tr '\n' ' ')" ]
        [ "$(head -1 "$T/pretty.conf")" = 'SetCredentialEncrypted=mysql-password: \' ]
        tail -n +2 "$T/pretty.conf" | sed 's/ \\$//; s/^ *//' > "$T/pretty.b64"
        run systemd-creds decrypt --name=mysql-password "$T/pretty.b64" -
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
}
