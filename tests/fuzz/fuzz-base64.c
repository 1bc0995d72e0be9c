/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: base64_decode() on arbitrary bytes. Whatever decodes must be
 * canonical (see canonical()), and must survive base64_encode() (unwrapped and
 * wrapped at systemd's 79 columns) and decode again to the very same bytes; any
 * mismatch aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "cred.h"

static void roundtrip(const uint8_t *data, size_t size, size_t width) {
        char *text = NULL;
        uint8_t *again = NULL;
        size_t len = 0, n = 0, chars = (size + 2) / 3 * 4;

        if (base64_encode(data, size, width, &text, &len) < 0)
                abort();
        /* Exact length: 4 characters per started group, plus one "\n" per full line but the last. */
        if (len != chars + (width > 0 && chars > 0 ? (chars - 1) / width : 0) || strlen(text) != len)
                abort();
        if (base64_decode(text, len, &again, &n) < 0)
                abort();
        if (n != size || (size > 0 && memcmp(again, data, size) != 0))
                abort();
        free(again);
        free(text);
}

/* The decoder is strict (padding required, unused bits zero), so what it accepts
 * is canonical: without whitespace and in the standard alphabet, the input is
 * exactly the unwrapped encoding of the output. */
static void canonical(const uint8_t *data, size_t size, const uint8_t *out, size_t n) {
        char *norm = malloc(size + 1), *text = NULL;
        size_t len = 0, m = 0;

        if (!norm)
                abort();
        for (size_t i = 0; i < size; i++) {
                char c = (char) data[i];

                if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                        continue;
                norm[m++] = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        if (base64_encode(out, n, 0, &text, &len) < 0)
                abort();
        if (len != m || memcmp(text, norm, m) != 0)
                abort();
        free(text);
        free(norm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *out = NULL;
        size_t n = 0;

        if (base64_decode((const char *) data, size, &out, &n) < 0)
                return 0;
        /* The decoder sizes its buffer as len/4*3+3; every 4 characters give at most 3 bytes. */
        if (n > size / 4 * 3)
                abort();
        canonical(data, size, out, n);
        roundtrip(out, n, 0);
        roundtrip(out, n, CRED_BASE64_WIDTH);
        free(out);
        return 0;
}
