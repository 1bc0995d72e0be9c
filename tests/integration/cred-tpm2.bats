#!/usr/bin/env bats
# TPM2-bound credentials against a real (software) TPM: one swtpm per test on a
# Unix socket, no resource manager, so every leaked handle shows. Vectors made
# by systemd 252/257 (tests/vectors/tpm2), live interop with the installed
# systemd-creds 252 both ways, PCR binding, signed policies, DA counter.
load helpers
load swtpm

TV="$BATS_TEST_DIRNAME/../vectors/tpm2"
PCR7_EXT=0707070707070707070707070707070707070707070707070707070707070707

setup() {
        command -v swtpm >/dev/null && command -v tpm2_getcap >/dev/null ||
                { echo "swtpm/tpm2-tools missing: make deps" >&2; return 1; }
        setup_scratch
        printf 'top secret\n' > "$T/pt"
}

teardown() {
        proxy_stop
        swtpm_stop
}

# proxy_start [--flip-unseal]: tpm-proxy.py between the client and swtpm, on
# $T/proxy/sock; returns once it accepts connections.
proxy_start() {
        mkdir -p "$T/proxy"
        rm -f "$T/proxy/out"
        "$BATS_TEST_DIRNAME/tpm-proxy.py" "$SWTPM_DIR/sock" "$T/proxy/sock" "$@" >"$T/proxy/out" 2>"$T/proxy/err" 3>&- &
        PROXY_PID=$!
        for _ in $(seq 500); do
                grep -qx ready "$T/proxy/out" 2>/dev/null && return 0
                kill -0 "$PROXY_PID" 2>/dev/null || break
                sleep 0.01
        done
        echo "tpm-proxy did not come up: $(cat "$T/proxy/err" 2>/dev/null)" >&2
        return 1
}

proxy_stop() {
        [ -n "${PROXY_PID:-}" ] || return 0
        kill -TERM "$PROXY_PID" 2>/dev/null
        wait "$PROXY_PID" 2>/dev/null || true # 143: killed, as meant
        PROXY_PID=
}

# Starts swtpm from a saved state; the v252/257 tests/vectors TPM state by default.
start_vector_tpm() { # [c|v]
        if [ "${1:-v}" = c ]; then
                mkdir -p "$T/st"
                tar -C "$T/st" -xzf "$TV/swtpm-state.tar.gz"
                swtpm_start "$T/st/tpm2-00.permall"
                install -m 0400 "$TV/credential.secret" "$T/c.secret"
                export SYSTEMD_CREDENTIAL_SECRET="$T/c.secret"
        else
                swtpm_start "$TV/v252-257/tpm2-00.permall"
                export SYSTEMD_CREDENTIAL_SECRET="$T/vectors.secret"
        fi
}

vector_decrypts() { # FILE PLAINTEXT NAME [OPTIONS...]
        local v=$1 pt=$2 name=$3
        shift 3
        rm -f "$T/out"
        run --separate-stderr as_vector_machine "$DEC" --tpm2-device="$TPM" --name="$name" "$@" "$v" "$T/out"
        [ "$status" -eq 0 ] || { echo "$v: status $status: $stderr"; return 1; }
        cmp "$T/out" "$pt"
        assert_no_tpm_leak
}

