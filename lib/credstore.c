/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "credserve.h"
#include "credstore.h"
#include "io.h"
#include "log.h"
#include "timestamp.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

#define CREDSTORE_MOUNT_POINT "/run/latchkey/credentials"

/* systemd's order: encrypted stores first, then plain ones (v257 and later). */
static const char *const encrypted_dirs[] = {
        "/etc/credstore.encrypted", "/run/credstore.encrypted",
        "/usr/local/lib/credstore.encrypted", "/usr/lib/credstore.encrypted",
};
static const char *const plain_dirs[] = {
        "/etc/credstore", "/run/credstore", "/usr/local/lib/credstore", "/usr/lib/credstore",
};

/* An unprivileged caller searches its own stores instead, as systemd 258's user manager:
 * $XDG_CONFIG_HOME/credstore (~/.config/credstore), $XDG_RUNTIME_DIR/credstore,
 * ~/.local/lib/credstore; the .encrypted twins first. */
#define STORE_DIRS_MAX 4
struct dir_list {
        const char *dirs[STORE_DIRS_MAX];
        char buf[STORE_DIRS_MAX][PATH_MAX];
        size_t n;
};

static void dir_list_add(struct dir_list *l, const char *base, const char *sub, bool encrypted) {
        if (!base || base[0] != '/' || l->n >= STORE_DIRS_MAX)
                return;
        if (snprintf(l->buf[l->n], PATH_MAX, "%s%s/credstore%s", base, sub, encrypted ? ".encrypted" : "") >= PATH_MAX)
                return;
        l->dirs[l->n] = l->buf[l->n];
        l->n++;
}

static void store_dirs(bool encrypted, struct dir_list *l) {
        const char *home = getenv("HOME"), *config = getenv("XDG_CONFIG_HOME");

        l->n = 0;
        if (geteuid() == 0) {
                for (size_t i = 0; i < ELEMENTSOF(encrypted_dirs); i++)
                        l->dirs[l->n++] = encrypted ? encrypted_dirs[i] : plain_dirs[i];
                return;
        }
        if (config && config[0] == '/')
                dir_list_add(l, config, "", encrypted);
        else
                dir_list_add(l, home, "/.config", encrypted);
        dir_list_add(l, getenv("XDG_RUNTIME_DIR"), "", encrypted);
        dir_list_add(l, home, "/.local/lib", encrypted);
}

static int mount_private_fs(const char *where) {
        static const unsigned long flags = MS_NODEV | MS_NOEXEC | MS_NOSUID | MS_NOSYMFOLLOW;

        /* Non-swappable first: tmpfs with noswap (Linux ≥ 6.4), then ramfs, then plain tmpfs. */
        if (mount("latchkey-credentials", where, "tmpfs", flags, "mode=0700,nr_inodes=1024,size=64m,noswap") == 0)
                return 0;
        if (mount("latchkey-credentials", where, "ramfs", flags, "mode=0700") == 0)
                return 0;
        if (mount("latchkey-credentials", where, "tmpfs", flags, "mode=0700,nr_inodes=1024,size=64m") == 0)
                return 0;
        return -errno;
}

/* Creates DIR (and parents) and refuses one that is a symlink, not ours, or
 * writable by others: as root we mount and write below it. */
static int make_owned_dir(const char *dir) {
        struct stat st;
        int r;

        r = mkdir_parents(dir, 0755);
        if (r < 0)
                return log_error_errno(r, "cannot create %s", dir);
        if (lstat(dir, &st) < 0)
                return log_error_errno(-errno, "cannot stat %s", dir);
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
                return log_fail(-EPERM, "%s is not a directory owned by us and closed to others, refusing", dir);
        return 0;
}

