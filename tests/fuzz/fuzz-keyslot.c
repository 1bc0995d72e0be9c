/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for key slot texts, in two modes picked by the first byte:
 *
 *   0x01  roundtrip: [0x01][secret...] keyslot_wrap() of the bytes (1..256 of
 *         them, else wrap must refuse) with the cheapest cost, then
 *         keyslot_unwrap() must return them; with another password, or with
 *         one byte of the text changed (position and value from the input),
 *         it must fail with -ENOKEY or -EBADMSG.
 *   other the whole input is slot text for keyslot_unwrap() with the password
 *         "fuzz". keyslot_inspect() runs first and must agree with unwrap on
 *         -EBADMSG; texts it accepts are only derived when their cost is tiny
 *         (t <= 2, m <= 1024 KiB), so an input cannot buy seconds of Argon2.
 *         Slots sealed under "fuzz" (tests/vectors/keyslot/) open; any other
 *         outcome than 0, -ENOKEY or -EBADMSG aborts.
 *
 * keyslot.c logs misses and malformed texts at debug level only, which stays off. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "keyslot.h"
#include "log.h"
#include "secret.h"

#define PASSWORD "fuzz"

#define CHECK(expr)                                                                        \
        do {                                                                               \
                if (!(expr)) {                                                             \
                        fprintf(stderr, "fuzz-keyslot: check failed at %s:%d: %s\n",      \
                                __FILE__, __LINE__, #expr);                                \
                        abort();                                                           \
                }                                                                          \
        } while (0)

static const struct keyslot_kdf cheap = { .iterations = 1, .memory_kib = 8, .lanes = 1 };

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        if (crypto_init() < 0)
                abort();
        log_set_max_level(LOG_LEVEL_ERROR);
        return 0;
}

static void roundtrip(const uint8_t *data, size_t size) {
        struct secret *key = NULL, *out = NULL;
        char *text = NULL;
        size_t n;
        int r;

        CHECK(secret_new(size, &key) == 0);
        if (size > 0)
                memcpy(key->data, data, size);
        key->size = size;
        r = keyslot_wrap(&cheap, PASSWORD, strlen(PASSWORD), key, &text);
        if (size < 1 || size > 256) {
                CHECK(r == -EINVAL && !text);
                secret_free(key);
                return;
        }
        CHECK(r == 0 && text);
        n = strlen(text);
        CHECK(n <= KEYSLOT_TEXT_MAX);

        CHECK(keyslot_unwrap(text, n, PASSWORD, strlen(PASSWORD), &out) == 0);
        CHECK(out->size == size && memcmp(out->data, data, size) == 0);
        secret_free(out);
        out = NULL;
        CHECK(keyslot_unwrap(text, n, "fuzZ", 4, &out) == -ENOKEY && !out);

        /* One changed byte, chosen by the secret itself. */
        {
                size_t pos = (data[0] | (size_t) data[size - 1] << 8) % n;
                char c = (char) (data[size / 2] ? data[size / 2] : 1);

                if (text[pos] != c) {
                        text[pos] = c;
                        r = keyslot_unwrap(text, n, PASSWORD, strlen(PASSWORD), &out);
                        /* A changed byte may only shorten the C string, never open. */
                        CHECK((r == -ENOKEY || r == -EBADMSG) && !out);
                }
        }
        free(text);
        secret_free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct secret *out = NULL;
        struct keyslot_kdf k;
        int r, q;

        if (size > 0 && data[0] == 0x01) {
                roundtrip(data + 1, size - 1);
                return 0;
        }

        q = keyslot_inspect((const char *) data, size, &k);
        CHECK(q == 0 || q == -EBADMSG);
        if (q == 0) {
                CHECK(size <= KEYSLOT_TEXT_MAX);
                CHECK(k.iterations >= 1 && k.iterations <= 1000 && k.lanes >= 1 && k.lanes <= 16 &&
                      k.memory_kib >= 8 * k.lanes && k.memory_kib <= 1024 * 1024);
                if (k.iterations > 2 || k.memory_kib > 1024)
                        return 0; /* well-formed but too costly to derive here */
        }
        r = keyslot_unwrap((const char *) data, size, PASSWORD, strlen(PASSWORD), &out);
        if (q < 0)
                CHECK(r == -EBADMSG);
        else
                CHECK(r == 0 || r == -ENOKEY);
        CHECK((r == 0) == (out != NULL));
        if (out)
                CHECK(out->size >= 1 && out->size <= 256);
        secret_free(out);
        return 0;
}
