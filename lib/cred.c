/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "cred.h"
#include "hostkey.h"
#include "log.h"
#include "timestamp.h"

enum {
        NEEDS_HOST = 1 << 0,
        NEEDS_TPM2 = 1 << 1,
        NEEDS_PK = 1 << 2,
        SCOPED = 1 << 3,
};

static const struct {
        uint8_t id[16];
        const char *name;
        unsigned flags;
} key_types[_CRED_KEY_MAX] = {
        [CRED_KEY_HOST] = { { 0x5a, 0x1c, 0x6a, 0x86, 0xdf, 0x9d, 0x40, 0x96, 0xb1, 0xd5, 0xa6, 0x5e, 0x08, 0x62, 0xf1, 0x9a }, "host", NEEDS_HOST },
        [CRED_KEY_TPM2] = { { 0x0c, 0x7c, 0xc0, 0x7b, 0x11, 0x76, 0x45, 0x91, 0x9c, 0x4b, 0x0b, 0xea, 0x08, 0xbc, 0x20, 0xfe }, "tpm2", NEEDS_TPM2 },
        [CRED_KEY_HOST_TPM2] = { { 0x93, 0xa8, 0x94, 0x09, 0x48, 0x74, 0x44, 0x90, 0x90, 0xca, 0xf2, 0xfc, 0x93, 0xca, 0xb5, 0x53 }, "host+tpm2", NEEDS_HOST | NEEDS_TPM2 },
        [CRED_KEY_TPM2_PK] = { { 0xfa, 0xf7, 0xeb, 0x93, 0x41, 0xe3, 0x41, 0x2c, 0xa1, 0xa4, 0x36, 0xf9, 0x5a, 0x29, 0x36, 0x2f }, "tpm2-with-public-key", NEEDS_TPM2 | NEEDS_PK },
        [CRED_KEY_HOST_TPM2_PK] = { { 0xaf, 0x49, 0x50, 0xa8, 0x49, 0x13, 0x4e, 0xb1, 0xa7, 0x38, 0x46, 0x30, 0x4f, 0xf3, 0x0c, 0x05 }, "host+tpm2-with-public-key", NEEDS_HOST | NEEDS_TPM2 | NEEDS_PK },
        [CRED_KEY_NULL] = { { 0x05, 0x84, 0x69, 0xda, 0xf6, 0xf5, 0x43, 0x24, 0x80, 0x05, 0x49, 0xda, 0x0f, 0x8e, 0xa2, 0xfb }, "null", 0 },
        [CRED_KEY_HOST_SCOPED] = { { 0x55, 0xb9, 0xed, 0x1d, 0x38, 0x59, 0x4d, 0x43, 0xa8, 0x31, 0x9d, 0x2e, 0xbb, 0x33, 0x2a, 0xc6 }, "host (user-scoped)", NEEDS_HOST | SCOPED },
        [CRED_KEY_HOST_TPM2_SCOPED] = { { 0xef, 0x4a, 0xc1, 0x36, 0x79, 0xa9, 0x48, 0x0e, 0xa7, 0xdb, 0x68, 0x89, 0x7f, 0x9f, 0x16, 0x5d }, "host+tpm2 (user-scoped)", NEEDS_HOST | NEEDS_TPM2 | SCOPED },
        [CRED_KEY_HOST_TPM2_PK_SCOPED] = { { 0xad, 0xbc, 0x4c, 0xa3, 0xef, 0xb6, 0x42, 0x01, 0xba, 0x88, 0x1b, 0x6f, 0x2e, 0x40, 0x95, 0xea }, "host+tpm2-with-public-key (user-scoped)", NEEDS_HOST | NEEDS_TPM2 | NEEDS_PK | SCOPED },
        [CRED_KEY_AUTO] = { {}, "auto", 0 },
        [CRED_KEY_AUTO_INITRD] = { {}, "auto-initrd", 0 },
};

/* Spellings systemd accepts for --with-key= beyond the canonical names. */
static const struct {
        const char *alias;
        enum cred_key key;
} key_aliases[] = {
        { "", CRED_KEY_AUTO },
        { "tpm2+host", CRED_KEY_HOST_TPM2 },
        { "tpm2-with-public-key+host", CRED_KEY_HOST_TPM2_PK },
        { "tpm2-absent", CRED_KEY_NULL },
};

#define CRED_HEADER_SIZE 32

