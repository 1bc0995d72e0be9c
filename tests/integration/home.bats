#!/usr/bin/env bats
# home-activate on real file systems: every test runs as root in its own mount
# namespace, with tmpfs over /var/lib/latchkey and /run/latchkey and a fresh
# loop-mounted ext4 (-O encrypt) as /home, so nothing reaches the machine.
load helpers

HA="${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}/home-activate"
NSS_DIR="${LATCHKEY_REAL_BUILD:-${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}}"
KDF="--kdf=t=1,m=64,p=1" # cheap key slots: the tests are about behaviour, not cost

setup() {
        T="$BATS_TEST_TMPDIR"
}

# Runs the bash script $1 in a private namespace with the scratch homes set up.
# HA, KDF and T are exported to it; it runs with -e -u.
in_home_ns() {
        need_root "mounts a loop ext4, tmpfs state directories and bind mounts"
        command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing (e2fsprogs)"; return 1; }
        [ -e /sys/fs/ext4/features/encryption ] || { echo "this kernel's ext4 has no encryption support"; return 1; }
        write_home_ns_setup
        cat >"$T/setup.sh" <<'EOF'
. "$T/ns-setup.sh"
printf 'passwd: files latchkey\ngroup: files latchkey\n' >"$T/nsswitch.conf"
mount --bind "$T/nsswitch.conf" /etc/nsswitch.conf
export LD_LIBRARY_PATH="$NSS_DIR"
EOF
        printf '%s\n' "$1" >"$T/test.sh"
        run --separate-stderr env T="$T" HA="$HA" KDF="$KDF" NSS_DIR="$NSS_DIR" \
                unshare -m -- bash -c '. "$T/setup.sh" && . "$T/test.sh"'
        echo "status: $status"
        echo "stdout: $output"
        echo "stderr: $stderr"
}

@test "home-activate: --help, --version, usage errors exit 2" {
        run "$HA" --help
        [ "$status" -eq 0 ]
        [[ "$output" == *"home-activate create"* ]]
        run "$HA" --version
        [ "$status" -eq 0 ]
        [[ "$output" == "home-activate "* ]]
        run --separate-stderr "$HA" frobnicate someone
        [ "$status" -eq 2 ]
        run --separate-stderr "$HA" activate
        [ "$status" -eq 2 ]
        [[ "$stderr" == *"missing USER"* ]]
        run --separate-stderr "$HA" with someone
        [ "$status" -eq 2 ]
        run --separate-stderr "$HA" create --uid=12 someone
        [ "$status" -eq 2 ]
}

@test "home-activate: directory home: create, NSS, mount flags, wrong password, already active, deactivate" {
        in_home_ns '
echo pw1 | $HA create --storage=directory --real-name="Dee Rectory" lkdir
getent passwd lkdir | grep -qx "lkdir:x:60001:60001:Dee Rectory:/home/lkdir:/bin/bash"
getent group lkdir | grep -q "^lkdir:x:60001:"
[ "$(stat -c %u:%a /home/lkdir.homedir)" = 60001:700 ]
[ -f /home/lkdir.homedir/.identity ]
[ "$(stat -c %a /var/lib/latchkey/home/lkdir.identity)" = 600 ]
rc=0; echo wrong | $HA activate lkdir 2>"$T/err" || rc=$?
[ $rc -eq 3 ]
grep -q "wrong password" "$T/err"
[ "$(wc -l <"$T/err")" -eq 1 ]
not findmnt /home/lkdir
echo pw1 | $HA activate lkdir
findmnt -no OPTIONS /home/lkdir | grep -q "nosuid,nodev"
[ "$(stat -c %u /home/lkdir)" = 60001 ]
$HA list | grep -E "^lkdir +60001 directory +active +/home/lkdir$"
rc=0; echo pw1 | $HA activate lkdir 2>/dev/null || rc=$?
[ $rc -eq 6 ]
echo data >/home/lkdir/file
$HA deactivate lkdir
not findmnt /home/lkdir
[ "$(cat /home/lkdir.homedir/file)" = data ]
$HA deactivate lkdir 2>&1 | grep -q "not active"
rc=0; echo pw1 | $HA activate nosuchuser 2>/dev/null || rc=$?
[ $rc -eq 4 ]
rc=0; $HA activate lkdir </dev/null 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "no password on stdin" "$T/err"
rc=0; echo pw1 | $HA create lkdir 2>/dev/null || rc=$?
[ $rc -eq 10 ]
# UIDs: the next free one in the homed range; one a record holds is refused, also
# where NSS does not know the users (no module found: only the records tell).
echo pw2 | env -u LD_LIBRARY_PATH $HA create lkdir2
getent passwd lkdir2 | grep -q "^lkdir2:x:60002:60002:"
rc=0; echo pw3 | env -u LD_LIBRARY_PATH $HA create --uid=60001 lkdir3 2>"$T/err" || rc=$?
[ $rc -eq 10 ]
grep -q "UID 60001 is already taken" "$T/err"
'
        [ "$status" -eq 0 ]
}

