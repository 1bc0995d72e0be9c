/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "log.h"
#include "secret.h"

int secret_new(size_t capacity, struct secret **ret) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE);
        size_t mapped = (capacity + page) / page * page; /* never zero, keeps a NUL spare */
        struct secret *s;
        void *p;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        p = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
                free(s);
                return -ENOMEM;
        }
        (void) madvise(p, mapped, MADV_DONTDUMP);
        /* Best effort: RLIMIT_MEMLOCK may be small for unprivileged users. */
        (void) mlock(p, mapped);
        s->data = p;
        s->capacity = mapped - 1;
        s->mapped = mapped;
        *ret = s;
        return 0;
}

int secret_reserve(struct secret *s, size_t capacity) {
        struct secret *n;
        int r;

        if (capacity <= s->capacity)
                return 0;
        r = secret_new(capacity, &n);
        if (r < 0)
                return r;
        memcpy(n->data, s->data, s->size);
        n->size = s->size;
        explicit_bzero(s->data, s->mapped);
        munmap(s->data, s->mapped); /* unlocks too */
        *s = *n;
        free(n);
        return 0;
}

void secret_free(struct secret *s) {
        if (!s)
                return;
        explicit_bzero(s->data, s->mapped);
        munmap(s->data, s->mapped); /* unlocks too: no munlock() first */
        free(s);
}

void secret_no_dump(void) {
        /* Secrets must never reach a core file (this also keeps other users' ptrace away). */
        (void) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
