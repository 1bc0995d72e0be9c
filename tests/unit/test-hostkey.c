/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/hostkey.c: the machine-bound header, the checks on the
 * key file, creation as systemd does it, and the key path lookup. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "hostkey.h"
#include "crypto.h"
#include "secret.h"
#include "tmpdir.h"

struct fixture {
        char dir[PATH_MAX / 2];
        char path[PATH_MAX]; /* dir/credential.secret */
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        if (tmpdir_make(f->dir, sizeof(f->dir), "test-hostkey") < 0) {
                free(f);
                return -1;
        }
        snprintf(f->path, sizeof(f->path), "%s/credential.secret", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

static void write_file(const char *path, const void *data, size_t size, mode_t mode) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
        assert_int_equal(fchmod(fd, mode), 0);
        assert_int_equal(close(fd), 0);
}

static size_t read_whole(const char *path, uint8_t *buf, size_t max) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        assert_true(fd >= 0);
        n = read(fd, buf, max);
        assert_true(n >= 0);
        close(fd);
        return (size_t) n;
}

/* A key file for this machine: header + `keysize` random bytes. */
static void make_key(const char *path, uint8_t *key, size_t keysize, mode_t mode) {
        uint8_t mid[16];
        uint8_t *buf = malloc(HOSTKEY_HEADER_SIZE + keysize);

        assert_non_null(buf);
        assert_int_equal(machine_id_get(mid), 0);
        assert_int_equal(hostkey_machine_header(mid, buf), 0);
        assert_int_equal(getrandom(key, keysize, 0), (ssize_t) keysize);
        memcpy(buf + HOSTKEY_HEADER_SIZE, key, keysize);
        write_file(path, buf, HOSTKEY_HEADER_SIZE + keysize, mode);
        free(buf);
}

static void unhex(const char *s, uint8_t *out, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned v;

                assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
                out[i] = (uint8_t) v;
        }
}

static void expect_load_fails(const char *path, bool may_create, int expected) {
        struct secret *s = NULL;
        int r = hostkey_load(path, may_create, &s);

        if (r != expected)
                fail_msg("hostkey_load(%s) returned %d (%s), expected %d (%s)", path, r, strerror(-r), expected,
                         strerror(-expected));
        assert_null(s);
}

static void test_machine_header_vector(void **state) {
        uint8_t mid[16], want[16], got[16];

        /* Verified against systemd: machine ID → credential.secret header. */
        unhex("3d1219c7c4c5404aaa1f6d2a48adfda4", mid, 16);
        unhex("89f70f6d90b84795b60b94afac71e928", want, 16);
        assert_int_equal(hostkey_machine_header(mid, got), 0);
        assert_memory_equal(got, want, 16);
}

static void test_machine_header_vector_file(void **state) {
        /* tests/vectors/host.secret was written by systemd for tests/vectors/machine-id. */
        uint8_t head[16], mid[16], got[16];
        char text[40] = {};
        int fd;

        fd = open("tests/vectors/machine-id", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_true(read(fd, text, sizeof(text) - 1) >= 32);
        close(fd);
        unhex(text, mid, 16);
        fd = open("tests/vectors/host.secret", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                print_message("# cannot open tests/vectors/host.secret: %s\n", strerror(errno));
                skip();
        }
        assert_int_equal(read(fd, head, 16), 16);
        close(fd);
        assert_int_equal(hostkey_machine_header(mid, got), 0);
        assert_memory_equal(got, head, 16);
}

static void test_machine_header_uuid_v4(void **state) {
        for (int i = 0; i < 64; i++) {
                uint8_t mid[16], a[16], b[16];

                assert_int_equal(getrandom(mid, 16, 0), 16);
                assert_int_equal(hostkey_machine_header(mid, a), 0);
                assert_int_equal(hostkey_machine_header(mid, b), 0);
                assert_memory_equal(a, b, 16);       /* deterministic */
                assert_int_equal(a[6] & 0xf0, 0x40); /* version 4 */
                assert_int_equal(a[8] & 0xc0, 0x80); /* RFC 4122 variant */
                mid[0] ^= 1;
                assert_int_equal(hostkey_machine_header(mid, b), 0);
                assert_memory_not_equal(a, b, 16);
        }
}

static void test_machine_id_get(void **state) {
        uint8_t mid[16], want[16];
        char text[40] = {};
        int fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC);

        if (fd < 0) {
                print_message("# no /etc/machine-id\n");
                skip();
        }
        assert_true(read(fd, text, sizeof(text) - 1) >= 32);
        close(fd);
        unhex(text, want, 16);
        assert_int_equal(machine_id_get(mid), 0);
        assert_memory_equal(mid, want, 16);
}

