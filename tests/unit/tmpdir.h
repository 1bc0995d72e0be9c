/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Scratch directories for the unit tests: made under $TMPDIR, removed whole. */
#pragma once

#include <ftw.h>
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
