/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <errno.h>
#include <gcrypt.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "tpm2-crypt.h"

static int digest_parts(int flags, const uint8_t *key, size_t key_size, const struct iovec *parts, size_t n_parts,
                        uint8_t out[TPM2_SESSION_DIGEST]) {
        gcry_md_hd_t h;

        if (gcry_md_open(&h, GCRY_MD_SHA256, flags))
                return log_fail(-EIO, "cannot set up SHA-256");
        if (key && gcry_md_setkey(h, key, key_size)) {
                gcry_md_close(h);
                return log_fail(-EIO, "cannot set up HMAC-SHA-256");
        }
        for (size_t i = 0; i < n_parts; i++)
                if (parts[i].iov_len > 0)
                        gcry_md_write(h, parts[i].iov_base, parts[i].iov_len);
        memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), TPM2_SESSION_DIGEST);
        gcry_md_close(h); /* wipes the context */
        return 0;
}

int tpm2_sha256(uint8_t out[TPM2_SESSION_DIGEST], const struct iovec *parts, size_t n_parts) {
        return digest_parts(0, NULL, 0, parts, n_parts, out);
}

int tpm2_hmac(const uint8_t *key, size_t key_size, const struct iovec *parts, size_t n_parts,
              uint8_t out[TPM2_SESSION_DIGEST]) {
        return digest_parts(GCRY_MD_FLAG_HMAC | GCRY_MD_FLAG_SECURE, key, key_size, parts, n_parts, out);
}

/* Both KDFs: block i = PRF([i] ‖ ...), concatenated and cut to out_size. */
static int kdf(bool hmac, const uint8_t *key, size_t key_size, const char *label, const uint8_t *u, size_t u_size,
               const uint8_t *v, size_t v_size, uint8_t *out, size_t out_size) {
        uint32_t counter, bits = htobe32((uint32_t) out_size * 8);
        uint8_t block[TPM2_SESSION_DIGEST];
        int r = 0;

        if (out_size == 0 || out_size > 1024)
                return log_fail(-EINVAL, "TPM2 KDF output size %zu out of range", out_size);
        for (uint32_t i = 1, off = 0; off < out_size; i++, off += TPM2_SESSION_DIGEST) {
                counter = htobe32(i);
                if (hmac) {
                        /* KDFa: HMAC(key, [i] ‖ label ‖ 0 ‖ u ‖ v ‖ [bits]) */
                        const struct iovec parts[] = {
                                { &counter, 4 }, { (void *) label, strlen(label) + 1 },
                                { (void *) u, u_size }, { (void *) v, v_size }, { &bits, 4 },
                        };
                        r = tpm2_hmac(key, key_size, parts, ELEMENTSOF(parts), block);
                } else {
                        /* KDFe: H([i] ‖ Z ‖ label ‖ 0 ‖ u ‖ v) */
                        const struct iovec parts[] = {
                                { &counter, 4 }, { (void *) key, key_size }, { (void *) label, strlen(label) + 1 },
                                { (void *) u, u_size }, { (void *) v, v_size },
                        };
                        r = tpm2_sha256(block, parts, ELEMENTSOF(parts));
                }
                if (r < 0)
                        break;
                memcpy(out + off, block, out_size - off < sizeof(block) ? out_size - off : sizeof(block));
        }
        explicit_bzero(block, sizeof(block));
        if (r < 0)
                explicit_bzero(out, out_size);
        return r;
}

int tpm2_kdfa(const uint8_t *key, size_t key_size, const char *label, const uint8_t *u, size_t u_size,
              const uint8_t *v, size_t v_size, uint8_t *out, size_t out_size) {
        return kdf(true, key, key_size, label, u, u_size, v, v_size, out, out_size);
}

int tpm2_kdfe(const uint8_t *z, size_t z_size, const char *label, const uint8_t *u, size_t u_size,
              const uint8_t *v, size_t v_size, uint8_t *out, size_t out_size) {
        return kdf(false, z, z_size, label, u, u_size, v, v_size, out, out_size);
}

/* An MPI as exactly size big-endian bytes (left-padded); fails if it is longer. */
static int mpi_fixed(gcry_mpi_t m, uint8_t *out, size_t size) {
        size_t n = 0;

        if (gcry_mpi_print(GCRYMPI_FMT_USG, NULL, 0, &n, m) || n > size)
                return -ERANGE;
        memset(out, 0, size - n);
        if (gcry_mpi_print(GCRYMPI_FMT_USG, out + size - n, n, NULL, m))
                return -ERANGE;
        return 0;
}