static void test_load_ok(void **state) {
        struct fixture *f = *state;
        uint8_t key[HOSTKEY_KEY_SIZE];
        struct secret *s = NULL;

        make_key(f->path, key, sizeof(key), 0400);
        assert_int_equal(hostkey_load(f->path, false, &s), 0);
        assert_non_null(s);
        assert_int_equal(s->size, HOSTKEY_KEY_SIZE);
        assert_memory_equal(s->data, key, HOSTKEY_KEY_SIZE);
        secret_free(s);
        s = NULL;
        /* may_create does not touch an existing key. */
        assert_int_equal(hostkey_load(f->path, true, &s), 0);
        assert_int_equal(s->size, HOSTKEY_KEY_SIZE);
        assert_memory_equal(s->data, key, HOSTKEY_KEY_SIZE);
        secret_free(s);
}

static void test_load_odd_sizes(void **state) {
        struct fixture *f = *state;
        uint8_t key[100];
        struct secret *s = NULL;

        /* The key is whatever follows the header, not necessarily 4096 bytes. */
        make_key(f->path, key, 1, 0400);
        assert_int_equal(hostkey_load(f->path, false, &s), 0);
        assert_int_equal(s->size, 1);
        assert_int_equal(s->data[0], key[0]);
        secret_free(s);
        s = NULL;
        assert_int_equal(unlink(f->path), 0);
        make_key(f->path, key, sizeof(key), 0400);
        assert_int_equal(hostkey_load(f->path, false, &s), 0);
        assert_int_equal(s->size, sizeof(key));
        assert_memory_equal(s->data, key, sizeof(key));
        secret_free(s);
}

static void test_load_refuses_mode(void **state) {
        struct fixture *f = *state;
        static const mode_t modes[] = { 0644, 0600, 0440, 0404, 0500, 0444, 04400, 0000 };
        uint8_t key[HOSTKEY_KEY_SIZE];

        make_key(f->path, key, sizeof(key), 0400);
        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                assert_int_equal(chmod(f->path, modes[i]), 0);
                if (geteuid() != 0 && !(modes[i] & 0400))
                        continue; /* unreadable for us: a different error */
                expect_load_fails(f->path, false, -EPERM);
                expect_load_fails(f->path, true, -EPERM);
        }
        assert_int_equal(access(f->path, F_OK), 0);
}

static void test_load_refuses_hard_links(void **state) {
        struct fixture *f = *state;
        uint8_t key[HOSTKEY_KEY_SIZE];
        char other[PATH_MAX + 8];
        struct secret *s = NULL;

        make_key(f->path, key, sizeof(key), 0400);
        snprintf(other, sizeof(other), "%s/link", f->dir);
        assert_int_equal(link(f->path, other), 0);
        expect_load_fails(f->path, false, -EPERM);
        expect_load_fails(other, false, -EPERM);
        /* One link again: accepted. */
        assert_int_equal(unlink(other), 0);
        assert_int_equal(hostkey_load(f->path, false, &s), 0);
        secret_free(s);
}

static void test_load_refuses_symlink(void **state) {
        struct fixture *f = *state;
        uint8_t key[HOSTKEY_KEY_SIZE];
        char real[PATH_MAX + 8];

        snprintf(real, sizeof(real), "%s/real.secret", f->dir);
        make_key(real, key, sizeof(key), 0400);
        assert_int_equal(symlink(real, f->path), 0);
        expect_load_fails(f->path, false, -ELOOP);
        expect_load_fails(f->path, true, -ELOOP);
        /* A dangling symlink is not "missing": may_create must not follow it either. */
        assert_int_equal(unlink(real), 0);
        expect_load_fails(f->path, true, -ELOOP);
        assert_int_equal(access(real, F_OK), -1);
}

