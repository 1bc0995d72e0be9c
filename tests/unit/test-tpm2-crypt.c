/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for lib/tpm2-crypt.c: SHA-256/HMAC over iovecs, KDFa and KDFe
 * known answers computed independently in Python, ECC and RSA session salts
 * opened with the test's own private keys, refused keys, and AES-128-CFB
 * against NIST SP 800-38A. */
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
#include <gcrypt.h>

#include "crypto.h"
#include "tpm2-crypt.h"

/* The KDF vectors below were computed with this Python 3 (K, U, V as here):
 *
 *   import hmac, hashlib
 *   def kdfa(k, label, u, v, n):
 *       out = b""; i = 1
 *       while len(out) < n:
 *           out += hmac.new(k, i.to_bytes(4, "big") + label + b"\0" + u + v + (n * 8).to_bytes(4, "big"),
 *                           hashlib.sha256).digest(); i += 1
 *       return out[:n].hex()
 *   def kdfe(z, label, u, v, n):
 *       out = b""; i = 1
 *       while len(out) < n:
 *           out += hashlib.sha256(i.to_bytes(4, "big") + z + label + b"\0" + u + v).digest(); i += 1
 *       return out[:n].hex()
 *   K, U, V = bytes(range(0, 32)), bytes(range(32, 64)), bytes(range(64, 96))
 *   kdfa(K, b"ATH", U, V, 32); kdfa(K, b"CFB", U, V, 32); kdfa(K, b"ATH", U, V, 80); kdfa(K, b"ATH", b"", b"", 32)
 *   kdfe(K, b"SECRET", U, V, 32); kdfe(K, b"SECRET", U, V, 80)
 */

static struct {
        gcry_sexp_t ecc_key, rsa_key; /* (key-data (public-key ...) (private-key ...)) */
        TPMT_PUBLIC ecc_pub, rsa_pub;
} g;

static void hex(const uint8_t *d, size_t n, char *out) {
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
}

/* K = 00..1f, U = 20..3f, V = 40..5f, as in the Python above. */
static void kdf_inputs(uint8_t k[32], uint8_t u[32], uint8_t v[32]) {
        for (int i = 0; i < 32; i++)
                k[i] = (uint8_t) i, u[i] = (uint8_t) (32 + i), v[i] = (uint8_t) (64 + i);
}

/* An MPI as exactly size big-endian bytes, as the TPM marshals coordinates. */
static void mpi_bytes(gcry_mpi_t m, uint8_t *out, size_t size) {
        size_t n = 0;

        assert_int_equal(gcry_mpi_print(GCRYMPI_FMT_USG, NULL, 0, &n, m), 0);
        assert_true(n <= size);
        memset(out, 0, size - n);
        assert_int_equal(gcry_mpi_print(GCRYMPI_FMT_USG, out + size - n, n, NULL, m), 0);
}

/* The unsigned MPI stored under token name in key (caller releases). */
static gcry_mpi_t key_mpi(gcry_sexp_t key, const char *name) {
        gcry_sexp_t t = gcry_sexp_find_token(key, name, 0);
        gcry_mpi_t m;

        assert_non_null(t);
        m = gcry_sexp_nth_mpi(t, 1, GCRYMPI_FMT_USG);
        gcry_sexp_release(t);
        assert_non_null(m);
        return m;
}

static void ecc_setup(void) {
        gcry_sexp_t parms, t;
        const uint8_t *q;
        size_t q_size = 0;

        assert_int_equal(gcry_sexp_build(&parms, NULL, "(genkey (ecc (curve \"NIST P-256\")))"), 0);
        assert_int_equal(gcry_pk_genkey(&g.ecc_key, parms), 0);
        gcry_sexp_release(parms);
        /* q is the SEC1 uncompressed point 04 ‖ x ‖ y. */
        t = gcry_sexp_find_token(g.ecc_key, "q", 0);
        assert_non_null(t);
        q = (const uint8_t *) gcry_sexp_nth_data(t, 1, &q_size);
        assert_int_equal(q_size, 65);
        assert_int_equal(q[0], 0x04);
        g.ecc_pub = (TPMT_PUBLIC) {
                .type = TPM2_ALG_ECC,
                .nameAlg = TPM2_ALG_SHA256,
                .parameters.eccDetail.curveID = TPM2_ECC_NIST_P256,
        };
        g.ecc_pub.unique.ecc.x.size = g.ecc_pub.unique.ecc.y.size = 32;
        memcpy(g.ecc_pub.unique.ecc.x.buffer, q + 1, 32);
        memcpy(g.ecc_pub.unique.ecc.y.buffer, q + 33, 32);
        gcry_sexp_release(t);
}

