/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/io.c: capped reads and atomic writes. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "io.h"
#include "secret.h"
#include "tmpdir.h"

static void make_file(const char *path, const void *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        assert_true(fd >= 0);
        assert_int_equal(write_all(fd, data, size), 0);
        assert_int_equal(close(fd), 0);
}

static size_t slurp(const char *path, uint8_t *buf, size_t max) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        size_t got = 0;

        assert_true(fd >= 0);
        for (;;) {
                ssize_t n = read(fd, buf + got, max - got);

                assert_true(n >= 0);
                if (n == 0)
                        break;
                got += (size_t) n;
                assert_true(got < max);
        }
        close(fd);
        return got;
}

/* Names in dir other than . and ..; counts those that look like our temp files. */
static int count_entries(const char *dir, int *ret_temp) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int total = 0, temp = 0;

        assert_non_null(d);
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                total++;
                if (strstr(de->d_name, ".#"))
                        temp++;
        }
        closedir(d);
        if (ret_temp)
                *ret_temp = temp;
        return total;
}

static uint8_t *pattern(size_t size) {
        uint8_t *p = malloc(size ? size : 1);

        assert_non_null(p);
        for (size_t i = 0; i < size; i++)
                p[i] = (uint8_t) (i * 251 + (i >> 11));
        return p;
}

/* --- reads -------------------------------------------------------------- */

static void test_read_file_cap(void **state) {
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "data");
        static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 4097, 10000, 70000 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                size_t size = sizes[i];
                uint8_t *data = pattern(size);
                struct secret *s = NULL;

                make_file(path, data, size);
                /* Exactly at the cap: fine. */
                assert_int_equal(read_file_capped(path, size, &s), 0);
                assert_non_null(s);
                assert_int_equal(s->size, size);
                if (size > 0)
                        assert_memory_equal(s->data, data, size);
                assert_true(s->capacity >= s->size);
                secret_free(s);
                s = NULL;
                /* Generous cap: fine. */
                assert_int_equal(read_file_capped(path, size * 3 + 10, &s), 0);
                assert_int_equal(s->size, size);
                if (size > 0)
                        assert_memory_equal(s->data, data, size);
                secret_free(s);
                s = NULL;
                /* One byte over the cap. */
                if (size > 0) {
                        assert_int_equal(read_file_capped(path, size - 1, &s), -E2BIG);
                        assert_null(s);
                }
                free(data);
        }
        free(path);
}

static void test_read_fd_cap_regular(void **state) {
        /* read_fd_capped on a regular file fd, bypassing read_file_capped's size check. */
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "data");
        uint8_t *data = pattern(5000);
        struct secret *s = NULL;
        int fd;

        make_file(path, data, 5000);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read_fd_capped(fd, 4999, &s), -E2BIG);
        assert_null(s);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(read_fd_capped(fd, 5000, &s), 0);
        assert_int_equal(s->size, 5000);
        assert_memory_equal(s->data, data, 5000);
        secret_free(s);
        s = NULL;
        /* From the current offset. */
        assert_int_equal(lseek(fd, 1000, SEEK_SET), 1000);
        assert_int_equal(read_fd_capped(fd, 5000, &s), 0);
        assert_int_equal(s->size, 4000);
        assert_memory_equal(s->data, data + 1000, 4000);
        secret_free(s);
        close(fd);
        free(data);
        free(path);
}

static void test_read_file_refuses_symlink(void **state) {
        struct tmpdir_fixture *f = *state;
        char *real = tmpdir_path(f, "real"), *link = tmpdir_path(f, "link");
        struct secret *s = NULL;

        make_file(real, "abc", 3);
        assert_int_equal(symlink(real, link), 0);
        assert_int_equal(read_file_capped(link, 100, &s), -ELOOP);
        assert_null(s);
        assert_int_equal(read_file_capped(real, 100, &s), 0);
        assert_int_equal(s->size, 3);
        secret_free(s);
        free(real);
        free(link);
}

static void test_read_file_errors(void **state) {
        struct tmpdir_fixture *f = *state;
        char *missing = tmpdir_path(f, "missing");
        struct secret *s = NULL;

        assert_int_equal(read_file_capped(missing, 100, &s), -ENOENT);
        assert_int_equal(read_file_capped(f->dir, 100, &s), -EISDIR);
        assert_null(s);
        /* A character device is allowed (and /dev/null is empty). */
        if (access("/dev/null", R_OK) == 0) {
                assert_int_equal(read_file_capped("/dev/null", 100, &s), 0);
                assert_int_equal(s->size, 0);
                secret_free(s);
        }
        free(missing);
}