@test "home-activate: fscrypt home is ciphertext on disk while inactive, plaintext when active" {
        in_home_ns '
echo pw1 | $HA create --storage=fscrypt $KDF lkfs
echo pw1 | $HA activate lkfs
mkdir /home/lkfs/Documents
echo "the-plaintext-marker-1234" >/home/lkfs/Documents/secret-name.txt
chown -R 60001:60001 /home/lkfs/Documents
$HA deactivate lkfs
not findmnt /home/lkfs
# From outside the tree: the names are ciphertext and contents refuse to open.
if ls -aR /home/lkfs.homedir | grep -q -e Documents -e secret-name -e .bashrc -e .identity; then echo "a plaintext name is visible in the raw directory" >&2; exit 1; fi
f=$(find /home/lkfs.homedir -mindepth 2 -type f | head -1)
[ -n "$f" ]
not cat "$f" 2>"$T/err"
grep -q "Required key not available" "$T/err"
umount /home
not grep -a -q "the-plaintext-marker-1234" "$T/home.img"
mount -o loop "$T/home.img" /home
echo pw1 | $HA activate lkfs
[ "$(cat /home/lkfs/Documents/secret-name.txt)" = the-plaintext-marker-1234 ]
rc=0; echo pw2 | $HA activate lkfs 2>/dev/null || rc=$?
[ $rc -eq 6 ] || [ $rc -eq 3 ]
$HA deactivate lkfs
rc=0; echo pw2 | $HA activate lkfs 2>/dev/null || rc=$?
[ $rc -eq 3 ]
not findmnt /home/lkfs
'
        [ "$status" -eq 0 ]
}

@test "home-activate: passwd on both backends, then the old password is refused" {
        in_home_ns '
for storage in directory fscrypt; do
        u=lk$storage
        echo old | $HA create --storage=$storage $KDF $u
        echo old | $HA activate $u
        echo kept >/home/$u/file
        printf "old\nnew\n" | $HA passwd $KDF $u       # while active
        $HA deactivate $u
        rc=0; echo old | $HA activate $u 2>/dev/null || rc=$?
        [ $rc -eq 3 ]
        echo new | $HA activate $u
        [ "$(cat /home/$u/file)" = kept ]
        $HA deactivate $u
        printf "new\nnewer\n" | $HA passwd $KDF $u     # while inactive
        rc=0; printf "new\nx\n" | $HA passwd $KDF $u 2>/dev/null || rc=$?
        [ $rc -eq 3 ]
        echo newer | $HA activate $u
        [ "$(cat /home/$u/file)" = kept ]
        $HA deactivate $u
done
# fscrypt: exactly one slot is left, for the newest password.
[ "$(getfattr -d -m "^trusted.latchkey" --absolute-names /home/lkfscrypt.homedir | grep -c "^trusted.latchkey.slot")" -eq 1 ]
# Without --kdf=, passwd keeps the cost of the slot it replaces.
printf "newer\nnewest\n" | $HA passwd lkfscrypt
getfattr -d -m "^trusted.latchkey" --absolute-names /home/lkfscrypt.homedir | grep -q "argon2id t=1 m=64 p=1 "
echo newest | $HA authenticate lkfscrypt
'
        [ "$status" -eq 0 ]
}

