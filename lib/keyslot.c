/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Password key slots. The text form is one line of eight fields separated by
 * single spaces, with no trailing newline:
 *
 *   latchkey-slot-v1 argon2id t=T m=M p=P SALT NONCE SEALED
 *
 *   T       Argon2id iterations, 1..1000          (decimal, no leading zeros)
 *   M       Argon2id memory in KiB, 8*P..1048576  (1 GiB caps what a slot may cost)
 *   P       Argon2id lanes, 1..16
 *   SALT    Base64 (standard alphabet, padded) of 32 random bytes
 *   NONCE   Base64 of the 12-byte AES-GCM nonce
 *   SEALED  Base64 of AES-256-GCM(ciphertext || 16-byte tag) of the 1..256-byte secret
 *
 * The AES key is Argon2id(password, SALT, T, M, P) with a 32-byte output. The
 * GCM additional data is the text up to the end of SALT ("latchkey-slot-v1 …
 * SALT"): a slot whose cost fields were edited fails its tag check instead of
 * being derived with other parameters. Parsing is canonical (one spelling per
 * slot), so that prefix is exactly what was sealed. */
#include <errno.h>
#include <gcrypt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "keyslot.h"
#include "log.h"

#define SLOT_MAGIC "latchkey-slot-v1"
#define SLOT_KDF "argon2id"
#define SLOT_FIELDS 8
#define SALT_SIZE 32
#define NONCE_SIZE 12
#define TAG_SIZE 16
#define AES_KEY_SIZE 32
#define SECRET_MIN 1
#define SECRET_MAX 256

#define T_MAX 1000
#define P_MAX 16
#define M_MAX (UINT32_C(1) << 20) /* KiB: 1 GiB, whatever the format could express */

#define B64_LEN(n) (((n) + 2) / 3 * 4)

static void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

struct slot {
        struct keyslot_kdf kdf;
        uint8_t salt[SALT_SIZE];
        uint8_t nonce[NONCE_SIZE];
        uint8_t *sealed; /* ciphertext || tag, not secret */
        size_t sealed_size;
        size_t aad_size; /* text bytes covered by the tag as additional data */
};

static void slot_done(struct slot *s) {
        free(s->sealed);
        s->sealed = NULL;
}

static bool kdf_valid(const struct keyslot_kdf *k) {
        return k->iterations >= 1 && k->iterations <= T_MAX &&
               k->lanes >= 1 && k->lanes <= P_MAX &&
               k->memory_kib >= 8 * k->lanes && k->memory_kib <= M_MAX;
}

/* Canonical decimal only: digits, no sign, no leading zero, fits 32 bits. */
static int parse_u32(const char *s, size_t len, uint32_t *ret) {
        uint64_t v = 0;

        if (len == 0 || len > 10 || (s[0] == '0' && len > 1))
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -EINVAL;
                v = v * 10 + (uint64_t) (s[i] - '0');
        }
        if (v > UINT32_MAX)
                return -EINVAL;
        *ret = (uint32_t) v;
        return 0;
}

static int parse_param(const char *f, size_t len, char name, uint32_t *ret) {
        if (len < 2 || f[0] != name || f[1] != '=')
                return -EINVAL;
        return parse_u32(f + 2, len - 2, ret);
}

/* base64_decode() also takes the URL-safe alphabet and whitespace: refuse both
 * here, so that every slot has exactly one spelling. */