/* Writes `size` pattern bytes into a pipe from a child; returns the read end. */
static int pipe_from_child(size_t size, pid_t *ret_pid) {
        int p[2];
        pid_t pid;

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                uint8_t *data = pattern(size);

                signal(SIGPIPE, SIG_DFL);
                close(p[0]);
                /* Small writes, to exercise short reads on the other side. */
                for (size_t off = 0; off < size;) {
                        size_t chunk = size - off < 1000 ? size - off : 1000;

                        if (write_all(p[1], data + off, chunk) < 0) {
                                free(data);
                                _exit(1);
                        }
                        off += chunk;
                }
                free(data); /* valgrind checks the child's leaks too */
                _exit(0);
        }
        close(p[1]);
        *ret_pid = pid;
        return p[0];
}

static void test_read_pipe_grows(void **state) {
        static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 8191, 8192, 100000, 300001 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                size_t size = sizes[i];
                struct secret *s = NULL;
                pid_t pid;
                int status, fd = pipe_from_child(size, &pid);
                uint8_t *want = pattern(size); /* after the fork: the child owns nothing of ours */

                assert_int_equal(read_fd_capped(fd, 1024 * 1024, &s), 0);
                close(fd);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
                assert_non_null(s);
                if (s->size != size)
                        fail_msg("pipe of %zu bytes: read %zu", size, s->size);
                if (size > 0)
                        assert_memory_equal(s->data, want, size);
                assert_true(s->capacity >= s->size);
                secret_free(s);
                free(want);
        }
}

static void test_read_pipe_cap(void **state) {
        static const size_t caps[] = { 0, 10, 4095, 4096, 5000, 8191, 8192, 70000 };

        for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
                size_t cap = caps[i];
                struct secret *s = NULL;
                pid_t pid;
                int status, fd;

                /* cap + 1 bytes: too many. */
                fd = pipe_from_child(cap + 1, &pid);
                if (read_fd_capped(fd, cap, &s) != -E2BIG)
                        fail_msg("pipe of %zu bytes with cap %zu not refused", cap + 1, cap);
                assert_null(s);
                close(fd);
                assert_int_equal(waitpid(pid, &status, 0), pid);

                /* Exactly cap bytes: fine. */
                fd = pipe_from_child(cap, &pid);
                if (read_fd_capped(fd, cap, &s) != 0)
                        fail_msg("pipe of %zu bytes with cap %zu refused", cap, cap);
                close(fd);
                assert_int_equal(waitpid(pid, &status, 0), pid);
                assert_int_equal(s->size, cap);
                secret_free(s);
        }
}

static void test_read_stdin(void **state) {
        uint8_t *want = pattern(9000);
        struct secret *s = NULL;
        pid_t pid;
        int status, saved = dup(STDIN_FILENO), fd = pipe_from_child(9000, &pid);

        assert_true(saved >= 0);
        assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
        close(fd);
        assert_int_equal(read_file_capped("-", 10000, &s), 0);
        assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
        close(saved);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_int_equal(s->size, 9000);
        assert_memory_equal(s->data, want, 9000);
        secret_free(s);
        free(want);
}

/* --- writes --------------------------------------------------------------- */

static void test_write_atomic_mode_and_content(void **state) {
        struct tmpdir_fixture *f = *state;
        static const mode_t modes[] = { 0600, 0644, 0400, 0640, 0444, 0755 };
        mode_t old_umask = umask(077);

        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                char name[32];
                char *path;
                uint8_t *data = pattern(10000 + i), back[20000];
                struct stat st;
                int temp;

                snprintf(name, sizeof(name), "out%zu", i);
                path = tmpdir_path(f, name);
                assert_int_equal(write_file_atomic(path, data, 10000 + i, modes[i], 0), 0);
                assert_int_equal(lstat(path, &st), 0);
                assert_true(S_ISREG(st.st_mode));
                /* The exact mode, regardless of the umask. */
                assert_int_equal(st.st_mode & 07777, modes[i]);
                assert_int_equal(st.st_size, 10000 + i);
                assert_int_equal(slurp(path, back, sizeof(back)), 10000 + i);
                assert_memory_equal(back, data, 10000 + i);
                assert_int_equal(count_entries(f->dir, &temp), (int) i + 1);
                assert_int_equal(temp, 0);
                free(data);
                free(path);
        }
        umask(old_umask);
}

