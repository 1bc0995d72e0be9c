#!/usr/bin/env bats
# Bad input: exit 1, one line on stderr naming the reason, no bytes on stdout,
# no output file left behind.
load helpers

setup() {
        setup_scratch
        export SYSTEMD_CREDENTIAL_SECRET="$T/vectors.secret"
        base64 -d "$VECTORS/host-named.cred" > "$T/raw.cred"
}

# Writes FILE with byte INDEX xor MASK into OUT.
flip_byte() { # FILE INDEX MASK OUT
        local file=$1 i=$2 mask=$3 out=$4 size byte
        size=$(stat -c %s "$file")
        byte=$(od -An -tu1 -j "$i" -N1 "$file" | tr -d ' ')
        {
                head -c "$i" "$file"
                printf "\\$(printf %03o $((byte ^ mask)))"
                tail -c $((size - i - 1)) "$file"
        } > "$out"
}

# (bats' run clobbers a variable named i: loops use pos.)
# Runs cred-decrypt on IN into $T/out and checks the whole failure contract.
decrypt_fails_cleanly() { # IN LABEL
        rm -f "$T/out"
        run --separate-stderr as_vector_machine "$DEC" --name=db.password "$1" "$T/out"
        if [ "$status" -ne 1 ] || [ -n "$output" ] || [ -e "$T/out" ] ||
           [ "$(printf '%s\n' "$stderr" | grep -c .)" -ne 1 ]; then
                echo "$2: status=$status stdout=${#output} bytes out-file=$([ -e "$T/out" ] && echo yes || echo no) stderr=$stderr"
                return 1
        fi
        ls "$T" | grep -q '\.#' && { echo "$2: temp file left behind"; return 1; }
        return 0
}

@test "sanity: the unmodified raw and Base64 forms decrypt" {
        run as_vector_machine "$DEC" --name=db.password "$T/raw.cred" -
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
        run as_vector_machine "$DEC" --name=db.password "$VECTORS/host-named.cred" -
        [ "$status" -eq 0 ]
        [ "$output" = "s3cr3t-p4ssw0rd" ]
}

@test "every byte of a binary credential flipped in turn: all refused" {
        local size pos
        size=$(stat -c %s "$T/raw.cred")
        [ "$size" -eq 111 ]
        for ((pos = 0; pos < size; pos++)); do
                flip_byte "$T/raw.cred" $pos 255 "$T/flip.cred"
                decrypt_fails_cleanly "$T/flip.cred" "byte $pos" || return 1
        done
}

@test "every character of the Base64 form flipped in turn: all refused" {
        local size pos
        size=$(stat -c %s "$VECTORS/host-named.cred")
        for ((pos = 0; pos < size; pos++)); do
                flip_byte "$VECTORS/host-named.cred" $pos 1 "$T/flip.cred"
                decrypt_fails_cleanly "$T/flip.cred" "char $pos" || return 1
        done
}

@test "every truncation of a binary credential: all refused" {
        local size pos
        size=$(stat -c %s "$T/raw.cred")
        for ((pos = 0; pos < size; pos++)); do
                head -c $pos "$T/raw.cred" > "$T/trunc.cred"
                decrypt_fails_cleanly "$T/trunc.cred" "length $pos" || return 1
        done
}

@test "empty input, garbage, a directory, a symlink: refused" {
        : > "$T/empty.cred"
        decrypt_fails_cleanly "$T/empty.cred" empty
        printf 'hello world\n' > "$T/garbage.cred"
        decrypt_fails_cleanly "$T/garbage.cred" garbage
        [[ "$stderr" == *"neither valid Base64 nor a binary credential"* ]]
        mkdir "$T/dir.cred"
        decrypt_fails_cleanly "$T/dir.cred" directory
        ln -s "$VECTORS/host-named.cred" "$T/link.cred"
        decrypt_fails_cleanly "$T/link.cred" symlink
}

@test "Base64 with trailing garbage after the padding is refused" {
        { cat "$VECTORS/host-named.cred"; echo "AAAA"; } > "$T/trail.cred"
        decrypt_fails_cleanly "$T/trail.cred" trailing
}

@test "encoded input over 2 MiB is refused before decoding" {
        head -c $((2 * 1024 * 1024 + 1)) /dev/zero | tr '\0' 'A' > "$T/huge.cred"
        decrypt_fails_cleanly "$T/huge.cred" huge
        [[ "$stderr" == *"too large"* ]]
}