static int decode_field(const char *f, size_t len, size_t min, size_t max, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *out = NULL;
        size_t n = 0;

        if (len % 4 != 0 || len < B64_LEN(min) || len > B64_LEN(max))
                return -EINVAL;
        for (size_t i = 0; i < len; i++)
                if (!((f[i] >= 'A' && f[i] <= 'Z') || (f[i] >= 'a' && f[i] <= 'z') ||
                      (f[i] >= '0' && f[i] <= '9') || f[i] == '+' || f[i] == '/' || f[i] == '='))
                        return -EINVAL;
        if (base64_decode(f, len, &out, &n) < 0)
                return -EINVAL;
        if (n < min || n > max)
                return -EINVAL;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

static int decode_fixed(const char *f, size_t len, uint8_t *out, size_t size) {
        _cleanup_free_ uint8_t *b = NULL;
        size_t n;
        int r;

        r = decode_field(f, len, size, size, &b, &n);
        if (r < 0)
                return r;
        memcpy(out, b, size);
        return 0;
}

/* Everything but the derivation: -EBADMSG for any text keyslot_wrap() could not have made. */
static int slot_parse(const char *text, size_t size, struct slot *ret) {
        const char *field[SLOT_FIELDS];
        size_t len[SLOT_FIELDS], n = 0;
        struct slot s = {};
        const char *p, *end;

        if (!text || size == 0 || size > KEYSLOT_TEXT_MAX || memchr(text, '\0', size))
                return -EBADMSG;
        p = text;
        end = text + size;
        for (;;) {
                const char *sp = memchr(p, ' ', (size_t) (end - p));
                const char *e = sp ?: end;

                if (n == SLOT_FIELDS || e == p) /* too many fields, or an empty one */
                        return -EBADMSG;
                field[n] = p;
                len[n++] = (size_t) (e - p);
                if (!sp)
                        break;
                p = sp + 1;
        }
        if (n != SLOT_FIELDS)
                return -EBADMSG;

        if (len[0] != strlen(SLOT_MAGIC) || memcmp(field[0], SLOT_MAGIC, len[0]) != 0 ||
            len[1] != strlen(SLOT_KDF) || memcmp(field[1], SLOT_KDF, len[1]) != 0)
                return -EBADMSG;
        if (parse_param(field[2], len[2], 't', &s.kdf.iterations) < 0 ||
            parse_param(field[3], len[3], 'm', &s.kdf.memory_kib) < 0 ||
            parse_param(field[4], len[4], 'p', &s.kdf.lanes) < 0 ||
            !kdf_valid(&s.kdf))
                return -EBADMSG;
        if (decode_fixed(field[5], len[5], s.salt, SALT_SIZE) < 0 ||
            decode_fixed(field[6], len[6], s.nonce, NONCE_SIZE) < 0 ||
            decode_field(field[7], len[7], SECRET_MIN + TAG_SIZE, SECRET_MAX + TAG_SIZE, &s.sealed, &s.sealed_size) < 0)
                return -EBADMSG;
        s.aad_size = (size_t) (field[5] + len[5] - text);
        *ret = s;
        return 0;
}

static int gcry_to_errno(gcry_error_t e) {
        int r = gcry_err_code_to_errno(gcry_err_code(e));

        return r > 0 ? -r : -EIO;
}

/* Argon2id straight into a locked buffer; libgcrypt wipes its own work memory. */
static int derive(const struct keyslot_kdf *kdf, const char *password, size_t password_size,
                  const uint8_t salt[SALT_SIZE], struct secret **ret) {
        _cleanup_secret_ struct secret *key = NULL;
        const unsigned long params[4] = { AES_KEY_SIZE, kdf->iterations, kdf->memory_kib, kdf->lanes };
        gcry_kdf_hd_t hd = NULL;
        gcry_error_t e;
        int r;

        r = secret_new(AES_KEY_SIZE, &key);
        if (r < 0)
                return log_oom();
        e = gcry_kdf_open(&hd, GCRY_KDF_ARGON2, GCRY_KDF_ARGON2ID, params, ELEMENTSOF(params),
                          password, password_size, salt, SALT_SIZE, NULL, 0, NULL, 0);
        if (!e)
                e = gcry_kdf_compute(hd, NULL);
        if (!e)
                e = gcry_kdf_final(hd, AES_KEY_SIZE, key->data);
        if (hd)
                gcry_kdf_close(hd);
        if (e)
                return log_fail(gcry_to_errno(e), "Argon2id (t=%" PRIu32 " m=%" PRIu32 " p=%" PRIu32 ") failed: %s",
                                kdf->iterations, kdf->memory_kib, kdf->lanes, gcry_strerror(e));
        key->size = AES_KEY_SIZE;
        *ret = TAKE_PTR(key);
        return 0;
}

static void cipher_closep(gcry_cipher_hd_t *h) {
        if (*h)
                gcry_cipher_close(*h);
}

static int cipher_open(const struct secret *key, const uint8_t nonce[NONCE_SIZE], gcry_cipher_hd_t *ret) {
        gcry_cipher_hd_t h = NULL;
        gcry_error_t e;

        e = gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE);
        if (!e)
                e = gcry_cipher_setkey(h, key->data, AES_KEY_SIZE);
        if (!e)
                e = gcry_cipher_setiv(h, nonce, NONCE_SIZE);
        if (e) {
                if (h)
                        gcry_cipher_close(h);
                return log_fail(-EIO, "cannot set up AES-256-GCM: %s", gcry_strerror(e));
        }
        *ret = h;
        return 0;
}