enum cred_key cred_key_from_string(const char *s) {
        for (int k = 0; k < _CRED_KEY_MAX; k++)
                if (!(key_types[k].flags & SCOPED) && strcmp(key_types[k].name, s) == 0)
                        return (enum cred_key) k;
        for (size_t i = 0; i < ELEMENTSOF(key_aliases); i++)
                if (strcmp(key_aliases[i].alias, s) == 0)
                        return key_aliases[i].key;
        return CRED_KEY_INVALID;
}

const char *cred_key_to_string(enum cred_key k) {
        return k >= 0 && k < _CRED_KEY_MAX ? key_types[k].name : "invalid";
}

static enum cred_key cred_key_from_id(const uint8_t *id) {
        for (int k = 0; k < _CRED_KEY_ON_DISK_MAX; k++)
                if (memcmp(key_types[k].id, id, 16) == 0)
                        return (enum cred_key) k;
        return CRED_KEY_INVALID;
}

bool cred_name_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > CRED_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return false;
        for (const char *c = name; *c; c++)
                if (*c < 0x20 || *c > 0x7e || *c == '/' || *c == ':')
                        return false;
        return true;
}

static void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p) {
        return (uint64_t) get_le32(p) | (uint64_t) get_le32(p + 4) << 32;
}

/* SHA-256 with its context in the secure heap: the digest is the AES key, and
 * gcry_md_hash_buffer() would leave it in an unwiped context on its stack. */
static int sha256_secure(const uint8_t *data, size_t size, uint8_t out[32]) {
        gcry_md_hd_t h;

        if (gcry_md_open(&h, GCRY_MD_SHA256, GCRY_MD_FLAG_SECURE))
                return log_fail(-EIO, "cannot set up SHA-256");
        gcry_md_write(h, data, size);
        memcpy(out, gcry_md_read(h, GCRY_MD_SHA256), 32);
        gcry_md_close(h);
        return 0;
}

/* AES key = SHA-256 of the key material: the host key, or nothing for null. */
static int derive_key(enum cred_key k, const char *host_key_path, bool may_create, uint8_t aes_key[32]) {
        _cleanup_secret_ struct secret *host = NULL;
        const char *path;
        int r;

        if (!(key_types[k].flags & NEEDS_HOST))
                return sha256_secure((const uint8_t *) "", 0, aes_key);
        r = hostkey_path(host_key_path, &path);
        if (r < 0)
                return r;
        r = hostkey_load(path, may_create, &host);
        if (r < 0)
                return r;
        return sha256_secure(host->data, host->size, aes_key);
}

static int cipher_open(const uint8_t aes_key[32], const uint8_t *iv, size_t iv_size, gcry_cipher_hd_t *ret) {
        gcry_cipher_hd_t h;
        gcry_error_t e;

        e = gcry_cipher_open(&h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE);
        if (!e)
                e = gcry_cipher_setkey(h, aes_key, 32);
        if (!e)
                e = gcry_cipher_setiv(h, iv, iv_size);
        if (e) {
                gcry_cipher_close(h);
                return log_fail(-EIO, "cannot set up AES-256-GCM: %s", gcry_strerror(e));
        }
        *ret = h;
        return 0;
}

static void cipher_closep(gcry_cipher_hd_t *h) {
        if (*h)
                gcry_cipher_close(*h);
}

static int resolve_key(enum cred_key want, const char *host_key_path, enum cred_key *ret) {
        const char *path;
        int r;

        if (want == CRED_KEY_AUTO_INITRD) {
                /* No TPM2 support yet, so auto-initrd falls back to null, as systemd without a TPM. */
                log_warning("no TPM2 available, using a null key: no confidentiality or authenticity");
                *ret = CRED_KEY_NULL;
                return 0;
        }
        if (want == CRED_KEY_AUTO) {
                r = hostkey_path(host_key_path, &path);
                if (r < 0)
                        return r;
                if (hostkey_on_temporary_fs(path))
                        return log_fail(-ENOTRECOVERABLE,
                                        "TPM2 not available and host key %s located on a temporary file system, cannot encrypt",
                                        path);
                *ret = CRED_KEY_HOST;
                return 0;
        }
        if (want < 0 || want >= _CRED_KEY_ON_DISK_MAX)
                return log_fail(-EINVAL, "invalid key type");
        if (key_types[want].flags & NEEDS_TPM2)
                return log_fail(-EOPNOTSUPP, "key type %s needs TPM2 support, which this build does not have yet",
                                key_types[want].name);
        if (key_types[want].flags & SCOPED)
                return log_fail(-EOPNOTSUPP, "user-scoped credentials are not supported yet");
        if (want == CRED_KEY_NULL)
                log_warning("using a null key: no confidentiality or authenticity");
        *ret = want;
        return 0;
}