static void rsa_setup(void) {
        gcry_sexp_t parms;
        gcry_mpi_t n;

        assert_int_equal(gcry_sexp_build(&parms, NULL, "(genkey (rsa (nbits 4:2048) (rsa-use-e 5:65537)))"), 0);
        assert_int_equal(gcry_pk_genkey(&g.rsa_key, parms), 0);
        gcry_sexp_release(parms);
        g.rsa_pub = (TPMT_PUBLIC) {
                .type = TPM2_ALG_RSA,
                .nameAlg = TPM2_ALG_SHA256,
                .parameters.rsaDetail.keyBits = 2048,
                .parameters.rsaDetail.exponent = 0, /* the TPM's way of saying 65537 */
        };
        n = key_mpi(g.rsa_key, "n");
        g.rsa_pub.unique.rsa.size = 256;
        mpi_bytes(n, g.rsa_pub.unique.rsa.buffer, 256);
        gcry_mpi_release(n);
}

/* Keys are made once: RSA-2048 generation takes a noticeable moment. */
static int group_setup(void **state) {
        ecc_setup();
        rsa_setup();
        return 0;
}

static int group_teardown(void **state) {
        gcry_sexp_release(g.ecc_key);
        gcry_sexp_release(g.rsa_key);
        return 0;
}

/* FIPS 180-2 "abc" and RFC 4231 case 2, each split over parts incl. an empty one. */
static void test_sha256_hmac(void **state) {
        const struct iovec abc[] = { { "a", 1 }, { "", 0 }, { "bc", 2 } };
        const struct iovec jefe[] = { { "what do ya ", 11 }, { "", 0 }, { "want for nothing?", 17 } };
        uint8_t d[32];
        char h[65];

        assert_int_equal(tpm2_sha256(d, abc, 3), 0);
        hex(d, 32, h);
        assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_int_equal(tpm2_hmac((const uint8_t *) "Jefe", 4, jefe, 3, d), 0);
        hex(d, 32, h);
        assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* KDFa known answers: the session key ("ATH"), the parameter key ‖ IV ("CFB"),
 * 80 bytes = 3 HMAC blocks with the last cut ([bits] = 640 changes every block),
 * and empty contexts (no nonces). */
static void test_kdfa(void **state) {
        static const struct {
                const char *label;
                bool context;
                size_t size;
                const char *hex;
        } cases[] = {
                { "ATH", true, 32, "0e910bfdca487340700b56f80f725785fc10ae9b0fc45c7bd79d2dc606187153" },
                { "CFB", true, 32, "b089d48db92e134831ed3c9792c191c2e45cc7011de0b5f0fbb259f88d0668ea" },
                { "ATH", true, 80, "04f31e7c6986ce3eb74e67ae793fd44eb40c6861a6b93badc5ccdb7b74605a15"
                                   "77483390aab38006332fd46adb5f5f6872476f335690c49df2597affc60fbc6e"
                                   "3d935b8aee061aedddd8a8c31427e8a6" },
                { "ATH", false, 32, "b55a59ce55ee2b5d81667560355fd8fb3c9817a173d3ffaf7b6b502c94c42415" },
        };
        uint8_t k[32], u[32], v[32], out[81];
        char h[161];

        kdf_inputs(k, u, v);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                out[cases[i].size] = 0xa5; /* must survive: a truncated block may not overrun */
                assert_int_equal(tpm2_kdfa(k, 32, cases[i].label, cases[i].context ? u : NULL, cases[i].context ? 32 : 0,
                                           cases[i].context ? v : NULL, cases[i].context ? 32 : 0, out, cases[i].size), 0);
                assert_int_equal(out[cases[i].size], 0xa5);
                hex(out, cases[i].size, h);
                assert_string_equal(h, cases[i].hex);
        }
}

static void test_kdfe(void **state) {
        uint8_t z[32], u[32], v[32], out[81];
        char h[161];

        kdf_inputs(z, u, v);
        assert_int_equal(tpm2_kdfe(z, 32, "SECRET", u, 32, v, 32, out, 32), 0);
        hex(out, 32, h);
        assert_string_equal(h, "62cf85ca3599cd915a71a6330c3885f986918e12037ba2e39578f72686417cdb");
        /* KDFe hashes no [bits], so the 80-byte output extends the 32-byte one. */
        out[80] = 0xa5;
        assert_int_equal(tpm2_kdfe(z, 32, "SECRET", u, 32, v, 32, out, 80), 0);
        assert_int_equal(out[80], 0xa5);
        hex(out, 80, h);
        assert_string_equal(h, "62cf85ca3599cd915a71a6330c3885f986918e12037ba2e39578f72686417cdb"
                               "f11851ed7959e6a0f0f4c71659e53867dea29a3233ff9c7ee3c40720956727aa"
                               "991ab87fe2e088e636c87afd2b8d9205");
}

