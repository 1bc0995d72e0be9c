/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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

/* One lookup per character: 0 invalid, 1..64 the 6-bit value + 1, then '=' and whitespace. */
enum { PAD = 65, SPACE = 66 };
static const uint8_t decode_table[256] = {
        ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
        ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
        ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
        ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
        ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
        ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
        ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
        ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62,
        ['+'] = 63, ['-'] = 63, ['/'] = 64, ['_'] = 64, /* standard and URL-safe alphabets */
        ['='] = PAD, [' '] = SPACE, ['\t'] = SPACE, ['\n'] = SPACE, ['\r'] = SPACE,
};

/* 0..63, or -1 invalid, -2 padding, -3 whitespace. */
static int decode_char(char c) {
        int t = decode_table[(unsigned char) c];

        return t == 0 ? -1 : t == PAD ? -2 : t == SPACE ? -3 : t - 1;
}

int base64_decode(const char *text, size_t len, uint8_t **ret, size_t *ret_size) {
        uint8_t *out, *p;
        int group[4], n = 0, pad = 0;

        out = p = malloc(len / 4 * 3 + 3);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                int v;

                /* Fast path: four data characters in a row, the bulk of any input. */
                if (n == 0 && i + 4 <= len) {
                        uint32_t c0 = decode_table[(uint8_t) text[i]] - 1U, c1 = decode_table[(uint8_t) text[i + 1]] - 1U,
                                 c2 = decode_table[(uint8_t) text[i + 2]] - 1U, c3 = decode_table[(uint8_t) text[i + 3]] - 1U;

                        if ((c0 | c1 | c2 | c3) < 64) {
                                uint32_t w = c0 << 18 | c1 << 12 | c2 << 6 | c3;

                                *p++ = w >> 16;
                                *p++ = (w >> 8) & 0xff;
                                *p++ = w & 0xff;
                                i += 3;
                                continue;
                        }
                }
                v = decode_char(text[i]);

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
        explicit_bzero(out, (size_t) (p - out)); /* callers may decode secrets */
        free(out);
        return -EINVAL;
}
