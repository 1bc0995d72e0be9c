/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Buffers for secrets: mlock'd anonymous pages excluded from core dumps, wiped
 * on free. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct secret {
        uint8_t *data;
        size_t size;      /* bytes in use */
        size_t capacity;  /* bytes usable before a grow */
        size_t mapped;    /* bytes mapped (page multiple) */
};

int secret_new(size_t capacity, struct secret **ret);
/* Grows to at least `capacity`, moving the contents and wiping the old pages. */
int secret_reserve(struct secret *s, size_t capacity);
void secret_free(struct secret *s);
static inline void secret_freep(struct secret **s) { secret_free(*s); }
#define _cleanup_secret_ _cleanup_(secret_freep)

/* No core dumps and no ptrace by other users: call once at start in every tool. */
void secret_no_dump(void);