@test "systemd 252 vectors (creds-tpm2): tpm2, host+tpm2, empty mask with bank 0xffff, signed PCR 11, PCRs 0+7" {
        start_vector_tpm c
        vector_decrypts "$TV/c1-tpm2-pcr7.cred" "$TV/plain-text.txt" c1-tpm2-pcr7
        vector_decrypts "$TV/c2-host+tpm2-pcr7.cred" "$TV/plain-text.txt" c2-host+tpm2-pcr7
        # systemd 252 cannot read its own c3 (bank 0xffff); we do.
        vector_decrypts "$TV/c3-tpm2-nopcr.cred" "$TV/plain-random1000.bin" c3-tpm2-nopcr
        vector_decrypts "$TV/c4-host.cred" "$TV/plain-text.txt" c4-host
        vector_decrypts "$TV/c6-tpm2-pk-pcr11.cred" "$TV/plain-text.txt" c6-tpm2-pk-pcr11 --tpm2-signature="$TV/c6-pcr11-signature.json"
        # c5 was sealed after two extends: before them the policy does not match.
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --name=c5-tpm2-pcr0+7-extended "$TV/c5-tpm2-pcr0+7-extended.cred" -
        assert_clean_failure
        [[ "$stderr" == *"PCR policy mismatch"* ]]
        assert_no_tpm_leak
        tpm2_pcrextend 0:sha256=0101010101010101010101010101010101010101010101010101010101010101
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        vector_decrypts "$TV/c5-tpm2-pcr0+7-extended.cred" "$TV/plain-text.txt" c5-tpm2-pcr0+7-extended
}

@test "systemd 252 and 257 vectors (creds): PCR 7, 7+11, no PCRs, signed PCR 11, signed 11 + literal 7" {
        start_vector_tpm v
        # The PCR state the README gives for these vectors.
        tpm2_pcrextend 7:sha256=$(printf 'secureboot-policy' | sha256sum | cut -d' ' -f1),sha1=$(printf 'secureboot-policy' | sha1sum | cut -d' ' -f1)
        tpm2_pcrextend 11:sha256=$(printf 'uki' | sha256sum | cut -d' ' -f1)
        local pt="$VECTORS/pt-short.txt" sig="$TV/v252-257/tpm2-pcr-signature.json"
        vector_decrypts "$TV/v252-257/tpm2-pcr7.cred" "$pt" tpm2cred
        vector_decrypts "$TV/v252-257/tpm2-pcr7+11.cred" "$pt" tpm2pcr711
        vector_decrypts "$TV/v252-257/host+tpm2-nopcr.cred" "$pt" hosttpm2
        vector_decrypts "$TV/v252-257/tpm2-pk-pcr11.cred" "$pt" pkcred --tpm2-signature="$sig"
        vector_decrypts "$TV/v252-257/v257-tpm2-pcr7.cred" "$pt" tpm2cred
        vector_decrypts "$TV/v252-257/v257-host+tpm2-nopcr.cred" "$pt" hosttpm2
        vector_decrypts "$TV/v252-257/v257-host+tpm2-pk11-pcr7.cred" "$pt" pk7cred --tpm2-signature="$sig"
}

@test "systemd 257 user-scoped host+tpm2 vector (uid nobody, PCR 7) opens with --uid=nobody only" {
        start_vector_tpm v
        tpm2_pcrextend 7:sha256=$(printf 'secureboot-policy' | sha256sum | cut -d' ' -f1),sha1=$(printf 'secureboot-policy' | sha1sum | cut -d' ' -f1)
        vector_decrypts "$TV/v252-257/v257-user-nobody-host+tpm2.cred" "$VECTORS/pt-short.txt" user-nobody-tpm2 --uid=nobody
        run --separate-stderr as_vector_machine "$DEC" --tpm2-device="$TPM" --name=user-nobody-tpm2 --uid=0 "$TV/v252-257/v257-user-nobody-host+tpm2.cred" -
        assert_clean_failure
        [[ "$stderr" == *"authentication tag mismatch"* ]] || { echo "$stderr"; return 1; }
        assert_no_tpm_leak
}

