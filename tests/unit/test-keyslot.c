/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/keyslot.c: wrap/unwrap round trips with a cheap KDF,
 * wrong passwords, tampering with every byte, swapped parameters, malformed
 * texts, cost strings, calibration and a fixed vector that pins the format. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "crypto.h"
#include "keyslot.h"
#include "secret.h"

#define PW "correct horse battery staple"
#define PW_LEN (sizeof(PW) - 1)

static const struct keyslot_kdf cheap = { .iterations = 1, .memory_kib = 64, .lanes = 1 };

/* Made once by keyslot_wrap(t=1 m=64 p=1, PW, bytes 0x00..0x3f); must open forever. */
static const char vector[] =
        "latchkey-slot-v1 argon2id t=1 m=64 p=1 Dx/baZpc8CwI9mEB1E+Pa0ldzb80jw6oVmlXkRTi14M= UmKIM9bd2c16Al3A "
        "A4yBjfANRPkQAt27nhkjWCGwpDpSjAuvbvqER7H0TGlV5+lKjiLx7AWgLtcTTf1Z5nn36GmFYaOhUJK3AVmUsVjCOh87++zNlU7kWsVdPAA=";

static struct secret *pattern_key(size_t size, uint8_t base) {
        struct secret *s = NULL;

        assert_int_equal(secret_new(size, &s), 0);
        for (size_t i = 0; i < size; i++)
                s->data[i] = (uint8_t) (base + i);
        s->size = size;
        return s;
}

static char *wrap_cheap(const struct secret *key) {
        char *text = NULL;

        assert_int_equal(keyslot_wrap(&cheap, PW, PW_LEN, key, &text), 0);
        assert_non_null(text);
        return text;
}

static int unwrap(const char *text, size_t size) {
        struct secret *out = NULL;
        int r = keyslot_unwrap(text, size, PW, PW_LEN, &out);

        if (r == 0) {
                assert_non_null(out);
                secret_free(out);
        } else
                assert_null(out);
        return r;
}

static void test_roundtrip(void **state) {
        static const size_t sizes[] = { 1, 16, 32, 64, 255, 256 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                struct secret *key = pattern_key(sizes[i], (uint8_t) i), *out = NULL;
                char *a = wrap_cheap(key), *b = wrap_cheap(key);

                assert_true(strlen(a) <= KEYSLOT_TEXT_MAX);
                assert_null(strchr(a, '\n'));
                assert_int_equal(strncmp(a, "latchkey-slot-v1 argon2id t=1 m=64 p=1 ", 39), 0);
                /* Fresh salt and nonce every time. */
                assert_string_not_equal(a, b);
                assert_int_equal(keyslot_unwrap(a, strlen(a), PW, PW_LEN, &out), 0);
                assert_int_equal(out->size, key->size);
                assert_memory_equal(out->data, key->data, key->size);
                secret_free(out);
                out = NULL;
                assert_int_equal(keyslot_unwrap(b, strlen(b), PW, PW_LEN, &out), 0);
                assert_memory_equal(out->data, key->data, key->size);
                secret_free(out);
                free(a);
                free(b);
                secret_free(key);
        }
}

static void test_other_costs(void **state) {
        const struct keyslot_kdf k = { .iterations = 2, .memory_kib = 256, .lanes = 4 };
        struct secret *key = pattern_key(64, 7), *out = NULL;
        struct keyslot_kdf got = {};
        char *text = NULL;

        assert_int_equal(keyslot_wrap(&k, "pw", 2, key, &text), 0);
        assert_non_null(strstr(text, " t=2 m=256 p=4 "));
        assert_int_equal(keyslot_inspect(text, strlen(text), &got), 0);
        assert_int_equal(got.iterations, 2);
        assert_int_equal(got.memory_kib, 256);
        assert_int_equal(got.lanes, 4);
        assert_int_equal(keyslot_unwrap(text, strlen(text), "pw", 2, &out), 0);
        assert_memory_equal(out->data, key->data, 64);
        secret_free(out);
        free(text);
        secret_free(key);
}

