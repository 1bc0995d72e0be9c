/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/fscrypt.c on a real file system: as root, the test makes
 * a 32 MiB ext4 image with -O encrypt, loop-mounts it in a private mount
 * namespace (gone with the process, the loop device auto-clears), and checks
 * keys, policies, locking by key removal, busy removal and the slot xattrs.
 * Without root (or without loop devices) every test is skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <limits.h>
#include <linux/fscrypt.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "fscrypt.h"
#include "keyslot.h"
#include "secret.h"
#include "tmpdir.h"

#define CONTENT "hello, encrypted world\n"

static struct {
        char dir[PATH_MAX / 2];
        char img[PATH_MAX];
        char mnt[PATH_MAX];     /* ext4 -O encrypt */
        char tmpfs[PATH_MAX];   /* no fscrypt there */
        bool mounted, tmpfs_mounted;
        int root_fd;            /* the ext4 mount root: outside every encrypted dir */
        char why[256];
} g = { .root_fd = -1 };

static int run(const char *const argv[]) {
        pid_t pid = fork();
        int status;

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

                if (null >= 0)
                        (void) dup2(null, STDOUT_FILENO);
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        if (waitpid(pid, &status, 0) < 0)
                return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int group_setup(void **state) {
        const char *path = getenv("PATH");
        char newpath[PATH_MAX];
        int fd, r;

        if (geteuid() != 0) {
                snprintf(g.why, sizeof(g.why), "needs root (mkfs, loop mount, trusted.* xattrs)");
                return 0;
        }
        /* Our mounts die with this process and never show up in the host's table. */
        if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
                snprintf(g.why, sizeof(g.why), "cannot make a private mount namespace: %s", strerror(errno));
                return 0;
        }
        /* mkfs.ext4 and mount live in sbin, which a test runner's PATH may lack. */
        snprintf(newpath, sizeof(newpath), "%s:/usr/sbin:/sbin", path ? path : "/usr/bin:/bin");
        setenv("PATH", newpath, 1);

        if (tmpdir_make(g.dir, sizeof(g.dir), "test-fscrypt") < 0)
                return -1;
        snprintf(g.img, sizeof(g.img), "%s/ext4.img", g.dir);
        snprintf(g.mnt, sizeof(g.mnt), "%s/mnt", g.dir);
        snprintf(g.tmpfs, sizeof(g.tmpfs), "%s/tmpfs", g.dir);
        if (mkdir(g.mnt, 0700) < 0 || mkdir(g.tmpfs, 0700) < 0)
                return -1;

        fd = open(g.img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 || ftruncate(fd, 32 << 20) < 0)
                return -1;
        close(fd);
        r = run((const char *const[]) { "mkfs.ext4", "-q", "-b", "4096", "-O", "encrypt", "-F", g.img, NULL });
        if (r != 0) {
                snprintf(g.why, sizeof(g.why), "mkfs.ext4 -O encrypt failed (%d)", r);
                return 0;
        }
        r = run((const char *const[]) { "mount", "-o", "loop", g.img, g.mnt, NULL });
        if (r != 0) {
                snprintf(g.why, sizeof(g.why), "mount -o loop failed (%d): no loop devices?", r);
                return 0;
        }
        g.mounted = true;
        g.root_fd = open(g.mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (g.root_fd < 0)
                return -1;
        if (mount("tmpfs", g.tmpfs, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") == 0)
                g.tmpfs_mounted = true;
        return 0;
}

static int group_teardown(void **state) {
        if (g.root_fd >= 0)
                close(g.root_fd);
        /* The loop device was set up with autoclear by mount(8): unmounting frees it. */
        if (g.mounted && umount2(g.mnt, 0) < 0)
                (void) umount2(g.mnt, MNT_DETACH);
        if (g.tmpfs_mounted)
                (void) umount2(g.tmpfs, MNT_DETACH);
        if (g.dir[0])
                tmpdir_remove(g.dir);
        return 0;
}

static void need_fs(void) {
        if (!g.mounted) {
                print_message("# skip: %s\n", g.why);
                skip();
        }
}

static struct secret *random_key(void) {
        struct secret *s = NULL;

        assert_int_equal(secret_new(FSCRYPT_MASTER_KEY_SIZE, &s), 0);
        gcry_randomize(s->data, FSCRYPT_MASTER_KEY_SIZE, GCRY_STRONG_RANDOM);
        s->size = FSCRYPT_MASTER_KEY_SIZE;
        return s;
}

static int open_dir(const char *name, bool create) {
        char p[PATH_MAX + 300];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", g.mnt, name);
        if (create)
                assert_int_equal(mkdir(p, 0700), 0);
        fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        assert_true(fd >= 0);
        return fd;
}

/* A new encrypted directory under the mount root, with its key added. */
static int make_encrypted(const char *name, struct secret **ret_key, struct fscrypt_identifier *ret_id) {
        struct fscrypt_identifier id, got;
        struct secret *key = random_key();
        int fd = open_dir(name, true);

        assert_int_equal(fscrypt_add_key(g.root_fd, key, &id), 0);
        assert_int_equal(fscrypt_set_policy(fd, &id), 0);
        assert_int_equal(fscrypt_get_policy(fd, &got), 0);
        assert_memory_equal(got.bytes, id.bytes, sizeof(id.bytes));
        *ret_key = key;
        *ret_id = id;
        return fd;
}

static void write_file_at(int dir_fd, const char *name, const char *content) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        assert_int_equal(close(fd), 0);
}

/* The single entry of a directory (besides . and ..), as readdir shows it now. */
static void only_entry(const char *dir, char *buf, size_t size) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        assert_non_null(d);
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                        snprintf(buf, size, "%s", de->d_name);
                        n++;
                }
        closedir(d);
        assert_int_equal(n, 1);
}