int cred_encrypt(const struct cred_encrypt_params *p, const uint8_t *plaintext, size_t size,
                 uint8_t **ret, size_t *ret_size) {
        _cleanup_(cipher_closep) gcry_cipher_hd_t h = NULL;
        _cleanup_free_ uint8_t *out = NULL;
        size_t name_len = p->name ? strlen(p->name) : 0;
        size_t aad = ALIGN8(CRED_HEADER_SIZE + 12), meta = ALIGN8(20 + name_len), total;
        enum cred_key k = CRED_KEY_INVALID;
        uint8_t aes_key[32];
        gcry_error_t e;
        int r;

        if (size > CRED_PLAINTEXT_MAX)
                return log_fail(-E2BIG, "plaintext too long for a credential (%zu bytes, at most %u)", size,
                                CRED_PLAINTEXT_MAX);
        if (name_len > 0 && !cred_name_valid(p->name))
                return log_fail(-EINVAL, "invalid credential name \"%s\"", p->name);
        if (p->not_after != USEC_INFINITY && p->timestamp != USEC_INFINITY && p->not_after <= p->timestamp)
                return log_fail(-EINVAL, "not-after time must be later than the timestamp");
        r = resolve_key(p->key, p->host_key_path, &k);
        if (r < 0)
                return r;

        total = aad + meta + size + 16;
        out = calloc(1, total);
        if (!out)
                return log_oom();
        memcpy(out, key_types[k].id, 16);
        put_le32(out + 16, 32);  /* key size */
        put_le32(out + 20, 1);   /* block size, as OpenSSL reports it for GCM */
        put_le32(out + 24, 12);  /* IV size */
        put_le32(out + 28, 16);  /* tag size */
        gcry_create_nonce(out + CRED_HEADER_SIZE, 12);

        /* Metadata goes straight into the output and is encrypted in place. */
        put_le64(out + aad, p->timestamp);
        put_le64(out + aad + 8, p->not_after);
        put_le32(out + aad + 16, (uint32_t) name_len);
        if (name_len > 0)
                memcpy(out + aad + 20, p->name, name_len);

        r = derive_key(k, p->host_key_path, true, aes_key);
        if (r < 0)
                return r;
        r = cipher_open(aes_key, out + CRED_HEADER_SIZE, 12, &h);
        explicit_bzero(aes_key, sizeof(aes_key));
        if (r < 0)
                return r;
        e = gcry_cipher_authenticate(h, out, aad);
        if (!e)
                e = gcry_cipher_encrypt(h, out + aad, meta, NULL, 0);
        if (!e)
                e = gcry_cipher_final(h);
        if (!e)
                e = gcry_cipher_encrypt(h, out + aad + meta, size, plaintext, size);
        if (!e)
                e = gcry_cipher_gettag(h, out + aad + meta + size, 16);
        if (e)
                return log_fail(-EIO, "encryption failed: %s", gcry_strerror(e));
        *ret = TAKE_PTR(out);
        *ret_size = total;
        return 0;
}

