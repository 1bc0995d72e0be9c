/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_encode(const uint8_t *data, size_t size, size_t width, char **ret, size_t *ret_len) {
        size_t chars = (size + 2) / 3 * 4;
        size_t len = chars + (width > 0 && chars > 0 ? (chars - 1) / width : 0);
        size_t col = 0;
        char *out, *p;

        if (size > SIZE_MAX / 2)
                return -E2BIG;
        out = p = malloc(len + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < size; i += 3) {
                uint32_t v = (uint32_t) data[i] << 16;
                size_t n = size - i < 3 ? size - i : 3;
                char q[4];

                if (n > 1)
                        v |= (uint32_t) data[i + 1] << 8;
                if (n > 2)
                        v |= data[i + 2];
                q[0] = alphabet[v >> 18];
                q[1] = alphabet[(v >> 12) & 63];
                q[2] = n > 1 ? alphabet[(v >> 6) & 63] : '=';
                q[3] = n > 2 ? alphabet[v & 63] : '=';
                for (int k = 0; k < 4; k++) {
                        if (width > 0 && col == width) {
                                *p++ = '\n';
                                col = 0;
                        }
                        *p++ = q[k];
                        col++;
                }
        }
        *p = '\0';
        *ret = out;
        if (ret_len)
                *ret_len = (size_t) (p - out);
        return 0;
}

static int decode_char(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+' || c == '-')
                return 62;
        if (c == '/' || c == '_')
                return 63;
        if (c == '=')
                return -2;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
                return -3;
        return -1;
}

int base64_decode(const char *text, size_t len, uint8_t **ret, size_t *ret_size) {
        uint8_t *out, *p;
        int group[4], n = 0, pad = 0;

        out = p = malloc(len / 4 * 3 + 3);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                int v = decode_char(text[i]);

                if (v == -3)
                        continue;
                if (v == -1 || (pad > 0 && v != -2) || (v == -2 && n < 2))
                        goto invalid;
                if (v == -2)
                        pad++;
                group[n++] = v;
                if (n < 4)
                        continue;
                /* A padded group ends the data: only whitespace may follow. */
                if (pad > 0) {
                        uint32_t w = (uint32_t) group[0] << 18 | (uint32_t) group[1] << 12;

                        if (pad == 1) {
                                w |= (uint32_t) group[2] << 6;
                                if (w & 0xff)
                                        goto invalid;
                                *p++ = w >> 16;
                                *p++ = (w >> 8) & 0xff;
                        } else {
                                if (group[2] != -2 || (w & 0xffff))
                                        goto invalid;
                                *p++ = w >> 16;
                        }
                        for (size_t j = i + 1; j < len; j++)
                                if (decode_char(text[j]) != -3)
                                        goto invalid;
                        n = 0;
                        break;
                }
                {
                        uint32_t w = (uint32_t) group[0] << 18 | (uint32_t) group[1] << 12 |
                                     (uint32_t) group[2] << 6 | (uint32_t) group[3];

                        *p++ = w >> 16;
                        *p++ = (w >> 8) & 0xff;
                        *p++ = w & 0xff;
                }
                n = 0;
        }
        if (n != 0)
                goto invalid;
        *ret = out;
        *ret_size = (size_t) (p - out);
        return 0;
invalid:
        free(out);
        return -EINVAL;
}
