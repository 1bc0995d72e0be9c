#!/usr/bin/env bats
# pam_latchkey through a real PAM stack: libpam under pam_wrapper (a private
# service directory), driven by tests/pam/pamdriver and pamtester, calling the real
# home-activate on real homes. Every test runs as root in its own mount namespace
# with tmpfs over /var/lib/latchkey and /run/latchkey and a loop ext4 (-O encrypt)
# as /home, as home.bats does.
load helpers

B="${LATCHKEY_REAL_BUILD:-${LATCHKEY_BUILD:-$BATS_TEST_DIRNAME/../../build}}"
KDF="--kdf=t=1,m=64,p=1"

setup() {
        T="$BATS_TEST_TMPDIR"
}

teardown() {
        # pam_wrapper copies the service directory to /tmp/pam.XXXXXX per process;
        # a process that dies abnormally leaves its copy behind.
        if [ -n "${T:-}" ] && [ -f "$T/pamdirs.before" ]; then
                comm -13 "$T/pamdirs.before" <(ls -d /tmp/pam.?????? 2>/dev/null | sort) | xargs -r rm -rf
        fi
}

# Runs the bash script $1 (with -e -u) in a private namespace with the homes and
# the PAM services set up. Available there: HA, KDF, T, B, and
#   drv SERVICE USER OPS     pamdriver under pam_wrapper, answers on stdin
#   ptester ARGS...          pamtester under pam_wrapper
# Services: lk (all four hooks, "required"), lksusp (suspend=yes), stack (ours
# "[success=done user_unknown=ignore default=die]" before pam_matrix, as a
# pam-auth-update stack puts it before pam_unix).
in_pam_ns() {
        need_root "mounts a loop ext4, tmpfs state directories and bind mounts"
        command -v mkfs.ext4 >/dev/null || { echo "mkfs.ext4 missing (e2fsprogs)"; return 1; }
        [ -e /sys/fs/ext4/features/encryption ] || { echo "this kernel's ext4 has no encryption support"; return 1; }
        command -v pamtester >/dev/null || { echo "pamtester missing (make deps)"; return 1; }
        WRAPPER=$(ls /usr/lib/*/libpam_wrapper.so 2>/dev/null | head -n 1)
        [ -n "$WRAPPER" ] || { echo "libpam_wrapper.so missing (make deps)"; return 1; }
        MATRIX=$(ls /usr/lib/*/pam_wrapper/pam_matrix.so 2>/dev/null | head -n 1)
        [ -x "$B/tests/pamdriver" ] && [ -f "$B/pam_latchkey.so" ] || { echo "build $B/pam_latchkey.so and tests/pamdriver first"; return 1; }
        PRELOAD="$WRAPPER" PT_PRELOAD="$WRAPPER"
        # An ASan build of the module needs the runtime in a process that has none
        # (pamtester); the driver of that build has it linked in.
        if nm -D "$B/pam_latchkey.so" 2>/dev/null | grep -q __asan_; then
                PT_PRELOAD="$(clang -print-file-name=libclang_rt.asan-x86_64.so) $WRAPPER"
                # ASan refuses RTLD_DEEPBIND, with which pam_wrapper loads libpam (it
                # reads uid_wrapper's switch for this).
                export UID_WRAPPER_DISABLE_DEEPBIND=1
        fi
        ls -d /tmp/pam.?????? 2>/dev/null | sort >"$T/pamdirs.before" || true
        write_home_ns_setup
        cat >"$T/setup.sh" <<'EOF'
. "$T/ns-setup.sh"
HA="$B/home-activate"
M="$B/pam_latchkey.so home_activate=$HA"
mkdir -p "$T/svc"
: >"$T/svc/other"
printf '%s\n' "auth required $M" "account required $M" "password required $M" "session required $M" >"$T/svc/lk"
printf '%s\n' "auth required $M suspend=yes" "session required $M suspend=yes" >"$T/svc/lksusp"
printf '%s\n' "auth [success=done user_unknown=ignore default=die] $M" "auth required $MATRIX passdb=$T/passdb" \
        "account [success=done user_unknown=ignore default=die] $M" "account required $MATRIX passdb=$T/passdb" \
        "session optional $M" >"$T/svc/stack"
: >"$T/passdb"
drv() {
        env LD_PRELOAD="$PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/svc" PAM_WRAPPER_DEBUGLEVEL=2 \
                "$B/tests/pamdriver" "$@"
}
ptester() {
        env LD_PRELOAD="$PT_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/svc" pamtester "$@"
}
# session NAME USER PASSWORD: auth,acct,open,env then holds until end_session NAME.
session() {
        mkfifo "$T/$1.fifo"
        printf '%s\n' "$3" | drv lk "$2" "auth,acct,open,env,hold:$T/$1.fifo,close" >"$T/$1.out" 2>"$T/$1.err" &
        eval "pid_$1=\$!"
        for _ in $(seq 200); do grep -q HOLDING "$T/$1.out" && return 0; sleep 0.05; done
        cat "$T/$1.out" "$T/$1.err" >&2
        return 1
}
end_session() {
        local pid rc=0
        eval "pid=\$pid_$1"
        echo >"$T/$1.fifo"
        wait "$pid" || rc=$?
        [ $rc -eq 0 ] || { cat "$T/$1.out" "$T/$1.err" >&2; return 1; }
}
# Assertions: one command per line, and not (ns-setup.sh) instead of "!".
# has FILE LINE: FILE contains exactly this line.
has() { grep -qxF -- "$2" "$1" || { echo "missing in $1: $2" >&2; cat "$1" >&2; return 1; }; }
# prompts FILE: the prompts and messages in order, one per line.
prompts() { grep -E '^(PROMPT|ERROR_MSG|TEXT_INFO|PROMPT_ECHO_ON):' "$1"; }
EOF
        printf '%s\n' "$1" >"$T/test.sh"
        run --separate-stderr env T="$T" B="$B" KDF="$KDF" BATS_TEST_DIRNAME="$BATS_TEST_DIRNAME" PRELOAD="$PRELOAD" PT_PRELOAD="$PT_PRELOAD" MATRIX="$MATRIX" \
                unshare -m -- bash -c '. "$T/setup.sh" && . "$T/test.sh"'
        echo "status: $status"
        echo "stdout: $output"
        echo "stderr: $stderr"
}