static void test_wrong_password(void **state) {
        struct secret *key = pattern_key(64, 0), *out = NULL;
        char *text = wrap_cheap(key);
        size_t n = strlen(text);

        assert_int_equal(keyslot_unwrap(text, n, "wrong", 5, &out), -ENOKEY);
        assert_int_equal(keyslot_unwrap(text, n, PW, PW_LEN - 1, &out), -ENOKEY); /* a prefix */
        assert_int_equal(keyslot_unwrap(text, n, PW "!", PW_LEN + 1, &out), -ENOKEY);
        assert_int_equal(keyslot_unwrap(text, n, "", 0, &out), -ENOKEY);
        assert_null(out);
        /* Binary passwords: the length counts, not a NUL. */
        {
                char pw0[] = { 'a', '\0', 'b' };
                char *t0 = NULL;

                assert_int_equal(keyslot_wrap(&cheap, pw0, sizeof(pw0), key, &t0), 0);
                assert_int_equal(keyslot_unwrap(t0, strlen(t0), "a", 1, &out), -ENOKEY);
                assert_int_equal(keyslot_unwrap(t0, strlen(t0), pw0, sizeof(pw0), &out), 0);
                secret_free(out);
                free(t0);
        }
        free(text);
        secret_free(key);
}

static void test_wrap_invalid(void **state) {
        struct secret *key = pattern_key(64, 0), *empty = pattern_key(0, 0), *big = pattern_key(257, 0);
        struct keyslot_kdf k;
        char *text = NULL;

        assert_int_equal(keyslot_wrap(&cheap, PW, PW_LEN, empty, &text), -EINVAL);
        assert_int_equal(keyslot_wrap(&cheap, PW, PW_LEN, big, &text), -EINVAL);
        assert_int_equal(keyslot_wrap(&cheap, "", 0, key, &text), -EINVAL);
        assert_int_equal(keyslot_wrap(&cheap, NULL, 3, key, &text), -EINVAL);
        k = cheap, k.iterations = 0;
        assert_int_equal(keyslot_wrap(&k, PW, PW_LEN, key, &text), -EINVAL);
        k = cheap, k.lanes = 17;
        assert_int_equal(keyslot_wrap(&k, PW, PW_LEN, key, &text), -EINVAL);
        k = cheap, k.lanes = 9; /* m=64 < 8*9 */
        assert_int_equal(keyslot_wrap(&k, PW, PW_LEN, key, &text), -EINVAL);
        k = cheap, k.memory_kib = (1U << 20) + 1;
        assert_int_equal(keyslot_wrap(&k, PW, PW_LEN, key, &text), -EINVAL);
        assert_null(text);
        secret_free(key);
        secret_free(empty);
        secret_free(big);
}

/* Every single-byte change, every truncation and some appendages: never success. */
static void test_tamper(void **state) {
        static const uint8_t repl[] = { 0x01, 0x02, 0x04, 0x20, 0x80 };
        struct secret *key = pattern_key(32, 0x40);
        char *text = wrap_cheap(key);
        size_t n = strlen(text);
        char *copy = malloc(n + 2);
        unsigned nokey = 0, badmsg = 0;

        assert_non_null(copy);
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < sizeof(repl); j++) {
                        int r;

                        memcpy(copy, text, n + 1);
                        copy[i] ^= (char) repl[j];
                        r = unwrap(copy, n);
                        if (r != -ENOKEY && r != -EBADMSG)
                                fail_msg("byte %zu ^ 0x%02x: unwrap returned %d", i, repl[j], r);
                        r == -ENOKEY ? nokey++ : badmsg++;
                }
        /* Both paths were reached: parameter/salt/nonce/sealed edits that still parse
         * fail the tag, the rest fail the parser. */
        assert_true(nokey > 0);
        assert_true(badmsg > 0);

        for (size_t len = 0; len < n; len++) {
                int r = unwrap(text, len);

                if (r != -ENOKEY && r != -EBADMSG)
                        fail_msg("truncated to %zu: unwrap returned %d", len, r);
        }
        for (const char *tail = "\n \t=Ax"; *tail; tail++) {
                memcpy(copy, text, n);
                copy[n] = *tail;
                copy[n + 1] = '\0';
                assert_int_equal(unwrap(copy, n + 1), -EBADMSG);
        }
        /* A NUL counted in text_size is not a terminator. */
        assert_int_equal(unwrap(text, n + 1), -EBADMSG);
        assert_int_equal(unwrap(text, n), 0);
        free(copy);
        free(text);
        secret_free(key);
}

