/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the pure parts of lib/tpm2.c: --tpm2-pcrs= parsing, the
 * policy digests systemd computes, and the PCR-signing key's fingerprint and
 * TPM name. Values are those of systemd's own vectors (tests/vectors/tpm2). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tpm2.h"

static void hex(const uint8_t *d, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_pcrs_parse(void **state) {
        struct tpm2_pcr_spec s = {};

        assert_int_equal(tpm2_pcrs_parse("7+11", &s), 0);
        assert_int_equal(s.mask, 0x880);
        assert_int_equal(s.bank, 0);
        s = (struct tpm2_pcr_spec) {};
        assert_int_equal(tpm2_pcrs_parse("secure-boot-policy,kernel-boot+0", &s), 0);
        assert_int_equal(s.mask, 0x881);
        /* Repeats OR together. */
        assert_int_equal(tpm2_pcrs_parse("23", &s), 0);
        assert_int_equal(s.mask, 0x800881);
        s = (struct tpm2_pcr_spec) {};
        assert_int_equal(tpm2_pcrs_parse("7:sha1", &s), 0);
        assert_int_equal(s.bank, TPM2_BANK_SHA1);
        assert_int_equal(s.values_mask, 0);
        s = (struct tpm2_pcr_spec) {};
        assert_int_equal(tpm2_pcrs_parse("7:sha256=0x0707070707070707070707070707070707070707070707070707070707070707", &s), 0);
        assert_int_equal(s.values_mask, 0x80);
        assert_int_equal(s.values[7][31], 7);
        static const char *const bad[] = { "24", "-1", "7+", "+7", "nope", "7:md5", "7:sha384", "7:sha256=ab", "7:sha256+8:sha1",
                                           "7:", "007", "7:sha256=zz07070707070707070707070707070707070707070707070707070707070707" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct tpm2_pcr_spec b = {};

                assert_true(tpm2_pcrs_parse(bad[i], &b) < 0);
        }
        assert_string_equal(tpm2_pcr_name(7), "secure-boot-policy");
        assert_null(tpm2_pcr_name(8));
        assert_null(tpm2_pcr_name(24));
}

/* PolicyPCR over sha256 PCR 11 = 0, from a zero policy: the "pol" of the vectors' signature. */
static void test_policy_pcr(void **state) {
        uint8_t d[32] = {}, zero[32] = {};
        char h[65];

        assert_int_equal(tpm2_policy_pcr(d, TPM2_BANK_SHA256, 1U << 11, zero, 32), 0);
        hex(d, 32, h);
        assert_string_equal(h, "fd32fa22c52cfc8e1a0c29eb38519f87084cab0b04b0d8f020a4d38b2f4e223e");
}

static void test_rsa_key_and_authorize(void **state) {
        struct tpm2_rsa_pub k;
        char pem[4096], h[65];
        uint8_t d[32] = {};
        FILE *f = fopen("tests/vectors/tpm2/pcr-signing-pub.pem", "re");
        size_t n;

        assert_non_null(f);
        n = fread(pem, 1, sizeof(pem), f);
        fclose(f);
        assert_int_equal(tpm2_rsa_pub_from_pem(pem, n, &k), 0);
        assert_int_equal(k.n_size, 256);
        assert_int_equal(k.e, 65537);
        hex(k.fingerprint, 32, h);
        assert_string_equal(h, "e77f22a2da658e2ad957b9728da367ed9eff498de53fdb0183b5b6c6233b8385");
        /* systemd's PolicyAuthorize digest for this key: 6d50c22c…8020. */
        assert_int_equal(tpm2_policy_authorize(d, k.name, sizeof(k.name)), 0);
        hex(d, 32, h);
        assert_memory_equal(h, "6d50c22c", 8);
        assert_memory_equal(h + 60, "8020", 4);
        assert_true(tpm2_rsa_pub_from_pem("not a key", 9, &k) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pcrs_parse),
                cmocka_unit_test(test_policy_pcr),
                cmocka_unit_test(test_rsa_key_and_authorize),
        };

        return cmocka_run_group_tests_name("tpm2", tests, NULL, NULL);
}