@test "home-activate: passwd killed with SIGKILL at random points: the home always opens with the old or the new password" {
        in_home_ns '
echo pw0 | $HA create --storage=fscrypt $KDF lkkill
# Spread the kills over 1.5 times the duration of one whole passwd run.
printf "pw0\npw0\n" | $HA passwd $KDF lkkill 2>/dev/null # warm the caches first
start=$(date +%s%N); printf "pw0\npw0\n" | $HA passwd $KDF lkkill 2>/dev/null; end=$(date +%s%N)
span_us=$(( (end - start) * 3 / 2000 ))
echo "one passwd run: $(( (end - start) / 1000 )) us" >&2
cur=pw0 opened_new=0 opened_old=0
for i in $(seq 1 60); do
        next=pw$i
        printf "%s\n%s\n" "$cur" "$next" | $HA passwd $KDF lkkill 2>/dev/null &
        pid=$!
        # Kill points sweep from 0 to 1.5 runs, with random jitter within each step.
        sleep "$(printf "%d.%06d" $(( (i * span_us / 60 + RANDOM % (span_us / 60 + 1)) / 1000000 )) $(( (i * span_us / 60 + RANDOM % (span_us / 60 + 1)) % 1000000 )))"
        kill -9 $pid 2>/dev/null || true
        wait $pid 2>/dev/null || true
        if echo "$cur" | $HA activate lkkill 2>/dev/null; then
                opened_old=$((opened_old + 1))
        elif echo "$next" | $HA activate lkkill 2>/dev/null; then
                opened_new=$((opened_new + 1))
                cur=$next
        else
                echo "iteration $i: neither $cur nor $next opens the home" >&2
                exit 1
        fi
        [ -f /home/lkkill/.bashrc ]
        $HA deactivate lkkill
done
echo "opened with the old password $opened_old times, with the new $opened_new times" >&2
[ $opened_new -gt 0 ]
[ $opened_old -gt 0 ]  # the kills landed on both sides of the switch
'
        [ "$status" -eq 0 ]
}

@test "home-activate: session references: the last one out deactivates; deactivate refuses while referenced" {
        in_home_ns '
echo pw | $HA create --storage=fscrypt $KDF lkref
mkfifo "$T/go"
echo pw | $HA with lkref -- sh -c "cat \"$T/go\" >/dev/null" &
first=$!
for _ in $(seq 100); do findmnt /home/lkref >/dev/null && break; sleep 0.05; done
findmnt /home/lkref
echo pw | $HA with lkref -- sh -c "pwd >\"$T/pwd\"; test -f .bashrc"
[ "$(cat "$T/pwd")" = /home/lkref ]
findmnt /home/lkref          # the first session still holds it
rc=0; $HA deactivate lkref 2>"$T/err" || rc=$?
[ $rc -eq 5 ]
grep -q "referenced" "$T/err"
echo >"$T/go"
wait $first
not findmnt /home/lkref
rc=0; echo pw | $HA with lkref -- sh -c "exit 7" || rc=$?
[ $rc -eq 7 ]
not findmnt /home/lkref
'
        [ "$status" -eq 0 ]
}

@test "home-activate: a busy home is not yanked; --force detaches it lazily and wipes the key" {
        in_home_ns '
echo pw | $HA create --storage=fscrypt $KDF lkbusy
echo pw | $HA activate lkbusy
(cd /home/lkbusy && exec sleep 30) &
holder=$!
sleep 0.2
rc=0; $HA deactivate lkbusy 2>"$T/err" || rc=$?
[ $rc -eq 5 ]
grep -q "in use" "$T/err"
findmnt /home/lkbusy
$HA deactivate --force lkbusy
not findmnt /home/lkbusy
kill $holder; wait $holder || true
not cat /home/lkbusy.homedir/.bashrc 2>/dev/null
'
        [ "$status" -eq 0 ]
}