@test "decoded credential over 1 MiB + 128 KiB is refused" {
        { printf '\x5a\x1c\x6a\x86\xdf\x9d\x40\x96\xb1\xd5\xa6\x5e\x08\x62\xf1\x9a'; head -c $((1024 * 1024 + 128 * 1024)) /dev/zero; } | base64 > "$T/big.cred"
        decrypt_fails_cleanly "$T/big.cred" big
        [[ "$stderr" == *"too large"* ]]
}

@test "plaintext over 1 MiB is refused by cred-encrypt, no output file" {
        head -c $((1024 * 1024 + 1)) /dev/zero > "$T/big.bin"
        run --separate-stderr as_vector_machine "$ENC" --name=big "$T/big.bin" "$T/out"
        assert_clean_failure
        [[ "$stderr" == *"too long"* ]]
        [ ! -e "$T/out" ]
        # exactly 1 MiB is fine
        head -c $((1024 * 1024)) /dev/zero > "$T/max.bin"
        run as_vector_machine "$ENC" --name=max "$T/max.bin" "$T/max.cred"
        [ "$status" -eq 0 ]
        run as_vector_machine "$DEC" --name=max "$T/max.cred" "$T/max.out"
        [ "$status" -eq 0 ]
        cmp "$T/max.bin" "$T/max.out"
}

@test "a failed decrypt never replaces an existing output file" {
        echo keep > "$T/out"
        flip_byte "$T/raw.cred" 60 1 "$T/flip.cred"
        run --separate-stderr as_vector_machine "$DEC" --name=db.password "$T/flip.cred" "$T/out"
        [ "$status" -eq 1 ]
        [ "$(cat "$T/out")" = keep ]
}

@test "validation order as systemd: key type before sizes, null policy before sizes" {
        # 20 bytes with an unknown key type: "unknown key type", not "truncated".
        head -c 20 /dev/zero | tr '\0' '\1' | base64 > "$T/unknown.cred"
        run --separate-stderr "$DEC" "$T/unknown.cred" -
        assert_clean_failure
        [[ "$stderr" == *"unknown credential key type"* ]]
        # A null-key header with a bad key size: --refuse-null speaks first.
        { printf '\x05\x84\x69\xda\xf6\xf5\x43\x24\x80\x05\x49\xda\x0f\x8e\xa2\xfb\x21\0\0\0'; head -c 100 /dev/zero; } > "$T/null-bad.cred"
        run --separate-stderr "$DEC" --refuse-null "$T/null-bad.cred" -
        assert_clean_failure
        [[ "$stderr" == *"null key"* ]]
        run --separate-stderr "$DEC" --allow-null "$T/null-bad.cred" -
        assert_clean_failure
        [[ "$stderr" == *"unsupported key size 33"* ]]
}

@test "without lockable memory the error is still one line (no libgcrypt warning)" {
        need_root "runs as nobody with RLIMIT_MEMLOCK 0"
        d=$(mktemp -d /tmp/latchkey-memlock.XXXXXX)
        chmod 0755 "$d"
        "$ENC" --with-key=null --name=y "$VECTORS/pt-short.txt" "$d/y" 2>/dev/null
        chmod 0644 "$d/y"
        run --separate-stderr prlimit --memlock=0:0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
                "$DEC" --refuse-null --name=y "$d/y" -
        refused_status=$status refused_out=$output refused_err=$stderr
        run --separate-stderr prlimit --memlock=0:0 setpriv --reuid=nobody --regid=nogroup --clear-groups \
                "$DEC" --allow-null --name=y "$d/y" -
        rm -rf "$d"
        [ "$refused_status" -eq 1 ]
        [ -z "$refused_out" ]
        [[ "$refused_err" == "cred-decrypt: credential is encrypted with a null key, refusing"* ]] || { echo "$refused_err"; return 1; }
        [ "$(printf '%s\n' "$refused_err" | grep -c .)" -eq 1 ]
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "s3cr3t-p4ssw0rd" ]
        # --allow-null is silent, and libgcrypt adds no warning of its own.
        [ -z "$stderr" ] || { echo "stderr: $stderr"; return 1; }
}
