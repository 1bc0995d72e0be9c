/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/keyring.c against the real kernel keyring: every test uses
 * its own random key name and invalidates what it created. Interop is checked
 * with the keyutils CLI (keyctl padd / keyctl pipe; skipped without it), and
 * unusable keyrings with a real seccomp filter in a child. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "keyring.h"
#include "secret.h"
#include "tmpdir.h"

/* Raw key syscalls (the library needs no libkeyutils, neither do its tests). */
typedef int32_t key_serial_t;

static key_serial_t sys_add_key(const char *type, const char *desc, const void *payload, size_t len,
                                key_serial_t keyring) {
        return (key_serial_t) syscall(SYS_add_key, type, desc, payload, len, (long) keyring);
}

static key_serial_t sys_request_key(const char *type, const char *desc) {
        return (key_serial_t) syscall(SYS_request_key, type, desc, NULL, 0L);
}

static long sys_keyctl(int cmd, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
        return syscall(SYS_keyctl, cmd, a2, a3, a4, a5);
}

/* A "user" key of this name linked in @u itself (not merely reachable). */
static key_serial_t search_user_keyring(const char *name) {
        return (key_serial_t) sys_keyctl(KEYCTL_SEARCH, (unsigned long) KEY_SPEC_USER_KEYRING, (unsigned long) "user",
                                         (unsigned long) name, 0);
}

static void key_invalidate(key_serial_t id) {
        (void) sys_keyctl(KEYCTL_INVALIDATE, (unsigned long) id, 0, 0, 0);
}

static void key_unlink(key_serial_t id, key_serial_t keyring) {
        (void) sys_keyctl(KEYCTL_UNLINK, (unsigned long) id, (unsigned long) keyring, 0, 0);
}

/* Why the keyring tests are skipped, or NULL when they can run. */
static const char *keyring_unusable;
/* The keyutils CLI (package keyutils) for the interop tests. */
static int have_keyctl_cli;

struct key_name {
        char name[64];
        key_serial_t unlink_id; /* a key a test made invisible to /proc/keys */
};

static int test_setup(void **state) {
        struct key_name *k = calloc(1, sizeof(*k));
        uint8_t rnd[8];

        if (!k)
                return -1;
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd)) {
                free(k);
                return -1;
        }
        snprintf(k->name, sizeof(k->name), "latchkey-test-%d-%02x%02x%02x%02x%02x%02x%02x%02x", (int) getpid(),
                 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
        unsetenv(KEYRING_TIMEOUT_ENV);
        *state = k;
        return 0;
}

/* Invalidates every "user" key of this name that this process can see, and
 * unlinks it from @u and @s: found through /proc/keys, since searches skip or
 * refuse revoked and expired keys (a failed test may leave those behind). */
static void key_remove(const char *name) {
        char line[512];
        size_t len = strlen(name);
        FILE *f = fopen("/proc/keys", "re");

        if (!f)
                return;
        while (fgets(line, sizeof(line), f)) {
                unsigned id;
                int off = -1;

                if (sscanf(line, "%x %*s %*s %*s %*s %*s %*s user %n", &id, &off) < 1 || off < 0)
                        continue;
                if (strncmp(line + off, name, len) != 0 || line[off + len] != ':')
                        continue;
                key_invalidate((key_serial_t) id);
                key_unlink((key_serial_t) id, KEY_SPEC_USER_KEYRING);
                key_unlink((key_serial_t) id, KEY_SPEC_SESSION_KEYRING);
        }
        fclose(f);
}

static int test_teardown(void **state) {
        struct key_name *k = *state;

        key_remove(k->name);
        if (k->unlink_id > 0)
                key_unlink(k->unlink_id, KEY_SPEC_USER_KEYRING);
        unsetenv(KEYRING_TIMEOUT_ENV);
        free(k);
        return 0;
}

#define REQUIRE_KEYCTL_CLI()                                                        \
        do {                                                                        \
                if (!have_keyctl_cli) {                                             \
                        print_message("# skip: no keyctl command (keyutils)\n");   \
                        skip();                                                     \
                }                                                                   \
        } while (0)