/* Sizes outside 1..1024 bytes are refused rather than truncating [bits]. */
static void test_kdf_size_range(void **state) {
        uint8_t k[32], u[32], v[32], out[32];

        kdf_inputs(k, u, v);
        assert_true(tpm2_kdfa(k, 32, "ATH", u, 32, v, 32, out, 0) < 0);
        assert_true(tpm2_kdfe(k, 32, "SECRET", u, 32, v, 32, out, 1025) < 0);
}

/* Checks the marshalled TPMS_ECC_POINT and returns Qe as a curve point. */
static gcry_mpi_point_t ephemeral_point(const TPM2B_ENCRYPTED_SECRET *s, gcry_ctx_t ctx) {
        gcry_mpi_t x = NULL, y = NULL;
        gcry_mpi_point_t p = gcry_mpi_point_new(0);

        assert_int_equal(s->size, 2 + 32 + 2 + 32);
        assert_int_equal(s->secret[0], 0), assert_int_equal(s->secret[1], 32);
        assert_int_equal(s->secret[34], 0), assert_int_equal(s->secret[35], 32);
        assert_int_equal(gcry_mpi_scan(&x, GCRYMPI_FMT_USG, s->secret + 2, 32, NULL), 0);
        assert_int_equal(gcry_mpi_scan(&y, GCRYMPI_FMT_USG, s->secret + 36, 32, NULL), 0);
        gcry_mpi_point_snatch_set(p, x, y, gcry_mpi_set_ui(NULL, 1));
        assert_true(gcry_mpi_ec_curve_point(p, ctx));
        return p;
}

/* What the TPM does on StartAuthSession: Z = (d·Qe).x, salt = KDFe(Z, "SECRET", Qe.x, Qs.x). */
static void ecc_unsalt(const TPM2B_ENCRYPTED_SECRET *s, uint8_t salt[32]) {
        gcry_ctx_t ctx = NULL;
        gcry_mpi_t d = key_mpi(g.ecc_key, "d"), zx = gcry_mpi_new(0);
        gcry_mpi_point_t qe, p = gcry_mpi_point_new(0);
        uint8_t z[32];

        assert_int_equal(gcry_mpi_ec_new(&ctx, NULL, "NIST P-256"), 0);
        qe = ephemeral_point(s, ctx);
        gcry_mpi_ec_mul(p, d, qe, ctx);
        assert_int_equal(gcry_mpi_ec_get_affine(zx, NULL, p, ctx), 0);
        mpi_bytes(zx, z, 32);
        assert_int_equal(tpm2_kdfe(z, 32, "SECRET", s->secret + 2, 32, g.ecc_pub.unique.ecc.x.buffer, 32, salt, 32), 0);
        gcry_mpi_release(d), gcry_mpi_release(zx);
        gcry_mpi_point_release(qe), gcry_mpi_point_release(p);
        gcry_ctx_release(ctx);
}

static void test_salt_ecc(void **state) {
        TPM2B_ENCRYPTED_SECRET s1 = {}, s2 = {};
        uint8_t salt1[32], salt2[32], want[32];

        assert_int_equal(tpm2_salt_make(&g.ecc_pub, salt1, &s1), 0);
        ecc_unsalt(&s1, want);
        assert_memory_equal(salt1, want, 32);
        /* A fresh ephemeral key each call: new point, new salt. */
        assert_int_equal(tpm2_salt_make(&g.ecc_pub, salt2, &s2), 0);
        ecc_unsalt(&s2, want);
        assert_memory_equal(salt2, want, 32);
        assert_memory_not_equal(salt1, salt2, 32);
        assert_memory_not_equal(s1.secret + 2, s2.secret + 2, 32);
        assert_memory_not_equal(s1.secret + 36, s2.secret + 36, 32);
}

/* RSA-OAEP-SHA-256 decryption with the private key; label includes its NUL. */
static int rsa_unsalt(const TPM2B_ENCRYPTED_SECRET *s, const char *label, size_t label_size, uint8_t salt[32]) {
        gcry_sexp_t enc = NULL, plain = NULL, priv = gcry_sexp_find_token(g.rsa_key, "private-key", 0), v;
        const void *p;
        size_t n = 0;
        int r = -EBADMSG;

        assert_non_null(priv);
        assert_int_equal(gcry_sexp_build(&enc, NULL, "(enc-val (flags oaep) (hash-algo sha256) (label %b) (rsa (a %b)))",
                                         (int) label_size, label, (int) s->size, s->secret),
                         0);
        if (gcry_pk_decrypt(&plain, enc, priv) == 0) {
                v = gcry_sexp_find_token(plain, "value", 0);
                assert_non_null(v);
                p = gcry_sexp_nth_data(v, 1, &n);
                assert_int_equal(n, 32);
                memcpy(salt, p, 32);
                gcry_sexp_release(v);
                r = 0;
        }
        gcry_sexp_release(enc), gcry_sexp_release(plain), gcry_sexp_release(priv);
        return r;
}