static void assert_reads(const char *path, const char *content) {
        char buf[128];
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n;

        assert_true(fd >= 0);
        n = read(fd, buf, sizeof(buf));
        close(fd);
        assert_int_equal(n, (ssize_t) strlen(content));
        assert_memory_equal(buf, content, strlen(content));
}

static void test_policy(void **state) {
        struct fscrypt_identifier id, again, got;
        struct secret *key;
        int fd;

        need_fs();
        fd = make_encrypted("policy", &key, &id);
        assert_int_equal(fscrypt_key_present(g.root_fd, &id), 1);
        /* The identifier is a function of the key: adding it again gives the same one. */
        assert_int_equal(fscrypt_add_key(g.root_fd, key, &again), 0);
        assert_memory_equal(again.bytes, id.bytes, sizeof(id.bytes));
        /* Same policy again is fine; a different key on a dir that has one is not. */
        assert_int_equal(fscrypt_set_policy(fd, &id), 0);
        {
                struct secret *other = random_key();
                struct fscrypt_identifier oid;

                assert_int_equal(fscrypt_add_key(g.root_fd, other, &oid), 0);
                assert_memory_not_equal(oid.bytes, id.bytes, sizeof(id.bytes));
                assert_int_equal(fscrypt_set_policy(fd, &oid), -EEXIST);
                assert_int_equal(fscrypt_remove_key(g.root_fd, &oid), 0);
                assert_int_equal(fscrypt_key_present(g.root_fd, &oid), 0);
                secret_free(other);
        }
        /* A subdirectory inherits the policy. */
        assert_int_equal(mkdirat(fd, "sub", 0700), 0);
        {
                int sub = openat(fd, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

                assert_true(sub >= 0);
                assert_int_equal(fscrypt_get_policy(sub, &got), 0);
                assert_memory_equal(got.bytes, id.bytes, sizeof(id.bytes));
                close(sub);
        }
        close(fd);
        secret_free(key);
}

static void test_set_policy_errors(void **state) {
        struct fscrypt_identifier id;
        struct secret *key = NULL;
        int fd;

        need_fs();
        /* Not empty. */
        fd = open_dir("notempty", true);
        write_file_at(fd, "f", "x");
        key = random_key();
        assert_int_equal(fscrypt_add_key(g.root_fd, key, &id), 0);
        assert_int_equal(fscrypt_set_policy(fd, &id), -ENOTEMPTY);
        close(fd);
        /* (Without the key the kernel says ENOKEY, except to CAP_FOWNER: not testable as root.) */
        assert_int_equal(fscrypt_remove_key(g.root_fd, &id), 0);
        secret_free(key);
        /* Key sizes other than 64 are refused before the kernel. */
        assert_int_equal(secret_new(32, &key), 0);
        key->size = 32;
        assert_int_equal(fscrypt_add_key(g.root_fd, key, &id), -EINVAL);
        secret_free(key);
}

static void test_get_policy_unencrypted(void **state) {
        struct fscrypt_identifier id;
        int fd;

        need_fs();
        fd = open_dir("plain", true);
        assert_int_equal(fscrypt_get_policy(fd, &id), -ENODATA);
        assert_int_equal(fscrypt_get_policy(g.root_fd, &id), -ENODATA);
        close(fd);
}

static void test_get_policy_v1(void **state) {
        struct fscrypt_policy_v1 v1 = {
                .version = FSCRYPT_POLICY_V1,
                .contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS,
                .filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS,
                .flags = FSCRYPT_POLICY_FLAGS_PAD_32,
                .master_key_descriptor = { 1, 2, 3, 4, 5, 6, 7, 8 },
        };
        struct fscrypt_identifier id;
        int fd;

        need_fs();
        fd = open_dir("v1", true);
        /* v1 policies need no key to be set: what homed 252 makes. */
        assert_int_equal(ioctl(fd, FS_IOC_SET_ENCRYPTION_POLICY, &v1), 0);
        assert_int_equal(fscrypt_get_policy(fd, &id), -EPROTONOSUPPORT);
        close(fd);
}

static void test_get_policy_tmpfs(void **state) {
        struct fscrypt_identifier id;
        int fd;

        need_fs();
        if (!g.tmpfs_mounted) {
                print_message("# skip: cannot mount tmpfs\n");
                skip();
        }
        fd = open(g.tmpfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        assert_true(fd >= 0);
        assert_int_equal(fscrypt_get_policy(fd, &id), -ENOLINK);
        memset(id.bytes, 0x5a, sizeof(id.bytes));
        assert_int_equal(fscrypt_set_policy(fd, &id), -ENOLINK);
        assert_int_equal(fscrypt_key_present(fd, &id), -ENOLINK);
        close(fd);
}

/* Removal through the mount root locks the tree; adding the key back unlocks it. */
static void test_lock_unlock(void **state) {
        struct fscrypt_identifier id;
        struct secret *key;
        char dir[PATH_MAX + 16], path[PATH_MAX + 300], name[256];
        int fd;

        need_fs();
        fd = make_encrypted("lock", &key, &id);
        write_file_at(fd, "hello.txt", CONTENT);
        close(fd);
        snprintf(dir, sizeof(dir), "%s/lock", g.mnt);
        snprintf(path, sizeof(path), "%s/hello.txt", dir);
        only_entry(dir, name, sizeof(name));
        assert_string_equal(name, "hello.txt");
        assert_reads(path, CONTENT);

        assert_int_equal(fscrypt_remove_key(g.root_fd, &id), 0);
        assert_int_equal(fscrypt_key_present(g.root_fd, &id), 0);
        /* Names are ciphertext now, and contents unreadable. */
        only_entry(dir, name, sizeof(name));
        assert_string_not_equal(name, "hello.txt");
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(errno, ENOENT);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), -1);
        assert_int_equal(errno, ENOKEY);
        /* The policy stays readable without the key. */
        {
                struct fscrypt_identifier got;
                int dfd = open_dir("lock", false);

                assert_int_equal(fscrypt_get_policy(dfd, &got), 0);
                assert_memory_equal(got.bytes, id.bytes, sizeof(id.bytes));
                close(dfd);
        }
        /* Removing what is gone: the kernel's ENOKEY. */
        assert_int_equal(fscrypt_remove_key(g.root_fd, &id), -ENOKEY);

        {
                struct fscrypt_identifier again;

                assert_int_equal(fscrypt_add_key(g.root_fd, key, &again), 0);
                assert_memory_equal(again.bytes, id.bytes, sizeof(id.bytes));
        }
        assert_int_equal(fscrypt_key_present(g.root_fd, &id), 1);
        only_entry(dir, name, sizeof(name));
        assert_string_equal(name, "hello.txt");
        snprintf(path, sizeof(path), "%s/hello.txt", dir);
        assert_reads(path, CONTENT);
        secret_free(key);
}

