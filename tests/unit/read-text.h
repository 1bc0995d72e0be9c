/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads a test vector or scratch file as a NUL-terminated string (cmocka asserts). */
#pragma once

#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "secret.h"

/* The file's text, malloc'd; its length in *ret_size if given. */
static char *read_text(const char *path, size_t *ret_size) {
        struct secret *s = NULL;
        char *t;

        assert_int_equal(read_file_capped(path, 1 << 20, &s), 0);
        t = malloc(s->size + 1);
        assert_non_null(t);
        memcpy(t, s->data, s->size);
        t[s->size] = '\0';
        if (ret_size)
                *ret_size = s->size;
        secret_free(s);
        return t;
}