/* The fields of a slot text, split at the spaces (modifies text). */
static void split(char *text, char *f[8]) {
        for (int i = 0; i < 8; i++) {
                f[i] = text;
                text = strchr(text, ' ');
                if (i < 7) {
                        assert_non_null(text);
                        *text++ = '\0';
                } else
                        assert_null(text);
        }
}

static char *join(char *const f[8]) {
        char *s = NULL;

        assert_true(asprintf(&s, "%s %s %s %s %s %s %s %s", f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]) > 0);
        return s;
}

static void expect_swap_fails(char *f[8], int idx, const char *value) {
        char *saved = f[idx], *s;

        f[idx] = (char *) value;
        s = join(f);
        assert_int_equal(unwrap(s, strlen(s)), -ENOKEY);
        free(s);
        f[idx] = saved;
}

/* Cost, salt and nonce are bound to the slot: swapping any of them (for values
 * that still parse, even from another slot sealed with the same password) fails. */
static void test_parameter_swap(void **state) {
        struct secret *key = pattern_key(64, 0);
        char *a = wrap_cheap(key), *b = wrap_cheap(key), *fa[8], *fb[8], *s;

        split(a, fa);
        split(b, fb);
        s = join(fa);
        assert_int_equal(unwrap(s, strlen(s)), 0);
        free(s);

        expect_swap_fails(fa, 2, "t=2");
        expect_swap_fails(fa, 3, "m=128");
        expect_swap_fails(fa, 3, "m=8");
        expect_swap_fails(fa, 4, "p=2");
        expect_swap_fails(fa, 5, fb[5]); /* salt of b */
        expect_swap_fails(fa, 6, fb[6]); /* nonce of b */
        expect_swap_fails(fa, 7, fb[7]); /* sealed key of b */
        free(a);
        free(b);
        secret_free(key);
}

static void expect_malformed(const char *text, size_t size) {
        struct secret *out = NULL;
        struct keyslot_kdf k;

        if (keyslot_inspect(text, size, &k) != -EBADMSG)
                fail_msg("inspect accepted malformed slot: \"%.*s\"", (int) size, text);
        if (keyslot_unwrap(text, size, PW, PW_LEN, &out) != -EBADMSG)
                fail_msg("unwrap did not say EBADMSG for: \"%.*s\"", (int) size, text);
        assert_null(out);
}

static void expect_malformed_fields(char *f[8], int idx, const char *value) {
        char *saved = f[idx], *s;

        f[idx] = (char *) value;
        s = join(f);
        expect_malformed(s, strlen(s));
        free(s);
        f[idx] = saved;
}

static void expect_inspect(char *f[8], int idx, const char *value, int want) {
        char *saved = f[idx], *s;

        f[idx] = (char *) value;
        s = join(f);
        assert_int_equal(keyslot_inspect(s, strlen(s), NULL), want);
        free(s);
        f[idx] = saved;
}