/* An open file inside keeps the key alive: removal says "busy" (1) and completes
 * on a second removal once the file is closed. */
static void test_remove_busy(void **state) {
        struct fscrypt_identifier id;
        struct secret *key;
        char dir[PATH_MAX + 16], name[256];
        int fd, file;

        need_fs();
        fd = make_encrypted("busy", &key, &id);
        write_file_at(fd, "open.txt", CONTENT);
        file = openat(fd, "open.txt", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        assert_true(file >= 0);
        close(fd);

        assert_int_equal(fscrypt_remove_key(g.root_fd, &id), 1);
        assert_int_equal(fscrypt_key_present(g.root_fd, &id), 0); /* incompletely removed */
        close(file);
        assert_int_equal(fscrypt_remove_key(g.root_fd, &id), 0);
        snprintf(dir, sizeof(dir), "%s/busy", g.mnt);
        only_entry(dir, name, sizeof(name));
        assert_string_not_equal(name, "open.txt");
        secret_free(key);
}

static void test_slots(void **state) {
        struct fscrypt_identifier id;
        struct secret *key;
        uint32_t mask = 0xdeadbeef;
        char *text = NULL, big[KEYSLOT_TEXT_MAX + 2];
        int fd;

        need_fs();
        fd = make_encrypted("slots", &key, &id);
        assert_int_equal(fscrypt_slot_list(fd, &mask), 0);
        assert_int_equal(mask, 0);
        assert_int_equal(fscrypt_slot_read(fd, 0, &text), -ENOENT);
        assert_int_equal(fscrypt_slot_remove(fd, 0), -ENOENT);

        assert_int_equal(fscrypt_slot_write(fd, 0, "zero"), 0);
        assert_int_equal(fscrypt_slot_write(fd, 3, "three"), 0);
        assert_int_equal(fscrypt_slot_write(fd, FSCRYPT_SLOTS_MAX - 1, "last"), 0);
        assert_int_equal(fscrypt_slot_write(fd, FSCRYPT_SLOTS_MAX, "x"), -EINVAL);
        assert_int_equal(fscrypt_slot_write(fd, 1, ""), -EINVAL);
        memset(big, 'A', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(fscrypt_slot_write(fd, 1, big), -E2BIG);
        big[KEYSLOT_TEXT_MAX] = '\0';
        assert_int_equal(fscrypt_slot_write(fd, 1, big), 0); /* exactly the cap */
        assert_int_equal(fscrypt_slot_read(fd, 1, &text), 0);
        assert_int_equal(strlen(text), KEYSLOT_TEXT_MAX);
        free(text);
        text = NULL;
        assert_int_equal(fscrypt_slot_remove(fd, 1), 0);

        /* Names that are not canonical slots are ignored, as are other namespaces. */
        assert_int_equal(fsetxattr(fd, "trusted.latchkey.slot05", "x", 1, 0), 0);
        assert_int_equal(fsetxattr(fd, "trusted.latchkey.slot32", "x", 1, 0), 0);
        assert_int_equal(fsetxattr(fd, "trusted.latchkey.slotx", "x", 1, 0), 0);
        assert_int_equal(fsetxattr(fd, "trusted.latchkey.slot", "x", 1, 0), 0);
        assert_int_equal(fsetxattr(fd, "user.latchkey.slot2", "x", 1, 0), 0);
        assert_int_equal(fscrypt_slot_list(fd, &mask), 0);
        assert_int_equal(mask, (UINT32_C(1) << 0) | (UINT32_C(1) << 3) | (UINT32_C(1) << (FSCRYPT_SLOTS_MAX - 1)));

        assert_int_equal(fscrypt_slot_read(fd, 3, &text), 0);
        assert_string_equal(text, "three");
        free(text);
        text = NULL;
        /* Overwriting a slot is one setxattr too. */
        assert_int_equal(fscrypt_slot_write(fd, 3, "THREE"), 0);
        assert_int_equal(fscrypt_slot_read(fd, 3, &text), 0);
        assert_string_equal(text, "THREE");
        free(text);
        text = NULL;

        /* Oversized or NUL-carrying values written behind our back. */
        memset(big, 'B', sizeof(big));
        assert_int_equal(fsetxattr(fd, "trusted.latchkey.slot4", big, KEYSLOT_TEXT_MAX + 1, 0), 0);
        assert_int_equal(fscrypt_slot_read(fd, 4, &text), -E2BIG);
        assert_int_equal(fsetxattr(fd, "trusted.latchkey.slot5", "a\0b", 3, 0), 0);
        assert_int_equal(fscrypt_slot_read(fd, 5, &text), -EBADMSG);
        assert_null(text);
        assert_int_equal(fscrypt_slot_remove(fd, 4), 0);
        assert_int_equal(fscrypt_slot_remove(fd, 5), 0);

        /* Slots stay readable and writable while the tree is locked. */
        close(fd); /* an open fd inside would keep the key busy */
        assert_int_equal(fscrypt_remove_key(g.root_fd, &id), 0);
        fd = open_dir("slots", false);
        assert_int_equal(fscrypt_slot_read(fd, 0, &text), 0);
        assert_string_equal(text, "zero");
        free(text);
        text = NULL;
        assert_int_equal(fscrypt_slot_write(fd, 2, "two"), 0);
        assert_int_equal(fscrypt_slot_remove(fd, 0), 0);
        assert_int_equal(fscrypt_slot_remove(fd, 0), -ENOENT);
        assert_int_equal(fscrypt_slot_list(fd, &mask), 0);
        assert_int_equal(mask, (UINT32_C(1) << 2) | (UINT32_C(1) << 3) | (UINT32_C(1) << (FSCRYPT_SLOTS_MAX - 1)));
        assert_int_equal(fscrypt_slot_read(fd, FSCRYPT_SLOTS_MAX, &text), -EINVAL);
        assert_int_equal(fscrypt_slot_remove(fd, FSCRYPT_SLOTS_MAX), -EINVAL);
        close(fd);
        secret_free(key);
}

/* What activation does: a slot unwraps to the master key whose identifier is the policy's. */
static void test_slot_unlocks(void **state) {
        const struct keyslot_kdf cheap = { .iterations = 1, .memory_kib = 64, .lanes = 1 };
        struct fscrypt_identifier id, policy_id, got;
        struct secret *key, *opened = NULL;
        char *text = NULL, *stored = NULL;
        int fd;

        need_fs();
        fd = make_encrypted("activate", &key, &id);
        assert_int_equal(keyslot_wrap(&cheap, "pw1", 3, key, &text), 0);
        assert_int_equal(fscrypt_slot_write(fd, 0, text), 0);
        close(fd);
        assert_int_equal(fscrypt_remove_key(g.root_fd, &id), 0);
        fd = open_dir("activate", false);

        assert_int_equal(fscrypt_get_policy(fd, &policy_id), 0);
        assert_int_equal(fscrypt_slot_read(fd, 0, &stored), 0);
        assert_string_equal(stored, text);
        assert_int_equal(keyslot_unwrap(stored, strlen(stored), "pw2", 3, &opened), -ENOKEY);
        assert_int_equal(keyslot_unwrap(stored, strlen(stored), "pw1", 3, &opened), 0);
        assert_int_equal(fscrypt_add_key(g.root_fd, opened, &got), 0);
        assert_memory_equal(got.bytes, policy_id.bytes, sizeof(got.bytes));
        assert_int_equal(fscrypt_key_present(g.root_fd, &policy_id), 1);
        write_file_at(fd, "works", "yes");
        close(fd);
        assert_int_equal(fscrypt_remove_key(g.root_fd, &policy_id), 0);
        free(text);
        free(stored);
        secret_free(opened);
        secret_free(key);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy),
                cmocka_unit_test(test_set_policy_errors),
                cmocka_unit_test(test_get_policy_unencrypted),
                cmocka_unit_test(test_get_policy_v1),
                cmocka_unit_test(test_get_policy_tmpfs),
                cmocka_unit_test(test_lock_unlock),
                cmocka_unit_test(test_remove_busy),
                cmocka_unit_test(test_slots),
                cmocka_unit_test(test_slot_unlocks),
        };

        if (crypto_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("fscrypt", tests, group_setup, group_teardown);
}
