# One software TPM per test: swtpm on a Unix socket in $BATS_TEST_TMPDIR, a
# foreground child of the test, stopped by its PID in teardown. No resource
# manager: whatever a client leaves loaded stays, which the leak checks use.

# swtpm_start [STATE_FILE]: starts swtpm (optionally from a saved tpm2-00.permall)
# and exports TPM (the TCTI string) and TPM2TOOLS_TCTI.
swtpm_start() {
        SWTPM_DIR="$BATS_TEST_TMPDIR/swtpm"
        mkdir -p "$SWTPM_DIR/state"
        [ -z "${1:-}" ] || cp "$1" "$SWTPM_DIR/state/tpm2-00.permall"
        swtpm socket --tpm2 --tpmstate dir="$SWTPM_DIR/state" \
                --server type=unixio,path="$SWTPM_DIR/sock" --ctrl type=unixio,path="$SWTPM_DIR/sock.ctrl" \
                --flags startup-clear --log file="$SWTPM_DIR/log" 3>&- &
        SWTPM_PID=$!
        export TPM="swtpm:path=$SWTPM_DIR/sock" TPM2TOOLS_TCTI="swtpm:path=$SWTPM_DIR/sock"
        for _ in $(seq 200); do
                tpm2_getrandom 4 >/dev/null 2>&1 && return 0
                kill -0 "$SWTPM_PID" 2>/dev/null || break
                sleep 0.01
        done
        echo "swtpm did not come up: $(cat "$SWTPM_DIR/log" 2>/dev/null)" >&2
        return 1
}

swtpm_stop() {
        [ -n "${SWTPM_PID:-}" ] || return 0
        kill -TERM "$SWTPM_PID" 2>/dev/null
        wait "$SWTPM_PID" 2>/dev/null
        SWTPM_PID=
}

# Number of transient objects / loaded sessions / saved sessions the TPM holds.
tpm_handles() { # transient|loaded-session|saved-session
        tpm2_getcap "handles-$1" | grep -c '0x' || true
}

# Fails if anything is left loaded in the TPM.
assert_no_tpm_leak() {
        local t l s
        t=$(tpm_handles transient) l=$(tpm_handles loaded-session) s=$(tpm_handles saved-session)
        [ "$t$l$s" = 000 ] || { echo "TPM handles left: $t transient, $l loaded sessions, $s saved sessions"; return 1; }
}

# Cleans up after systemd-creds 252, which leaks a session per decrypt.
tpm_flush_all() {
        tpm2_flushcontext -t >/dev/null 2>&1 || true
        tpm2_flushcontext -l >/dev/null 2>&1 || true
        tpm2_flushcontext -s >/dev/null 2>&1 || true
}

# The dictionary-attack failure counter (TPM2_PT_LOCKOUT_COUNTER).
tpm_da_counter() {
        tpm2_getcap properties-variable | awk '/TPM2_PT_LOCKOUT_COUNTER/ { print $2 }'
}