static void test_malformed(void **state) {
        struct secret *key = pattern_key(64, 0);
        char *text = wrap_cheap(key), *f[8], *s, *big;
        /* sealed sizes: 16 (tag only, no secret) and 273 (secret of 257) */
        char tag_only[25], too_long[369];

        split(text, f);

        expect_malformed("", 0);
        expect_malformed("latchkey-slot-v1", 16);
        expect_malformed(vector, 20);
        expect_malformed_fields(f, 0, "latchkey-slot-v2");
        expect_malformed_fields(f, 0, "LATCHKEY-SLOT-V1");
        expect_malformed_fields(f, 1, "argon2i");
        expect_malformed_fields(f, 1, "pbkdf2");
        {
                static const char *bad_t[] = { "t=0", "t=1001", "t=01", "t=+1", "t=-1", "t=", "t", "t=1x",
                                               "t=4294967297", "t=99999999999", "T=1", "i=1", "m=64" };
                static const char *bad_m[] = { "m=7", "m=0", "m=064", "m=1048577", "m=4194304", "m=", "t=64" };
                static const char *bad_p[] = { "p=0", "p=17", "p=9" /* 8*9 > 64 */, "p=01", "p=", "p=1 " };

                for (size_t i = 0; i < sizeof(bad_t) / sizeof(*bad_t); i++)
                        expect_malformed_fields(f, 2, bad_t[i]);
                for (size_t i = 0; i < sizeof(bad_m) / sizeof(*bad_m); i++)
                        expect_malformed_fields(f, 3, bad_m[i]);
                for (size_t i = 0; i < sizeof(bad_p) / sizeof(*bad_p); i++)
                        expect_malformed_fields(f, 4, bad_p[i]);
        }
        /* Bounds that parse (not derived here: 1 GiB would be slow). */
        expect_inspect(f, 2, "t=1000", 0);
        expect_inspect(f, 3, "m=1048576", 0);
        expect_inspect(f, 3, "m=8", 0);

        /* Base64 fields: length, alphabet, padding, canonical bits. */
        expect_malformed_fields(f, 5, "AAAA");
        expect_malformed_fields(f, 5, "Dx/baZpc8CwI9mEB1E+Pa0ldzb80jw6oVmlXkRTi14=");   /* 31 bytes */
        expect_malformed_fields(f, 5, "Dx/baZpc8CwI9mEB1E+Pa0ldzb80jw6oVmlXkRTi14M");   /* no padding */
        expect_malformed_fields(f, 5, "Dx_baZpc8CwI9mEB1E-Pa0ldzb80jw6oVmlXkRTi14M=");  /* URL-safe */
        expect_malformed_fields(f, 5, "Dx/baZpc8CwI9mEB1E+Pa0ldzb80jw6oVmlXkRTi14N=");  /* unused bits set */
        expect_malformed_fields(f, 5, "Dx/baZpc8CwI9mEB1E+Pa0ldzb80jw6oVmlXkRTi14M=AAAA");
        expect_malformed_fields(f, 5, "Dx/baZpc8CwI9mEB1E+Pa0ldzb80jw6oVmlX\tRTi14M=");
        expect_malformed_fields(f, 6, "UmKIM9bd2c16Al3AUmKI");   /* 15 bytes */
        expect_malformed_fields(f, 6, "UmKIM9bd2c16Al3=");
        expect_malformed_fields(f, 6, "UmKIM9bd2c16Al");
        memset(tag_only, 'A', 24);
        tag_only[22] = tag_only[23] = '=';
        tag_only[24] = '\0';
        expect_malformed_fields(f, 7, tag_only);
        memset(too_long, 'A', 368);
        too_long[368] = '\0';
        expect_malformed_fields(f, 7, too_long);

        /* Separators: exactly eight fields, single spaces. */
        s = join(f);
        {
                size_t n = strlen(s);
                char *m = malloc(n + 2);
                char *sp = strchr(s, ' ');

                assert_non_null(m);
                /* doubled space */
                memcpy(m, s, (size_t) (sp - s) + 1);
                strcpy(m + (sp - s) + 1, sp);
                expect_malformed(m, n + 1);
                /* leading space */
                m[0] = ' ';
                strcpy(m + 1, s);
                expect_malformed(m, n + 1);
                /* tab instead of the first space */
                strcpy(m, s);
                m[sp - s] = '\t';
                expect_malformed(m, n);
                /* seven fields */
                expect_malformed(s, (size_t) (strrchr(s, ' ') - s));
                /* nine fields */
                free(m);
                assert_true(asprintf(&m, "%s AAAA", s) > 0);
                expect_malformed(m, strlen(m));
                free(m);
        }
        free(s);

        /* Over the size cap, even if otherwise fine. */
        big = malloc(KEYSLOT_TEXT_MAX + 2);
        assert_non_null(big);
        memset(big, 'A', KEYSLOT_TEXT_MAX + 1);
        big[KEYSLOT_TEXT_MAX + 1] = '\0';
        expect_malformed(big, KEYSLOT_TEXT_MAX + 1);
        free(big);
        expect_malformed(NULL, 0);

        free(text);
        secret_free(key);
}