static void test_write_atomic_empty(void **state) {
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "empty");
        struct stat st;

        assert_int_equal(write_file_atomic(path, "", 0, 0600, 0), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_size, 0);
        free(path);
}

static void test_write_atomic_replaces(void **state) {
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "file");
        uint8_t back[64];
        struct stat st1, st2;
        int fd, temp;

        assert_int_equal(write_file_atomic(path, "old contents", 12, 0644, 0), 0);
        assert_int_equal(stat(path, &st1), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);

        assert_int_equal(write_file_atomic(path, "new", 3, 0600, 0), 0);
        assert_int_equal(stat(path, &st2), 0);
        assert_int_equal(st2.st_mode & 07777, 0600);
        assert_int_equal(slurp(path, back, sizeof(back)), 3);
        assert_memory_equal(back, "new", 3);
        /* Replaced by rename, not rewritten in place: a new inode, and an
         * earlier reader still sees the complete old contents. */
        assert_true(st1.st_ino != st2.st_ino);
        assert_int_equal(read(fd, back, sizeof(back)), 12);
        assert_memory_equal(back, "old contents", 12);
        close(fd);
        assert_int_equal(count_entries(f->dir, &temp), 1);
        assert_int_equal(temp, 0);
        free(path);
}

static void test_write_atomic_replaces_symlink_not_target(void **state) {
        struct tmpdir_fixture *f = *state;
        char *target = tmpdir_path(f, "target"), *link = tmpdir_path(f, "link");
        uint8_t back[64];
        struct stat st;

        make_file(target, "target", 6);
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(write_file_atomic(link, "via link", 8, 0600, 0), 0);
        assert_int_equal(lstat(link, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(slurp(target, back, sizeof(back)), 6);
        assert_memory_equal(back, "target", 6);
        free(target);
        free(link);
}

static void test_write_atomic_noreplace(void **state) {
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "file");
        uint8_t back[64];
        struct stat st;
        int temp;

        assert_int_equal(write_file_atomic(path, "first", 5, 0640, WRITE_NOREPLACE), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(write_file_atomic(path, "second", 6, 0600, WRITE_NOREPLACE), -EEXIST);
        assert_int_equal(slurp(path, back, sizeof(back)), 5);
        assert_memory_equal(back, "first", 5);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(count_entries(f->dir, &temp), 1);
        assert_int_equal(temp, 0);
        /* A dangling symlink in the way is not replaced either. */
        {
                char *link = tmpdir_path(f, "dangling");

                assert_int_equal(symlink("/nonexistent/target", link), 0);
                assert_int_equal(write_file_atomic(link, "x", 1, 0600, WRITE_NOREPLACE), -EEXIST);
                assert_int_equal(access("/nonexistent/target", F_OK), -1);
                assert_int_equal(count_entries(f->dir, &temp), 2);
                assert_int_equal(temp, 0);
                free(link);
        }
        free(path);
}

static void test_write_atomic_missing_dir(void **state) {
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "no/such/dir/file");
        int temp;

        assert_int_equal(write_file_atomic(path, "x", 1, 0600, 0), -ENOENT);
        assert_int_equal(write_file_atomic(path, "x", 1, 0600, WRITE_NOREPLACE), -ENOENT);
        assert_int_equal(count_entries(f->dir, &temp), 0);
        free(path);
}

static void test_write_atomic_fails_late_no_temp(void **state) {
        /* The temp file is written, then the rename fails (a directory is in the way). */
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "busy"), *inner = tmpdir_path(f, "busy/keep");
        int temp;

        assert_int_equal(mkdir(path, 0755), 0);
        make_file(inner, "x", 1);
        assert_true(write_file_atomic(path, "data", 4, 0600, 0) < 0);
        assert_int_equal(count_entries(f->dir, &temp), 1);
        assert_int_equal(temp, 0);
        assert_int_equal(count_entries(path, &temp), 1);
        free(path);
        free(inner);
}