static bool firmware_has_tpm2_and_secure_boot(void) {
        uint8_t v[5];
        ssize_t n;
        int fd;

        if (access("/sys/firmware/acpi/tables/TPM2", F_OK) < 0)
                return false;
        fd = open("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        n = read(fd, v, sizeof(v));
        close(fd);
        return n == 5 && v[4] == 1;
}

static int check_null_policy(enum cred_null_policy policy) {
        if (policy == CRED_NULL_ALLOW)
                return 0;
        if (policy == CRED_NULL_REFUSE)
                return log_fail(-EPERM, "credential is encrypted with a null key, refusing (--refuse-null)");
        if (firmware_has_tpm2_and_secure_boot())
                return log_fail(-EPERM, "credential is encrypted with a null key on a system with TPM2 and Secure Boot, refusing (use --allow-null)");
        log_warning("credential is encrypted with a null key: its authenticity is not protected");
        return 0;
}

/* Checks the headers in systemd's order (key type, null policy, scope, sizes);
 * returns the offset where the ciphertext starts. */
static int parse_header(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size,
                        enum cred_key *ret_key, size_t *ret_aad) {
        enum cred_key k = CRED_KEY_INVALID;
        uint32_t iv_size;
        size_t aad;
        int r;

        if (size < 16)
                return log_fail(-EBADMSG, "credential truncated: %zu bytes, not even a key type", size);
        k = cred_key_from_id(blob);
        if (k == CRED_KEY_INVALID)
                return log_fail(-EOPNOTSUPP, "unknown credential key type (not an encrypted credential?)");
        if (p->require_key && p->required_key != k)
                return log_fail(-EPERM, "credential uses key type %s, but --with-key=%s was required",
                                key_types[k].name, cred_key_to_string(p->required_key));
        if (k == CRED_KEY_NULL) {
                r = check_null_policy(p->null_policy);
                if (r < 0)
                        return r;
        }
        if (key_types[k].flags & SCOPED)
                return log_fail(-EMEDIUMTYPE, "credential is user-scoped (%s); user-scoped credentials are not supported yet",
                                key_types[k].name);
        if (key_types[k].flags & NEEDS_TPM2)
                return log_fail(-EOPNOTSUPP, "credential is bound to a TPM2 (%s); this build has no TPM2 support yet",
                                key_types[k].name);
        if (size < CRED_HEADER_SIZE)
                return log_fail(-EBADMSG, "credential truncated: %zu bytes, the header alone is %d", size,
                                CRED_HEADER_SIZE);
        if (get_le32(blob + 16) != 32)
                return log_fail(-EBADMSG, "credential has unsupported key size %u", get_le32(blob + 16));
        if (get_le32(blob + 20) != 1)
                return log_fail(-EBADMSG, "credential has unsupported block size %u", get_le32(blob + 20));
        iv_size = get_le32(blob + 24);
        if (iv_size == 0 || iv_size > 16 * 1024)
                return log_fail(-EBADMSG, "credential has invalid IV size %u", iv_size);
        if (get_le32(blob + 28) != 16)
                return log_fail(-EBADMSG, "credential has unsupported tag size %u", get_le32(blob + 28));
        aad = ALIGN8(CRED_HEADER_SIZE + (size_t) iv_size);
        if (size < aad + 16)
                return log_fail(-EBADMSG, "credential truncated: %zu bytes, headers and tag need %zu", size, aad + 16);
        *ret_key = k;
        *ret_aad = aad;
        return 0;
}

/* Validates the decrypted metadata header; returns its padded length. */
static int check_metadata(const struct cred_decrypt_params *p, const uint8_t *m, size_t size, size_t *ret_len) {
        uint64_t timestamp, not_after;
        uint32_t name_size;
        char name[CRED_NAME_MAX + 1];
        char when[64];

        if (size < 24)
                return log_fail(-EBADMSG, "credential plaintext too short for its metadata header");
        timestamp = get_le64(m);
        not_after = get_le64(m + 8);
        name_size = get_le32(m + 16);
        if (timestamp != USEC_INFINITY && not_after != USEC_INFINITY && timestamp >= not_after)
                return log_fail(-EBADMSG, "credential timestamps are not in order");
        if (name_size > CRED_NAME_MAX || ALIGN8(20 + (size_t) name_size) > size)
                return log_fail(-EBADMSG, "credential embedded name too long");
        memcpy(name, m + 20, name_size);
        name[name_size] = '\0';
        if (name_size > 0 && (memchr(m + 20, 0, name_size) || !cred_name_valid(name)))
                return log_fail(-EBADMSG, "credential embedded name is not valid");
        if (name_size > 0 && p->expected_name && strcmp(name, p->expected_name) != 0) {
                const char *v = getenv("SYSTEMD_CREDENTIAL_VALIDATE_NAME");

                if (!v || strcmp(v, "0") != 0)
                        return log_fail(-EREMOTE, "credential name mismatch: expected \"%s\", got \"%s\"",
                                        p->expected_name, name);
        }
        if (not_after != USEC_INFINITY && not_after < p->now && !p->allow_expired) {
                const char *v = getenv("SYSTEMD_CREDENTIAL_VALIDATE_NOT_AFTER");

                timestamp_format(not_after, when, sizeof(when));
                if (!v || strcmp(v, "0") != 0)
                        return log_fail(-ESTALE, "credential expired at %s, refusing (--allow-expired overrides)", when);
        }
        *ret_len = ALIGN8(20 + (size_t) name_size);
        return 0;
}

int cred_decrypt(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, struct secret **ret) {
        _cleanup_(cipher_closep) gcry_cipher_hd_t h = NULL;
        _cleanup_secret_ struct secret *pt = NULL;
        enum cred_key k = CRED_KEY_INVALID;
        size_t aad = 0, ct_len, meta_len = 0;
        uint8_t aes_key[32];
        gcry_error_t e;
        int r;

        if (size > CRED_BLOB_MAX)
                return log_fail(-E2BIG, "credential too large (%zu bytes, at most %u)", size, CRED_BLOB_MAX);
        r = parse_header(p, blob, size, &k, &aad);
        if (r < 0)
                return r;
        ct_len = size - aad - 16;
        r = secret_new(ct_len, &pt);
        if (r < 0)
                return log_oom();

        r = derive_key(k, p->host_key_path, false, aes_key);
        if (r < 0)
                return r;
        r = cipher_open(aes_key, blob + CRED_HEADER_SIZE, get_le32(blob + 24), &h);
        explicit_bzero(aes_key, sizeof(aes_key));
        if (r < 0)
                return r;
        e = gcry_cipher_authenticate(h, blob, aad);
        if (!e)
                e = gcry_cipher_final(h);
        if (!e)
                e = gcry_cipher_decrypt(h, pt->data, ct_len, blob + aad, ct_len);
        if (e)
                return log_fail(-EIO, "decryption failed: %s", gcry_strerror(e));
        if (gcry_cipher_checktag(h, blob + aad + ct_len, 16))
                return log_fail(-EBADMSG, "decryption failed: authentication tag mismatch (wrong key, or credential corrupted)");
        pt->size = ct_len;

        r = check_metadata(p, pt->data, pt->size, &meta_len);
        if (r < 0)
                return r;
        if (pt->size - meta_len > CRED_PLAINTEXT_MAX)
                return log_fail(-E2BIG, "credential payload too large (more than %u bytes)", CRED_PLAINTEXT_MAX);
        memmove(pt->data, pt->data + meta_len, pt->size - meta_len);
        explicit_bzero(pt->data + pt->size - meta_len, meta_len);
        pt->size -= meta_len;
        *ret = TAKE_PTR(pt);
        return 0;
}

static bool is_raw_credential(const uint8_t *data, size_t size) {
        return size >= 16 && cred_key_from_id(data) != CRED_KEY_INVALID;
}

int cred_blob_from_text(const uint8_t *text, size_t size, uint8_t **ret, size_t *ret_size) {
        uint8_t *blob;
        size_t n;
        int r;

        if (size > CRED_TEXT_MAX)
                return log_fail(-E2BIG, "credential too large (%zu bytes, at most %u)", size, CRED_TEXT_MAX);
        if (is_raw_credential(text, size)) {
                blob = malloc(size ? size : 1);
                if (!blob)
                        return log_oom();
                memcpy(blob, text, size);
                *ret = blob;
                *ret_size = size;
                return 0;
        }
        r = base64_decode((const char *) text, size, &blob, &n);
        if (r == -EINVAL)
                return log_fail(-EBADMSG, "credential is neither valid Base64 nor a binary credential");
        if (r < 0)
                return log_error_errno(r, "cannot decode credential");
        if (n > CRED_BLOB_MAX) {
                free(blob);
                return log_fail(-E2BIG, "credential too large (%zu bytes decoded, at most %u)", n, CRED_BLOB_MAX);
        }
        *ret = blob;
        *ret_size = n;
        return 0;
}

bool cred_looks_encrypted(const uint8_t *text, size_t size) {
        char prefix[24]; /* 24 Base64 characters: 18 bytes, enough for the key type */
        uint8_t *blob = NULL;
        size_t n = 0, k = 0;
        bool known;

        if (is_raw_credential(text, size))
                return true;
        /* Decode only a prefix: the data may be a plain secret that must not be copied around. */
        for (size_t i = 0; i < size && k < sizeof(prefix); i++)
                if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r')
                        prefix[k++] = (char) text[i];
        known = k == sizeof(prefix) && base64_decode(prefix, k, &blob, &n) == 0 && is_raw_credential(blob, n);
        if (blob)
                explicit_bzero(blob, n);
        free(blob);
        explicit_bzero(prefix, sizeof(prefix));
        return known;
}
