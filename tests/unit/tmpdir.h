/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scratch directories for the unit tests: made under $TMPDIR, removed whole. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int tmpdir_remove_entry(const char *p, const struct stat *st, int type, struct FTW *ftw) {
        (void) chmod(p, 0700); /* tests leave read-only directories behind */
        return remove(p);
}

/* Fills buf with "$TMPDIR/NAME.XXXXXX" (or /tmp) and creates it; 0 or -1. */
static inline int tmpdir_make(char *buf, size_t size, const char *name) {
        const char *tmp = getenv("TMPDIR");

        snprintf(buf, size, "%s/%s.XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp", name);
        return mkdtemp(buf) ? 0 : -1;
}

static inline void tmpdir_remove(const char *dir) {
        nftw(dir, tmpdir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A cmocka fixture that is just a scratch directory, named after the program. */
struct tmpdir_fixture {
        char dir[PATH_MAX / 2];
};

static inline int tmpdir_setup(void **state) {
        struct tmpdir_fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        if (tmpdir_make(f->dir, sizeof(f->dir), program_invocation_short_name) < 0) {
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static inline int tmpdir_teardown(void **state) {
        struct tmpdir_fixture *f = *state;

        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

/* "DIR/name", malloc'd; the caller frees it. */
static inline char *tmpdir_path(const struct tmpdir_fixture *f, const char *name) {
        char *p = NULL;

        return asprintf(&p, "%s/%s", f->dir, name) > 0 ? p : NULL;
}