@test "pam: right password activates directory and fscrypt homes; env vars; close deactivates" {
        in_pam_ns '
for storage in directory fscrypt; do
        u=lk$storage
        echo pw1 | $HA create --storage=$storage $KDF $u
        session s1 $u pw1
        findmnt /home/$u >/dev/null
        [ -f /home/$u/.bashrc ]
        has "$T/s1.out" "RESULT auth: 0 (Success)"
        has "$T/s1.out" "RESULT acct: 0 (Success)"
        has "$T/s1.out" "RESULT open: 0 (Success)"
        has "$T/s1.out" "ENV: SYSTEMD_HOME=1"
        has "$T/s1.out" "ENV: SYSTEMD_HOME_SUSPEND=0"
        [ "$(prompts "$T/s1.out")" = "PROMPT: Password: " ]
        grep -q "SYSLOG(5): Home for user $u successfully acquired." "$T/s1.err"
        end_session s1
        has "$T/s1.out" "RESULT close: 0 (Success)"
        not findmnt /home/$u >/dev/null
        rm "$T/s1.fifo"
        # The password appears in no output or log line.
        not grep -q pw1 "$T/s1.out" "$T/s1.err"
done
# fscrypt: locked away again after the session.
not cat /home/lkfscrypt.homedir/.bashrc 2>/dev/null
'
        [ "$status" -eq 0 ]
}

@test "pam: wrong password re-prompts with the message, then the right one succeeds; fail delay requested" {
        in_pam_ns '
echo pw1 | $HA create --storage=fscrypt $KDF lkwrong
rc=0; printf "bad-pass-x9\npw1\n" | drv lk lkwrong auth,end >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 0 ]
[ "$(prompts "$T/out")" = "PROMPT: Password: 
ERROR_MSG: Password incorrect or not sufficient for authentication of user lkwrong.
PROMPT: Sorry, try again: " ]
has "$T/out" "RESULT auth: 0 (Success)"
# libpam randomises the requested 3 s to base × (1 + s), s the mean of three uniform
# draws in [-0.5, 0.5) (pam_delay.c): 1.5 s … 4.5 s.
d=$(sed -n "s/^FAIL_DELAY: \([0-9]*\) .*/\1/p" "$T/out")
[ "$d" -ge 1500000 ]
[ "$d" -lt 4500000 ]
grep -q "wrong password for lkwrong" "$T/err"
not grep -q -e bad-pass-x9 -e pw1 "$T/err"
# pam_end without close_session releases the activation this handle made.
not findmnt /home/lkwrong >/dev/null
'
        [ "$status" -eq 0 ]
}

