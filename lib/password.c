/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <crypt.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "password.h"

#define PASSWORD_MAX 4096 /* longer input is not a password anyone types */

/* crypt(3) signals failure with NULL or a string starting with '*'. */
static bool crypt_failed(const char *h) {
        return !h || h[0] == '*';
}

/* Compares without an early exit, so timing does not tell how much of a hash matched. */
static bool const_time_streq(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned char d = la != lb;

        for (size_t i = 0; i < la && i < lb; i++)
                d |= (unsigned char) (a[i] ^ b[i]);
        return d == 0;
}

static void crypt_data_free(struct crypt_data **cd) {
        if (!*cd)
                return;
        /* It holds the password and intermediate state of the hash. */
        explicit_bzero(*cd, sizeof(**cd));
        free(*cd);
}

int password_hash(const char *password, char **ret) {
        _cleanup_(crypt_data_free) struct crypt_data *cd = NULL;
        _cleanup_free_ char *salt = NULL;
        const char *h;
        char *copy;

        if (!password || strlen(password) > PASSWORD_MAX)
                return -EINVAL;
        /* NULL random bytes: libxcrypt fetches them from the kernel itself. */
        errno = 0;
        salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
        if (!salt)
                return errno > 0 ? -errno : -EIO;
        cd = calloc(1, sizeof(*cd));
        if (!cd)
                return -ENOMEM;
        h = crypt_r(password, salt, cd);
        if (crypt_failed(h))
                return errno == ENOMEM ? -ENOMEM : -EIO;
        copy = strdup(h);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

int password_test(json_object *hashes, const char *password) {
        _cleanup_(crypt_data_free) struct crypt_data *cd = NULL;
        size_t n;
        bool found = false;

        if (!hashes || !json_object_is_type(hashes, json_type_array) || json_object_array_length(hashes) == 0)
                return -EKEYREVOKED;
        if (!password || strlen(password) > PASSWORD_MAX)
                return -ENOKEY;
        cd = calloc(1, sizeof(*cd));
        if (!cd)
                return -ENOMEM;
        n = json_object_array_length(hashes);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(hashes, i);
                const char *expected, *h;

                if (!json_object_is_type(e, json_type_string))
                        continue;
                expected = json_object_get_string(e);
                /* An empty or "!"/"*" entry is a locked hash, never a match. */
                if (expected[0] == '\0' || expected[0] == '!' || expected[0] == '*')
                        continue;
                h = crypt_r(password, expected, cd);
                if (crypt_failed(h))
                        continue;
                /* Keep going after a match: the time spent does not say which entry matched. */
                if (const_time_streq(h, expected))
                        found = true;
        }
        return found ? 0 : -ENOKEY;
}