static void test_salt_rsa(void **state) {
        TPM2B_ENCRYPTED_SECRET s1 = {}, s2 = {};
        uint8_t salt1[32], salt2[32], got[32];

        assert_int_equal(tpm2_salt_make(&g.rsa_pub, salt1, &s1), 0);
        assert_int_equal(s1.size, 256);
        assert_int_equal(rsa_unsalt(&s1, "SECRET", 7, got), 0);
        assert_memory_equal(got, salt1, 32);
        /* The TPM decrypts with label "SECRET\0"; any other label must not open it. */
        assert_true(rsa_unsalt(&s1, "SECRET", 6, got) < 0);
        assert_true(rsa_unsalt(&s1, "SALT", 5, got) < 0);
        assert_int_equal(tpm2_salt_make(&g.rsa_pub, salt2, &s2), 0);
        assert_int_equal(rsa_unsalt(&s2, "SECRET", 7, got), 0);
        assert_memory_equal(got, salt2, 32);
        assert_memory_not_equal(salt1, salt2, 32);
}

static void test_salt_refused(void **state) {
        TPM2B_ENCRYPTED_SECRET s = {};
        TPMT_PUBLIC k;
        uint8_t salt[32];

        /* y ± 1 leaves the curve: an invalid-point attack must not get a salt. */
        k = g.ecc_pub;
        k.unique.ecc.y.buffer[31] ^= 1;
        assert_true(tpm2_salt_make(&k, salt, &s) < 0);
        k = g.ecc_pub;
        k.parameters.eccDetail.curveID = TPM2_ECC_NIST_P384;
        assert_true(tpm2_salt_make(&k, salt, &s) < 0);
        k = g.ecc_pub;
        k.nameAlg = TPM2_ALG_SHA1;
        assert_true(tpm2_salt_make(&k, salt, &s) < 0);
        k = g.rsa_pub;
        k.nameAlg = TPM2_ALG_SHA1;
        assert_true(tpm2_salt_make(&k, salt, &s) < 0);
        k = g.ecc_pub;
        k.type = TPM2_ALG_KEYEDHASH;
        assert_true(tpm2_salt_make(&k, salt, &s) < 0);
        k = g.rsa_pub;
        k.unique.rsa.size = 64;
        assert_true(tpm2_salt_make(&k, salt, &s) < 0);
}

static void unhex(const char *h, uint8_t *out) {
        for (size_t i = 0; h[2 * i]; i++)
                assert_int_equal(sscanf(h + 2 * i, "%2hhx", &out[i]), 1);
}

/* NIST SP 800-38A F.3.13 CFB128-AES128.Encrypt, blocks 1 and 2. */
static void test_cfb(void **state) {
        uint8_t key_iv[32], buf[32], plain[32], want[32], odd[37], odd_plain[37];

        unhex("2b7e151628aed2a6abf7158809cf4f3c000102030405060708090a0b0c0d0e0f", key_iv);
        unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51", plain);
        unhex("3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b", want);
        memcpy(buf, plain, 32);
        assert_int_equal(tpm2_cfb(true, key_iv, buf, 32), 0);
        assert_memory_equal(buf, want, 32);
        assert_int_equal(tpm2_cfb(false, key_iv, buf, 32), 0);
        assert_memory_equal(buf, plain, 32);
        /* TPM parameters are rarely whole blocks: a 20-byte prefix encrypts to the vector's prefix. */
        memcpy(buf, plain, 20);
        assert_int_equal(tpm2_cfb(true, key_iv, buf, 20), 0);
        assert_memory_equal(buf, want, 20);
        for (size_t i = 0; i < sizeof(odd); i++)
                odd[i] = odd_plain[i] = (uint8_t) (i * 7);
        assert_int_equal(tpm2_cfb(true, key_iv, odd, sizeof(odd)), 0);
        assert_memory_not_equal(odd, odd_plain, sizeof(odd));
        assert_int_equal(tpm2_cfb(false, key_iv, odd, sizeof(odd)), 0);
        assert_memory_equal(odd, odd_plain, sizeof(odd));
        assert_int_equal(tpm2_cfb(true, key_iv, odd, 0), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sha256_hmac),
                cmocka_unit_test(test_kdfa),
                cmocka_unit_test(test_kdfe),
                cmocka_unit_test(test_kdf_size_range),
                cmocka_unit_test(test_salt_ecc),
                cmocka_unit_test(test_salt_rsa),
                cmocka_unit_test(test_salt_refused),
                cmocka_unit_test(test_cfb),
        };

        if (crypto_init() < 0)
                return 1;
        return cmocka_run_group_tests_name("tpm2-crypt", tests, group_setup, group_teardown);
}