static void test_write_atomic_unwritable_dir(void **state) {
        /* The temp file cannot be created. As root, directory permissions do
         * not apply, so the write happens in a child that drops to nobody. */
        struct tmpdir_fixture *f = *state;
        char *sub = tmpdir_path(f, "ro"), *path = tmpdir_path(f, "ro/file");
        pid_t pid;
        int status, temp;

        assert_int_equal(chmod(f->dir, 0755), 0);
        assert_int_equal(mkdir(sub, 0755), 0);
        assert_int_equal(chmod(sub, 0555), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int r;

                if (geteuid() == 0 && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
                        _exit(100);
                r = write_file_atomic(path, "x", 1, 0600, 0);
                free(sub);
                free(path);
                _exit(r == -EACCES ? 0 : r < 0 ? 101 : 102);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 100)
                fail_msg("cannot drop privileges to uid 65534");
        if (WEXITSTATUS(status) != 0)
                fail_msg("write_file_atomic into a read-only directory: %s",
                         WEXITSTATUS(status) == 101 ? "failed, but not with -EACCES" : "succeeded");
        assert_int_equal(count_entries(sub, &temp), 0);
        free(sub);
        free(path);
}

static void test_write_output_stdout(void **state) {
        struct tmpdir_fixture *f = *state;
        char *path = tmpdir_path(f, "stdout"), *file = tmpdir_path(f, "file");
        uint8_t back[64];
        int fd, saved;
        struct stat st;

        fflush(stdout);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        saved = dup(STDOUT_FILENO);
        assert_true(saved >= 0);
        assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
        close(fd);
        assert_int_equal(write_output("-", "to stdout", 9, 0600), 0);
        assert_int_equal(dup2(saved, STDOUT_FILENO), STDOUT_FILENO);
        close(saved);
        assert_int_equal(slurp(path, back, sizeof(back)), 9);
        assert_memory_equal(back, "to stdout", 9);

        assert_int_equal(write_output(file, "to file", 7, 0640), 0);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0640);
        assert_int_equal(slurp(file, back, sizeof(back)), 7);
        assert_memory_equal(back, "to file", 7);
        free(path);
        free(file);
}

/* --- mkdir_parents ------------------------------------------------------ */

static void test_mkdir_parents(void **state) {
        struct tmpdir_fixture *f = *state;
        char *deep = tmpdir_path(f, "a/b/c/d"), *mid = tmpdir_path(f, "a/b"), *trail = tmpdir_path(f, "x/y/");
        mode_t old_umask = umask(022);
        struct stat st;

        assert_int_equal(mkdir_parents(deep, 0750), 0);
        assert_int_equal(stat(deep, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0750);
        assert_int_equal(stat(mid, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0750);
        /* Again: nothing to do, no error. */
        assert_int_equal(mkdir_parents(deep, 0750), 0);
        assert_int_equal(mkdir_parents(f->dir, 0700), 0);
        assert_int_equal(mkdir_parents("/", 0755), 0);
        /* A trailing slash. */
        assert_int_equal(mkdir_parents(trail, 0755), 0);
        assert_int_equal(stat(trail, &st), 0);
        assert_true(S_ISDIR(st.st_mode));
        /* Bad arguments. */
        assert_int_equal(mkdir_parents("", 0755), -EINVAL);
        umask(old_umask);
        free(deep);
        free(mid);
        free(trail);
}

static void test_mkdir_parents_file_in_the_way(void **state) {
        struct tmpdir_fixture *f = *state;
        char *file = tmpdir_path(f, "file"), *below = tmpdir_path(f, "file/sub");
        struct stat st;

        make_file(file, "x", 1);
        /* A file where a parent should be. */
        assert_int_equal(mkdir_parents(below, 0755), -ENOTDIR);
        /* A file where the directory itself should be: not a directory afterwards, so an error. */
        assert_true(mkdir_parents(file, 0755) < 0);
        assert_int_equal(stat(file, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        free(file);
        free(below);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_read_file_cap, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_read_fd_cap_regular, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_read_file_refuses_symlink, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_read_file_errors, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test(test_read_pipe_grows),
                cmocka_unit_test(test_read_pipe_cap),
                cmocka_unit_test(test_read_stdin),
                cmocka_unit_test_setup_teardown(test_write_atomic_mode_and_content, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_empty, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_replaces, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_replaces_symlink_not_target, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_noreplace, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_missing_dir, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_fails_late_no_temp, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_atomic_unwritable_dir, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_write_output_stdout, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_parents, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_parents_file_in_the_way, tmpdir_setup, tmpdir_teardown),
        };

        /* The pipe writers exit on EPIPE rather than killing anyone. */
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