#define NAME ((const char *) ((struct key_name *) *state)->name)
#define REQUIRE_KEYRING()                                                   \
        do {                                                                \
                if (keyring_unusable) {                                     \
                        print_message("# skip: %s\n", keyring_unusable);    \
                        skip();                                             \
                }                                                           \
        } while (0)

static struct secret *list_of(const void *data, size_t size) {
        struct secret *s = NULL;

        assert_int_equal(secret_new(size, &s), 0);
        memcpy(s->data, data, size);
        s->size = size;
        return s;
}

static int put_bytes(const char *name, const void *data, size_t size) {
        struct secret *s = list_of(data, size);
        int r = keyring_put(name, s);

        secret_free(s);
        return r;
}
#define PUT(name, lit) put_bytes((name), (lit), sizeof(lit) - 1)

/* Asserts the key's payload is exactly these bytes, read through keyring_get(). */
static void assert_payload(const char *name, const void *data, size_t size) {
        struct secret *s = NULL;

        assert_int_equal(keyring_get(name, &s), 0);
        assert_non_null(s);
        assert_int_equal(s->size, size);
        assert_memory_equal(s->data, data, size);
        assert_int_equal(s->data[s->size], 0);
        secret_free(s);
}
#define ASSERT_PAYLOAD(name, lit) assert_payload((name), (lit), sizeof(lit) - 1)

static void assert_no_key(const char *name) {
        struct secret *s = NULL;

        assert_int_equal(keyring_get(name, &s), -ENOKEY);
        assert_null(s);
}

/* The /proc/keys line of a key: "%08x flags usage expiry perm uid gid type desc: ...". */
static void proc_keys_fields(key_serial_t id, char *expiry, size_t expiry_size, char *perm, size_t perm_size) {
        char line[512], want[16];
        FILE *f = fopen("/proc/keys", "re");
        int found = 0;

        assert_non_null(f);
        snprintf(want, sizeof(want), "%08x ", (unsigned) id);
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, want, strlen(want)) == 0) {
                        char e[32], p[32];

                        assert_int_equal(sscanf(line, "%*s %*s %*s %31s %31s", e, p), 2);
                        snprintf(expiry, expiry_size, "%s", e);
                        snprintf(perm, perm_size, "%s", p);
                        found = 1;
                        break;
                }
        fclose(f);
        if (!found)
                fail_msg("key %08x not in /proc/keys", (unsigned) id);
}

/* The key must sit in @u itself, not merely be reachable. */
static key_serial_t user_keyring_key(const char *name) {
        key_serial_t id = search_user_keyring(name);

        if (id < 0)
                fail_msg("no user key %s in @u: %s", name, strerror(errno));
        return id;
}

static void assert_expiry(const char *name, const char *want) {
        char expiry[32], perm[32];

        proc_keys_fields(user_keyring_key(name), expiry, sizeof(expiry), perm, sizeof(perm));
        if (strcmp(expiry, want) != 0)
                fail_msg("expiry of %s is \"%s\", want \"%s\"", name, expiry, want);
        /* What the spec saw on systemd 252: possessor all, user view. */
        assert_string_equal(perm, "3f010000");
}

static void test_get_missing(void **state) {
        REQUIRE_KEYRING();
        assert_no_key(NAME);
}

static void test_invalid_arguments(void **state) {
        struct secret *s = NULL, *l = list_of("x", 1);

        assert_int_equal(keyring_get(NULL, &s), -EINVAL);
        assert_int_equal(keyring_get("", &s), -EINVAL);
        assert_int_equal(keyring_get(NAME, NULL), -EINVAL);
        assert_int_equal(keyring_put(NULL, l), -EINVAL);
        assert_int_equal(keyring_put("", l), -EINVAL);
        assert_int_equal(keyring_put(NAME, NULL), -EINVAL);
        assert_int_equal(keyring_notify(NULL), -EINVAL);
        assert_int_equal(keyring_notify(""), -EINVAL);
        secret_free(l);
        assert_null(s);
}

