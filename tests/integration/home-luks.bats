#!/usr/bin/env bats
# home-activate's LUKS2 backend, host stage: everything that needs no
# device-mapper, on real image files through the real tools (home-activate,
# cryptsetup). Activation itself, lock/unlock and busy deactivation run in the VM
# stage (tests/vm/run.sh), where the kernel has dm-crypt. Every test runs as root
# in its own mount namespace with tmpfs over /var/lib/latchkey and /run/latchkey
# and a fresh loop-mounted ext4 as /home.
load helpers

HA="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/home-activate"
KDF="--kdf=t=4,m=64,p=1" # cheap argon2id key slots (libcryptsetup's minimum t is 4)

setup() {
        T="$BATS_TEST_TMPDIR"
}

# Runs the bash script $1 in a private namespace with the scratch homes set up.
in_luks_ns() {
        need_root "mounts a loop ext4 and tmpfs state directories"
        for tool in mkfs.ext4 cryptsetup flock; do
                command -v $tool >/dev/null || { echo "$tool missing (make deps)"; return 1; }
        done
        cat >"$T/setup.sh" <<'EOF'
set -eu
mount --make-rprivate /
mkdir -p /var/lib/latchkey /run/latchkey
mount -t tmpfs -o mode=0755 tmpfs /var/lib/latchkey
mount -t tmpfs -o mode=0755 tmpfs /run/latchkey
truncate -s 160M "$T/home.img"
mkfs.ext4 -q -F "$T/home.img"
mount -o loop "$T/home.img" /home
# test-passphrase PASSWORD: whether a key slot of the image opens with it (cryptsetup's view).
opens() { printf %s "$1" | cryptsetup open --test-passphrase --key-file=- /home/lkl.home 2>/dev/null; }
slots() { cryptsetup luksDump /home/lkl.home | grep -cE '^  [0-9]+: luks2$'; }
# not COMMAND: an assertion that COMMAND fails ("! COMMAND" is exempt from set -e).
not() { if "$@"; then return 1; fi; }
EOF
        printf '%s\n' "$1" >"$T/test.sh"
        run --separate-stderr env T="$T" HA="$HA" KDF="$KDF" \
                unshare -m -- bash -c '. "$T/setup.sh" && . "$T/test.sh"'
        echo "status: $status"
        echo "stdout: $output"
        echo "stderr: $stderr"
}