@test "user-scoped host+tpm2 and host+tpm2-with-public-key round trip; tpm2 alone is refused with --uid=" {
        swtpm_start
        "$ENC" --tpm2-device="$TPM" --uid=nobody --with-key=host+tpm2 --raw --name=s "$T/pt" "$T/s.raw"
        # BY_HOST_AND_TPM2_HMAC_SCOPED
        [ "$(od -An -v -tx1 -N16 "$T/s.raw" | tr -d ' \n')" = ef4ac13679a9480ea7db68897f9f165d ]
        "$DEC" --tpm2-device="$TPM" --uid=nobody --name=s "$T/s.raw" - | cmp - "$T/pt"
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --name=s "$T/s.raw" -
        assert_clean_failure
        [[ "$stderr" == *"user-scoped"* ]]
        "$ENC" --tpm2-device="$TPM" --uid=nobody --with-key=host+tpm2-with-public-key --tpm2-public-key="$TV/pcr-signing-pub.pem" \
                --raw --name=p "$T/pt" "$T/p.raw"
        [ "$(od -An -v -tx1 -N16 "$T/p.raw" | tr -d ' \n')" = adbc4ca3efb64201ba881b6f2e4095ea ]
        run --separate-stderr "$ENC" --tpm2-device="$TPM" --uid=nobody --with-key=tpm2 --name=s "$T/pt" "$T/t.cred"
        assert_clean_failure
        [[ "$stderr" == *"not available for user-scoped"* ]]
        assert_no_tpm_leak
}

@test "systemd-creds 252 encrypts (tpm2, host+tpm2; PCR 7, none, 7+11), cred-decrypt opens without leaking" {
        swtpm_start
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        export SYSTEMD_CREDENTIAL_SECRET="$T/sd.secret"
        for key in tpm2 host+tpm2; do
                for pcrs in 7 "" 7+11; do
                        systemd-creds encrypt --tpm2-device="$TPM" --with-key=$key --tpm2-pcrs="$pcrs" --name=s "$T/pt" "$T/s.cred" 2>/dev/null ||
                                { echo "systemd-creds encrypt $key [$pcrs] failed"; return 1; }
                        tpm_flush_all
                        "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" "$T/out" 2>"$T/err" ||
                                { echo "cred-decrypt $key [$pcrs]: $(cat "$T/err")"; return 1; }
                        cmp "$T/pt" "$T/out"
                        assert_no_tpm_leak
                done
        done
}

@test "cred-encrypt seals (tpm2, host+tpm2; PCR 7, none, 7+11), systemd-creds 252 decrypts" {
        swtpm_start
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        for key in tpm2 host+tpm2; do
                for pcrs in 7 "" 7+11; do
                        "$ENC" --tpm2-device="$TPM" --with-key=$key --tpm2-pcrs="$pcrs" --name=s "$T/pt" "$T/s.cred" 2>"$T/err" ||
                                { echo "cred-encrypt $key [$pcrs]: $(cat "$T/err")"; return 1; }
                        assert_no_tpm_leak
                        systemd-creds decrypt --tpm2-device="$TPM" --name=s "$T/s.cred" "$T/out" 2>"$T/err" ||
                                { echo "systemd-creds decrypt $key [$pcrs]: $(cat "$T/err")"; return 1; }
                        tpm_flush_all
                        cmp "$T/pt" "$T/out"
                        # And our own decrypt, through $SYSTEMD_TPM2_DEVICE this time.
                        SYSTEMD_TPM2_DEVICE="$TPM" "$DEC" --name=s "$T/s.cred" - | cmp - "$T/pt"
                        assert_no_tpm_leak
                done
        done
}