static void test_roundtrip(void **state) {
        REQUIRE_KEYRING();
        assert_int_equal(PUT(NAME, "hunter2"), 1);
        ASSERT_PAYLOAD(NAME, "hunter2");
        /* Stored in @u under exactly this name, as type "user". */
        user_keyring_key(NAME);
}

static void test_roundtrip_binary(void **state) {
        uint8_t pw[1000];

        REQUIRE_KEYRING();
        /* Any byte but NUL is password material, including newlines and 0xff. */
        for (size_t i = 0; i < sizeof(pw); i++)
                pw[i] = (uint8_t) (i % 255 + 1);
        assert_int_equal(put_bytes(NAME, pw, sizeof(pw)), 1);
        assert_payload(NAME, pw, sizeof(pw));
}

static void test_put_twice_appends(void **state) {
        REQUIRE_KEYRING();
        assert_int_equal(PUT(NAME, "a"), 1);
        assert_int_equal(PUT(NAME, "b"), 1);
        ASSERT_PAYLOAD(NAME, "a\0b");
        /* Still one key: add_key() replaced the payload. */
        assert_int_equal(user_keyring_key(NAME), sys_request_key("user", NAME));
        assert_int_equal(PUT(NAME, "hunter2\0second"), 1);
        ASSERT_PAYLOAD(NAME, "a\0b\0hunter2\0second");
}

static void test_duplicates_filtered(void **state) {
        REQUIRE_KEYRING();
        /* Within one list ... */
        assert_int_equal(PUT(NAME, "a\0b\0a\0b"), 1);
        ASSERT_PAYLOAD(NAME, "a\0b");
        /* ... and against what is cached; order is kept. */
        assert_int_equal(PUT(NAME, "b\0c\0c\0a"), 1);
        ASSERT_PAYLOAD(NAME, "a\0b\0c");
        /* Nothing new: nothing written (as systemd: no rewrite, timeout untouched). */
        assert_int_equal(PUT(NAME, "c\0a"), 0);
        ASSERT_PAYLOAD(NAME, "a\0b\0c");
        /* Prefixes and extensions are different passwords. */
        assert_int_equal(PUT(NAME, "ab\0a\0"), 1);
        ASSERT_PAYLOAD(NAME, "a\0b\0c\0ab");
}

static void test_trailing_nul(void **state) {
        REQUIRE_KEYRING();
        /* "x\0y\0" (ask_reply_parse's form) and "x\0y" are the same list. */
        assert_int_equal(PUT(NAME, "x\0y\0"), 1);
        ASSERT_PAYLOAD(NAME, "x\0y");
        assert_int_equal(PUT(NAME, "x\0y"), 0);
        assert_int_equal(PUT(NAME, "y\0"), 0);
        assert_int_equal(PUT(NAME, "z\0"), 1);
        ASSERT_PAYLOAD(NAME, "x\0y\0z");
}

static void test_empty_list(void **state) {
        REQUIRE_KEYRING();
        /* No passwords at all. */
        assert_int_equal(put_bytes(NAME, "", 0), 0);
        assert_no_key(NAME);
        /* One empty password ("+" as a reply): an empty payload, which "user"
         * keys refuse and lookups ignore, so nothing is stored. */
        assert_int_equal(PUT(NAME, "\0"), 0);
        assert_no_key(NAME);
        assert_true(search_user_keyring(NAME) < 0);
        /* Appending an empty list to a cached one changes nothing. */
        assert_int_equal(PUT(NAME, "a"), 1);
        assert_int_equal(put_bytes(NAME, "", 0), 0);
        ASSERT_PAYLOAD(NAME, "a");
}