static int open_private_mount(struct credstore *s) {
        struct stat st;
        int r;

        if (unshare(CLONE_NEWNS) < 0)
                return -errno;
        /* Nothing we mount may propagate back to the host's namespace. */
        /* "none": the kernel ignores source and type here, valgrind does not. */
        if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
                return log_debug_errno(-errno, "cannot make mounts private");
        if (mkdir(CREDSTORE_MOUNT_POINT, 0755) < 0 && errno != EEXIST)
                return log_debug_errno(-errno, "cannot create %s", CREDSTORE_MOUNT_POINT);
        if (lstat(CREDSTORE_MOUNT_POINT, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0)
                return log_debug_errno(-EPERM, "%s is not a directory owned by root", CREDSTORE_MOUNT_POINT);
        r = mount_private_fs(CREDSTORE_MOUNT_POINT);
        if (r < 0)
                return log_debug_errno(r, "cannot mount a file system on %s", CREDSTORE_MOUNT_POINT);
        s->path = strdup(CREDSTORE_MOUNT_POINT);
        if (!s->path)
                return log_oom();
        s->private_mount = true;
        return 0;
}

static int open_plain_dir(struct credstore *s, const char *base) {
        char tmpl[PATH_MAX];

        if (snprintf(tmpl, sizeof(tmpl), "%s/credentials.XXXXXX", base) >= (int) sizeof(tmpl))
                return log_fail(-ENAMETOOLONG, "path too long: %s/credentials.XXXXXX", base);
        if (!mkdtemp(tmpl))
                return log_error_errno(-errno, "cannot create a directory under %s", base);
        s->path = strdup(tmpl);
        return s->path ? 0 : log_oom();
}

int credstore_open(struct credstore *s, uid_t uid, gid_t gid) {
        const char *base = geteuid() == 0 ? "/run/latchkey" : getenv("XDG_RUNTIME_DIR");
        int r;

        s->uid = uid;
        s->gid = gid;
        s->dir_fd = -1;
        if (!base || base[0] != '/')
                return log_fail(-ENXIO, "$XDG_RUNTIME_DIR is not set, no place for a private credentials directory");
        r = make_owned_dir(base);
        if (r < 0)
                return r;
        r = geteuid() == 0 ? open_private_mount(s) : -EPERM;
        if (r < 0) {
                log_debug("no private mount namespace, using a plain directory under %s", base);
                r = open_plain_dir(s, base);
                if (r < 0)
                        return r;
        }
        s->dir_fd = open(s->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (s->dir_fd < 0)
                return log_error_errno(-errno, "cannot open %s", s->path);
        return 0;
}

bool credstore_has(struct credstore *s, const char *id) {
        struct stat st;

        return fstatat(s->dir_fd, id, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static int add_file(struct credstore *s, const char *id, const uint8_t *data, size_t size) {
        _cleanup_close_ int fd = -1;
        int r;

        fd = openat(s->dir_fd, id, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
                return 0;
        if (fd < 0)
                return log_error_errno(-errno, "cannot create credential %s", id);
        r = write_all(fd, data, size);
        if (r < 0)
                return log_error_errno(r, "cannot write credential %s", id);
        if (fchmod(fd, 0400) < 0 || fchown(fd, s->uid, s->gid) < 0)
                return log_error_errno(-errno, "cannot set owner and mode of credential %s", id);
        return 1;
}

/* Reads a credential file; decrypts it when it is encrypted, with expected name = id. */
static int add_from_file(struct credstore *s, const char *id, const char *path, bool must_be_encrypted) {
        _cleanup_secret_ struct secret *text = NULL, *plain = NULL;
        _cleanup_free_ uint8_t *blob = NULL;
        size_t blob_size;
        int r;

        if (credstore_has(s, id))
                return 0;
        r = read_file_capped(path, CRED_TEXT_MAX, &text);
        if (r == -E2BIG)
                return log_fail(r, "credential %s too large: %s", id, path);
        if (r < 0)
                return log_error_errno(r, "cannot read credential %s from %s", id, path);
        if (!must_be_encrypted && !cred_looks_encrypted(text->data, text->size)) {
                if (text->size > CRED_PLAINTEXT_MAX)
                        return log_fail(-E2BIG, "credential %s too large: %s", id, path);
                return add_file(s, id, text->data, text->size);
        }
        log_set_context(path);
        r = cred_blob_from_text(text->data, text->size, &blob, &blob_size);
        log_set_context(NULL);
        if (r < 0)
                return r;
        s->params.expected_name = id;
        log_set_context(path);
        r = credserve_decrypt_auto(&s->params, blob, blob_size, &plain);
        log_set_context(NULL);
        s->params.expected_name = NULL;
        if (r < 0)
                return r;
        return add_file(s, id, plain->data, plain->size);
}

static int search(const char *const *dirs, size_t n, const char *name, char *buf, size_t size) {
        for (size_t i = 0; i < n; i++) {
                if (snprintf(buf, size, "%s/%s", dirs[i], name) >= (int) size)
                        return -ENAMETOOLONG;
                if (access(buf, F_OK) == 0)
                        return 1;
        }
        return 0;
}

int credstore_load(struct credstore *s, const char *id, const char *path) {
        struct dir_list dirs;
        char buf[PATH_MAX];
        int r;

        if (path && path[0] == '/') {
                if (access(path, F_OK) < 0 && errno == ENOENT)
                        return 0; /* the caller decides: fatal unless --set gives a default */
                return add_from_file(s, id, path, false);
        }
        if (!path)
                path = id;
        if (!cred_name_valid(path))
                return log_fail(-EINVAL, "invalid credential name \"%s\"", path);
        store_dirs(true, &dirs);
        r = search(dirs.dirs, dirs.n, path, buf, sizeof(buf));
        if (r > 0)
                return add_from_file(s, id, buf, true);
        store_dirs(false, &dirs);
        r = search(dirs.dirs, dirs.n, path, buf, sizeof(buf));
        if (r > 0)
                return add_from_file(s, id, buf, false);
        if (r < 0)
                return r;
        log_info("credential %s not found in any credstore, skipping", path);
        return 0;
}

static int import_dir(struct credstore *s, const char *dir, const char *glob, bool encrypted) {
        DIR *d = opendir(dir);
        struct dirent *de;
        char path[PATH_MAX];
        int r = 0;

        if (!d)
                return errno == ENOENT ? 0 : log_error_errno(-errno, "cannot read %s", dir);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || !cred_name_valid(de->d_name) || fnmatch(glob, de->d_name, 0) != 0)
                        continue;
                if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                        continue;
                if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int) sizeof(path))
                        continue;
                r = add_from_file(s, de->d_name, path, encrypted);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r < 0 ? r : 0;
}

int credstore_import(struct credstore *s, const char *glob) {
        const char *received = getenv("CREDENTIALS_DIRECTORY");
        struct dir_list dirs;
        int r;

        /* As systemd's ImportCredential=: received and plain credentials first, then encrypted. */
        if (received && received[0] == '/' && strcmp(received, s->path) != 0) {
                r = import_dir(s, received, glob, false);
                if (r < 0)
                        return r;
        }
        store_dirs(false, &dirs);
        for (size_t i = 0; i < dirs.n; i++) {
                r = import_dir(s, dirs.dirs[i], glob, false);
                if (r < 0)
                        return r;
        }
        store_dirs(true, &dirs);
        for (size_t i = 0; i < dirs.n; i++) {
                r = import_dir(s, dirs.dirs[i], glob, true);
                if (r < 0)
                        return r;
        }
        return 0;
}

int credstore_set(struct credstore *s, const char *id, const char *value, size_t size) {
        if (!cred_name_valid(id))
                return log_fail(-EINVAL, "invalid credential name \"%s\"", id);
        return add_file(s, id, (const uint8_t *) value, size);
}

/* Removes the directory and the files we put in it: by directory fd, no
 * recursion, nothing followed. */
static void remove_dir(const char *path) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return;
        (void) fchmod(fd, 0700); /* an owner cannot unlink from a 0500 directory */
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        (void) rmdir(path);
}

/* Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), 0 if gone. */
static unsigned long long process_start_time(pid_t pid) {
        char path[64], buf[1024];
        unsigned long long start = 0;
        const char *p;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        p = strrchr(buf, ')'); /* the command name may contain anything */
        if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &start) != 1)
                start = 0;
        return start;
}