@test "RSA 2048 primary (LATCHKEY_TPM2_PRIMARY=rsa, a TPM without ECC): RSA-OAEP salted sessions both ways, systemd-creds 252 decrypts" {
        swtpm_start
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        for key in tpm2 host+tpm2; do
                LATCHKEY_TPM2_PRIMARY=rsa LATCHKEY_LOG_LEVEL=debug "$ENC" --tpm2-device="$TPM" --with-key=$key --tpm2-pcrs=7 \
                        --name=r "$T/pt" "$T/r.cred" 2>"$T/err" || { cat "$T/err"; return 1; }
                grep -q "sealed under RSA primary" "$T/err"
                assert_no_tpm_leak
                LATCHKEY_LOG_LEVEL=debug "$DEC" --tpm2-device="$TPM" --name=r "$T/r.cred" "$T/out" 2>"$T/err" || { cat "$T/err"; return 1; }
                grep -q "under the RSA primary" "$T/err"
                cmp "$T/pt" "$T/out"
                assert_no_tpm_leak
                systemd-creds decrypt --tpm2-device="$TPM" --name=r "$T/r.cred" "$T/out" 2>"$T/err" ||
                        { echo "systemd-creds decrypt $key: $(cat "$T/err")"; return 1; }
                tpm_flush_all
                cmp "$T/pt" "$T/out"
        done
        run --separate-stderr env LATCHKEY_TPM2_PRIMARY=dsa "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --name=r "$T/pt" "$T/bad.cred"
        assert_clean_failure
        [[ "$stderr" == *"invalid \$LATCHKEY_TPM2_PRIMARY"* ]]
}

@test "empty PCR mask is written with the sha256 bank (systemd 252 writes 0xffff and cannot read it back)" {
        swtpm_start
        run "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --tpm2-pcrs= --raw --name=s "$T/pt" "$T/s.raw"
        [ "$status" -eq 0 ]
        # TPM2 header at offset 48: pcr_mask u64 = 0, bank u16 = 0x000b, primary u16 = 0x0023 (ECC).
        [ "$(od -An -v -tx1 -j48 -N12 "$T/s.raw" | tr -d ' \n')" = 00000000000000000b002300 ]
}

@test "PCR binding holds: extending a bound PCR gives \"PCR policy mismatch\", exit 1, no output, nothing leaked" {
        swtpm_start
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        run "$ENC" --tpm2-device="$TPM" --with-key=host+tpm2 --tpm2-pcrs=secure-boot-policy --name=s "$T/pt" "$T/s.cred"
        [ "$status" -eq 0 ]
        "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" - | cmp - "$T/pt"
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" "$T/out"
        assert_clean_failure
        [[ "$stderr" == *"PCR policy mismatch"* ]] || { echo "$stderr"; return 1; }
        [ ! -e "$T/out" ]
        assert_no_tpm_leak
}

@test "--tpm2-pcrs: names, bank and literal values (seal for a future PCR state)" {
        swtpm_start
        # PCR 7 after one extend with 0x07…: SHA-256(0^32 ‖ 07^32).
        local future
        future=$(python3 -c "import hashlib; print(hashlib.sha256(bytes(32) + bytes.fromhex('$PCR7_EXT')).hexdigest())")
        run "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --tpm2-pcrs="secure-boot-policy:sha256=$future" --name=s "$T/pt" "$T/s.cred"
        [ "$status" -eq 0 ]
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" -
        assert_clean_failure
        [[ "$stderr" == *"PCR policy mismatch"* ]]
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" - | cmp - "$T/pt"
        # systemd 252 agrees on the digest.
        systemd-creds decrypt --tpm2-device="$TPM" --name=s "$T/s.cred" - | cmp - "$T/pt"
        tpm_flush_all
        # The sha1 bank on request.
        run "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --tpm2-pcrs=7:sha1+boot-loader-code --raw --name=s "$T/pt" "$T/s1.raw"
        [ "$status" -eq 0 ]
        # mask 0x90 (PCRs 4 and 7), bank 0x0004 (sha1).
        [ "$(od -An -v -tx1 -j48 -N10 "$T/s1.raw" | tr -d ' \n')" = 90000000000000000400 ]
        "$DEC" --tpm2-device="$TPM" --name=s "$T/s1.raw" - | cmp - "$T/pt"
        assert_no_tpm_leak
        # Bad lists are usage errors.
        for bad in 24 7+ nosuchpcr 7:md5 "7:sha256=abcd" "7:sha256+11:sha1"; do
                run "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --tpm2-pcrs="$bad" --name=s "$T/pt" "$T/x.cred"
                [ "$status" -eq 2 ] || { echo "--tpm2-pcrs=$bad: status $status"; return 1; }
        done
}

