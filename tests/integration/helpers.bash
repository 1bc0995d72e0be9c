# Shared set-up for the integration suites: scratch dir, tool paths, a
# scratch copy of the vectors' host key (mode 0400, as systemd requires).
bats_require_minimum_version 1.5.0

VECTORS="$BATS_TEST_DIRNAME/../vectors"
ENC="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/cred-encrypt"
DEC="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/cred-decrypt"

setup_scratch() {
        T="$BATS_TEST_TMPDIR"
        cp "$VECTORS/host.secret" "$T/vectors.secret"
        chmod 0400 "$T/vectors.secret"
        # Never the machine's own key.
        export SYSTEMD_CREDENTIAL_SECRET="$T/host.secret"
}

# The vectors' host key carries the header of the machine ID in vectors/machine-id.
# Runs "$@" on a machine with that ID: directly if it is ours, else (root) in a
# private mount namespace with the ID bind-mounted over /etc/machine-id.
as_vector_machine() {
        if cmp -s /etc/machine-id "$VECTORS/machine-id"; then
                "$@"
        elif [ "$(id -u)" = 0 ]; then
                unshare -m -- sh -c 'mount --bind "$0" /etc/machine-id && exec "$@"' "$VECTORS/machine-id" "$@"
        else
                skip "needs root to bind-mount the vectors' machine-id over /etc/machine-id"
        fi
}

need_root() {
        [ "$(id -u)" = 0 ] || skip "needs root: $1"
}

# Asserts the failure contract: exit 1, one line on stderr, nothing on stdout.
assert_clean_failure() {
        [ "$status" -eq 1 ] || { echo "status $status, want 1; stderr: $stderr"; return 1; }
        [ -z "$output" ] || { echo "stdout not empty: $(printf %s "$output" | head -c 200 | od -c | head -3)"; return 1; }
        [ "$(printf '%s\n' "$stderr" | grep -c .)" -eq 1 ] || { echo "stderr not one line: $stderr"; return 1; }
}

# "! cmd" does not fail a bats test (errexit ignores it); "not cmd" does.
not() {
        if "$@"; then
                echo "succeeded, should have failed: $*" >&2
                return 1
        fi
}

# Writes $T/ns-setup.sh, the start of every script that runs in a private mount
# namespace for the home tests: tmpfs over latchkey's state and run directories, a
# fresh loop-mounted ext4 (-O encrypt) as /home, errexit with the failing line named,
# background processes killed on exit (a failed test must not hang bats), and not().
write_home_ns_setup() {
        cat >"$T/ns-setup.sh" <<'EOF'
set -eu
trap 'echo "test.sh line $LINENO failed: $BASH_COMMAND" >&2' ERR
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
mount --make-rprivate /
mkdir -p /var/lib/latchkey /run/latchkey
mount -t tmpfs -o mode=0755 tmpfs /var/lib/latchkey
mount -t tmpfs -o mode=0755 tmpfs /run/latchkey
truncate -s 48M "$T/home.img"
mkfs.ext4 -q -O encrypt -F "$T/home.img"
mount -o loop "$T/home.img" /home
not() {
        if "$@"; then
                echo "succeeded, should have failed: $*" >&2
                return 1
        fi
}
EOF
}