/* Part 1 C.6.1: ephemeral d, Qe = d·G, Z = (d·Qs).x, salt = KDFe(Z, "SECRET", Qe.x, Qs.x). */
static int salt_ecc(const TPMS_ECC_POINT *qs, uint8_t salt[TPM2_SESSION_DIGEST], TPM2B_ENCRYPTED_SECRET *ret) {
        gcry_ctx_t ctx = NULL;
        gcry_mpi_t n = NULL, d = NULL, qx = NULL, qy = NULL, ex = NULL, ey = NULL, zx = NULL;
        gcry_mpi_point_t g = NULL, q = NULL, e = NULL, p = NULL;
        uint8_t z[32], ebuf[64];
        int r = -EIO;

        if (qs->x.size == 0 || qs->x.size > 32 || qs->y.size == 0 || qs->y.size > 32)
                return log_fail(-EBADMSG, "TPM2 key has a malformed P-256 point");
        if (gcry_mpi_ec_new(&ctx, NULL, "NIST P-256"))
                return log_fail(-EIO, "libgcrypt has no NIST P-256");
        n = gcry_mpi_ec_get_mpi("n", ctx, 1);
        g = gcry_mpi_ec_get_point("g", ctx, 1);
        q = gcry_mpi_point_new(0);
        e = gcry_mpi_point_new(0);
        p = gcry_mpi_point_new(0);
        d = gcry_mpi_snew(256);
        ex = gcry_mpi_new(0), ey = gcry_mpi_new(0), zx = gcry_mpi_snew(0);
        if (!n || !g || gcry_mpi_scan(&qx, GCRYMPI_FMT_USG, qs->x.buffer, qs->x.size, NULL) ||
            gcry_mpi_scan(&qy, GCRYMPI_FMT_USG, qs->y.buffer, qs->y.size, NULL)) {
                log_fail(r, "cannot set up ECDH with the TPM2 key");
                goto out;
        }
        gcry_mpi_point_snatch_set(q, qx, qy, gcry_mpi_set_ui(NULL, 1));
        qx = qy = NULL;
        if (!gcry_mpi_ec_curve_point(q, ctx)) {
                r = log_fail(-EBADMSG, "TPM2 key is not a point on P-256");
                goto out;
        }
        do
                gcry_mpi_randomize(d, 256, GCRY_STRONG_RANDOM);
        while (gcry_mpi_cmp_ui(d, 0) == 0 || gcry_mpi_cmp(d, n) >= 0);
        gcry_mpi_ec_mul(e, d, g, ctx);
        gcry_mpi_ec_mul(p, d, q, ctx);
        if (gcry_mpi_ec_get_affine(ex, ey, e, ctx) || gcry_mpi_ec_get_affine(zx, NULL, p, ctx) ||
            mpi_fixed(ex, ebuf, 32) < 0 || mpi_fixed(ey, ebuf + 32, 32) < 0 || mpi_fixed(zx, z, 32) < 0) {
                log_fail(r, "ECDH with the TPM2 key failed");
                goto out;
        }
        r = tpm2_kdfe(z, sizeof(z), "SECRET", ebuf, 32, qs->x.buffer, qs->x.size, salt, TPM2_SESSION_DIGEST);
        if (r < 0)
                goto out;
        /* TPMS_ECC_POINT: x and y as TPM2B. */
        ret->size = 2 + 32 + 2 + 32;
        ret->secret[0] = 0, ret->secret[1] = 32;
        memcpy(ret->secret + 2, ebuf, 32);
        ret->secret[34] = 0, ret->secret[35] = 32;
        memcpy(ret->secret + 36, ebuf + 32, 32);
out:
        explicit_bzero(z, sizeof(z));
        gcry_mpi_release(n), gcry_mpi_release(d), gcry_mpi_release(qx), gcry_mpi_release(qy);
        gcry_mpi_release(ex), gcry_mpi_release(ey), gcry_mpi_release(zx);
        gcry_mpi_point_release(g), gcry_mpi_point_release(q), gcry_mpi_point_release(e), gcry_mpi_point_release(p);
        gcry_ctx_release(ctx);
        return r;
}