@test "pam: five wrong passwords give PAM_MAXTRIES; an empty answer PAM_AUTHTOK_ERR; end of input PAM_CONV_ERR" {
        in_pam_ns '
echo pw1 | $HA create --storage=directory $KDF lkmax
rc=0; printf "w1\nw2\nw3\nw4\nw5\npw1\n" | drv lk lkmax auth >"$T/out" 2>"$T/err" || rc=$?
[ $rc -eq 11 ]
has "$T/out" "RESULT auth: 11 (Have exhausted maximum number of retries for service)"
[ "$(grep -c "^PROMPT: Sorry, try again: $" "$T/out")" -eq 4 ]
[ "$(grep -c "^ERROR_MSG: Password incorrect or not sufficient for authentication of user lkmax.$" "$T/out")" -eq 4 ]
[ "$(prompts "$T/out" | tail -n 1)" = "ERROR_MSG: Too many unsuccessful login attempts for user lkmax, refusing." ]
grep -q "FAIL_DELAY: [0-9]* 11" "$T/out"
not findmnt /home/lkmax >/dev/null
# An empty answer, first or after a wrong one.
rc=0; printf "\n" | drv lk lkmax auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 20 ]
rc=0; printf "wrong\n\n" | drv lk lkmax auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 20 ]
has "$T/out" "RESULT auth: 20 (Authentication token manipulation error)"
# End of input (the conversation fails).
rc=0; drv lk lkmax auth </dev/null >"$T/out" 2>&1 || rc=$?
[ $rc -eq 19 ]
has "$T/out" "RESULT auth: 19 (Conversation error)"
rc=0; printf "wrong\n" | drv lk lkmax auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 19 ]
# pamtester: wrong, then end of input.
rc=0; printf "wrong\n" | ptester -v lk lkmax authenticate >"$T/out" 2>&1 || rc=$?
[ $rc -eq 1 ]
grep -q "Password incorrect or not sufficient for authentication of user lkmax." "$T/out"
# A home that is already active: the password is still checked.
echo pw1 | $HA activate lkmax
rc=0; printf "w1\nw2\nw3\nw4\nw5\n" | drv lk lkmax auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 11 ]
printf "pw1\n" | drv lk lkmax auth >"$T/out" 2>&1
findmnt /home/lkmax >/dev/null   # not ours to release: auth did not activate it
$HA deactivate lkmax
'
        [ "$status" -eq 0 ]
}

@test "pam: users without a latchkey home are PAM_USER_UNKNOWN and fall through the stack" {
        in_pam_ns '
echo pw1 | $HA create --storage=directory lkknown
for u in plainuser root nobody "Not-A-Name"; do
        rc=0; echo x | drv lk "$u" auth >"$T/out" 2>&1 || rc=$?
        [ $rc -eq 10 ]
        has "$T/out" "RESULT auth: 10 (User not known to the underlying authentication module)"
        not grep -q "^PROMPT" "$T/out"
        rc=0; drv lk "$u" acct </dev/null >"$T/out" 2>&1 || rc=$?
        [ $rc -eq 10 ]
        drv lk "$u" open,env,close </dev/null >"$T/out" 2>&1     # sessions: silently nothing
        not grep -q SYSTEMD_HOME "$T/out"
done
rc=0; echo x | ptester lk plainuser authenticate >"$T/out" 2>&1 || rc=$?
[ $rc -eq 1 ]
grep -q "User not known to the underlying authentication module" "$T/out"
# Through a stack: the next module (pam_matrix, standing in for pam_unix) decides.
printf "plainuser:matrixpw:stack\n" >"$T/passdb"
printf "matrixpw\n" | drv stack plainuser auth,acct,open,close >"$T/out" 2>&1
[ "$(prompts "$T/out")" = "PROMPT: Password: " ]
rc=0; printf "bad\n" | drv stack plainuser auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 7 ]
# Our user ends the stack with our verdict, pam_matrix is never asked.
printf "pw1\n" | drv stack lkknown auth,acct,open,close >"$T/out" 2>&1
[ "$(prompts "$T/out")" = "PROMPT: Password: " ]
'
        [ "$status" -eq 0 ]
}

