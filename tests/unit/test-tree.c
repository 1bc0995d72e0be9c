/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* lib/tree: copy, chown and remove of directory trees through fds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "tmpdir.h"
#include "tree.h"

static char dir[256]; /* short, so every path below fits PATH_MAX */

static int setup(void **state) {
        return tmpdir_make(dir, sizeof dir, "test-tree");
}

static int teardown(void **state) {
        tmpdir_remove(dir);
        return 0;
}

static void put(const char *rel, const char *text, mode_t mode) {
        char p[PATH_MAX];
        int fd;

        snprintf(p, sizeof p, "%s/%s", dir, rel);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
        assert_int_equal(fchmod(fd, mode), 0);
        close(fd);
}

static int open_dir(const char *rel) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", dir, rel);
        return open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* src/{a (0640), sub/b, sub/deeper/c, link → a} */
static void make_source(void) {
        char p[PATH_MAX];

        snprintf(p, sizeof p, "%s/src", dir);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof p, "%s/src/sub", dir);
        assert_int_equal(mkdir(p, 0750), 0);
        snprintf(p, sizeof p, "%s/src/sub/deeper", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        put("src/a", "alpha", 0640);
        put("src/sub/b", "bravo", 0600);
        put("src/sub/deeper/c", "charlie", 0644);
        snprintf(p, sizeof p, "%s/src/link", dir);
        assert_int_equal(symlink("a", p), 0);
}

static void expect_file(const char *rel, const char *text, mode_t mode) {
        char p[PATH_MAX], buf[64] = {};
        struct stat st;
        int fd;

        snprintf(p, sizeof p, "%s/%s", dir, rel);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, mode);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(read(fd, buf, sizeof buf - 1) >= 0);
        close(fd);
        assert_string_equal(buf, text);
}

static void test_copy_keeps_modes_links_and_existing(void **state) {
        char p[PATH_MAX], target[16] = {};
        int from, to;

        make_source();
        snprintf(p, sizeof p, "%s/dst", dir);
        assert_int_equal(mkdir(p, 0700), 0);
        put("dst/a", "mine", 0600); /* an existing file is kept */
        from = open_dir("src");
        to = open_dir("dst");
        assert_int_equal(tree_copy(from, to), 0);
        close(from);
        close(to);
        expect_file("dst/a", "mine", 0600);
        expect_file("dst/sub/b", "bravo", 0600);
        expect_file("dst/sub/deeper/c", "charlie", 0644);
        snprintf(p, sizeof p, "%s/dst/link", dir);
        assert_int_equal(readlink(p, target, sizeof target - 1), 1);
        assert_string_equal(target, "a");
}

static void test_chown_whole_tree(void **state) {
        struct stat st;
        char p[PATH_MAX];
        int fd;

        if (geteuid() != 0) {
                print_message("# skip: chown to another user needs root\n");
                skip();
        }
        make_source();
        fd = open_dir("src");
        assert_int_equal(tree_chown(fd, 4242, 4343), 0);
        close(fd);
        for (const char *const *rel = (const char *const[]) { "src", "src/a", "src/sub/deeper/c", "src/link", NULL }; *rel; rel++) {
                snprintf(p, sizeof p, "%s/%s", dir, *rel);
                assert_int_equal(lstat(p, &st), 0);
                assert_int_equal(st.st_uid, 4242);
                assert_int_equal(st.st_gid, 4343);
        }
}

static void test_remove_contents(void **state) {
        char p[PATH_MAX];
        struct stat st;
        int fd;

        make_source();
        fd = open_dir("src");
        assert_int_equal(tree_remove_contents(fd), 0);
        close(fd);
        snprintf(p, sizeof p, "%s/src", dir);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(rmdir(p), 0); /* empty now */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_copy_keeps_modes_links_and_existing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_chown_whole_tree, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_contents, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