static void test_empty_password_appended(void **state) {
        REQUIRE_KEYRING();
        /* systemd's format cannot keep a trailing empty password: [a, ""] joins to
         * "a\0", which reads back as [a]. Faithful, and harmless. */
        assert_int_equal(PUT(NAME, "a"), 1);
        assert_int_equal(PUT(NAME, "\0"), 1);
        ASSERT_PAYLOAD(NAME, "a\0");
        /* An empty password between others survives. */
        assert_int_equal(PUT(NAME, "\0b"), 1);
        ASSERT_PAYLOAD(NAME, "a\0\0b");
        assert_int_equal(PUT(NAME, "\0b\0a"), 0);
}

static void test_timeout_default(void **state) {
        REQUIRE_KEYRING();
        assert_int_equal(PUT(NAME, "pw"), 1);
        /* 150 s left shows as "2m" (whole minutes) in /proc/keys, as on 252. */
        assert_expiry(NAME, "2m");
}

static void test_timeout_env(void **state) {
        REQUIRE_KEYRING();
        setenv(KEYRING_TIMEOUT_ENV, "infinity", 1);
        assert_int_equal(PUT(NAME, "a"), 1);
        assert_expiry(NAME, "perm");

        setenv(KEYRING_TIMEOUT_ENV, "40", 1);
        assert_int_equal(PUT(NAME, "b"), 1);
        {
                char expiry[32], perm[32];

                proc_keys_fields(user_keyring_key(NAME), expiry, sizeof(expiry), perm, sizeof(perm));
                /* 40 s, possibly a second less by now. */
                if (strcmp(expiry, "40s") != 0 && strcmp(expiry, "39s") != 0)
                        fail_msg("expiry \"%s\", want 40s", expiry);
        }

        setenv(KEYRING_TIMEOUT_ENV, "1h 30min", 1);
        assert_int_equal(PUT(NAME, "c"), 1);
        assert_expiry(NAME, "1h");

        /* Invalid values are ignored: the default applies. */
        setenv(KEYRING_TIMEOUT_ENV, "soon", 1);
        assert_int_equal(PUT(NAME, "d"), 1);
        assert_expiry(NAME, "2m");
        ASSERT_PAYLOAD(NAME, "a\0b\0c\0d");
}

static void test_timeout_zero_disables(void **state) {
        REQUIRE_KEYRING();
        setenv(KEYRING_TIMEOUT_ENV, "0", 1);
        assert_int_equal(PUT(NAME, "pw"), 0);
        assert_no_key(NAME);
        assert_true(search_user_keyring(NAME) < 0);
        /* An existing key is left alone too. */
        unsetenv(KEYRING_TIMEOUT_ENV);
        assert_int_equal(PUT(NAME, "old"), 1);
        setenv(KEYRING_TIMEOUT_ENV, "0", 1);
        assert_int_equal(PUT(NAME, "new"), 0);
        ASSERT_PAYLOAD(NAME, "old");
}

static void test_expired_is_no_key(void **state) {
        REQUIRE_KEYRING();
        setenv(KEYRING_TIMEOUT_ENV, "1", 1);
        assert_int_equal(PUT(NAME, "short"), 1);
        ASSERT_PAYLOAD(NAME, "short");
        /* Expiry is checked against whole seconds: wait past the next one. */
        for (int i = 0; i < 40; i++) {
                struct secret *s = NULL;
                int r = keyring_get(NAME, &s);

                secret_free(s);
                if (r == -ENOKEY)
                        break;
                assert_int_equal(r, 0);
                nanosleep(&(struct timespec) { .tv_nsec = 100 * 1000 * 1000 }, NULL);
        }
        assert_no_key(NAME);
        /* A new put starts from scratch rather than failing on the dead key. */
        unsetenv(KEYRING_TIMEOUT_ENV);
        assert_int_equal(PUT(NAME, "fresh"), 1);
        ASSERT_PAYLOAD(NAME, "fresh");
}

static void test_revoked_is_no_key(void **state) {
        REQUIRE_KEYRING();
        assert_int_equal(PUT(NAME, "a"), 1);
        assert_int_equal(sys_keyctl(KEYCTL_REVOKE, (unsigned long) user_keyring_key(NAME), 0, 0, 0), 0);
        assert_no_key(NAME);
        assert_int_equal(PUT(NAME, "b"), 1);
        ASSERT_PAYLOAD(NAME, "b");
}

