/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/secret.c: page-backed secret buffers and crypto_init(). */
#include <errno.h>
#include <gcrypt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "secret.h"

static size_t page_size(void) {
        return (size_t) sysconf(_SC_PAGESIZE);
}

static void assert_well_formed(const struct secret *s, size_t requested) {
        size_t page = page_size();

        assert_non_null(s);
        assert_non_null(s->data);
        /* Page-aligned anonymous memory, a whole number of pages. */
        assert_int_equal((uintptr_t) s->data % page, 0);
        assert_true(s->mapped > 0);
        assert_int_equal(s->mapped % page, 0);
        /* At least what was asked for, with room for a NUL after it. */
        assert_true(s->capacity >= requested);
        assert_true(s->capacity < s->mapped);
        /* Not wastefully large: less than a page beyond the request + NUL. */
        assert_true(s->mapped <= requested + page);
}

static void test_new_capacity(void **state) {
        size_t page = page_size();
        const size_t caps[] = { 0, 1, 100, page - 2, page - 1, page, page + 1, 2 * page - 1, 2 * page, 1000000 };

        for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
                struct secret *s = NULL;

                assert_int_equal(secret_new(caps[i], &s), 0);
                assert_well_formed(s, caps[i]);
                assert_int_equal(s->size, 0);
                /* Fresh anonymous pages are zero, the whole capacity is writable. */
                for (size_t k = 0; k < s->mapped; k++)
                        if (s->data[k] != 0)
                                fail_msg("byte %zu of a new secret is not zero", k);
                memset(s->data, 0xa5, s->capacity);
                /* The spare byte after the capacity stays a NUL terminator. */
                assert_int_equal(s->data[s->capacity], 0);
                secret_free(s);
        }
}

static void test_new_huge_fails(void **state) {
        struct secret *s = NULL;

        assert_true(secret_new(SIZE_MAX, &s) < 0);
        assert_null(s);
        assert_true(secret_new(SIZE_MAX - page_size(), &s) < 0);
        assert_null(s);
}

static void test_reserve_keeps_content(void **state) {
        size_t page = page_size();
        struct secret *s = NULL;
        uint8_t *old_data;
        size_t old_capacity;

        assert_int_equal(secret_new(10, &s), 0);
        memcpy(s->data, "0123456789", 10);
        s->size = 10;

        /* Within capacity: nothing moves. */
        old_data = s->data;
        old_capacity = s->capacity;
        assert_int_equal(secret_reserve(s, 5), 0);
        assert_int_equal(secret_reserve(s, s->capacity), 0);
        assert_ptr_equal(s->data, old_data);
        assert_int_equal(s->capacity, old_capacity);
        assert_int_equal(s->size, 10);

        /* Growing keeps the bytes in use and the size. */
        for (size_t want = old_capacity + 1; want < 40 * page; want = want * 3 + 1) {
                assert_int_equal(secret_reserve(s, want), 0);
                assert_well_formed(s, want);
                assert_int_equal(s->size, 10);
                assert_memory_equal(s->data, "0123456789", 10);
                /* Beyond the content the new pages are clean. */
                for (size_t k = s->size; k < s->mapped; k++)
                        if (s->data[k] != 0)
                                fail_msg("byte %zu after reserve(%zu) is not zero", k, want);
        }
        secret_free(s);
}

static void test_reserve_full_buffer(void **state) {
        struct secret *s = NULL;
        size_t cap;

        assert_int_equal(secret_new(0, &s), 0);
        cap = s->capacity;
        for (size_t i = 0; i < cap; i++)
                s->data[i] = (uint8_t) (i * 7);
        s->size = cap;
        assert_int_equal(secret_reserve(s, cap + 1), 0);
        assert_true(s->capacity >= cap + 1);
        assert_int_equal(s->size, cap);
        for (size_t i = 0; i < cap; i++)
                if (s->data[i] != (uint8_t) (i * 7))
                        fail_msg("byte %zu lost in reserve", i);
        assert_int_equal(s->data[s->capacity], 0);
        secret_free(s);
}

static void test_free_null(void **state) {
        struct secret *s = NULL;

        secret_free(NULL);
        {
                _cleanup_secret_ struct secret *c = NULL;

                assert_int_equal(secret_new(1, &c), 0);
                c->data[0] = 1;
        }
        assert_null(s);
}

static void test_crypto_init(void **state) {
        /* main() called it: libgcrypt is ready and secure memory is on. */
        assert_true(gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P));
        assert_true(gcry_control(GCRYCTL_ANY_INITIALIZATION_P));
        /* Secrets must never land in a core dump. */
        assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
        {
                gcry_cipher_hd_t h;

                assert_int_equal(gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE), 0);
                gcry_cipher_close(h);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_new_capacity),
                cmocka_unit_test(test_new_huge_fails),
                cmocka_unit_test(test_reserve_keeps_content),
                cmocka_unit_test(test_reserve_full_buffer),
                cmocka_unit_test(test_free_null),
                cmocka_unit_test(test_crypto_init),
        };

        if (crypto_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("secret", tests, NULL, NULL);
}