int keyslot_wrap(const struct keyslot_kdf *kdf, const char *password, size_t password_size,
                 const struct secret *key, char **ret) {
        _cleanup_(cipher_closep) gcry_cipher_hd_t h = NULL;
        _cleanup_secret_ struct secret *aes = NULL;
        _cleanup_free_ char *salt_b64 = NULL, *nonce_b64 = NULL, *sealed_b64 = NULL, *header = NULL, *text = NULL;
        _cleanup_free_ uint8_t *sealed = NULL;
        uint8_t salt[SALT_SIZE], nonce[NONCE_SIZE];
        gcry_error_t e;
        int aad, n, r;

        /* libgcrypt's Argon2 refuses an empty password, so no slot can have one. */
        if (!kdf || !kdf_valid(kdf) || !password || password_size == 0 || !key || !ret)
                return -EINVAL;
        if (key->size < SECRET_MIN || key->size > SECRET_MAX)
                return -EINVAL;

        gcry_randomize(salt, sizeof(salt), GCRY_STRONG_RANDOM);
        gcry_create_nonce(nonce, sizeof(nonce));
        if (base64_encode(salt, sizeof(salt), 0, &salt_b64, NULL) < 0 ||
            base64_encode(nonce, sizeof(nonce), 0, &nonce_b64, NULL) < 0)
                return log_oom();
        aad = asprintf(&header, SLOT_MAGIC " " SLOT_KDF " t=%" PRIu32 " m=%" PRIu32 " p=%" PRIu32 " %s",
                       kdf->iterations, kdf->memory_kib, kdf->lanes, salt_b64);
        if (aad < 0) {
                header = NULL; /* asprintf leaves it undefined on failure */
                return log_oom();
        }

        r = derive(kdf, password, password_size, salt, &aes);
        if (r < 0)
                return r;
        r = cipher_open(aes, nonce, &h);
        if (r < 0)
                return r;
        sealed = malloc(key->size + TAG_SIZE);
        if (!sealed)
                return log_oom();
        e = gcry_cipher_authenticate(h, header, (size_t) aad);
        if (!e)
                e = gcry_cipher_final(h);
        if (!e)
                e = gcry_cipher_encrypt(h, sealed, key->size, key->data, key->size);
        if (!e)
                e = gcry_cipher_gettag(h, sealed + key->size, TAG_SIZE);
        if (e)
                return log_fail(-EIO, "AES-256-GCM encryption failed: %s", gcry_strerror(e));
        if (base64_encode(sealed, key->size + TAG_SIZE, 0, &sealed_b64, NULL) < 0)
                return log_oom();

        n = asprintf(&text, "%s %s %s", header, nonce_b64, sealed_b64);
        if (n < 0) {
                text = NULL;
                return log_oom();
        }
        if ((size_t) n > KEYSLOT_TEXT_MAX) /* cannot happen within the bounds above */
                return -E2BIG;
        *ret = TAKE_PTR(text);
        return 0;
}

int keyslot_inspect(const char *text, size_t text_size, struct keyslot_kdf *ret_kdf) {
        struct slot s;
        int r;

        r = slot_parse(text, text_size, &s);
        if (r < 0)
                return r;
        slot_done(&s);
        if (ret_kdf)
                *ret_kdf = s.kdf;
        return 0;
}