@test "home-luks: create makes a LUKS2 image in homed's layout; inspect shows the header" {
        in_luks_ns '
echo pw1 | $HA create --storage=luks --disk-size=64M $KDF lkl
[ "$(stat -c %a:%s /home/lkl.home)" = 600:67108864 ]
[ -z "$(ls -A /home | grep -v -e "^lkl.home$" -e "^lost+found$")" ]
[ -z "$(ls -A /run/latchkey/home | grep -v -e "\.op$")" ]
cryptsetup isLuks --type luks2 /home/lkl.home
cryptsetup luksDump /home/lkl.home >"$T/dump"
grep -E "^Label:[[:space:]]+lkl$" "$T/dump"
grep -E "^Subsystem:[[:space:]]+systemd-home$" "$T/dump"
grep -E "^Metadata area:[[:space:]]+4194304 \[bytes\]$" "$T/dump"
grep -E "^  0: systemd-homed$" "$T/dump"
grep -E "cipher:[[:space:]]+aes-xts-plain64" "$T/dump"
grep -E "sector:[[:space:]]+4096 \[bytes\]" "$T/dump"
[ "$(slots)" -eq 1 ]
grep -E "PBKDF:[[:space:]]+argon2id" "$T/dump"
cryptsetup token export --token-id 0 /home/lkl.home >"$T/token"
python3 -c "
import json, sys, base64
t = json.load(open(sys.argv[1]))
assert t[\"type\"] == \"systemd-homed\" and t[\"keyslots\"] == [], t
assert len(base64.b64decode(t[\"iv\"])) == 16
assert len(base64.b64decode(t[\"record\"])) > 100
" "$T/token"
# The record is encrypted: no user name or hash in the clear anywhere in the header.
[ "$(head -c 16M /home/lkl.home | grep -a -c -e hashedPassword -e lastChangeUSec)" -eq 0 ]
opens pw1
not opens wrong
$HA inspect lkl >"$T/inspect"
grep -E "^ +State: inactive$" "$T/inspect"
grep -E "^ +Storage: luks$" "$T/inspect"
grep -E "^ +Image path: /home/lkl.home$" "$T/inspect"
grep -E "^ +LUKS label: lkl / systemd-home$" "$T/inspect"
grep -E "^ +Cipher: aes-xts-plain64, 256-bit key, 4096-byte sectors$" "$T/inspect"
grep -E "^ +Key slots: 0 \(argon2id\)$" "$T/inspect"
grep -E "^ +Record token: 0 \(systemd-homed\)$" "$T/inspect"
grep -E "^ +Device: inactive$" "$T/inspect"
grep -E "^ +LUKS UUID: $(cryptsetup luksUUID /home/lkl.home)$" "$T/inspect"
$HA inspect --json lkl | python3 -c "
import json, sys
l = json.load(sys.stdin)[\"status\"][\"luks\"]
assert l[\"keySlots\"] == [0] and l[\"recordToken\"] == 0 and l[\"device\"] is None, l
assert l[\"sectorSize\"] == 4096 and l[\"volumeKeyBits\"] == 256 and l[\"dataOffset\"] == 16777216, l
"
$HA list | grep -E "^lkl +60001 luks +inactive +/home/lkl$"
'
        [ "$status" -eq 0 ]
        [ "$stderr" = "home-activate: Generating key pair for signing local user identity records.
home-activate: created luks home of lkl (UID 60001) at /home/lkl.home" ]
}

@test "home-luks: without device-mapper activation fails with one clear line and leaves nothing behind" {
        grep -q device-mapper /proc/misc && skip "this kernel has device-mapper: activation is tested for real here and in the VM stage"
        in_luks_ns '
echo pw1 | $HA create --storage=luks --disk-size=64M $KDF lkl 2>/dev/null
sum=$(sha256sum </home/lkl.home)
rc=0; echo pw1 | $HA activate lkl 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
[ "$(cat "$T/err")" = "home-activate: cannot activate the LUKS2 volume: device-mapper (dm-crypt) is not available in this kernel" ]
not findmnt /home/lkl
[ "$(sha256sum </home/lkl.home)" = "$sum" ]
$HA list | grep -E "^lkl +60001 luks +inactive"
rc=0; $HA lock lkl 2>"$T/err" || rc=$?
[ $rc -eq 8 ]
grep -q "not active" "$T/err"
rc=0; $HA deactivate lkl 2>"$T/err" || rc=$?
[ $rc -eq 0 ]
grep -q "not active" "$T/err"
'
        [ "$status" -eq 0 ]
}

@test "home-luks: the record in the header token is reconciled with the host copy both ways (before activation needs dm)" {
        grep -q device-mapper /proc/misc && skip "this kernel has device-mapper: the VM stage covers activation"
        in_luks_ns '
echo pw1 | $HA create --storage=luks --disk-size=64M $KDF lkl 2>/dev/null
cp /var/lib/latchkey/home/lkl.identity /var/lib/latchkey/home/lkl.user "$T/"
cryptsetup token export --token-id 0 /home/lkl.home >"$T/token.1"
# Host newer (update): the activation attempt writes it into the header first.
$HA update --real-name="New Name" lkl
echo pw1 | $HA activate lkl 2>/dev/null || true
cryptsetup token export --token-id 0 /home/lkl.home >"$T/token.2"
not cmp -s "$T/token.1" "$T/token.2"
# Header newer: with the old host copy back, the activation attempt restores the
# newer record from the header (decrypted with the volume key, signature checked).
cp "$T/lkl.identity" "$T/lkl.user" /var/lib/latchkey/home/
$HA inspect lkl | grep -E "^ +Real name: lkl$"
echo pw1 | $HA activate lkl 2>/dev/null || true
$HA inspect lkl | grep -E "^ +Real name: New Name$"
cryptsetup token export --token-id 0 /home/lkl.home >"$T/token.3"
cmp "$T/token.2" "$T/token.3"
'
        [ "$status" -eq 0 ]
}

@test "home-luks: a password that no key slot opens is a wrong password (exit 3), even when the record's hash takes it" {
        in_luks_ns '
echo pw1 | $HA create --storage=luks --disk-size=64M $KDF lkl 2>/dev/null
rc=0; echo wrong | $HA activate lkl 2>"$T/err" || rc=$?
[ $rc -eq 3 ]
[ "$(cat "$T/err")" = "home-activate: wrong password for lkl" ]
# Re-key the image behind the record'"'"'s back: the record still takes pw1, no slot does.
cryptsetup luksAddKey --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=<(printf pw1) /home/lkl.home <(printf other)
cryptsetup luksKillSlot --key-file=<(printf other) /home/lkl.home 0
rc=0; echo pw1 | $HA activate lkl 2>"$T/err" || rc=$?
[ $rc -eq 3 ]
[ "$(cat "$T/err")" = "home-activate: wrong password: no LUKS key slot opens with it" ]
rc=0; printf "pw1\npw2\n" | $HA passwd $KDF lkl 2>"$T/err" || rc=$?
[ $rc -eq 3 ]
grep -q "no LUKS key slot opens" "$T/err"
[ "$(slots)" -eq 1 ]
opens other
'
        [ "$status" -eq 0 ]
}

@test "home-luks: passwd adds the new slot, rewrites the records and the header token, then kills the old slot" {
        in_luks_ns '
echo pw1 | $HA create --storage=luks --disk-size=64M $KDF lkl 2>/dev/null
cryptsetup token export --token-id 0 /home/lkl.home >"$T/token.before"
printf "pw1\npw2\n" | $HA passwd $KDF lkl
[ "$(slots)" -eq 1 ]
opens pw2
not opens pw1
cryptsetup luksDump /home/lkl.home | grep -E "^  1: luks2$"
cryptsetup token export --token-id 0 /home/lkl.home >"$T/token.after"
not cmp -s "$T/token.before" "$T/token.after"
echo pw2 | $HA authenticate lkl
rc=0; echo pw1 | $HA authenticate lkl 2>/dev/null || rc=$?
[ $rc -eq 3 ]
# Back again without --kdf: the new slot keeps the cost of the old one.
printf "pw2\npw1\n" | $HA passwd lkl
cryptsetup luksDump /home/lkl.home >"$T/dump"
grep -E "^	Time cost: +4$" "$T/dump"
grep -E "^	Memory: +64$" "$T/dump"
# A wrong current password changes nothing.
rc=0; printf "nope\npw3\n" | $HA passwd $KDF lkl 2>"$T/err" || rc=$?
[ $rc -eq 3 ]
[ "$(slots)" -eq 1 ]
opens pw1
'
        [ "$status" -eq 0 ]
}

@test "home-luks: kill -9 during passwd, 30 times: the home always opens with the old or the new password" {
        in_luks_ns '
echo p0 | $HA create --storage=luks --disk-size=64M $KDF lkl 2>/dev/null
# Kill at a random point in [0, 1.5 × the time of an uninterrupted passwd].
start=$(date +%s%N)
printf "p0\np0x\n" | $HA passwd $KDF lkl 2>/dev/null
span=$(( ($(date +%s%N) - start) / 1000000 * 3 / 2 + 1 ))
cur=p0x both=0 changed=0 stayed=0
for i in $(seq 1 30); do
        new=p$i
        printf "%s\n%s\n" $cur $new | $HA passwd $KDF lkl 2>/dev/null &
        pid=$!
        ms=$(( (RANDOM * 32768 + RANDOM) % span ))
        sleep "$(printf "%d.%03d" $((ms / 1000)) $((ms % 1000)))"
        kill -9 $pid 2>/dev/null || true
        wait $pid 2>/dev/null || true
        cryptsetup isLuks --type luks2 /home/lkl.home
        [ "$(slots)" -ge 1 ]
        if [ "$(slots)" -eq 2 ]; then both=$((both + 1)); fi
        ok=""
        for p in $cur $new; do
                if echo $p | $HA authenticate lkl 2>/dev/null && opens $p; then ok=$p; fi
        done
        [ -n "$ok" ] || { echo "iteration $i: neither $cur nor $new opens the home"; exit 1; }
        if [ $ok = $new ]; then changed=$((changed + 1)); else stayed=$((stayed + 1)); fi
        cur=$ok
done
echo "passwd takes ~$((span * 2 / 3)) ms; $changed kills after the change, $stayed before; $both left two slots"
# Both sides of the change were hit, or the test proved nothing.
[ $changed -gt 0 ]
[ $stayed -gt 0 ]
# The next passwd drops a slot left over by an interrupted one.
printf "%s\nfinal\n" $cur | $HA passwd $KDF lkl
[ "$(slots)" -eq 1 ]
opens final
'
        [ "$status" -eq 0 ]
}

@test "home-luks: an image locked by another process is refused as in use elsewhere" {
        in_luks_ns '
echo pw1 | $HA create --storage=luks --disk-size=64M $KDF lkl 2>/dev/null
flock /home/lkl.home sleep 30 &
pid=$!
sleep 0.2
rc=0; printf "pw1\npw2\n" | $HA passwd $KDF lkl 2>"$T/err" || rc=$?
kill $pid
[ $rc -eq 1 ]
[ "$(cat "$T/err")" = "home-activate: /home/lkl.home is in use elsewhere (another process holds its lock)" ]
opens pw1
[ "$(slots)" -eq 1 ]
'
        [ "$status" -eq 0 ]
}

@test "home-luks: sizes: too large for the disk, too small, bad --disk-size, --disk-size without luks" {
        in_luks_ns '
rc=0; echo pw1 | $HA create --storage=luks --disk-size=1G $KDF lkl 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "^home-activate: not enough free space in /home for a 1024 MiB home (" "$T/err"
rc=0; echo pw1 | $HA create --storage=luks --disk-size=8M $KDF lkl 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "needs at least 32 MiB" "$T/err"
[ -z "$(ls -A /home | grep -v "^lost+found$")" ]
not [ -e /var/lib/latchkey/home/lkl.identity ]
rc=0; echo pw1 | $HA create --storage=luks --disk-size=12X lkl 2>"$T/err" || rc=$?
[ $rc -eq 2 ]
grep -q "not a size" "$T/err"
rc=0; echo pw1 | $HA create --storage=directory --disk-size=64M lkl 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "applies to --storage=luks only" "$T/err"
'
        [ "$status" -eq 0 ]
}

@test "home-luks: remove deletes the image and the records" {
        in_luks_ns '
echo pw1 | $HA create --storage=luks --disk-size=64M $KDF lkl 2>/dev/null
$HA remove lkl
not [ -e /home/lkl.home ]
not [ -e /var/lib/latchkey/home/lkl.identity ]
not [ -e /var/lib/latchkey/home/lkl.user ]
'
        [ "$status" -eq 0 ]
}
