/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Capped reads (O_NOFOLLOW|O_CLOEXEC) into secret buffers, and atomic writes:
 * temp file + fsync + rename + directory fsync, never a partial file. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "secret.h"

/* Reads all of fd; -E2BIG if more than max bytes arrive. */
int read_fd_capped(int fd, size_t max, struct secret **ret);
/* Path "-" means stdin. Refuses symlinks and non-regular files (except stdin). */
int read_file_capped(const char *path, size_t max, struct secret **ret);

int write_all(int fd, const void *data, size_t size);

enum {
        WRITE_NOREPLACE = 1 << 0, /* fail with -EEXIST instead of replacing */
        /* fsync the directory too: the rename itself survives a crash. The file is
         * always fsynced before the rename, which is what makes the write atomic. */
        WRITE_SYNC_DIR = 1 << 1,
        WRITE_SECRET = 1 << 2, /* file attributes for secrets: secure-delete, no-dump, no-COW */
        WRITE_EPHEMERAL = 1 << 3, /* no fsync: the file does not outlive its writer (ask files) */
};
/* Writes data to path atomically with the given mode; uid/gid (uid_t)-1 = unchanged. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode, int flags);
/* Path "-" = stdout (written only now, in one go), else write_file_atomic() to a
 * regular file or a new path. Logs its own error. */
int write_output(const char *path, const void *data, size_t size, mode_t mode);

/* Creates a directory and its missing parents with the given mode. */
int mkdir_parents(const char *path, mode_t mode);