@test "pam: locked, expired and not-yet-valid accounts, password aging: codes and messages" {
        in_pam_ns '
echo pw1 | $HA create --storage=directory lkacct
acct() { # EXPECTED-CODE EXPECTED-MESSAGE
        local rc=0
        drv lk lkacct acct </dev/null >"$T/out" 2>&1 || rc=$?
        [ $rc -eq $1 ] || { cat "$T/out" >&2; return 1; }
        [ "$(prompts "$T/out")" = "$2" ] || { cat "$T/out" >&2; return 1; }
}
acct 0 ""
$HA update --locked=yes lkacct
acct 13 "ERROR_MSG: User record is blocked, prohibiting access."
# auth refuses too (home-activate does not activate a blocked account).
rc=0; echo pw1 | drv lk lkacct auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 13 ]
has "$T/out" "ERROR_MSG: User record is blocked, prohibiting access."
not findmnt /home/lkacct >/dev/null
$HA update --locked=no --not-after=2001-01-01 lkacct
acct 13 "ERROR_MSG: User record is not valid anymore, prohibiting access."
$HA update --not-after=infinity --not-before=+1d lkacct
acct 13 "ERROR_MSG: User record is not valid yet, prohibiting access."
$HA update --not-before=2001-01-01 --password-change-now=yes lkacct
acct 12 "ERROR_MSG: Password change required."
rc=0; echo pw1 | ptester lk lkacct acct_mgmt >"$T/out" 2>&1 || rc=$?
[ $rc -eq 1 ]
grep -q "Password change required." "$T/out"
$HA update --password-change-now=no --password-change-max=2d --password-change-warn=3d lkacct
acct 0 "ERROR_MSG: Password will expire soon, please change."
$HA update --password-change-max=1us --password-change-warn=infinity lkacct
acct 12 "ERROR_MSG: Password expired, change required."
$HA update --password-change-inactive=1us lkacct
acct 27 "ERROR_MSG: Password is expired, but can'"'"'t change, refusing login."
$HA update --password-change-max=infinity --password-change-inactive=infinity lkacct
acct 0 ""
'
        [ "$status" -eq 0 ]
}

@test "pam: two sessions: closing one keeps the home active, closing both deactivates" {
        in_pam_ns '
echo pw1 | $HA create --storage=fscrypt $KDF lktwo
session a lktwo pw1
session b lktwo pw1
findmnt /home/lktwo >/dev/null
has "$T/b.out" "RESULT auth: 0 (Success)"       # already active: password checked, not re-activated
end_session a
findmnt /home/lktwo >/dev/null
grep -q "Not deactivating home directory of lktwo, as it is still used." "$T/a.err"
[ -f /home/lktwo/.bashrc ]
# A session without auth on an active home takes a reference without a prompt.
mkfifo "$T/c.fifo"
drv lk lktwo "open,env,hold:$T/c.fifo,close" </dev/null >"$T/c.out" 2>&1 &
c=$!
for _ in $(seq 200); do grep -q HOLDING "$T/c.out" && break; sleep 0.05; done
has "$T/c.out" "ENV: SYSTEMD_HOME=1"
not grep -q "^PROMPT" "$T/c.out"
end_session b
findmnt /home/lktwo >/dev/null
echo >"$T/c.fifo"; wait $c
not findmnt /home/lktwo >/dev/null
# Without auth on an inactive home, open_session asks for the password and activates;
# where it cannot ask, it says so.
rc=0; drv lk lktwo open </dev/null >"$T/out" 2>&1 || rc=$?
[ $rc -eq 6 ]
has "$T/out" "ERROR_MSG: Home of user lktwo is currently not active, please log in locally first."
rm "$T/c.fifo"; mkfifo "$T/c.fifo"
echo pw1 | drv lk lktwo "open,hold:$T/c.fifo,close" >"$T/c.out" 2>&1 &
c=$!
for _ in $(seq 200); do grep -q HOLDING "$T/c.out" && break; sleep 0.05; done
[ "$(prompts "$T/c.out")" = "PROMPT: Password: " ]
findmnt /home/lktwo >/dev/null
# deactivate refuses while the session holds its reference.
rc=0; $HA deactivate lktwo 2>/dev/null || rc=$?
[ $rc -eq 5 ]
echo >"$T/c.fifo"; wait $c
not findmnt /home/lktwo >/dev/null
'
        [ "$status" -eq 0 ]
}

