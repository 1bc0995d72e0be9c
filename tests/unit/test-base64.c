/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/base64.c: RFC 4648 vectors, systemd-style 79-column
 * wrapping, tolerant-but-strict decoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static const struct {
        const char *plain;
        const char *encoded;
} rfc4648[] = {
        { "", "" },
        { "f", "Zg==" },
        { "fo", "Zm8=" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
};

/* Decodes a NUL-terminated string; returns the result code. */
static int decode_str(const char *s, uint8_t **ret, size_t *ret_size) {
        return base64_decode(s, strlen(s), ret, ret_size);
}

static void assert_decode_fails(const char *s) {
        uint8_t *out = (uint8_t *) 0x1;
        size_t n = 12345;
        int r = decode_str(s, &out, &n);

        if (r != -EINVAL)
                fail_msg("base64_decode(\"%s\") returned %d, expected -EINVAL", s, r);
        /* Outputs untouched on failure. */
        assert_ptr_equal(out, (uint8_t *) 0x1);
        assert_int_equal(n, 12345);
}

static void assert_decodes_to(const char *s, const void *expected, size_t expected_size) {
        uint8_t *out = NULL;
        size_t n = 0;
        int r = decode_str(s, &out, &n);

        if (r != 0)
                fail_msg("base64_decode(\"%s\") returned %d, expected 0", s, r);
        assert_non_null(out);
        assert_int_equal(n, expected_size);
        if (expected_size > 0)
                assert_memory_equal(out, expected, expected_size);
        free(out);
}

static void test_encode_rfc4648(void **state) {
        for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
                char *out = NULL;
                size_t len = 999;

                assert_int_equal(base64_encode((const uint8_t *) rfc4648[i].plain, strlen(rfc4648[i].plain), 0,
                                               &out, &len),
                                 0);
                assert_non_null(out);
                assert_string_equal(out, rfc4648[i].encoded);
                assert_int_equal(len, strlen(rfc4648[i].encoded));
                free(out);

                /* A width wider than the output changes nothing. */
                assert_int_equal(base64_encode((const uint8_t *) rfc4648[i].plain, strlen(rfc4648[i].plain), 79,
                                               &out, &len),
                                 0);
                assert_string_equal(out, rfc4648[i].encoded);
                free(out);
        }
}

static void test_encode_len_optional(void **state) {
        char *out = NULL;

        assert_int_equal(base64_encode((const uint8_t *) "foobar", 6, 0, &out, NULL), 0);
        assert_string_equal(out, "Zm9vYmFy");
        free(out);
}

static void test_decode_rfc4648(void **state) {
        for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++)
                assert_decodes_to(rfc4648[i].encoded, rfc4648[i].plain, strlen(rfc4648[i].plain));
}

static void test_encode_all_bytes_roundtrip(void **state) {
        uint8_t data[256 * 3];

        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t) (i * 7 + (i >> 8));
        for (size_t size = 0; size <= sizeof(data); size += (size < 20 ? 1 : 37)) {
                for (size_t width = 0; width <= 80; width += (width < 8 ? 1 : 71)) {
                        char *text = NULL;
                        size_t len = 0;
                        uint8_t *back = NULL;
                        size_t n = 0;

                        assert_int_equal(base64_encode(data, size, width, &text, &len), 0);
                        assert_int_equal(strlen(text), len);
                        assert_int_equal(base64_decode(text, len, &back, &n), 0);
                        assert_int_equal(n, size);
                        if (size > 0)
                                assert_memory_equal(back, data, size);
                        free(text);
                        free(back);
                }
        }
}

/* systemd-creds writes Base64 in lines of 79 characters, no newline after the last. */
static void test_encode_wrap_79(void **state) {
        /* Sizes giving exactly 79, 80, 158, 159 and 160 characters and more. */
        static const size_t sizes[] = { 0, 1, 57, 58, 59, 60, 117, 118, 119, 120, 300, 1000 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                size_t size = sizes[i], chars = (size + 2) / 3 * 4;
                uint8_t *data = malloc(size + 1);
                char *wrapped = NULL, *flat = NULL;
                size_t wlen = 0, flen = 0, pos = 0, lines = 0;

                assert_non_null(data);
                for (size_t k = 0; k < size; k++)
                        data[k] = (uint8_t) (k * 131 + 17);
                assert_int_equal(base64_encode(data, size, 79, &wrapped, &wlen), 0);
                assert_int_equal(base64_encode(data, size, 0, &flat, &flen), 0);
                assert_int_equal(flen, chars);
                assert_null(strchr(flat, '\n'));
                assert_int_equal(strlen(wrapped), wlen);
                /* Newlines between lines only: (chars - 1) / 79 of them. */
                assert_int_equal(wlen, chars + (chars > 0 ? (chars - 1) / 79 : 0));
                if (wlen > 0)
                        assert_true(wrapped[wlen - 1] != '\n');
                /* Each line but the last is exactly 79 characters, the last 1..79. */
                while (pos < wlen) {
                        const char *nl = strchr(wrapped + pos, '\n');
                        size_t line = nl ? (size_t) (nl - (wrapped + pos)) : wlen - pos;

                        if (nl)
                                assert_int_equal(line, 79);
                        else {
                                assert_true(line >= 1);
                                assert_true(line <= 79);
                        }
                        /* Content equals the unwrapped encoding. */
                        assert_memory_equal(wrapped + pos, flat + lines * 79, line);
                        lines++;
                        pos += line + (nl ? 1 : 0);
                }
                assert_int_equal(lines, chars == 0 ? 0 : (chars + 78) / 79);
                free(data);
                free(wrapped);
                free(flat);
        }
}