static void test_kdf_from_string(void **state) {
        struct keyslot_kdf k = { 3, 65536, 1 }, k0;

        assert_int_equal(keyslot_kdf_from_string("t=4,m=1024,p=2", &k), 0);
        assert_int_equal(k.iterations, 4);
        assert_int_equal(k.memory_kib, 1024);
        assert_int_equal(k.lanes, 2);
        assert_int_equal(keyslot_kdf_from_string("m=2048", &k), 0);
        assert_int_equal(k.iterations, 4);
        assert_int_equal(k.memory_kib, 2048);
        assert_int_equal(k.lanes, 2);
        assert_int_equal(keyslot_kdf_from_string("p=1,t=1", &k), 0);
        assert_int_equal(k.iterations, 1);
        assert_int_equal(k.lanes, 1);
        assert_int_equal(keyslot_kdf_from_string("", &k), 0);
        assert_int_equal(k.memory_kib, 2048);
        assert_int_equal(keyslot_kdf_from_string("t=1000,m=1048576,p=16", &k), 0);

        k0 = k = (struct keyslot_kdf) { 3, 65536, 1 };
        static const char *range[] = { "t=0", "t=1001", "m=7", "m=1048577", "p=0", "p=17", "m=64,p=9" };
        for (size_t i = 0; i < sizeof(range) / sizeof(*range); i++) {
                assert_int_equal(keyslot_kdf_from_string(range[i], &k), -ERANGE);
                assert_memory_equal(&k, &k0, sizeof(k));
        }
        static const char *syntax[] = { "t=1,t=2", "x=1", "t=", "t", "=1", "t=1,", ",t=1", "t=1,,m=64", "t=01",
                                        "t=-1", "t=+1", "t=4294967296", "t = 1", "t=1;m=64", "t=1 ", "tt=1", "T=1" };
        for (size_t i = 0; i < sizeof(syntax) / sizeof(*syntax); i++) {
                if (keyslot_kdf_from_string(syntax[i], &k) != -EINVAL)
                        fail_msg("accepted \"%s\"", syntax[i]);
                assert_memory_equal(&k, &k0, sizeof(k));
        }
}

static void test_calibrate(void **state) {
        struct keyslot_kdf k = {};
        struct secret *key = pattern_key(64, 0), *out = NULL;
        char *text = NULL;

        assert_int_equal(keyslot_kdf_calibrate(1, &k), 0);
        assert_int_equal(k.lanes, 1);
        assert_true(k.memory_kib >= 8192 && k.memory_kib <= 65536);
        assert_true(k.iterations >= 1 && k.iterations <= 1000);
        /* The result is usable as is. */
        assert_int_equal(keyslot_wrap(&k, PW, PW_LEN, key, &text), 0);
        assert_int_equal(keyslot_unwrap(text, strlen(text), PW, PW_LEN, &out), 0);
        assert_memory_equal(out->data, key->data, 64);
        secret_free(out);
        free(text);
        secret_free(key);
        assert_int_equal(keyslot_kdf_calibrate(1000, NULL), -EINVAL);
}

static void test_vector(void **state) {
        struct secret *out = NULL;
        struct keyslot_kdf k;

        assert_int_equal(keyslot_inspect(vector, strlen(vector), &k), 0);
        assert_int_equal(k.iterations, 1);
        assert_int_equal(k.memory_kib, 64);
        assert_int_equal(k.lanes, 1);
        assert_int_equal(keyslot_unwrap(vector, strlen(vector), PW, PW_LEN, &out), 0);
        assert_int_equal(out->size, 64);
        for (size_t i = 0; i < 64; i++)
                assert_int_equal(out->data[i], i);
        secret_free(out);
        out = NULL;
        assert_int_equal(keyslot_unwrap(vector, strlen(vector), "Correct horse battery staple", PW_LEN, &out), -ENOKEY);
        assert_null(out);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_other_costs),
                cmocka_unit_test(test_wrong_password),
                cmocka_unit_test(test_wrap_invalid),
                cmocka_unit_test(test_tamper),
                cmocka_unit_test(test_parameter_swap),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_kdf_from_string),
                cmocka_unit_test(test_calibrate),
                cmocka_unit_test(test_vector),
        };

        if (crypto_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("keyslot", tests, NULL, NULL);
}
