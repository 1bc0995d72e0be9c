/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for the credential decoder, in three modes picked by the
 * first input byte:
 *
 *   0x01  roundtrip: [0x01][flags][L][L name bytes][plaintext...]
 *         cred_encrypt() with the null key and with the host key, then
 *         cred_blob_from_text() (raw or Base64) and cred_decrypt(); the
 *         plaintext must come back, a flipped bit must be refused, a wrong
 *         expected name must be refused, expiry must be honoured.
 *   0x02  seal: [0x02][flags][IV size][inner plaintext...]
 *         the harness itself encrypts arbitrary inner bytes (metadata header
 *         + payload) with AES-256-GCM under the null or host key, so the
 *         fuzzer reaches check_metadata() past the tag check; the outcome is
 *         compared with an independent model of the format's rules.
 *   other decode: the whole input is credential file contents (Base64 text or
 *         raw), fed to cred_blob_from_text() and cred_decrypt(). The test
 *         vectors seed this mode unchanged. Expected name: "x" if the last
 *         byte is odd, else none.
 *
 * Host-keyed credentials use a host key of systemd's format that the harness
 * writes into a fresh directory under $TMPDIR (header from /etc/machine-id).
 * Library diagnostics are discarded; set FUZZ_CRED_VERBOSE=1 to see them. */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base64.h"
#include "cred.h"
#include "hostkey.h"
#include "hostkey-fixture.h"
#include "log.h"
#include "secret.h"
#include "timestamp.h"

#define NOW (UINT64_C(1700000000) * USEC_PER_SEC)
#define HOUR (UINT64_C(3600) * USEC_PER_SEC)
#define HEADER_SIZE 32
#define ALIGN8_(n) (((n) + 7) & ~(size_t) 7)

static const uint8_t id_host[16] = { 0x5a, 0x1c, 0x6a, 0x86, 0xdf, 0x9d, 0x40, 0x96,
                                     0xb1, 0xd5, 0xa6, 0x5e, 0x08, 0x62, 0xf1, 0x9a };
static const uint8_t id_null[16] = { 0x05, 0x84, 0x69, 0xda, 0xf6, 0xf5, 0x43, 0x24,
                                     0x80, 0x05, 0x49, 0xda, 0x0f, 0x8e, 0xa2, 0xfb };