static void test_access_denied_propagated(void **state) {
        struct secret *s = NULL;
        key_serial_t id;

        REQUIRE_KEYRING();
        /* A key we may see but not search: EACCES is an error, not "no key". */
        id = sys_add_key("user", NAME, "x", 1, KEY_SPEC_USER_KEYRING);
        assert_true(id > 0);
        ((struct key_name *) *state)->unlink_id = id;
        assert_int_equal(sys_keyctl(KEYCTL_SETPERM, (unsigned long) id, 0x01000000 /* possessor: view */, 0, 0), 0);
        assert_int_equal(keyring_get(NAME, &s), -EACCES);
        assert_null(s);
        assert_int_equal(PUT(NAME, "pw"), -EACCES);
        /* Without view/search rights it is gone from /proc/keys: the teardown
         * unlinks it by id (which needs write access to @u only). */
}

/* In a child, makes the three key syscalls fail with `err` (as container
 * seccomp profiles do: Docker's returns EPERM) and reports what the API does:
 * exit 0 when keyring_get() says -ENOKEY and keyring_put() returns -err. */
static void check_keyrings_blocked(const char *name, int err) {
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_add_key, 3, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_request_key, 2, 0),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_keyctl, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        };
        struct sock_fprog prog = { .len = ELEMENTSOF(filter), .filter = filter };
        int status;
        pid_t pid;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct secret *s = NULL, *l = NULL;
                int r;

                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
                        _exit(77);
                if (keyring_get(name, &s) != -ENOKEY || s)
                        _exit(1);
                if (secret_new(2, &l) < 0)
                        _exit(2);
                memcpy(l->data, "pw", 2);
                l->size = 2;
                r = keyring_put(name, l);
                secret_free(l);
                _exit(r == -err ? 0 : 3);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77)
                skip();
        if (WEXITSTATUS(status) != 0)
                fail_msg("with key syscalls failing with %s: check %d failed", strerror(err), WEXITSTATUS(status));
}

static void test_keyrings_unavailable(void **state) {
        REQUIRE_KEYRING();
        /* A cached key exists, but this process may not use keyrings at all:
         * reading says "no key", storing reports the error to the caller. */
        assert_int_equal(PUT(NAME, "cached"), 1);
        check_keyrings_blocked(NAME, EPERM);
        check_keyrings_blocked(NAME, EOPNOTSUPP);
        check_keyrings_blocked(NAME, ENOSYS);
        ASSERT_PAYLOAD(NAME, "cached");
}

/* Runs `keyctl padd user NAME @u` with these bytes on stdin. */
static void cli_padd(const char *name, const void *data, size_t size) {
        char cmd[256];
        FILE *p;

        snprintf(cmd, sizeof(cmd), "keyctl padd user '%s' @u >/dev/null", name);
        p = popen(cmd, "we");
        assert_non_null(p);
        assert_int_equal(fwrite(data, 1, size, p), size);
        assert_int_equal(pclose(p), 0);
}

static void test_interop_keyctl_padd(void **state) {
        REQUIRE_KEYRING();
        REQUIRE_KEYCTL_CLI();
        cli_padd(NAME, "pw1", 3);
        ASSERT_PAYLOAD(NAME, "pw1");
        key_remove(NAME);
        assert_no_key(NAME);
        /* A list written by another tool, then appended to by us. */
        cli_padd(NAME, "a\0b", 3);
        ASSERT_PAYLOAD(NAME, "a\0b");
        assert_int_equal(PUT(NAME, "b\0c"), 1);
        ASSERT_PAYLOAD(NAME, "a\0b\0c");
}