@test "signed PCR policy: tpm2-with-public-key, new signature after a PCR 11 change, wrong signature refused" {
        swtpm_start
        local pol
        sign() { # POL-HEX -> JSON file $T/sig.json
                python3 -c "import sys; sys.stdout.buffer.write(bytes.fromhex('$1'))" > "$T/pol.bin"
                local s fp
                s=$(openssl dgst -sha256 -sign "$TV/pcr-signing-key.pem" "$T/pol.bin" | base64 -w0)
                fp=$(openssl rsa -pubin -in "$TV/pcr-signing-pub.pem" -RSAPublicKey_out -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
                printf '{"sha256":[{"pcrs":[11],"pkfp":"%s","pol":"%s","sig":"%s"}]}\n' "$fp" "$1" "$s" > "$T/sig.json"
        }
        # PolicyPCR digest of sha256 PCR 11 with its current value.
        policy11() {
                tpm2_pcrread -Q sha256:11 -o "$T/pcr11.bin"
                python3 - "$(od -An -v -tx1 "$T/pcr11.bin" | tr -d ' \n')" <<'PY'
import hashlib, sys
v = bytes.fromhex(sys.argv[1])
sel = (1).to_bytes(4, 'big') + (0x000b).to_bytes(2, 'big') + bytes([3, 0, 8, 0])
print(hashlib.sha256(bytes(32) + (0x17f).to_bytes(4, 'big') + sel + hashlib.sha256(v).digest()).hexdigest())
PY
        }
        run "$ENC" --tpm2-device="$TPM" --with-key=host+tpm2-with-public-key --tpm2-public-key="$TV/pcr-signing-pub.pem" \
                --tpm2-public-key-pcrs=kernel-boot --tpm2-pcrs= --name=pk "$T/pt" "$T/pk.cred"
        [ "$status" -eq 0 ]
        pol=$(policy11)
        [ "$pol" = fd32fa22c52cfc8e1a0c29eb38519f87084cab0b04b0d8f020a4d38b2f4e223e ]
        sign "$pol"
        "$DEC" --tpm2-device="$TPM" --tpm2-signature="$T/sig.json" --name=pk "$T/pk.cred" - | cmp - "$T/pt"
        assert_no_tpm_leak
        systemd-creds decrypt --tpm2-device="$TPM" --tpm2-signature="$T/sig.json" --name=pk "$T/pk.cred" - | cmp - "$T/pt"
        tpm_flush_all
        # A new UKI: PCR 11 changes, the old signature no longer fits …
        tpm2_pcrextend 11:sha256=$(printf 'uki' | sha256sum | cut -d' ' -f1)
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --tpm2-signature="$T/sig.json" --name=pk "$T/pk.cred" -
        assert_clean_failure
        [[ "$stderr" == *"PCR policy mismatch"* ]]
        assert_no_tpm_leak
        # … a signature for the new value opens the same credential.
        sign "$(policy11)"
        "$DEC" --tpm2-device="$TPM" --tpm2-signature="$T/sig.json" --name=pk "$T/pk.cred" - | cmp - "$T/pt"
        # A forged signature (right pol, wrong bytes) is refused by the TPM.
        sed -i 's/"sig":"A/"sig":"B/; t; s/"sig":"./"sig":"A/' "$T/sig.json"
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --tpm2-signature="$T/sig.json" --name=pk "$T/pk.cred" -
        assert_clean_failure
        [[ "$stderr" == *"signature"* ]]
        assert_no_tpm_leak
        # No signature file: a clear error, not silence as in systemd 252.
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --tpm2-signature="$T/none.json" --name=pk "$T/pk.cred" -
        assert_clean_failure
        assert_no_tpm_leak
}

@test "a tampered Unseal response (man in the middle) is refused by the session HMAC check, no output, nothing leaked" {
        swtpm_start
        tpm2_pcrextend 7:sha256=$PCR7_EXT
        "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --name=x "$T/pt" "$T/x.cred"
        # The proxy alone changes nothing: a decrypt through it works.
        proxy_start
        "$DEC" --tpm2-device="swtpm:path=$T/proxy/sock" --name=x "$T/x.cred" "$T/out"
        cmp "$T/pt" "$T/out"
        proxy_stop
        rm "$T/out"
        assert_no_tpm_leak
        # One bit of the unsealed secret altered on its way back from the TPM.
        proxy_start --flip-unseal
        run --separate-stderr "$DEC" --tpm2-device="swtpm:path=$T/proxy/sock" --name=x "$T/x.cred" "$T/out"
        proxy_stop
        assert_clean_failure
        [[ "$stderr" == *"fails its session HMAC check"* ]] || { echo "$stderr"; return 1; }
        [ ! -e "$T/out" ]
        grep -q "flipped Unseal response" "$T/proxy/sock.log"
        assert_no_tpm_leak
}

@test "wrong TPM (a fresh swtpm) is a clear error" {
        swtpm_start
        run "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --name=s "$T/pt" "$T/s.cred"
        [ "$status" -eq 0 ]
        swtpm_stop
        rm -rf "$SWTPM_DIR"
        swtpm_start
        run --separate-stderr "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" "$T/out"
        assert_clean_failure
        [[ "$stderr" == *"sealed by another TPM2"* ]] || { echo "$stderr"; return 1; }
        [ ! -e "$T/out" ]
        assert_no_tpm_leak
}

@test "20 runs with failures among them never move the dictionary-attack counter or leak a handle" {
        swtpm_start
        local da
        da=$(tpm_da_counter)
        "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --name=s "$T/pt" "$T/s.cred"
        "$ENC" --tpm2-device="$TPM" --with-key=host+tpm2 --tpm2-pcrs=7+11 --name=s "$T/pt" "$T/p.cred"
        tpm2_pcrextend 11:sha256=$PCR7_EXT
        for i in $(seq 10); do
                "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" - | cmp - "$T/pt"
                not "$DEC" --tpm2-device="$TPM" --name=s "$T/p.cred" - 2>/dev/null
        done
        assert_no_tpm_leak
        [ "$(tpm_da_counter)" = "$da" ] || { echo "DA counter $da -> $(tpm_da_counter)"; return 1; }
        tpm2_getcap properties-variable | grep -q 'inLockout: *0'
}

@test "persistent SRK: used when it is the credential primary, ignored when it is a TCG (noDA) SRK" {
        swtpm_start
        # The legacy template, persisted at 0x81000001: the very same key.
        tpm2_createprimary -Q -C o -g sha256 -G ecc256:null:aes128cfb \
                -a 'restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth' -c "$T/p.ctx"
        tpm2_evictcontrol -Q -C o -c "$T/p.ctx" 0x81000001 >/dev/null
        tpm_flush_all
        LATCHKEY_LOG_LEVEL=debug "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --name=s "$T/pt" "$T/s.cred" 2>"$T/err"
        grep -q 'persistent SRK' "$T/err"
        LATCHKEY_LOG_LEVEL=debug "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" - 2>"$T/err" | cmp - "$T/pt"
        grep -q 'persistent SRK' "$T/err"
        assert_no_tpm_leak
        systemd-creds decrypt --tpm2-device="$TPM" --name=s "$T/s.cred" - | cmp - "$T/pt"
        tpm_flush_all
        # A TCG-template SRK (with noDA) is a different key: derive the legacy primary instead.
        tpm2_evictcontrol -Q -C o -c 0x81000001 >/dev/null
        tpm2_createprimary -Q -C o -g sha256 -G ecc256:null:aes128cfb \
                -a 'restricted|decrypt|fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda' -c "$T/p.ctx"
        tpm2_evictcontrol -Q -C o -c "$T/p.ctx" 0x81000001 >/dev/null
        tpm_flush_all
        LATCHKEY_LOG_LEVEL=debug "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" - 2>"$T/err" | cmp - "$T/pt"
        not grep -q 'persistent SRK' "$T/err"
        "$ENC" --tpm2-device="$TPM" --with-key=tpm2 --name=s "$T/pt" "$T/s2.cred"
        systemd-creds decrypt --tpm2-device="$TPM" --name=s "$T/s2.cred" - | cmp - "$T/pt"
        tpm_flush_all
        assert_no_tpm_leak
}

@test "auto picks host+tpm2 with a TPM given, host without; auto-initrd picks tpm2 or null" {
        swtpm_start
        "$ENC" --tpm2-device="$TPM" --with-key=auto --raw --name=s "$T/pt" "$T/a.raw"
        [ "$(od -An -v -tx1 -N16 "$T/a.raw" | tr -d ' \n')" = 93a894094874449090caf2fc93cab553 ]
        "$ENC" --tpm2-device="$TPM" --with-key=auto-initrd --raw --name=s "$T/pt" "$T/i.raw"
        [ "$(od -An -v -tx1 -N16 "$T/i.raw" | tr -d ' \n')" = 0c7cc07b117645919c4b0bea08bc20fe ]
        "$DEC" --tpm2-device="$TPM" --name=s "$T/a.raw" - | cmp - "$T/pt"
        "$DEC" --tpm2-device="$TPM" --name=s "$T/i.raw" - | cmp - "$T/pt"
        assert_no_tpm_leak
        if [ ! -e /dev/tpmrm0 ]; then
                # No TPM on this machine: auto means host, auto-initrd null, silently for auto.
                run --separate-stderr "$ENC" --with-key=auto --raw --name=s "$T/pt" "$T/h.raw"
                [ "$status" -eq 0 ]
                [ -z "$stderr" ]
                [ "$(od -An -v -tx1 -N16 "$T/h.raw" | tr -d ' \n')" = 5a1c6a86df9d4096b1d5a65e0862f19a ]
                run "$ENC" --with-key=auto-initrd --raw --name=s "$T/pt" "$T/n.raw"
                [ "$(od -An -v -tx1 -N16 "$T/n.raw" | tr -d ' \n')" = 058469daf6f54324800549da0f8ea2fb ]
        fi
}

@test "--tpm2-device: path, TCTI string, auto via \$SYSTEMD_TPM2_DEVICE; a missing TPM is one clear line" {
        swtpm_start
        SYSTEMD_TPM2_DEVICE="$TPM" "$ENC" --tpm2-device=auto --with-key=tpm2 --name=s "$T/pt" "$T/s.cred"
        "$DEC" --tpm2-device="$TPM" --name=s "$T/s.cred" - | cmp - "$T/pt"
        run --separate-stderr "$ENC" --tpm2-device="$T/no-such-tpm" --with-key=tpm2 --name=s "$T/pt" "$T/x.cred"
        assert_clean_failure
        [[ "$stderr" == *"no TPM2 available at device:$T/no-such-tpm"* ]]
        [ ! -e "$T/x.cred" ]
        run --separate-stderr "$DEC" --tpm2-device="swtpm:path=$T/no-such-sock" --name=s "$T/s.cred" -
        assert_clean_failure
        [[ "$stderr" == *TPM2* ]]
        run --separate-stderr "$ENC" --tpm2-device=relative --with-key=tpm2 --name=s "$T/pt" "$T/x.cred"
        assert_clean_failure
        assert_no_tpm_leak
}

@test "--has-tpm2 prints what systemd-creds has-tpm2 prints and exits with the same bitmask" {
        run --separate-stderr "$ENC" --has-tpm2
        local ours=$status out=$output
        run --separate-stderr systemd-creds has-tpm2
        [ "$ours" -eq "$status" ]
        [ "$out" = "$output" ]
        run "$ENC" -q --has-tpm2
        [ "$status" -eq "$ours" ]
        [ -z "$output" ]
}
