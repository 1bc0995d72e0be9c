/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A key wrapped under a password: Argon2id (libgcrypt) derives a 256-bit key
 * that seals the secret with AES-256-GCM. One slot per password; the text form
 * carries its own KDF parameters, so slots made with different costs coexist. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "secret.h"

#define KEYSLOT_TEXT_MAX 1024 /* bytes of slot text we ever parse */

struct keyslot_kdf {
        uint32_t iterations; /* Argon2 t */
        uint32_t memory_kib; /* Argon2 m */
        uint32_t lanes;      /* Argon2 p */
};

/* Default cost: calibrated so that one derivation takes about target_ms here
 * (memory fixed at 64 MiB like LUKS2, or less if RAM is short). */
int keyslot_kdf_calibrate(unsigned target_ms, struct keyslot_kdf *ret);
/* Parses "t=N,m=KIB,p=N" (any subset; unset keep *kdf's values): -EINVAL bad
 * syntax, -ERANGE a cost out of bounds (t 1..1000, m 8*p..1048576 KiB, p 1..16). */
int keyslot_kdf_from_string(const char *s, struct keyslot_kdf *kdf);

/* Seals key (1..256 bytes) under a non-empty password; *ret is the
 * NUL-terminated slot text (malloc'd). */
int keyslot_wrap(const struct keyslot_kdf *kdf, const char *password, size_t password_size,
                 const struct secret *key, char **ret);
/* Parses slot text without deriving anything (cheap): its KDF cost, or
 * -EBADMSG exactly when keyslot_unwrap() would refuse the text as malformed. */
int keyslot_inspect(const char *text, size_t text_size, struct keyslot_kdf *ret_kdf);
/* Opens slot text with password: -ENOKEY if the password is wrong (tag mismatch),
 * -EBADMSG if the text is malformed or its cost is out of bounds. */
int keyslot_unwrap(const char *text, size_t text_size, const char *password, size_t password_size,
                   struct secret **ret_key);