static void test_interop_keyctl_pipe(void **state) {
        static const char want[] = "hunter2\0second\0\xff\n";
        char cmd[256], got[256];
        size_t n;
        FILE *p;

        REQUIRE_KEYRING();
        REQUIRE_KEYCTL_CLI();
        assert_int_equal(PUT(NAME, "hunter2\0second\0\xff\n\0"), 1);
        snprintf(cmd, sizeof(cmd), "keyctl pipe %%user:'%s'", NAME);
        p = popen(cmd, "re");
        assert_non_null(p);
        n = fread(got, 1, sizeof(got), p);
        assert_int_equal(pclose(p), 0);
        /* NUL-joined, no trailing NUL. */
        assert_int_equal(n, sizeof(want) - 1);
        assert_memory_equal(got, want, n);
        explicit_bzero(got, sizeof(got));
}

static void test_notify(void **state) {
        char dir[4096], missing[4200];
        struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
        struct stat st;
        uint8_t ev[sizeof(struct inotify_event) + 256];
        struct pollfd pfd;
        int fd, wd;
        ssize_t n;

        assert_int_equal(tmpdir_make(dir, sizeof(dir), "test-keyring"), 0);
        assert_int_equal(utimensat(AT_FDCWD, dir, old, 0), 0);

        /* What a waiting --accept-cached querier watches. */
        fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        assert_true(fd >= 0);
        wd = inotify_add_watch(fd, dir, IN_ATTRIB);
        assert_true(wd >= 0);

        assert_int_equal(keyring_notify(dir), 0);
        assert_int_equal(stat(dir, &st), 0);
        assert_true(st.st_mtime > 1000);
        assert_true(st.st_mtime >= time(NULL) - 60);

        pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&pfd, 1, 5000), 1);
        n = read(fd, ev, sizeof(ev));
        assert_true(n >= (ssize_t) sizeof(struct inotify_event));
        assert_true(((struct inotify_event *) ev)->mask & IN_ATTRIB);
        close(fd);

        snprintf(missing, sizeof(missing), "%s/absent", dir);
        assert_int_equal(keyring_notify(missing), -ENOENT);
        tmpdir_remove(dir);
}

/* Runs once: can this process use keyrings at all, and does request_key() see
 * @u (it does when the session keyring links the user keyring, as the default
 * user-session keyring and pam_keyinit sessions do)? If @u is not on the search
 * path, link it into the session keyring, as `keyctl link @u @s` would. */
static int group_setup(void **state) {
        char name[64];
        key_serial_t id, found;

        have_keyctl_cli = system("command -v keyctl >/dev/null 2>&1") == 0;
        snprintf(name, sizeof(name), "latchkey-test-probe-%d", (int) getpid());
        id = sys_add_key("user", name, "x", 1, KEY_SPEC_USER_KEYRING);
        if (id < 0) {
                keyring_unusable = "add_key() to @u fails (keyrings unavailable here)";
                return 0;
        }
        found = sys_request_key("user", name);
        if (found != id) {
                if (sys_keyctl(KEYCTL_LINK, (unsigned long) KEY_SPEC_USER_KEYRING, (unsigned long) KEY_SPEC_SESSION_KEYRING, 0, 0) < 0)
                        keyring_unusable = "@u is not on the search path and cannot be linked into @s";
                else {
                        print_message("# note: linked @u into the session keyring for request_key()\n");
                        if (sys_request_key("user", name) != id)
                                keyring_unusable = "@u is not on the search path even when linked into @s";
                }
        }
        key_invalidate(id);
        return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_get_missing),
                T(test_invalid_arguments),
                T(test_roundtrip),
                T(test_roundtrip_binary),
                T(test_put_twice_appends),
                T(test_duplicates_filtered),
                T(test_trailing_nul),
                T(test_empty_list),
                T(test_empty_password_appended),
                T(test_timeout_default),
                T(test_timeout_env),
                T(test_timeout_zero_disables),
                T(test_expired_is_no_key),
                T(test_revoked_is_no_key),
                T(test_access_denied_propagated),
                T(test_keyrings_unavailable),
                T(test_interop_keyctl_padd),
                T(test_interop_keyctl_pipe),
                T(test_notify),
        };

        return cmocka_run_group_tests(tests, group_setup, NULL);
}