static void test_encode_wrap_small_width(void **state) {
        char *out = NULL;
        size_t len = 0;

        assert_int_equal(base64_encode((const uint8_t *) "foobar", 6, 3, &out, &len), 0);
        assert_string_equal(out, "Zm9\nvYm\nFy");
        assert_int_equal(len, 10);
        free(out);
        assert_int_equal(base64_encode((const uint8_t *) "foobar", 6, 4, &out, &len), 0);
        assert_string_equal(out, "Zm9v\nYmFy");
        free(out);
        assert_int_equal(base64_encode((const uint8_t *) "foob", 4, 1, &out, &len), 0);
        assert_string_equal(out, "Z\nm\n9\nv\nY\ng\n=\n=");
        free(out);
}

static void test_decode_skips_whitespace(void **state) {
        assert_decodes_to("Zm9v\nYmFy", "foobar", 6);
        assert_decodes_to("Zm9v\r\nYmFy\r\n", "foobar", 6);
        assert_decodes_to(" Z m 9 v\tY m F y ", "foobar", 6);
        assert_decodes_to("\n\n\tZm9vYg=\n=\n\n", "foob", 4);
        assert_decodes_to("Zm8 =", "fo", 2);
        assert_decodes_to(" \t\r\n", "", 0);
        assert_decodes_to("", "", 0);
}

static void test_decode_other_whitespace_rejected(void **state) {
        /* Only space, tab, CR and LF are skipped. */
        assert_decode_fails("Zm9v\vYmFy");
        assert_decode_fails("Zm9v\fYmFy");
}

static void test_decode_url_safe(void **state) {
        static const uint8_t bytes[] = { 0xfb, 0xff, 0xbf, 0xfe };

        /* Standard alphabet. */
        assert_decodes_to("+/+//g==", bytes, sizeof(bytes));
        /* URL-safe alphabet. */
        assert_decodes_to("-_-__g==", bytes, sizeof(bytes));
        /* Mixed. */
        assert_decodes_to("+_-/_g==", bytes, sizeof(bytes));
}

static void test_decode_bad_chars(void **state) {
        assert_decode_fails("Zm9v!mFy");
        assert_decode_fails("Zm9v.mFy");
        assert_decode_fails("Zm9vYmF\x80");
        assert_decode_fails("Zm9vYmF\xff");
        assert_decode_fails("Zm9vYmF*");
        assert_decode_fails("hello");
        {
                /* An embedded NUL is not whitespace. */
                uint8_t *out = NULL;
                size_t n = 0;

                assert_int_equal(base64_decode("Zm9v\0YmFy", 9, &out, &n), -EINVAL);
        }
}

static void test_decode_missing_padding(void **state) {
        assert_decode_fails("Zg");
        assert_decode_fails("Zg=");
        assert_decode_fails("Zm8");
        assert_decode_fails("Zm9vYg");
        assert_decode_fails("Zm9vYmE");
        assert_decode_fails("Z");
        assert_decode_fails("Zm9vY");
}

static void test_decode_data_after_padding(void **state) {
        assert_decode_fails("Zg==Zg==");
        assert_decode_fails("Zm8=Zm9v");
        assert_decode_fails("Zg==\nZ");
        assert_decode_fails("Zg=a");
        assert_decode_fails("Zm8=a");
        assert_decode_fails("Zg===");
        assert_decode_fails("Zm8==");
}

static void test_decode_nonzero_unused_bits(void **state) {
        /* "Ah==": 'h' carries bits that are not part of the one byte. */
        assert_decode_fails("Ah==");
        assert_decode_fails("Zh==");
        assert_decode_fails("Zm9=");
        assert_decode_fails("Zm+=");
        /* The canonical forms decode. */
        assert_decodes_to("AA==", "\0", 1);
        assert_decodes_to("Zg==", "f", 1);
        assert_decodes_to("Zm8=", "fo", 2);
}

static void test_decode_lone_padding(void **state) {
        assert_decode_fails("=");
        assert_decode_fails("==");
        assert_decode_fails("====");
        assert_decode_fails("Z===");
        assert_decode_fails("Zm9v=");
        assert_decode_fails("Zm9v====");
        assert_decode_fails(" = ");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode_rfc4648),
                cmocka_unit_test(test_encode_len_optional),
                cmocka_unit_test(test_decode_rfc4648),
                cmocka_unit_test(test_encode_all_bytes_roundtrip),
                cmocka_unit_test(test_encode_wrap_79),
                cmocka_unit_test(test_encode_wrap_small_width),
                cmocka_unit_test(test_decode_skips_whitespace),
                cmocka_unit_test(test_decode_other_whitespace_rejected),
                cmocka_unit_test(test_decode_url_safe),
                cmocka_unit_test(test_decode_bad_chars),
                cmocka_unit_test(test_decode_missing_padding),
                cmocka_unit_test(test_decode_data_after_padding),
                cmocka_unit_test(test_decode_nonzero_unused_bits),
                cmocka_unit_test(test_decode_lone_padding),
        };

        return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