/* Part 1 B.10.4: a random salt, RSA-OAEP(SHA-256, label "SECRET") to the key. */
static int salt_rsa(const TPMT_PUBLIC *k, uint8_t salt[TPM2_SESSION_DIGEST], TPM2B_ENCRYPTED_SECRET *ret) {
        static const char label[] = "SECRET";
        gcry_sexp_t key = NULL, data = NULL, enc = NULL, a = NULL;
        uint32_t e = htobe32(k->parameters.rsaDetail.exponent ?: 65537);
        uint8_t *secure_salt = NULL;
        const void *c;
        size_t n = k->unique.rsa.size, c_size = 0;
        int r = -EIO;

        if (n < 128 || n > sizeof(ret->secret))
                return log_fail(-EBADMSG, "TPM2 RSA key has a %zu-byte modulus", n);
        /* From secure memory, libgcrypt keeps the S-expression there and wipes it on release. */
        secure_salt = gcry_malloc_secure(TPM2_SESSION_DIGEST);
        if (!secure_salt)
                return log_oom();
        gcry_randomize(secure_salt, TPM2_SESSION_DIGEST, GCRY_STRONG_RANDOM);
        if (gcry_sexp_build(&key, NULL, "(public-key (rsa (n %b) (e %b)))", (int) n, k->unique.rsa.buffer, 4, &e) ||
            gcry_sexp_build(&data, NULL, "(data (flags oaep) (hash-algo sha256) (label %b) (value %b))",
                            (int) sizeof(label), label, (int) TPM2_SESSION_DIGEST, secure_salt) ||
            gcry_pk_encrypt(&enc, data, key) || !(a = gcry_sexp_find_token(enc, "a", 0)) ||
            !(c = gcry_sexp_nth_data(a, 1, &c_size)) || c_size > n) {
                log_fail(r, "cannot encrypt the TPM2 session salt to the RSA key");
                goto out;
        }
        /* libgcrypt drops leading zero bytes; the TPM wants the modulus size. */
        memset(ret->secret, 0, n - c_size);
        memcpy(ret->secret + n - c_size, c, c_size);
        ret->size = (uint16_t) n;
        memcpy(salt, secure_salt, TPM2_SESSION_DIGEST);
        r = 0;
out:
        gcry_sexp_release(key), gcry_sexp_release(data), gcry_sexp_release(enc), gcry_sexp_release(a);
        gcry_free(secure_salt); /* wiped: it is secure memory */
        return r;
}

int tpm2_salt_make(const TPMT_PUBLIC *tpmkey, uint8_t salt[TPM2_SESSION_DIGEST], TPM2B_ENCRYPTED_SECRET *ret) {
        if (tpmkey->nameAlg != TPM2_ALG_SHA256)
                return log_fail(-EOPNOTSUPP, "TPM2 salt key has name algorithm 0x%04x, expected sha256", tpmkey->nameAlg);
        if (tpmkey->type == TPM2_ALG_ECC) {
                if (tpmkey->parameters.eccDetail.curveID != TPM2_ECC_NIST_P256)
                        return log_fail(-EOPNOTSUPP, "TPM2 salt key is on curve 0x%04x, expected P-256",
                                        tpmkey->parameters.eccDetail.curveID);
                return salt_ecc(&tpmkey->unique.ecc, salt, ret);
        }
        if (tpmkey->type == TPM2_ALG_RSA)
                return salt_rsa(tpmkey, salt, ret);
        return log_fail(-EOPNOTSUPP, "TPM2 salt key has type 0x%04x", tpmkey->type);
}

int tpm2_cfb(bool encrypt, const uint8_t key_iv[32], uint8_t *buf, size_t size) {
        gcry_cipher_hd_t h;
        gcry_error_t e;

        if (size == 0)
                return 0;
        if (gcry_cipher_open(&h, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_CFB, GCRY_CIPHER_SECURE))
                return log_fail(-EIO, "cannot set up AES-128-CFB");
        e = gcry_cipher_setkey(h, key_iv, 16);
        if (!e)
                e = gcry_cipher_setiv(h, key_iv + 16, 16);
        if (!e)
                e = encrypt ? gcry_cipher_encrypt(h, buf, size, NULL, 0) : gcry_cipher_decrypt(h, buf, size, NULL, 0);
        gcry_cipher_close(h);
        return e ? log_fail(-EIO, "AES-128-CFB failed") : 0;
}