#define CHECK(expr)                                                                       \
        do {                                                                              \
                if (!(expr)) {                                                            \
                        fprintf(real_stderr, "fuzz-cred: check failed at %s:%d: %s\n",   \
                                __FILE__, __LINE__, #expr);                               \
                        abort();                                                          \
                }                                                                         \
        } while (0)


int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fixture_host_key("fuzz-cred");
        return 0;
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const uint8_t *p) {
        return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* --- decode: arbitrary credential file contents ------------------------------------ */

static void fuzz_decode(const uint8_t *data, size_t size) {
        struct cred_decrypt_params p = {
                .host_key_path = key_path,
                .expected_name = size > 0 && (data[size - 1] & 1) ? "x" : NULL,
                .now = NOW,
                .null_policy = CRED_NULL_ALLOW,
        };
        struct secret *pt = NULL;
        uint8_t *blob = NULL;
        size_t n = 0;
        bool looks = cred_looks_encrypted(data, size);
        int r;

        if (cred_blob_from_text(data, size, &blob, &n) < 0)
                return;
        CHECK(n <= CRED_BLOB_MAX);
        r = cred_decrypt(&p, blob, n, &pt);
        if (r >= 0) {
                /* Anything that decrypts has a known key type, so it looks encrypted. */
                CHECK(looks);
                CHECK(pt->size <= CRED_PLAINTEXT_MAX);
                CHECK(pt->size + HEADER_SIZE + 16 + 24 <= n);
                secret_free(pt);
        }
        free(blob);
}

/* --- roundtrip: cred_encrypt() then cred_decrypt() ------------------------------------ */

static int decrypt_text(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, bool base64,
                        struct secret **ret) {
        uint8_t *parsed = NULL;
        char *text = NULL;
        size_t n = 0, len = 0;
        int r;

        if (base64) {
                CHECK(base64_encode(blob, size, CRED_BASE64_WIDTH, &text, &len) == 0);
                CHECK(cred_blob_from_text((const uint8_t *) text, len, &parsed, &n) == 0);
                free(text);
        } else
                CHECK(cred_blob_from_text(blob, size, &parsed, &n) == 0);
        CHECK(n == size && memcmp(parsed, blob, size) == 0);
        r = cred_decrypt(p, parsed, n, ret);
        free(parsed);
        return r;
}

static void fuzz_roundtrip(const uint8_t *data, size_t size) {
        static const uint64_t not_afters[4] = { USEC_INFINITY, NOW + HOUR, NOW - 1, NOW - HOUR };
        char name[256];
        uint8_t flags, name_size;
        const uint8_t *pt;
        size_t pt_size, name_len;
        uint64_t timestamp, not_after;
        bool base64, expired, enc_ok;

        if (size < 3)
                return;
        flags = data[1];
        name_size = data[2];
        if ((size_t) name_size > size - 3)
                return;
        memcpy(name, data + 3, name_size);
        name[name_size] = '\0';
        name_len = strlen(name);
        pt = data + 3 + name_size;
        pt_size = size - 3 - name_size;

        timestamp = flags & 0x04 ? USEC_INFINITY : NOW - HOUR;
        not_after = not_afters[flags & 0x03];
        base64 = flags & 0x20;
        expired = not_after != USEC_INFINITY && not_after < NOW && !(flags & 0x10);
        enc_ok = (name_len == 0 || cred_name_valid(name)) &&
                 !(timestamp != USEC_INFINITY && not_after != USEC_INFINITY && not_after <= timestamp);

        for (int i = 0; i < 2; i++) {
                struct cred_encrypt_params ep = {
                        .key = i == 0 ? CRED_KEY_NULL : CRED_KEY_HOST,
                        .host_key_path = key_path,
                        .name = name,
                        .timestamp = timestamp,
                        .not_after = not_after,
                };
                struct cred_decrypt_params dp = {
                        .host_key_path = key_path,
                        .expected_name = flags & 0x08 ? name : NULL,
                        .now = NOW,
                        .allow_expired = flags & 0x10,
                        .null_policy = CRED_NULL_ALLOW,
                };
                struct secret *out = NULL;
                uint8_t *blob = NULL;
                size_t blob_size = 0, flip;
                int r;

                r = cred_encrypt(&ep, pt, pt_size, &blob, &blob_size);
                CHECK((r >= 0) == enc_ok);
                if (r < 0)
                        continue;
                CHECK(blob_size == ALIGN8_(HEADER_SIZE + 12) + ALIGN8_(20 + name_len) + pt_size + 16);
                CHECK(memcmp(blob, i == 0 ? id_null : id_host, 16) == 0);

                r = decrypt_text(&dp, blob, blob_size, base64, &out);
                if (expired)
                        CHECK(r == -ESTALE);
                else {
                        CHECK(r == 0);
                        CHECK(out->size == pt_size);
                        CHECK(pt_size == 0 || memcmp(out->data, pt, pt_size) == 0);
                        secret_free(out);
                        out = NULL;
                }

                /* A wrong expected name is refused when a name is embedded. */
                if (name_len > 0 && strcmp(name, "x") != 0) {
                        dp.expected_name = "x";
                        r = cred_decrypt(&dp, blob, blob_size, &out);
                        CHECK(r < 0);
                        dp.expected_name = flags & 0x08 ? name : NULL;
                }

                /* Any flipped bit, in headers, IV, padding, ciphertext or tag, is refused. */
                flip = ((size_t) name_size * 257 + pt_size * 31 + flags) % blob_size;
                blob[flip] ^= (uint8_t) (1u << (flags >> 5 & 7));
                dp.allow_expired = true;
                r = cred_decrypt(&dp, blob, blob_size, &out);
                CHECK(r < 0);
                free(blob);
        }
}

/* --- seal: the harness encrypts arbitrary inner plaintext --------------------------- */

static bool model_accepts(const uint8_t *inner, size_t size, const char *expected_name, bool allow_expired,
                          size_t *ret_meta) {
        uint64_t timestamp, not_after;
        uint32_t name_size;
        char name[CRED_NAME_MAX + 1];

        if (size < 24)
                return false;
        timestamp = le64(inner);
        not_after = le64(inner + 8);
        name_size = le32(inner + 16);
        if (timestamp != USEC_INFINITY && not_after != USEC_INFINITY && timestamp >= not_after)
                return false;
        if (name_size > CRED_NAME_MAX || ALIGN8_(20 + (size_t) name_size) > size)
                return false;
        memcpy(name, inner + 20, name_size);
        name[name_size] = '\0';
        if (name_size > 0 && (strlen(name) != name_size || !cred_name_valid(name)))
                return false;
        if (name_size > 0 && expected_name && strcmp(name, expected_name) != 0)
                return false;
        if (not_after != USEC_INFINITY && not_after < NOW && !allow_expired)
                return false;
        if (size - ALIGN8_(20 + (size_t) name_size) > CRED_PLAINTEXT_MAX)
                return false;
        *ret_meta = ALIGN8_(20 + (size_t) name_size);
        return true;
}

static void fuzz_seal(const uint8_t *data, size_t size) {
        struct cred_decrypt_params dp = {
                .host_key_path = key_path,
                .now = NOW,
                .null_policy = CRED_NULL_ALLOW,
        };
        struct secret *out = NULL;
        gcry_cipher_hd_t h = NULL;
        uint8_t flags, aes_key[32], *blob;
        const uint8_t *inner;
        size_t iv_size, aad, inner_size, blob_size, meta = 0;
        bool host, ok;
        int r;

        if (size < 3)
                return;
        flags = data[1];
        iv_size = data[2];
        inner = data + 3;
        inner_size = size - 3;
        host = flags & 0x01;
        dp.expected_name = flags & 0x02 ? "x" : NULL;
        dp.allow_expired = flags & 0x04;
        if (iv_size == 0)
                return; /* GCM needs an IV; the decode mode covers IV size 0 */

        aad = ALIGN8_(HEADER_SIZE + iv_size);
        blob_size = aad + inner_size + 16;
        blob = calloc(1, blob_size);
        CHECK(blob);
        memcpy(blob, host ? id_host : id_null, 16);
        put_le32(blob + 16, 32);
        put_le32(blob + 20, 1);
        put_le32(blob + 24, (uint32_t) iv_size);
        put_le32(blob + 28, 16);
        for (size_t i = 0; i < iv_size; i++)
                blob[HEADER_SIZE + i] = (uint8_t) (0xa5 ^ i);

        if (host)
                gcry_md_hash_buffer(GCRY_MD_SHA256, aes_key, host_key, sizeof(host_key));
        else
                gcry_md_hash_buffer(GCRY_MD_SHA256, aes_key, "", 0);
        CHECK(gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, 0) == 0);
        CHECK(gcry_cipher_setkey(h, aes_key, sizeof(aes_key)) == 0);
        CHECK(gcry_cipher_setiv(h, blob + HEADER_SIZE, iv_size) == 0);
        CHECK(gcry_cipher_authenticate(h, blob, aad) == 0);
        CHECK(gcry_cipher_final(h) == 0);
        CHECK(gcry_cipher_encrypt(h, blob + aad, inner_size, inner, inner_size) == 0);
        CHECK(gcry_cipher_gettag(h, blob + aad + inner_size, 16) == 0);
        gcry_cipher_close(h);

        ok = model_accepts(inner, inner_size, dp.expected_name, dp.allow_expired, &meta);
        r = cred_decrypt(&dp, blob, blob_size, &out);
        CHECK((r >= 0) == ok);
        if (r >= 0) {
                CHECK(out->size == inner_size - meta);
                CHECK(out->size == 0 || memcmp(out->data, inner + meta, out->size) == 0);
                secret_free(out);
        }
        free(blob);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 0 && data[0] == 0x01)
                fuzz_roundtrip(data, size);
        else if (size > 0 && data[0] == 0x02)
                fuzz_seal(data, size);
        else
                fuzz_decode(data, size);
        return 0;
}