static void test_load_refuses_short(void **state) {
        struct fixture *f = *state;
        uint8_t mid[16], buf[HOSTKEY_HEADER_SIZE];

        /* Exactly the header, no key. */
        assert_int_equal(machine_id_get(mid), 0);
        assert_int_equal(hostkey_machine_header(mid, buf), 0);
        write_file(f->path, buf, sizeof(buf), 0400);
        expect_load_fails(f->path, false, -EBADMSG);
        assert_int_equal(unlink(f->path), 0);
        /* Shorter than a header. */
        write_file(f->path, buf, 7, 0400);
        expect_load_fails(f->path, false, -EBADMSG);
        assert_int_equal(unlink(f->path), 0);
        /* Empty; may_create must not replace it. */
        write_file(f->path, "", 0, 0400);
        expect_load_fails(f->path, true, -EBADMSG);
        {
                struct stat st;

                assert_int_equal(stat(f->path, &st), 0);
                assert_int_equal(st.st_size, 0);
        }
}

static void test_load_refuses_foreign_header(void **state) {
        struct fixture *f = *state;
        uint8_t mid[16], file[HOSTKEY_HEADER_SIZE + HOSTKEY_KEY_SIZE], back[sizeof(file) + 1];
        struct stat st;

        /* Header of another machine ID. */
        assert_int_equal(machine_id_get(mid), 0);
        mid[15] ^= 0x01;
        assert_int_equal(hostkey_machine_header(mid, file), 0);
        assert_int_equal(getrandom(file + HOSTKEY_HEADER_SIZE, HOSTKEY_KEY_SIZE, 0), HOSTKEY_KEY_SIZE);
        write_file(f->path, file, sizeof(file), 0400);
        expect_load_fails(f->path, false, -EPERM);
        expect_load_fails(f->path, true, -EPERM);
        /* Not deleted, not modified. */
        assert_int_equal(stat(f->path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0400);
        assert_int_equal(read_whole(f->path, back, sizeof(back)), sizeof(file));
        assert_memory_equal(back, file, sizeof(file));
}

static void test_load_refuses_header_off_by_one_byte(void **state) {
        struct fixture *f = *state;
        uint8_t mid[16], file[HOSTKEY_HEADER_SIZE + 64];

        /* Every byte of the header counts: corrupt each one in turn. */
        assert_int_equal(machine_id_get(mid), 0);
        for (size_t i = 0; i < HOSTKEY_HEADER_SIZE; i++) {
                assert_int_equal(hostkey_machine_header(mid, file), 0);
                memset(file + HOSTKEY_HEADER_SIZE, 0x5a, 64);
                file[i] ^= 0x01;
                write_file(f->path, file, sizeof(file), 0400);
                expect_load_fails(f->path, false, -EPERM);
                assert_int_equal(unlink(f->path), 0);
        }
}

static void test_load_refuses_non_regular(void **state) {
        struct fixture *f = *state;

        assert_int_equal(mkdir(f->path, 0400), 0);
        expect_load_fails(f->path, false, -EBADFD);
        expect_load_fails(f->path, true, -EBADFD);
}

static void test_load_missing(void **state) {
        struct fixture *f = *state;

        expect_load_fails(f->path, false, -ENOENT);
        assert_int_equal(access(f->path, F_OK), -1);
}

static void count_entries(const char *dir, int *ret_total, int *ret_temp) {
        DIR *d = opendir(dir);
        struct dirent *de;

        assert_non_null(d);
        *ret_total = *ret_temp = 0;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                (*ret_total)++;
                if (strstr(de->d_name, ".#"))
                        (*ret_temp)++;
        }
        closedir(d);
}