/* Blocks until `pid` has exited: on its pidfd, or where there is none (old
 * kernels, valgrind) by polling its start time, which also catches PID reuse. */
static void wait_for_exit(pid_t pid, int pidfd, unsigned long long start) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        if (pidfd >= 0) {
                while (poll(&p, 1, -1) < 0 && errno == EINTR)
                        ;
                return;
        }
        while (process_start_time(pid) == start)
                (void) poll(NULL, 0, 250);
}

/* A detached grandchild waits for this process (and so the exec'd command) to
 * exit, then removes the directory. */
static int spawn_cleaner(const char *path) {
        pid_t self = getpid(), child;
        int pidfd = (int) syscall(SYS_pidfd_open, self, 0);
        unsigned long long start = 0;

        if (pidfd < 0) {
                start = process_start_time(self);
                if (errno != ENOSYS || start == 0)
                        return log_error_errno(-errno, "cannot watch this process for cleanup");
        }
        child = fork();
        if (child < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                return log_error_errno(-errno, "cannot fork the cleanup process");
        }
        if (child == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                if (fork() != 0)
                        _exit(0);
                (void) setsid();
                if (null >= 0)
                        for (int fd = 0; fd < 3; fd++)
                                dup2(null, fd);
                /* Hold no pipe of the caller's open: only the pidfd, as fd 3. */
                if (pidfd >= 0 && dup2(pidfd, 3) < 0)
                        _exit(1);
                (void) close_range(pidfd >= 0 ? 4 : 3, ~0U, 0);
                wait_for_exit(self, pidfd >= 0 ? 3 : -1, start);
                remove_dir(path);
                _exit(0);
        }
        if (pidfd >= 0)
                close(pidfd);
        (void) waitpid(child, NULL, 0);
        return 0;
}

int credstore_seal(struct credstore *s) {
        /* On a read-only private mount the user may own the directory, as with systemd.
         * A plain directory made by root stays root's (group: the user's), or the user
         * could refill it, or trick the root cleanup into deleting elsewhere. */
        bool root_owned = !s->private_mount && geteuid() == 0;

        if (fchown(s->dir_fd, root_owned ? 0 : s->uid, s->gid) < 0 || fchmod(s->dir_fd, root_owned ? 0550 : 0500) < 0)
                return log_error_errno(-errno, "cannot set owner and mode of %s", s->path);
        close(s->dir_fd);
        s->dir_fd = -1;
        if (s->private_mount) {
                if (mount("none", s->path, "none", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV | MS_NOEXEC | MS_NOSUID | MS_NOSYMFOLLOW, NULL) < 0)
                        return log_error_errno(-errno, "cannot make %s read-only", s->path);
                return 0;
        }
        return spawn_cleaner(s->path);
}

void credstore_abandon(struct credstore *s) {
        if (s->dir_fd >= 0)
                close(s->dir_fd);
        s->dir_fd = -1;
        if (s->path && !s->private_mount)
                remove_dir(s->path);
        free(s->path);
        s->path = NULL;
}
