#!/usr/bin/env bash
# A short end-to-end demonstration of what latchkey does today, on a scratch
# host key (never the machine's own /var/lib/systemd/credential.secret).
set -euo pipefail
cd "$(dirname "$0")/.."
B="${BUILD:-build}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SYSTEMD_CREDENTIAL_SECRET="$tmp/credential.secret"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "Encrypt a secret with the host key (created on first use, systemd's format)" \
     "printf 's3cr3t' | cred-encrypt --name=db-password - db-password"
printf 's3cr3t' | "$B/cred-encrypt" --name=db-password - "$tmp/db-password"
cat "$tmp/db-password"
ls -l "$SYSTEMD_CREDENTIAL_SECRET"

step "Decrypt it again" "cred-decrypt db-password -"
"$B/cred-decrypt" "$tmp/db-password" -
echo

if command -v systemd-creds >/dev/null; then
        step "systemd-creds opens what we made" "systemd-creds decrypt db-password -"
        systemd-creds decrypt "$tmp/db-password" -
        echo
        step "and we open what systemd-creds made" \
             "printf hello | systemd-creds encrypt --name=greeting - greeting; cred-decrypt greeting -"
        printf 'hello' | systemd-creds encrypt --name=greeting - "$tmp/greeting"
        "$B/cred-decrypt" "$tmp/greeting" -
        echo
fi

flip70='NR == 1 { c = substr($0, 70, 1); $0 = substr($0, 1, 69) (c == "A" ? "B" : "A") substr($0, 71) } { print }'
step "One changed character in the ciphertext is refused (exit 1, one line, no output)" \
     "awk '$flip70' db-password | cred-decrypt --name=db-password - -"
awk "$flip70" "$tmp/db-password" | "$B/cred-decrypt" --name=db-password - - || echo "(exit status $?)"

step "A unit-file line for SetCredentialEncrypted=" "cred-encrypt -p --name=db-password - -"
printf 's3cr3t' | "$B/cred-encrypt" -p --name=db-password - -

step "Exec mode: a private \$CREDENTIALS_DIRECTORY for a command" \
     "cred-decrypt --load=db-password:\$PWD/db-password --set=mode:demo -- sh -c 'ls -l \$CREDENTIALS_DIRECTORY; cat \$CREDENTIALS_DIRECTORY/db-password'"
[ "$(id -u)" = 0 ] || export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$tmp}"
"$B/cred-decrypt" --load=db-password:"$tmp/db-password" --set=mode:demo -- \
        sh -c 'echo "CREDENTIALS_DIRECTORY=$CREDENTIALS_DIRECTORY"; ls -l "$CREDENTIALS_DIRECTORY"; cat "$CREDENTIALS_DIRECTORY/db-password"; echo'
echo
echo "demo done."
