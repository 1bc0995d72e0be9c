/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <limits.h>
#include <keyutils.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "keyring.h"
#include "log.h"
#include "timestamp.h"

/* request_key() failures that mean "nothing cached": no such key, a dead one,
 * or keyrings unusable here (seccomp/container policy, kernel without keys). */
static bool errno_is_no_key(int e) {
        return e == ENOKEY || e == EKEYEXPIRED || e == EKEYREVOKED ||
               e == EPERM || e == EOPNOTSUPP || e == ENOSYS;
}

static int lookup_key(const char *name, key_serial_t *ret) {
        key_serial_t serial;

        serial = request_key("user", name, NULL, 0); /* no callout: search only */
        if (serial < 0)
                return negative_errno();
        *ret = serial;
        return 0;
}

/* Reads the payload straight into secret memory (no malloc'd copy to wipe). */
static int read_key(key_serial_t serial, struct secret **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        long n;
        int r;

        n = keyctl_read(serial, NULL, 0);
        if (n < 0)
                return negative_errno();
        r = secret_new((size_t) n, &s);
        if (r < 0)
                return r;
        for (;;) {
                n = keyctl_read(serial, (char *) s->data, s->capacity);
                if (n < 0)
                        return negative_errno();
                if ((size_t) n <= s->capacity)
                        break;
                /* Updated between the two reads: grow and read again. */
                r = secret_reserve(s, (size_t) n);
                if (r < 0)
                        return r;
        }
        s->size = (size_t) n;
        s->data[s->size] = '\0'; /* capacity < mapped: there is always room */
        *ret = TAKE_PTR(s);
        return 0;
}

int keyring_get(const char *name, struct secret **ret) {
        _cleanup_secret_ struct secret *s = NULL;
        key_serial_t serial;
        int r;

        if (!name || !name[0] || !ret)
                return -EINVAL;

        r = lookup_key(name, &serial);
        if (r < 0)
                return errno_is_no_key(-r) ? -ENOKEY : r;
        r = read_key(serial, &s);
        if (r == -ENOKEY || r == -EKEYEXPIRED || r == -EKEYREVOKED)
                return -ENOKEY; /* expired or revoked between lookup and read */
        if (r < 0)
                return r;
        if (s->size == 0)
                return -ENOKEY;
        *ret = TAKE_PTR(s);
        return 0;
}

/* Next entry of a NUL-separated list whose final NUL is optional ("" has no
 * entries, "\0" one empty entry). */
static bool list_next(const uint8_t *data, size_t size, size_t *pos, const uint8_t **ret, size_t *ret_len) {
        const uint8_t *p, *z;

        if (*pos >= size)
                return false;
        p = data + *pos;
        z = memchr(p, 0, size - *pos);
        *ret = p;
        *ret_len = z ? (size_t) (z - p) : size - *pos;
        *pos += *ret_len + 1;
        return true;
}

/* `out` holds every entry NUL-terminated, so an empty last entry stays visible. */
static bool list_contains(const struct secret *out, const uint8_t *e, size_t len) {
        const uint8_t *x;
        size_t pos = 0, n;

        while (list_next(out->data, out->size, &pos, &x, &n))
                if (n == len && memcmp(x, e, len) == 0)
                        return true;
        return false;
}

static void list_append(struct secret *out, const uint8_t *e, size_t len) {
        memcpy(out->data + out->size, e, len);
        out->data[out->size + len] = '\0';
        out->size += len + 1;
}

/* 0 = caching disabled; UINT64_MAX = no expiry. */
static uint64_t timeout_usec(void) {
        const char *e = secure_getenv(KEYRING_TIMEOUT_ENV);
        uint64_t t;

        if (!e)
                return KEYRING_TIMEOUT_SEC * USEC_PER_SEC;
        if (strcmp(e, "infinity") == 0)
                return USEC_INFINITY;
        if (timespan_parse(e, &t) < 0) {
                log_debug("invalid $%s, ignoring: %s", KEYRING_TIMEOUT_ENV, e);
                return KEYRING_TIMEOUT_SEC * USEC_PER_SEC;
        }
        return t;
}

int keyring_put(const char *name, const struct secret *list) {
        _cleanup_secret_ struct secret *old = NULL, *out = NULL;
        key_serial_t serial;
        uint64_t timeout;
        unsigned timeout_sec;
        const uint8_t *e;
        size_t pos, len, old_size, added = 0;
        int r;

        if (!name || !name[0] || !list || (!list->data && list->size > 0))
                return -EINVAL;

        timeout = timeout_usec();
        if (timeout == 0)
                return 0;
        if (timeout == USEC_INFINITY)
                timeout_sec = 0; /* KEYCTL_SET_TIMEOUT: 0 clears the expiry */
        else if (timeout / USEC_PER_SEC >= UINT_MAX)
                timeout_sec = UINT_MAX;
        else
                timeout_sec = (unsigned) ((timeout + USEC_PER_SEC - 1) / USEC_PER_SEC);

        if (list->size == 0)
                return 0;

        r = lookup_key(name, &serial);
        if (r >= 0) {
                r = read_key(serial, &old);
                if (r < 0 && r != -ENOKEY && r != -EKEYEXPIRED && r != -EKEYREVOKED)
                        return r;
        } else if (r != -ENOKEY && r != -EKEYEXPIRED && r != -EKEYREVOKED)
                return r;
        old_size = old ? old->size : 0;

        /* Each entry takes its bytes plus one NUL; either list may lack its final NUL. */
        r = secret_new(old_size + list->size + 2, &out);
        if (r < 0)
                return r;

        /* The cached entries stay as they are, new ones are appended once each. */
        pos = 0;
        while (old && list_next(old->data, old->size, &pos, &e, &len))
                list_append(out, e, len);
        pos = 0;
        while (list_next(list->data, list->size, &pos, &e, &len))
                if (!list_contains(out, e, len)) {
                        list_append(out, e, len);
                        added++;
                }
        if (added == 0)
                return 0;
        /* Joined without a trailing NUL. A lone empty password gives an empty
         * payload, which "user" keys refuse (EINVAL) and lookups ignore. */
        len = out->size - 1;
        if (len == 0)
                return 0;

        serial = add_key("user", name, out->data, len, KEY_SPEC_USER_KEYRING);
        if (serial < 0)
                return negative_errno();
        if (keyctl_set_timeout(serial, (unsigned) timeout_sec) < 0) {
                /* A password cache without expiry is worse than none. */
                r = negative_errno();
                (void) keyctl_invalidate(serial);
                return r;
        }
        return 1;
}

int keyring_notify(const char *dir) {
        const struct timespec ts[2] = { { .tv_nsec = UTIME_NOW }, { .tv_nsec = UTIME_NOW } };

        if (!dir || !dir[0])
                return -EINVAL;
        if (utimensat(AT_FDCWD, dir, ts, 0) < 0)
                return negative_errno();
        return 0;
}
