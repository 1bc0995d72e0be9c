#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The LUKS suite, run inside the VM by tests/vm/run.sh (as root, real dm-crypt):
# home-activate on LUKS homes end to end. Prints TAP on stdout, plan last.
# Environment from run.sh: ROOT (source tree), BUILD (absolute build dir).
set -u
HA="$BUILD/home-activate"
KDF="--kdf=t=4,m=64,p=1" # cheap argon2id key slots: the tests are about behaviour
U=lkvm
IMG=/home/$U.home
n=0
failed=0
W=$(mktemp -d)

# t NAME FUNCTION: runs FUNCTION under set -e; its output goes to the TAP comments on failure.
t() {
        local name=$1 f=$2 rc start
        n=$((n + 1))
        start=$(date +%s.%N)
        (set -e -o pipefail; "$f") >"$W/log" 2>&1
        rc=$?
        local secs
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        if [ $rc -eq 0 ]; then
                echo "ok $n - vm: $name (${secs} s)"
        else
                echo "not ok $n - vm: $name (status $rc)"
                sed 's/^/#   /' "$W/log" | tail -n 40
                failed=$((failed + 1))
        fi
}

# not COMMAND: an assertion that COMMAND fails ("! COMMAND" is exempt from set -e,
# and so is every command of an && list but the last: one assertion per line).
not() { if "$@"; then return 1; fi; }

# expect RC COMMAND...: the command must exit with RC; its stderr is kept in $W/err.
expect() {
        local want=$1 rc=0
        shift
        "$@" 2>"$W/err" || rc=$?
        cat "$W/err" >&2
        [ "$rc" -eq "$want" ] || { echo "exit status $rc, want $want: $*" >&2; return 1; }
}

setup() {
        mkdir -p /var/lib/latchkey /run/latchkey
        grep -q device-mapper /proc/misc
        truncate -s 1G "$W/host-home.img"
        mkfs.ext4 -q -F "$W/host-home.img"
        mount -o loop "$W/host-home.img" /home
        findmnt /home
}

create() {
        echo pw1 | "$HA" create --storage=luks --disk-size=128M $KDF --real-name="Lou Kas" $U
        [ -f $IMG ]
        [ "$(stat -c %a:%s $IMG)" = 600:134217728 ]
        cryptsetup isLuks --type luks2 $IMG
        cryptsetup luksDump $IMG >"$W/dump"
        grep -E "^Label:[[:space:]]+$U$" "$W/dump"
        grep -E "^Subsystem:[[:space:]]+systemd-home$" "$W/dump"
        grep -E "systemd-homed" "$W/dump"
        grep -E "cipher:[[:space:]]+aes-xts-plain64" "$W/dump"
        "$HA" inspect $U | grep -E "State: inactive"
        "$HA" inspect $U | grep -E "Key slots: 0 \(argon2id\)"
}

# The file system written without device-mapper must be clean as the kernel's
# dm-crypt decrypts it: cryptsetup opens it, e2fsck checks it read-only.
fsck_clean() {
        echo -n pw1 | cryptsetup open --key-file=- $IMG check-$U
        e2fsck -fn /dev/mapper/check-$U
        mkdir -p "$W/m"
        mount -o ro /dev/mapper/check-$U "$W/m"
        [ "$(stat -c %u:%g:%a "$W/m/$U")" = 60001:60001:700 ]
        [ -f "$W/m/$U/.identity" ]
        [ -d "$W/m/lost+found" ]
        umount "$W/m"
        cryptsetup close check-$U
}

activate() {
        echo pw1 | "$HA" activate $U
        [ -b /dev/mapper/home-$U ]
        findmnt -n -o SOURCE,FSROOT,FSTYPE /home/$U | tee "$W/mnt"
        grep -E "^/dev/mapper/home-$U(\[/$U\])? +/$U +ext4$" "$W/mnt"
        findmnt -n -o OPTIONS /home/$U | grep -E "(^|,)nosuid(,|$)" | grep -E "(^|,)nodev(,|$)"
        [ "$(stat -c %u:%a /home/$U)" = 60001:700 ]
        [ -f /home/$U/.identity ]
        not [ -e /home/$U/lost+found ]
        "$HA" list | grep -E "^$U +60001 luks +active +/home/$U$"
        "$HA" inspect $U | grep -E "Device: /dev/mapper/home-$U"
        expect 6 sh -c "echo pw1 | '$HA' activate $U"
}

write_data() {
        echo hello >/home/$U/file
        head -c 8M /dev/urandom >/home/$U/blob
        sha256sum /home/$U/blob | cut -d' ' -f1 >"$W/blob.sum"
        chown 60001:60001 /home/$U/file
}

deactivate() {
        "$HA" deactivate $U
        not findmnt /home/$U
        not [ -e /dev/mapper/home-$U ]
        "$HA" list | grep -E "^$U +60001 luks +inactive"
        expect 0 "$HA" deactivate $U
}

reactivate() {
        echo pw1 | "$HA" activate $U
        [ "$(cat /home/$U/file)" = hello ]
        [ "$(sha256sum /home/$U/blob | cut -d' ' -f1)" = "$(cat "$W/blob.sum")" ]
        "$HA" deactivate $U
}

wrong_password() {
        expect 3 sh -c "echo wrong | '$HA' activate $U"
        grep -q "wrong password" "$W/err"
        [ "$(wc -l <"$W/err")" -eq 1 ]
        not [ -e /dev/mapper/home-$U ]
        not findmnt /home/$U
}