@test "pam: SYSTEMD_HOME_SUSPEND from suspend=, from the environment, the option winning" {
        in_pam_ns '
echo pw1 | $HA create --storage=directory lksusp
echo pw1 | drv lksusp lksusp auth,open,env,close >"$T/out" 2>&1
has "$T/out" "ENV: SYSTEMD_HOME_SUSPEND=1"
echo pw1 | SYSTEMD_HOME_SUSPEND=1 drv lk lksusp auth,open,env,close >"$T/out" 2>&1
has "$T/out" "ENV: SYSTEMD_HOME_SUSPEND=1"
echo pw1 | SYSTEMD_HOME_SUSPEND=0 drv lksusp lksusp auth,open,env,close >"$T/out" 2>&1
has "$T/out" "ENV: SYSTEMD_HOME_SUSPEND=1"
echo pw1 | drv lk lksusp auth,open,env,close >"$T/out" 2>&1
has "$T/out" "ENV: SYSTEMD_HOME_SUSPEND=0"
'
        [ "$status" -eq 0 ]
}

@test "pam: password change through the stack; then the old password fails and the new one works" {
        in_pam_ns '
for storage in directory fscrypt; do
        u=lkpw$storage
        echo 0ld-pass | $HA create --storage=$storage $KDF $u
        printf "n3w-pass\nn3w-pass\n0ld-pass\n" | drv lk $u passwd >"$T/out" 2>"$T/err"
        [ "$(prompts "$T/out")" = "PROMPT: New password: 
PROMPT: Retype new password: 
PROMPT: Password: " ]
        not grep -q -e 0ld-pass -e n3w-pass "$T/err" "$T/out"
        rc=0; printf "0ld-pass\n" | drv lk $u auth >"$T/out" 2>&1 || rc=$?
        [ $rc -eq 19 ]
        has "$T/out" "PROMPT: Sorry, try again: "
        printf "n3w-pass\n" | drv lk $u auth,open,close >"$T/out" 2>&1
        # A wrong current password re-prompts; a mismatch is libpam'"'"'s PAM_TRY_AGAIN.
        printf "n3wer-pass\nn3wer-pass\nwrong\nn3w-pass\n" | drv lk $u passwd >"$T/out" 2>&1
        has "$T/out" "ERROR_MSG: Password incorrect or not sufficient for authentication of user $u."
        rc=0; printf "a\nb\n" | drv lk $u passwd >"$T/out" 2>&1 || rc=$?
        [ $rc -eq 24 ]
        rc=0; printf "\n" | drv lk $u passwd >"$T/out" 2>&1 || rc=$?
        [ $rc -eq 20 ]
        printf "n3wer-pass\n" | drv lk $u auth,open,close >"$T/out" 2>&1
done
rc=0; printf "x\nx\nx\n" | drv lk plainuser passwd >"$T/out" 2>&1 || rc=$?
[ $rc -eq 10 ]
'
        [ "$status" -eq 0 ]
}

@test "pam: a password an earlier module collected is reused (one prompt)" {
        in_pam_ns '
echo pw1 | $HA create --storage=fscrypt $KDF lkfirst
# pam_unix first, with lkfirst in a private /etc/passwd and /etc/shadow: it prompts
# and leaves PAM_AUTHTOK for us.
unix=$(ls /usr/lib/*/security/pam_unix.so /lib/*/security/pam_unix.so 2>/dev/null | head -n 1)
printf "%s\n" "auth required $unix" "auth required $M" "session required $M" >"$T/svc/first"
cp /etc/passwd "$T/passwd"
echo "lkfirst:x:60001:60001::/home/lkfirst:/bin/sh" >>"$T/passwd"
cp /etc/shadow "$T/shadow"
echo "lkfirst:$(echo pw1 | openssl passwd -6 -stdin):19000:0:99999:7:::" >>"$T/shadow"
mount --bind "$T/passwd" /etc/passwd
mount --bind "$T/shadow" /etc/shadow
mkfifo "$T/f.fifo"
echo pw1 | drv first lkfirst "auth,open,hold:$T/f.fifo,close" >"$T/out" 2>&1 &
p=$!
for _ in $(seq 200); do grep -q HOLDING "$T/out" && break; sleep 0.05; done
findmnt /home/lkfirst >/dev/null
[ "$(prompts "$T/out")" = "PROMPT: Password: " ]
echo >"$T/f.fifo"
wait $p
not findmnt /home/lkfirst >/dev/null
# A cached password that is wrong for the home: the message and a re-prompt.
# (in place: /etc/shadow is a bind mount of this very file)
sed "s|^lkfirst:[^:]*:|lkfirst:$(echo other | openssl passwd -6 -stdin):|" "$T/shadow" >"$T/shadow.new"
cat "$T/shadow.new" >"$T/shadow"
printf "other\npw1\n" | drv first lkfirst auth,end >"$T/out" 2>&1
[ "$(prompts "$T/out")" = "PROMPT: Password: 
ERROR_MSG: Password incorrect or not sufficient for authentication of user lkfirst.
PROMPT: Sorry, try again: " ]
'
        [ "$status" -eq 0 ]
}

@test "pam: home-activate gets the password on stdin only, a minimal environment and no extra fds" {
        in_pam_ns '
echo pw1 | $HA create --storage=directory lkexec
# A recording front for the real home-activate: argv, environment, open fds.
cat >"$T/ha-rec" <<SH
#!/bin/bash
ls -l /proc/\$\$/fd >>"$T/fds"
{ echo "ARGV: \$*"; env | sed "s/^/ENV: /"; } >>"$T/rec"
exec $HA "\$@"
SH
chmod +x "$T/ha-rec"
sed "s|home_activate=$HA|home_activate=$T/ha-rec|" "$T/svc/lk" >"$T/svc/rec"
echo pw1 | SECRET_MARKER=1 drv rec lkexec auth,acct,open,close >"$T/out" 2>&1
not grep -q pw1 "$T/rec"
grep -qx "ARGV: activate lkexec" "$T/rec"
grep -qx "ARGV: account lkexec" "$T/rec"
grep -qx "ARGV: deactivate lkexec" "$T/rec"
not grep -q -e SECRET_MARKER -e LD_PRELOAD -e PAM_WRAPPER "$T/rec"
[ "$(grep "^ENV: " "$T/rec" | grep -v -e "^ENV: PATH=" -e "^ENV: LC_ALL=C$" -e "^ENV: PWD=" -e "^ENV: SHLVL=" -e "^ENV: _=" | sort -u)" = "" ]  # PWD, SHLVL, _: set by bash itself
# Only 0, 1 and 2 reach the helper (besides the fd bash reads this script from).
[ "$(grep -- " -> " "$T/fds" | grep -v " -> $T/ha-rec\$" | awk "{ print \$9 }" | sort -u | tr "\n" " ")" = "0 1 2 " ]
# A home-activate that cannot run, or a relative path: PAM_SERVICE_ERR, logged.
sed "s|home_activate=$HA|home_activate=/nonexistent/home-activate|" "$T/svc/lk" >"$T/svc/missing"
rc=0; echo pw1 | drv missing lkexec auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 3 ]
grep -q "cannot execute home-activate" "$T/out"
sed "s|home_activate=$HA|home_activate=home-activate|" "$T/svc/lk" >"$T/svc/relative"
rc=0; echo pw1 | drv relative lkexec auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 3 ]
grep -q "home_activate= wants an absolute path" "$T/out"
'
        [ "$status" -eq 0 ]
}