@test "home-activate: lock removes the fscrypt key, unlock restores it; directory homes cannot lock" {
        in_home_ns '
echo pw | $HA create --storage=fscrypt $KDF lklock
echo pw | $HA create --storage=directory lkplain
echo pw | $HA activate lklock
echo pw | $HA activate lkplain
mkdir /home/lklock/d && echo inside >/home/lklock/d/f
$HA lock-all 2>&1 | grep -q "locked 1 home"
$HA list | grep -E "^lklock .* locked "
not cat /home/lklock/d/f 2>/dev/null
not touch /home/lklock/new 2>/dev/null
rc=0; $HA lock lklock 2>/dev/null || rc=$?
[ $rc -eq 6 ]
rc=0; echo bad | $HA unlock lklock 2>/dev/null || rc=$?
[ $rc -eq 3 ]
echo pw | $HA unlock lklock
[ "$(cat /home/lklock/d/f)" = inside ]
rc=0; $HA lock lkplain 2>"$T/err" || rc=$?
[ $rc -eq 1 ]
grep -q "cannot be locked" "$T/err"
$HA deactivate lklock
rc=0; $HA lock lklock 2>/dev/null || rc=$?
[ $rc -eq 8 ]
$HA deactivate lkplain
'
        [ "$status" -eq 0 ]
}

