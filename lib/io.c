/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io.h"
#include "log.h"

int read_fd_capped(int fd, size_t max, struct secret **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        struct stat st;
        size_t want = 4096;
        int r;

        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
                want = (size_t) st.st_size < max ? (size_t) st.st_size + 1 : max + 1;
        r = secret_new(want, &s);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t n;

                if (s->size == s->capacity) {
                        if (s->size > max)
                                return -E2BIG;
                        r = secret_reserve(s, s->capacity * 2 < max + 1 ? s->capacity * 2 : max + 1);
                        if (r < 0)
                                return r;
                }
                n = read(fd, s->data + s->size, s->capacity - s->size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                s->size += (size_t) n;
                if (s->size > max)
                        return -E2BIG;
        }
        *ret = TAKE_PTR(s);
        return 0;
}

int read_file_capped(const char *path, size_t max, struct secret **ret) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (strcmp(path, "-") == 0)
                return read_fd_capped(STDIN_FILENO, max, ret);
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
                return -EBADFD;
        if (S_ISREG(st.st_mode) && (uint64_t) st.st_size > max)
                return -E2BIG;
        return read_fd_capped(fd, max, ret);
}

int write_all(int fd, const void *data, size_t size) {
        const uint8_t *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

static int fsync_parent(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int dfd = -1;

        if (!copy)
                return -ENOMEM;
        dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        return fsync(dfd) < 0 ? -errno : 0;
}

/* secure-delete, no-dump, sync, no-COW, as systemd sets on its host key; best effort,
 * and before any data is written, since no-COW only applies to an empty file. */
static void set_secret_attributes(int fd) {
        int attrs;

        if (ioctl(fd, FS_IOC_GETFLAGS, &attrs) < 0)
                return;
        attrs |= FS_SECRM_FL | FS_NODUMP_FL | FS_SYNC_FL | FS_NOCOW_FL;
        (void) ioctl(fd, FS_IOC_SETFLAGS, &attrs);
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, int flags) {
        char tmp[PATH_MAX];
        uint64_t rnd;
        int fd, r;

        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                return -errno;
        {
                /* Hidden, beside the target: "DIR/.#NAME.HEX", so watchers matching NAME's prefix ignore it. */
                const char *slash = strrchr(path, '/');
                int dir_len = slash ? (int) (slash - path + 1) : 0;

                if (snprintf(tmp, sizeof(tmp), "%.*s.#%s.%016llx", dir_len, path, path + dir_len,
                             (unsigned long long) rnd) >= (int) sizeof(tmp))
                        return -ENAMETOOLONG;
        }
        /* Mode 0600 until complete, so nobody can open the file half-written with looser bits. */
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (flags & WRITE_SECRET)
                set_secret_attributes(fd);
        r = write_all(fd, data, size);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && !(flags & WRITE_EPHEMERAL) && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0) {
                if (flags & WRITE_NOREPLACE) {
                        /* One step, so the file never shows two links; link() where unsupported. */
                        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
                                if (errno != EINVAL && errno != ENOSYS)
                                        r = -errno;
                                else if (link(tmp, path) < 0)
                                        r = -errno;
                        }
                        (void) unlink(tmp);
                } else if (rename(tmp, path) < 0)
                        r = -errno;
        }
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return flags & WRITE_SYNC_DIR ? fsync_parent(path) : 0;
}

int write_output(const char *path, const void *data, size_t size, mode_t mode) {
        struct stat st;
        int r;

        if (strcmp(path, "-") == 0)
                r = write_all(STDOUT_FILENO, data, size);
        else if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
                /* rename() would replace a device, FIFO or symlink such as /dev/stdout. */
                return log_fail(-EEXIST, "refusing to replace %s: not a regular file (use - for standard output)", path);
        else
                r = write_file_atomic(path, data, size, mode, 0);
        if (r < 0)
                return log_error_errno(r, "cannot write %s", path);
        return 0;
}

int mkdir_parents(const char *path, mode_t mode) {
        char buf[PATH_MAX];
        size_t n = strlen(path);

        if (n == 0 || n >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, path, n + 1);
        for (char *p = buf + 1; ; p++) {
                if (*p == '/' || *p == '\0') {
                        char c = *p;

                        *p = '\0';
                        if (mkdir(buf, mode) < 0) {
                                struct stat st;

                                if (errno != EEXIST)
                                        return -errno;
                                if (stat(buf, &st) < 0)
                                        return -errno;
                                if (!S_ISDIR(st.st_mode))
                                        return -ENOTDIR;
                        }
                        *p = c;
                        if (c == '\0')
                                break;
                }
        }
        return 0;
}