@test "pam: the shipped example stack and the pam-auth-update profile work as written" {
        command -v pam-auth-update >/dev/null || skip "pam-auth-update missing (libpam-runtime)"
        in_pam_ns '
echo pw1 | $HA create --storage=directory lkprof
unix=$(ls /usr/lib/*/security/pam_unix.so /lib/*/security/pam_unix.so 2>/dev/null | head -n 1)
# A plain user of pam_unix, in a private copy of /etc (pam_unix replaces
# /etc/shadow by rename, pam-auth-update rewrites /etc/pam.d).
mkdir "$T/etc"
cp -a /etc/. "$T/etc/"
mount --bind "$T/etc" /etc
echo "plainuser:x:60900:60900::/nonexistent:/bin/sh" >>/etc/passwd
echo "plainuser:$(echo unixpw | openssl passwd -6 -stdin):19000:0:99999:7:::" >>/etc/shadow
ours="$B/pam_latchkey.so home_activate=$HA"
check() { # SERVICE: our user, a plain user, someone unknown
        printf "pw1\n" | drv $1 lkprof auth,acct,open,env,close >"$T/out" 2>&1
        [ "$(prompts "$T/out")" = "PROMPT: Password: " ]
        has "$T/out" "ENV: SYSTEMD_HOME=1"
        printf "unixpw\n" | drv $1 plainuser auth,acct,open,env,close >"$T/out" 2>&1
        not grep -q SYSTEMD_HOME "$T/out"
        rc=0; printf "pw1\n" | drv $1 plainuser auth >"$T/out" 2>&1 || rc=$?
        [ $rc -eq 7 ]
        rc=0; printf "pw1\n" | drv $1 lkprof acct,end >/dev/null 2>&1 || rc=$?
        [ $rc -eq 0 ]
        $HA update --locked=yes lkprof
        rc=0; drv $1 lkprof acct </dev/null >"$T/out" 2>&1 || rc=$?
        $HA update --locked=no lkprof
        [ $rc -eq 13 ]    # default=die: pam_unix does not overrule us
        printf "n3w\nn3w\npw1\n" | drv $1 lkprof passwd >"$T/out" 2>&1
        printf "pw1\npw1\nn3w\n" | drv $1 lkprof passwd >"$T/out" 2>&1
}
# pam/example.pam, with the module where the build put it.
sed -e "s|^\(.*\)pam_latchkey\.so|\1$ours|" -e "s|\([[:space:]]\)pam_unix\.so|\1$unix|" \
        "$BATS_TEST_DIRNAME/../../pam/example.pam" >"$T/svc/example"
check example
# The profile through pam-auth-update, on private copies of its files.
for d in /usr/share/pam-configs /var/lib/pam; do
        mkdir -p "$T/copy$d"
        cp -a "$d/." "$T/copy$d/"
        mount --bind "$T/copy$d" "$d"
done
sed "s|pam_latchkey\.so|$ours|" "$BATS_TEST_DIRNAME/../../pam/latchkey.pam-auth-update" >/usr/share/pam-configs/latchkey
DEBIAN_FRONTEND=noninteractive pam-auth-update --enable latchkey
# Ours comes before pam_unix in each file.
for f in auth account password session; do
        first=$(grep -n -m1 "^[^#].*pam_latchkey" /etc/pam.d/common-$f | cut -d: -f1)
        unixline=$(grep -n -m1 "^[^#].*pam_unix" /etc/pam.d/common-$f | cut -d: -f1)
        [ -n "$first" ]
        [ "$first" -lt "$unixline" ]
done
cp /etc/pam.d/common-auth /etc/pam.d/common-account /etc/pam.d/common-password /etc/pam.d/common-session "$T/svc/"
printf "%s\n" "@include common-auth" "@include common-account" "@include common-password" "@include common-session" >"$T/svc/viaprofile"
check viaprofile
# The profile gives pam_unix "use_authtok" behind us; collect_authtok gets it the
# new password of users without a latchkey home.
printf "Unix-n3w-pw\nUnix-n3w-pw\n" | drv viaprofile plainuser passwd >"$T/out" 2>&1
[ "$(prompts "$T/out")" = "PROMPT: New password: 
PROMPT: Retype new password: " ]
printf "Unix-n3w-pw\n" | drv viaprofile plainuser auth >"$T/out" 2>&1
rc=0; printf "unixpw\n" | drv viaprofile plainuser auth >"$T/out" 2>&1 || rc=$?
[ $rc -eq 7 ]
'

        [ "$status" -eq 0 ]
}
