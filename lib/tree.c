/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recursive walks over directory fds; each operation is a callback per entry. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "macro.h"
#include "tree.h"

#define TREE_DEPTH_MAX 64

/* Calls f for every entry of dir_fd but "." and "..", with its lstat. */
static int walk_dir(int dir_fd, int (*f)(int dir_fd, const char *name, const struct stat *st, void *userdata),
                    void *userdata) {
        int fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3), r = 0;
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                close(fd);
                return r;
        }
        rewinddir(d); /* the dup shares the offset: start from the top */
        while (r >= 0 && (errno = 0, de = readdir(d))) {
                struct stat st;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        r = -errno;
                else
                        r = f(dirfd(d), de->d_name, &st, userdata);
        }
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        return r;
}

static int open_subdir(int dir_fd, const char *name) {
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

struct copy_state { int to_fd; unsigned depth; };

static int copy_entry(int dir_fd, const char *name, const struct stat *st, void *userdata) {
        const struct copy_state *c = userdata;

        if (S_ISREG(st->st_mode)) {
                _cleanup_close_ int in = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int out = -1;
                char buf[16384];
                ssize_t n;
                int r;

                if (in < 0)
                        return -errno;
                out = openat(c->to_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st->st_mode & 07777);
                if (out < 0)
                        return errno == EEXIST ? 0 : -errno;
                while ((n = read(in, buf, sizeof buf)) > 0)
                        if ((r = write_all(out, buf, (size_t) n)) < 0)
                                return r;
                return n < 0 ? -errno : 0;
        }
        if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int from = -1, to = -1;
                struct copy_state sub = { .depth = c->depth + 1 };

                if (sub.depth > TREE_DEPTH_MAX)
                        return -ELOOP;
                if (mkdirat(c->to_fd, name, st->st_mode & 07777) < 0 && errno != EEXIST)
                        return -errno;
                if ((from = open_subdir(dir_fd, name)) < 0)
                        return from;
                if ((to = open_subdir(c->to_fd, name)) < 0)
                        return to;
                sub.to_fd = to;
                return walk_dir(from, copy_entry, &sub);
        }
        if (S_ISLNK(st->st_mode)) {
                char target[4096];
                ssize_t n = readlinkat(dir_fd, name, target, sizeof target - 1);
                if (n < 0)
                        return -errno;
                target[n] = '\0';
                if (symlinkat(target, c->to_fd, name) < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0; /* devices, fifos, sockets: not copied */
}

int tree_copy(int from_fd, int to_fd) {
        struct copy_state c = { .to_fd = to_fd };
        return walk_dir(from_fd, copy_entry, &c);
}

struct chown_state { dev_t dev; uid_t uid; gid_t gid; unsigned depth; };

static int chown_entry(int dir_fd, const char *name, const struct stat *st, void *userdata) {
        const struct chown_state *c = userdata;

        if (st->st_dev != c->dev)
                return 0;
        if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int fd = -1;
                struct chown_state sub = *c;

                if (++sub.depth > TREE_DEPTH_MAX)
                        return -ELOOP;
                if ((fd = open_subdir(dir_fd, name)) < 0)
                        return fd;
                if (fchown(fd, c->uid, c->gid) < 0)
                        return -errno;
                return walk_dir(fd, chown_entry, &sub);
        }
        if ((st->st_uid != c->uid || st->st_gid != c->gid) &&
            fchownat(dir_fd, name, c->uid, c->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 0;
}

int tree_chown(int dir_fd, uid_t uid, gid_t gid) {
        struct stat st;
        struct chown_state c = { .uid = uid, .gid = gid };

        if (fstat(dir_fd, &st) < 0)
                return -errno;
        if (fchown(dir_fd, uid, gid) < 0)
                return -errno;
        c.dev = st.st_dev;
        return walk_dir(dir_fd, chown_entry, &c);
}

struct remove_state { dev_t dev; unsigned depth; };

static int remove_entry(int dir_fd, const char *name, const struct stat *st, void *userdata) {
        const struct remove_state *c = userdata;

        if (S_ISDIR(st->st_mode)) {
                _cleanup_close_ int fd = -1;
                struct remove_state sub = { .dev = c->dev, .depth = c->depth + 1 };
                int r;

                if (st->st_dev != c->dev)
                        return -EBUSY; /* a mount inside: never delete across it */
                if (sub.depth > TREE_DEPTH_MAX)
                        return -ELOOP;
                if ((fd = open_subdir(dir_fd, name)) < 0)
                        return fd;
                r = walk_dir(fd, remove_entry, &sub);
                if (r < 0)
                        return r;
                return unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
        }
        return unlinkat(dir_fd, name, 0) < 0 ? -errno : 0;
}

int tree_remove_contents(int dir_fd) {
        struct stat st;
        struct remove_state c = {};

        if (fstat(dir_fd, &st) < 0)
                return -errno;
        c.dev = st.st_dev;
        return walk_dir(dir_fd, remove_entry, &c);
}
