#!/usr/bin/env bats
# libnss_latchkey.so.2: users of home-activate resolved by glibc through NSS from
# their public records /var/lib/latchkey/home/USER.user. Each test runs (as root)
# in a private mount namespace with a tmpfs over /var/lib/latchkey holding
# hand-written records, and an nsswitch.conf "passwd: files latchkey" bind-mounted
# over /etc/nsswitch.conf; LD_LIBRARY_PATH points glibc at the module of $BUILD.
load helpers

# The entries of an enumeration with the test records' UIDs (60100-60199): the
# machine's own users, whatever their names, are not ours.
ours() { awk -F: '$3 >= 60100 && $3 < 60200'; }

# The module is never wrapped for valgrind: the real build directory.
NSS_DIR="${LATCHKEY_REAL_BUILD:-${BUILD:-build}}"
[[ "$NSS_DIR" == /* ]] || NSS_DIR="$BATS_TEST_DIRNAME/../../$NSS_DIR"

setup_file() {
        [ "$(id -u)" = 0 ] || return 0
        # The mount point must exist; created once on the real file system if missing.
        if [ ! -d /var/lib/latchkey ]; then
                mkdir -p /var/lib/latchkey
                touch "$BATS_FILE_TMPDIR/created-mountpoint"
        fi
}

teardown_file() {
        if [ -e "$BATS_FILE_TMPDIR/created-mountpoint" ]; then
                rmdir /var/lib/latchkey 2>/dev/null || true
        fi
}

# record NAME UID [REALNAME [USERNAME]]: a public record as home-activate writes it.
record() {
        printf '{"userName":"%s","uid":%s,"gid":%s,"realName":"%s","homeDirectory":"/home/%s","shell":"/bin/bash","storage":"directory","disposition":"regular"}\n' \
                "${4:-$1}" "$2" "$2" "${3:-$1}" "${4:-$1}"
}

setup() {
        need_root "mounts a tmpfs over /var/lib/latchkey and bind-mounts /etc/nsswitch.conf"
        command -v getent >/dev/null || skip "getent not installed"
        command -v unshare >/dev/null || skip "unshare not installed"
        [ -e "$NSS_DIR/libnss_latchkey.so.2" ] || { echo "no $NSS_DIR/libnss_latchkey.so.2: build it first"; return 1; }
        T="$BATS_TEST_TMPDIR"
        H="$T/home"
        mkdir -m 0755 "$H"
        chmod 0755 "$T"
        printf 'passwd: files latchkey\ngroup: files latchkey\n' > "$T/nsswitch.conf"

        record lkalice 60101 Alice > "$H/lkalice.user"
        record lkbob 60102 "Bob Builder" > "$H/lkbob.user"
        chmod 0644 "$H"/*.user
        # The private record next to it: never read, even when there is no .user.
        record lkcarol 60103 Carol > "$H/lkcarol.identity"
        chmod 0600 "$H/lkcarol.identity"

        GETENT=(getent)
        if [ "${LATCHKEY_VALGRIND:-0}" = 1 ]; then
                GETENT=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite getent)
        fi
}

# Runs "$@" with $H as /var/lib/latchkey/home (copied with modes, owners and
# symlinks), the test nsswitch.conf, and the module of $NSS_DIR.
with_records() {
        LD_LIBRARY_PATH="$NSS_DIR" unshare -m -- sh -ec '
                mount -t tmpfs -o mode=0755 latchkey-test /var/lib/latchkey
                cp -a "$0/home" /var/lib/latchkey/home
                mount --bind "$0/nsswitch.conf" /etc/nsswitch.conf
                exec "$@"' "$T" "$@"
}

@test "getpwnam: a user from its .user record" {
        run --separate-stderr with_records "${GETENT[@]}" passwd lkalice
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        [ "$output" = "lkalice:x:60101:60101:Alice:/home/lkalice:/bin/bash" ]
        [ -z "$stderr" ]
        run --separate-stderr with_records "${GETENT[@]}" passwd lkbob
        [ "$status" -eq 0 ]
        [ "$output" = "lkbob:x:60102:60102:Bob Builder:/home/lkbob:/bin/bash" ]
}

@test "getpwuid: by uid" {
        run --separate-stderr with_records "${GETENT[@]}" passwd 60101
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        [ "$output" = "lkalice:x:60101:60101:Alice:/home/lkalice:/bin/bash" ]
        run --separate-stderr with_records "${GETENT[@]}" passwd 60102
        [ "$status" -eq 0 ]
        [ "$output" = "lkbob:x:60102:60102:Bob Builder:/home/lkbob:/bin/bash" ]
}

@test "getgrnam / getgrgid: the user's private group, no members" {
        run --separate-stderr with_records "${GETENT[@]}" group lkalice
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        [ "$output" = "lkalice:x:60101:" ]
        run --separate-stderr with_records "${GETENT[@]}" group 60102
        [ "$status" -eq 0 ]
        [ "$output" = "lkbob:x:60102:" ]
}

@test "enumeration: getent passwd and getent group list both users after the files" {
        run --separate-stderr with_records "${GETENT[@]}" passwd
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        [ "${lines[0]%%:*}" = root ]
        [ "$(printf '%s\n' "$output" | ours | wc -l)" -eq 2 ]
        [[ "$output" == *$'\n'"lkalice:x:60101:60101:Alice:/home/lkalice:/bin/bash"* ]]
        [[ "$output" == *$'\n'"lkbob:x:60102:60102:Bob Builder:/home/lkbob:/bin/bash"* ]]
        run --separate-stderr with_records "${GETENT[@]}" group
        [ "$status" -eq 0 ]
        [ "$(printf '%s\n' "$output" | ours | wc -l)" -eq 2 ]
        [[ "$output" == *$'\n'"lkalice:x:60101:"* ]]
        [[ "$output" == *$'\n'"lkbob:x:60102:"* ]]
}

@test "unknown users, uids and groups: exit 2; the private .identity is not read" {
        for q in "passwd lknobody" "passwd 60199" "group lknobody" "group 60199" \
                 "passwd lkcarol" "passwd 60103" "group lkcarol" "passwd Lkalice" "passwd lkalice.user"; do
                run --separate-stderr with_records "${GETENT[@]}" $q
                [ "$status" -eq 2 ] || { echo "getent $q: status $status, output $output"; return 1; }
                [ -z "$output" ]
                [ -z "$stderr" ]
        done
        run --separate-stderr with_records "${GETENT[@]}" passwd
        [[ "$output" != *lkcarol* ]]
}

@test "untrusted files are ignored: writable, symlink, oversized, not root's, not regular" {
        record lkeve 60111 > "$H/lkeve.user";       chmod 0666 "$H/lkeve.user"   # world-writable
        record lkgrp 60112 > "$H/lkgrp.user";       chmod 0664 "$H/lkgrp.user"   # group-writable
        record lklink 60113 > "$T/lklink.json";     chmod 0644 "$T/lklink.json"
        ln -s "$T/lklink.json" "$H/lklink.user"                                  # symlink
        { record lkbig 60114 | tr -d '\n'; head -c $((256 * 1024)) /dev/zero | tr '\0' ' '; echo; } > "$H/lkbig.user"
        chmod 0644 "$H/lkbig.user"                                                # > 256 KiB
        record lknobod 60115 > "$H/lknobod.user";   chmod 0644 "$H/lknobod.user"
        chown nobody "$H/lknobod.user"                                            # not root's
        mkfifo -m 0644 "$H/lkfifo.user"                                           # not regular
        mkdir -m 0755 "$H/lkdir.user"
        for u in lkeve:60111 lkgrp:60112 lklink:60113 lkbig:60114 lknobod:60115 lkfifo:60116 lkdir:60117; do
                for q in "passwd ${u%:*}" "passwd ${u#*:}" "group ${u%:*}" "group ${u#*:}"; do
                        run --separate-stderr with_records "${GETENT[@]}" $q
                        [ "$status" -eq 2 ] || { echo "getent $q: status $status, output $output"; return 1; }
                        [ -z "$stderr" ]
                done
        done
        run --separate-stderr with_records "${GETENT[@]}" passwd
        [ "$status" -eq 0 ]
        [ "$(printf '%s\n' "$output" | ours | cut -d: -f1 | sort | tr '\n' ' ')" = "lkalice lkbob " ]
        [ -z "$stderr" ]
        # The same record, made trustworthy, resolves: the checks were what refused it.
        chmod 0644 "$H/lkeve.user"
        run --separate-stderr with_records "${GETENT[@]}" passwd lkeve
        [ "$status" -eq 0 ]
        [ "$output" = "lkeve:x:60111:60111:lkeve:/home/lkeve:/bin/bash" ]
}

@test "invalid records are ignored: name mismatch, malformed JSON, invalid names, uid 0" {
        record lkother 60121 > "$H/lkmismatch.user"               # userName lkother in lkmismatch.user
        printf '{"userName":"lkbroken","uid":60122,' > "$H/lkbroken.user"
        printf '["lkarray"]\n' > "$H/lkarray.user"
        : > "$H/lkempty.user"
        record root 60124 > "$H/root.user"
        record Upper 60125 Upper > "$H/Upper.user"
        record lkzero 0 > "$H/lkzero.user"
        record lkcolon 60126 "Evil:Colon" > "$H/lkcolon.user"
        chmod 0644 "$H"/*.user
        for q in "passwd lkmismatch" "passwd lkother" "passwd 60121" "passwd lkbroken" "passwd 60122" \
                 "passwd lkarray" "passwd lkempty" "passwd 60124" "passwd Upper" "passwd 60125" \
                 "passwd lkzero" "passwd lkcolon" "passwd 60126" "group lkmismatch" "group 60121"; do
                run --separate-stderr with_records "${GETENT[@]}" $q
                [ "$status" -eq 2 ] || { echo "getent $q: status $status, output $output"; return 1; }
                [ -z "$stderr" ]
        done
        run --separate-stderr with_records "${GETENT[@]}" passwd
        [ "$status" -eq 0 ]
        [ "$(printf '%s\n' "$output" | ours | cut -d: -f1 | sort | tr '\n' ' ')" = "lkalice lkbob " ]
        [ "$(printf '%s\n' "$output" | grep -c '^root:')" -eq 1 ]
}

@test "an untrusted directory (group/world-writable) is ignored as a whole" {
        chmod 0777 "$H"
        run --separate-stderr with_records "${GETENT[@]}" passwd lkalice
        [ "$status" -eq 2 ]
        [ -z "$stderr" ]
        run --separate-stderr with_records "${GETENT[@]}" passwd
        [ "$status" -eq 0 ]
        [[ "$output" != *lkalice* ]]
}

@test "a long realName (4000 chars): ERANGE, the caller retries with a bigger buffer" {
        command -v python3 >/dev/null || skip "python3 not installed"
        long=$(head -c 4000 /dev/zero | tr '\0' 'L')
        record lklong 60131 "$long" > "$H/lklong.user"
        chmod 0644 "$H/lklong.user"
        # Python's pwd/grp start with a 1 KiB buffer (sysconf) and double it on ERANGE.
        run --separate-stderr with_records python3 -c '
import pwd, grp
p = pwd.getpwnam("lklong")
print(p.pw_name, p.pw_uid, p.pw_gid, len(p.pw_gecos), p.pw_dir, p.pw_shell)
p = pwd.getpwuid(60131)
print(p.pw_name, len(p.pw_gecos))
g = grp.getgrnam("lklong")
print(g.gr_name, g.gr_gid, g.gr_mem)
print(sorted(u.pw_name for u in pwd.getpwall() if 60100 <= u.pw_uid < 60200))
print(sorted(len(u.pw_gecos) for u in pwd.getpwall() if u.pw_name == "lklong"))
'
        [ "$status" -eq 0 ] || { echo "status $status: $stderr"; return 1; }
        [ "${lines[0]}" = "lklong 60131 60131 4000 /home/lklong /bin/bash" ]
        [ "${lines[1]}" = "lklong 4000" ]
        [ "${lines[2]}" = "lklong 60131 []" ]
        [ "${lines[3]}" = "['lkalice', 'lkbob', 'lklong']" ]
        [ "${lines[4]}" = "[4000]" ]
        # getent's enumeration (getpwent) hits ERANGE too: the entry is kept for the retry.
        run --separate-stderr with_records "${GETENT[@]}" passwd
        [ "$status" -eq 0 ]
        [ "$(printf '%s\n' "$output" | ours | cut -d: -f1 | sort | tr '\n' ' ')" = "lkalice lkbob lklong " ]
        [[ "$output" == *"lklong:x:60131:60131:$long:/home/lklong:/bin/bash"* ]]
}

@test "no record directory: nothing resolved, no error" {
        rm -rf "$H"
        run --separate-stderr unshare -m -- sh -ec '
                mount -t tmpfs -o mode=0755 latchkey-test /var/lib/latchkey
                mount --bind "$0/nsswitch.conf" /etc/nsswitch.conf
                LD_LIBRARY_PATH="$1" getent passwd lkalice || echo "status $?"
                LD_LIBRARY_PATH="$1" getent passwd | grep -c "^root:"' "$T" "$NSS_DIR"
        [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
        [ "$output" = "status 2
1" ]
        [ -z "$stderr" ]
}
