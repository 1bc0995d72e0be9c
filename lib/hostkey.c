/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <libgen.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "hostkey.h"
#include "io.h"
#include "log.h"

static const uint8_t credential_app_id[16] = {
        0xd3, 0xac, 0xec, 0xba, 0x0d, 0xad, 0x4c, 0xdf, 0xb8, 0xc9, 0x38, 0x15, 0x28, 0x93, 0x6c, 0x58,
};

int hostkey_path(const char *override, const char **ret) {
        const char *e;

        if (override) {
                *ret = override;
                return 0;
        }
        e = getenv("SYSTEMD_CREDENTIAL_SECRET");
        if (e) {
                if (e[0] != '/')
                        return log_fail(-EINVAL, "$SYSTEMD_CREDENTIAL_SECRET is not an absolute path: %s", e);
                *ret = e;
                return 0;
        }
        *ret = HOSTKEY_DEFAULT_PATH;
        return 0;
}

static int unhex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int machine_id_get(uint8_t ret[16]) {
        _cleanup_close_ int fd = -1;
        char buf[34];
        ssize_t n;

        fd = open("/etc/machine-id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return log_error_errno(-errno, "cannot read /etc/machine-id");
        n = read(fd, buf, sizeof(buf));
        if (n < 32 || n > 33 || (n == 33 && buf[32] != '\n'))
                return log_fail(-EBADMSG, "/etc/machine-id is not a machine ID");
        for (int i = 0; i < 16; i++) {
                int hi = unhex_digit(buf[2 * i]), lo = unhex_digit(buf[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return log_fail(-EBADMSG, "/etc/machine-id is not a machine ID");
                ret[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

int hostkey_machine_header(const uint8_t machine_id[16], uint8_t ret[16]) {
        uint8_t mac[32];
        gcry_error_t e;

        e = gcry_md_hash_buffers(GCRY_MD_SHA256, GCRY_MD_FLAG_HMAC, mac,
                                 (gcry_buffer_t[]) {
                                         { .data = (void *) machine_id, .len = 16 },
                                         { .data = (void *) credential_app_id, .len = 16 },
                                 },
                                 2);
        if (e)
                return log_fail(-EIO, "HMAC-SHA256 failed: %s", gcry_strerror(e));
        memcpy(ret, mac, 16);
        ret[6] = (ret[6] & 0x0F) | 0x40;
        ret[8] = (ret[8] & 0x3F) | 0x80;
        return 0;
}

static int hostkey_create(const char *path) {
        _cleanup_secret_ struct secret *s = NULL;
        _cleanup_free_ char *dir = strdup(path);
        uint8_t mid[16];
        int r;

        if (!dir)
                return log_oom();
        r = machine_id_get(mid);
        if (r < 0)
                return r;
        r = secret_new(HOSTKEY_HEADER_SIZE + HOSTKEY_KEY_SIZE, &s);
        if (r < 0)
                return log_oom();
        r = hostkey_machine_header(mid, s->data);
        if (r < 0)
                return r;
        if (getrandom(s->data + HOSTKEY_HEADER_SIZE, HOSTKEY_KEY_SIZE, 0) != HOSTKEY_KEY_SIZE)
                return log_error_errno(-errno, "cannot get random bytes");
        s->size = HOSTKEY_HEADER_SIZE + HOSTKEY_KEY_SIZE;
        r = mkdir_parents(dirname(dir), 0755);
        if (r < 0)
                return log_error_errno(r, "cannot create directory for %s", path);
        /* Never replace a key another process linked in first. */
        r = write_file_atomic(path, s->data, s->size, 0400, WRITE_NOREPLACE | WRITE_SYNC_DIR | WRITE_SECRET);
        if (r == -EEXIST)
                return 0;
        if (r < 0)
                return log_error_errno(r, "cannot create host key %s", path);
        log_debug("created host key %s", path);
        return 0;
}

int hostkey_load(const char *path, bool may_create, struct secret **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        _cleanup_close_ int fd = -1;
        uint8_t mid[16], header[16];
        struct stat st;
        int r;

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT && may_create) {
                r = hostkey_create(path);
                if (r < 0)
                        return r;
                fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        }
        if (fd < 0)
                return log_error_errno(-errno, "cannot open host key %s", path);
        if (fstat(fd, &st) < 0)
                return log_error_errno(-errno, "cannot stat host key %s", path);
        if (!S_ISREG(st.st_mode))
                return log_fail(-EBADFD, "host key %s is not a regular file", path);
        if (st.st_nlink != 1)
                return log_fail(-EPERM, "host key %s has too many links, refusing", path);
        if ((st.st_mode & 07777) != 0400)
                return log_fail(-EPERM, "host key %s has permissive access mode %04o (need 0400), refusing",
                                path, (unsigned) (st.st_mode & 07777));
        r = read_fd_capped(fd, HOSTKEY_FILE_MAX, &s);
        if (r == -E2BIG)
                return log_fail(r, "host key %s is larger than 16 MiB, refusing", path);
        if (r < 0)
                return log_error_errno(r, "cannot read host key %s", path);
        if (s->size <= HOSTKEY_HEADER_SIZE)
                return log_fail(-EBADMSG, "host key %s is too short", path);

        r = machine_id_get(mid);
        if (r < 0)
                return r;
        r = hostkey_machine_header(mid, header);
        if (r < 0)
                return r;
        /* systemd deletes such a key; we refuse and leave it for a human to look at. */
        if (memcmp(header, s->data, HOSTKEY_HEADER_SIZE) != 0)
                return log_fail(-EPERM, "host key %s belongs to another machine (header does not match /etc/machine-id), refusing",
                                path);

        memmove(s->data, s->data + HOSTKEY_HEADER_SIZE, s->size - HOSTKEY_HEADER_SIZE);
        s->size -= HOSTKEY_HEADER_SIZE;
        explicit_bzero(s->data + s->size, HOSTKEY_HEADER_SIZE);
        *ret = TAKE_PTR(s);
        return 0;
}

bool hostkey_on_temporary_fs(const char *path) {
        char buf[PATH_MAX];
        struct statfs sfs;

        if (snprintf(buf, sizeof(buf), "%s", path) >= (int) sizeof(buf))
                return false;
        /* The key may not exist yet: test the nearest existing ancestor. */
        for (;;) {
                char *slash = strrchr(buf, '/');

                if (!slash)
                        return false;
                if (slash == buf)
                        slash[1] = '\0';
                else
                        *slash = '\0';
                if (statfs(buf, &sfs) == 0)
                        return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
                if (errno != ENOENT || strcmp(buf, "/") == 0)
                        return false;
        }
}