passwd_rotation() {
        echo pw1 | "$HA" activate $U
        printf 'pw1\npw2\n' | "$HA" passwd $KDF $U
        "$HA" deactivate $U
        [ "$(cryptsetup luksDump $IMG | grep -cE '^  [0-9]+: luks2$')" -eq 1 ]
        expect 3 sh -c "echo pw1 | '$HA' activate $U"
        not cryptsetup open --test-passphrase --key-file=<(printf pw1) $IMG
        echo pw2 | "$HA" activate $U
        [ "$(cat /home/$U/file)" = hello ]
        # The embedded copy followed the host record.
        grep -q '"lastPasswordChangeUSec"' /home/$U/.identity
        cmp <(grep lastPasswordChangeUSec /home/$U/.identity) \
            <(grep lastPasswordChangeUSec /var/lib/latchkey/home/$U.identity)
        # Inactive passwd: the header token carries the new record to the next activation.
        "$HA" deactivate $U
        printf 'pw2\npw3\n' | "$HA" passwd $KDF $U
        echo pw3 | "$HA" activate $U
        cmp <(grep lastPasswordChangeUSec /home/$U/.identity) \
            <(grep lastPasswordChangeUSec /var/lib/latchkey/home/$U.identity)
}

lock_unlock() {
        "$HA" lock $U
        "$HA" list | grep -E "^$U +60001 luks +locked"
        cryptsetup status home-$U | tee "$W/status"
        grep -E "is active and is in use|suspended" "$W/status"
        dmsetup info home-$U | grep -E "State: +SUSPENDED"
        expect 5 "$HA" deactivate $U
        expect 3 sh -c "echo wrong | '$HA' unlock $U"
        dmsetup info home-$U | grep -E "State: +SUSPENDED"
        echo pw3 | "$HA" unlock $U
        dmsetup info home-$U | grep -E "State: +ACTIVE"
        [ "$(cat /home/$U/file)" = hello ]
        "$HA" list | grep -E "^$U +60001 luks +active"
}

busy_deactivate() {
        (cd /home/$U && exec sleep 60) &
        pid=$!
        sleep 0.5
        expect 5 "$HA" deactivate $U
        grep -q "is in use" "$W/err"
        findmnt /home/$U
        [ -e /dev/mapper/home-$U ]
        kill $pid; wait $pid || true
        "$HA" deactivate $U
        not [ -e /dev/mapper/home-$U ]
        # --force: lazy unmount, the device goes when the last user lets go.
        echo pw3 | "$HA" activate $U
        (cd /home/$U && exec sleep 60) &
        pid=$!
        sleep 0.5
        "$HA" deactivate --force $U
        not findmnt /home/$U
        kill $pid; wait $pid || true
        for _ in $(seq 50); do [ -e /dev/mapper/home-$U ] || break; sleep 0.1; done
        not [ -e /dev/mapper/home-$U ]
}

full_disk() {
        echo pw3 | "$HA" activate $U
        rc=0
        dd if=/dev/zero of=/home/$U/big bs=1M 2>"$W/dd" || rc=$?
        cat "$W/dd"
        [ $rc -ne 0 ]
        grep -q "No space left on device" "$W/dd"
        before=$(du -k $IMG | cut -f1)
        rm /home/$U/big
        "$HA" deactivate $U
        after=$(du -k $IMG | cut -f1)
        echo "image: $before KiB with the big file, $after KiB after deactivate (discard)"
        [ "$after" -lt $((before - 50000)) ]
        echo pw3 | "$HA" activate $U
        [ "$(cat /home/$U/file)" = hello ]
        "$HA" deactivate $U
}

in_use_elsewhere() {
        flock $IMG sleep 30 &
        pid=$!
        sleep 0.3
        expect 1 sh -c "echo pw3 | '$HA' activate $U"
        grep -q "in use elsewhere" "$W/err"
        kill $pid; wait $pid || true
        not [ -e /dev/mapper/home-$U ]
}

remove_home() {
        "$HA" remove $U
        not [ -e $IMG ]
        not [ -e /var/lib/latchkey/home/$U.identity ]
}

t "set-up: device-mapper present, scratch /home" setup
t "create: LUKS2 image with label, subsystem, token, one argon2id slot" create
t "the file system made without device-mapper is clean through dm-crypt" fsck_clean
t "activate: dm device, /USER bind-mounted nosuid,nodev, owned by the user; twice → 6" activate
t "write data into the home" write_data
t "deactivate: unmounted, dm device gone, inactive" deactivate
t "reactivate: the data is still there" reactivate
t "wrong password: exit 3, one line, nothing left behind" wrong_password
t "passwd: new slot, old slot gone, records follow (active and inactive)" passwd_rotation
t "lock/unlock: suspended without key, wrong password keeps it locked" lock_unlock
t "busy deactivate: exit 5 while in use; --force detaches lazily" busy_deactivate
t "full disk: ENOSPC inside; deactivate discards the freed blocks" full_disk
t "image locked elsewhere: refused with its own message" in_use_elsewhere
t "remove" remove_home
echo "1..14"
# Whatever a failed test left: a suspended home would hang the power-off's writers.
cryptsetup resume home-$U </dev/null >/dev/null 2>&1 <<<pw3 || true
umount -l /home/$U 2>/dev/null
cryptsetup close home-$U 2>/dev/null
rm -rf "$W"
exit $((failed > 0))