@test "home-activate: tampered, unsigned and foreign-key records are refused" {
        in_home_ns '
echo pw | $HA create --storage=directory lktamper
id=/var/lib/latchkey/home/lktamper.identity
cp $id "$T/good"
sed -i "s/\"realName\":\"lktamper\"/\"realName\":\"mallory\"/" $id
not cmp -s $id "$T/good"
rc=0; echo pw | $HA activate lktamper 2>"$T/err" || rc=$?
[ $rc -eq 9 ]
grep -q "does not verify" "$T/err"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r.pop(\"signature\"); json.dump(r, open(sys.argv[1], \"w\"))" $id
rc=0; echo pw | $HA activate lktamper 2>"$T/err" || rc=$?
[ $rc -eq 9 ]
grep -q "not signed" "$T/err"
cp "$T/good" $id
echo pw | $HA activate lktamper
$HA deactivate lktamper
# The embedded copy is checked too, and a refused activation leaves nothing mounted.
sed -i "s/\"realName\":\"lktamper\"/\"realName\":\"mallory\"/" /home/lktamper.homedir/.identity
rc=0; echo pw | $HA activate lktamper 2>"$T/err" || rc=$?
[ $rc -eq 9 ]
not findmnt /home/lktamper
# A record signed by a key this host does not trust.
mv /var/lib/latchkey/home/local.private /var/lib/latchkey/home/local.public "$T/"
rc=0; echo pw | $HA activate lktamper 2>"$T/err" || rc=$?
[ $rc -eq 9 ]
'
        [ "$status" -eq 0 ]
}

@test "home-activate: locked, not-yet-valid and expired accounts are refused with exit 7" {
        in_home_ns '
echo pw | $HA create --storage=directory --locked=yes lkblock
rc=0; echo pw | $HA activate lkblock 2>"$T/err" || rc=$?
[ $rc -eq 7 ]
grep -q "User record is blocked, prohibiting access." "$T/err"
$HA update --locked=no --not-after="2001-01-01" lkblock
rc=0; echo pw | $HA activate lkblock 2>"$T/err" || rc=$?
[ $rc -eq 7 ]
grep -q "not valid anymore" "$T/err"
$HA update --not-after=infinity --not-before="+1d" lkblock
rc=0; echo pw | $HA activate lkblock 2>"$T/err" || rc=$?
[ $rc -eq 7 ]
grep -q "not valid yet" "$T/err"
$HA update --not-before=2001-01-01 lkblock
echo pw | $HA activate lkblock
$HA deactivate lkblock
'
        [ "$status" -eq 0 ]
}

@test "home-activate: inspect and list as JSON, remove" {
        in_home_ns '
echo pw | $HA create --storage=fscrypt $KDF --uid=60100 lkjson
$HA inspect --json lkjson >"$T/inspect.json"
python3 - "$T/inspect.json" <<PY
import json, sys
r = json.load(open(sys.argv[1]))
assert r["userName"] == "lkjson" and r["uid"] == 60100 and r["storage"] == "fscrypt", r
assert "privileged" not in r and r["status"]["state"] == "inactive" and r["status"]["signedLocally"], r
PY
$HA list --json | python3 -c "import json,sys; l=json.load(sys.stdin); assert [h[\"userName\"] for h in l] == [\"lkjson\"], l"
$HA inspect lkjson | grep -q "Signed: locally"
echo pw | $HA activate lkjson
rc=0; $HA remove lkjson 2>/dev/null || rc=$?
[ $rc -eq 5 ]
$HA deactivate lkjson
$HA remove lkjson
[ ! -e /home/lkjson.homedir ]
[ ! -e /var/lib/latchkey/home/lkjson.identity ]
[ ! -e /var/lib/latchkey/home/lkjson.user ]
not getent passwd lkjson
rc=0; $HA inspect lkjson 2>/dev/null || rc=$?
[ $rc -eq 4 ]
'
        [ "$status" -eq 0 ]
}

@test "home-activate: account checks give PAM's messages and exit codes 0, 7, 11, 12" {
        in_home_ns '
echo pw | $HA create --storage=directory lkacct
[ -z "$($HA account lkacct)" ]
$HA update --password-change-now=yes lkacct
rc=0; out=$($HA account lkacct) || rc=$?
[ $rc -eq 11 ]
[ "$out" = "Password change required." ]
$HA update --password-change-now=no --password-change-max=2d --password-change-warn=3d lkacct
rc=0; out=$($HA account lkacct) || rc=$?
[ $rc -eq 0 ]
[ "$out" = "Password will expire soon, please change." ]
$HA update --password-change-max=1us --password-change-warn=infinity lkacct
rc=0; out=$($HA account lkacct) || rc=$?
[ $rc -eq 11 ]
[ "$out" = "Password expired, change required." ]
$HA update --password-change-inactive=1us lkacct
rc=0; out=$($HA account lkacct) || rc=$?
[ $rc -eq 12 ]
[ "$out" = "Password is expired, but can'"'"'t change, refusing login." ]
$HA update --password-change-max=infinity --password-change-inactive=infinity --locked=yes lkacct
rc=0; out=$($HA account lkacct) || rc=$?
[ $rc -eq 7 ]
[ "$out" = "User record is blocked, prohibiting access." ]
rc=0; $HA account nosuchuser 2>/dev/null || rc=$?
[ $rc -eq 4 ]
'
        [ "$status" -eq 0 ]
}

@test "home-activate: the newer of the host and embedded records wins and is written back" {
        in_home_ns '
echo pw | $HA create --storage=fscrypt $KDF lkrec
# Host newer: an update while inactive reaches the embedded copy at activation.
$HA update --real-name="Host Newer" lkrec
echo pw | $HA activate lkrec
grep -q "\"realName\":\"Host Newer\"" /home/lkrec/.identity
# Embedded newer: an update while active writes both; an older (validly signed)
# host copy put back loses to the embedded one at the next activation.
cp /var/lib/latchkey/home/lkrec.identity "$T/older"
$HA update --real-name="Embedded Newer" lkrec
$HA deactivate lkrec
cp "$T/older" /var/lib/latchkey/home/lkrec.identity
grep -q "\"realName\":\"Host Newer\"" /var/lib/latchkey/home/lkrec.identity
echo pw | $HA activate lkrec
grep -q "\"realName\":\"Embedded Newer\"" /var/lib/latchkey/home/lkrec.identity
getent passwd lkrec | grep -q ":Embedded Newer:"
$HA deactivate lkrec
'
        [ "$status" -eq 0 ]
}