static void test_load_creates(void **state) {
        struct fixture *f = *state;
        char sub[PATH_MAX + 16], path[PATH_MAX + 64];
        uint8_t mid[16], header[16], file[HOSTKEY_HEADER_SIZE + HOSTKEY_KEY_SIZE + 1];
        struct secret *s = NULL, *s2 = NULL;
        struct stat st;
        int total, temp;

        snprintf(sub, sizeof(sub), "%s/a/b", f->dir);
        snprintf(path, sizeof(path), "%s/credential.secret", sub);
        assert_int_equal(hostkey_load(path, true, &s), 0);
        assert_non_null(s);
        assert_int_equal(s->size, HOSTKEY_KEY_SIZE);

        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0400);
        assert_int_equal(st.st_size, HOSTKEY_HEADER_SIZE + HOSTKEY_KEY_SIZE);
        assert_int_equal(st.st_nlink, 1);

        assert_int_equal(read_whole(path, file, sizeof(file)), HOSTKEY_HEADER_SIZE + HOSTKEY_KEY_SIZE);
        assert_int_equal(machine_id_get(mid), 0);
        assert_int_equal(hostkey_machine_header(mid, header), 0);
        assert_memory_equal(file, header, 16);
        assert_memory_equal(file + HOSTKEY_HEADER_SIZE, s->data, HOSTKEY_KEY_SIZE);

        /* The key is random, not all zeros. */
        {
                uint8_t zero[HOSTKEY_KEY_SIZE] = {};

                assert_memory_not_equal(s->data, zero, HOSTKEY_KEY_SIZE);
        }
        /* Only the key in the directory: no temp files left. */
        count_entries(sub, &total, &temp);
        assert_int_equal(total, 1);
        assert_int_equal(temp, 0);

        /* Loading again returns the same key, not a new one. */
        assert_int_equal(hostkey_load(path, true, &s2), 0);
        assert_int_equal(s2->size, HOSTKEY_KEY_SIZE);
        assert_memory_equal(s2->data, s->data, HOSTKEY_KEY_SIZE);
        secret_free(s);
        secret_free(s2);
}

static void test_path(void **state) {
        const char *p = NULL;
        char *saved = getenv("SYSTEMD_CREDENTIAL_SECRET") ? strdup(getenv("SYSTEMD_CREDENTIAL_SECRET")) : NULL;

        assert_int_equal(unsetenv("SYSTEMD_CREDENTIAL_SECRET"), 0);
        assert_int_equal(hostkey_path(NULL, &p), 0);
        assert_string_equal(p, HOSTKEY_DEFAULT_PATH);
        assert_string_equal(p, "/var/lib/systemd/credential.secret");

        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_SECRET", "/etc/somewhere/key", 1), 0);
        p = NULL;
        assert_int_equal(hostkey_path(NULL, &p), 0);
        assert_string_equal(p, "/etc/somewhere/key");

        /* An explicit override wins, even a relative one. */
        p = NULL;
        assert_int_equal(hostkey_path("my.key", &p), 0);
        assert_string_equal(p, "my.key");

        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_SECRET", "relative/key", 1), 0);
        p = NULL;
        assert_int_equal(hostkey_path(NULL, &p), -EINVAL);
        assert_int_equal(setenv("SYSTEMD_CREDENTIAL_SECRET", "", 1), 0);
        assert_int_equal(hostkey_path(NULL, &p), -EINVAL);

        if (saved) {
                setenv("SYSTEMD_CREDENTIAL_SECRET", saved, 1);
                free(saved);
        } else
                unsetenv("SYSTEMD_CREDENTIAL_SECRET");
}

static bool statfs_is_temporary(const char *dir) {
        struct statfs sfs;

        assert_int_equal(statfs(dir, &sfs), 0);
        return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

static void test_on_temporary_fs(void **state) {
        struct fixture *f = *state;
        char deep[PATH_MAX + 32];

        /* The nearest existing ancestor decides. */
        assert_int_equal(hostkey_on_temporary_fs(f->path), statfs_is_temporary(f->dir));
        snprintf(deep, sizeof(deep), "%s/x/y/z/key", f->dir);
        assert_int_equal(hostkey_on_temporary_fs(deep), statfs_is_temporary(f->dir));
        if (access("/dev/shm", F_OK) == 0)
                assert_int_equal(hostkey_on_temporary_fs("/dev/shm/nonexistent/credential.secret"),
                                 statfs_is_temporary("/dev/shm"));
        if (access("/proc/self", F_OK) == 0)
                assert_false(hostkey_on_temporary_fs("/proc/self/credential.secret"));
        assert_false(hostkey_on_temporary_fs("relative"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_machine_header_vector),
                cmocka_unit_test(test_machine_header_vector_file),
                cmocka_unit_test(test_machine_header_uuid_v4),
                cmocka_unit_test(test_machine_id_get),
                cmocka_unit_test_setup_teardown(test_load_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_odd_sizes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_mode, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_hard_links, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_short, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_foreign_header, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_header_off_by_one_byte, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_refuses_non_regular, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_load_creates, setup, teardown),
                cmocka_unit_test(test_path),
                cmocka_unit_test_setup_teardown(test_on_temporary_fs, setup, teardown),
        };

        if (crypto_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("hostkey", tests, NULL, NULL);
}