int keyslot_unwrap(const char *text, size_t text_size, const char *password, size_t password_size,
                   struct secret **ret_key) {
        _cleanup_(cipher_closep) gcry_cipher_hd_t h = NULL;
        _cleanup_secret_ struct secret *aes = NULL, *out = NULL;
        _cleanup_(slot_done) struct slot s = {};
        size_t ct_size;
        gcry_error_t e;
        int r;

        if ((!password && password_size > 0) || !ret_key)
                return -EINVAL;
        r = slot_parse(text, text_size, &s);
        if (r < 0)
                return log_debug_errno(r, "malformed key slot");
        if (password_size == 0) /* keyslot_wrap() never seals under an empty password */
                return -ENOKEY;
        ct_size = s.sealed_size - TAG_SIZE;

        r = secret_new(ct_size, &out);
        if (r < 0)
                return log_oom();
        r = derive(&s.kdf, password, password_size, s.salt, &aes);
        if (r < 0)
                return r;
        r = cipher_open(aes, s.nonce, &h);
        if (r < 0)
                return r;
        e = gcry_cipher_authenticate(h, text, s.aad_size);
        if (!e)
                e = gcry_cipher_final(h);
        if (!e)
                e = gcry_cipher_decrypt(h, out->data, ct_size, s.sealed, ct_size);
        if (e)
                return log_fail(-EIO, "AES-256-GCM decryption failed: %s", gcry_strerror(e));
        /* Trying every slot with every password is normal: no error line for a miss. */
        if (gcry_cipher_checktag(h, s.sealed + ct_size, TAG_SIZE))
                return log_debug_errno(-ENOKEY, "key slot does not open with this password");
        out->size = ct_size;
        *ret_key = TAKE_PTR(out);
        return 0;
}

int keyslot_kdf_from_string(const char *s, struct keyslot_kdf *kdf) {
        struct keyslot_kdf k;
        bool seen[3] = {};

        if (!s || !kdf)
                return -EINVAL;
        k = *kdf;
        while (*s) {
                size_t len = strcspn(s, ",");
                const char *names = "tmp";
                const char *c;
                uint32_t v;

                if (len < 3 || s[1] != '=' || !(c = strchr(names, s[0])) || seen[c - names])
                        return -EINVAL;
                if (parse_u32(s + 2, len - 2, &v) < 0)
                        return -EINVAL;
                seen[c - names] = true;
                if (s[0] == 't')
                        k.iterations = v;
                else if (s[0] == 'm')
                        k.memory_kib = v;
                else
                        k.lanes = v;
                s += len;
                if (*s == ',' && *++s == '\0') /* no trailing comma */
                        return -EINVAL;
        }
        if (!kdf_valid(&k))
                return -ERANGE;
        *kdf = k;
        return 0;
}

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* MemAvailable in KiB, or 0 if unknown. */
static uint64_t mem_available_kib(void) {
        _cleanup_(fclosep) FILE *f = NULL;
        char line[256];
        uint64_t v;

        f = fopen("/proc/meminfo", "re");
        if (!f)
                return 0;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "MemAvailable: %" SCNu64 " kB", &v) == 1)
                        return v;
        return 0;
}

int keyslot_kdf_calibrate(unsigned target_ms, struct keyslot_kdf *ret) {
        _cleanup_secret_ struct secret *out = NULL;
        struct keyslot_kdf k = { .iterations = 1, .memory_kib = 65536, .lanes = 1 };
        uint8_t salt[SALT_SIZE] = {};
        uint64_t avail = mem_available_kib(), start, elapsed = 0, t;
        int r;

        if (!ret)
                return -EINVAL;
        /* 64 MiB like LUKS2, unless that would crowd out half of what is free. */
        if (avail > 0 && avail / 2 < k.memory_kib)
                k.memory_kib = avail / 2 < 8192 ? 8192 : (uint32_t) (avail / 2);

        /* The faster of two runs: the first one also pays for cold caches and
         * libgcrypt's lazy set-up, and either may lose the CPU for a while. */
        for (int i = 0; i < 2; i++) {
                uint64_t d;

                start = now_usec();
                r = derive(&k, "calibrate", 9, salt, &out);
                if (r < 0)
                        return r;
                d = now_usec() - start;
                secret_free(TAKE_PTR(out));
                elapsed = i == 0 || d < elapsed ? d : elapsed;
        }
        if (elapsed == 0)
                elapsed = 1;
        /* Time grows about linearly with t at fixed memory. */
        t = ((uint64_t) target_ms * 1000 + elapsed / 2) / elapsed;
        k.iterations = (uint32_t) (t < 1 ? 1 : t > T_MAX ? T_MAX : t);
        log_debug("Argon2id calibration: t=1 m=%" PRIu32 " p=1 took %" PRIu64 " us, using t=%" PRIu32,
                  k.memory_kib, elapsed, k.iterations);
        *ret = k;
        return 0;
}
