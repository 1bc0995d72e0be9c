/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* systemd's encrypted credential format: headers, key derivation per key
 * type, AES-256-GCM with every byte before the ciphertext as AAD. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "secret.h"
#include "tpm2.h"

#define CRED_PLAINTEXT_MAX (1024U * 1024U)                  /* payload, as systemd */
#define CRED_BLOB_MAX (CRED_PLAINTEXT_MAX + 128U * 1024U)   /* decoded credential */
#define CRED_TEXT_MAX (2U * 1024U * 1024U)                  /* Base64 text as read */
#define CRED_NAME_MAX 255U
#define CRED_BASE64_WIDTH 79

enum cred_key {
        CRED_KEY_HOST,
        CRED_KEY_TPM2,
        CRED_KEY_HOST_TPM2,
        CRED_KEY_TPM2_PK,
        CRED_KEY_HOST_TPM2_PK,
        CRED_KEY_NULL,
        CRED_KEY_HOST_SCOPED,
        CRED_KEY_HOST_TPM2_SCOPED,
        CRED_KEY_HOST_TPM2_PK_SCOPED,
        _CRED_KEY_ON_DISK_MAX,
        CRED_KEY_AUTO = _CRED_KEY_ON_DISK_MAX, /* chosen at encrypt time, never written */
        CRED_KEY_AUTO_INITRD,
        _CRED_KEY_MAX,
        CRED_KEY_INVALID = -1,
};

enum cred_null_policy {
        CRED_NULL_AUTO,   /* refuse only with a firmware TPM2 and Secure Boot on, as systemd */
        CRED_NULL_ALLOW,
        CRED_NULL_REFUSE,
};

/* "host", "null", "auto", "host+tpm2", …; CRED_KEY_INVALID if unknown. */
enum cred_key cred_key_from_string(const char *s);
const char *cred_key_to_string(enum cred_key k);

bool cred_name_valid(const char *name);

struct cred_encrypt_params {
        enum cred_key key;          /* may be AUTO/AUTO_INITRD */
        const char *host_key_path;  /* NULL: $SYSTEMD_CREDENTIAL_SECRET or the default */
        const char *name;           /* NULL or "": none embedded */
        uint64_t timestamp;         /* µs; USEC_INFINITY = unset */
        uint64_t not_after;         /* µs; USEC_INFINITY = never */
        /* TPM2 (ignored by host/null): */
        const char *tpm2_device;    /* NULL/"auto": $SYSTEMD_TPM2_DEVICE, else device:/dev/tpmrm0 */
        struct tpm2_pcr_spec tpm2_pcrs;
        bool tpm2_pcrs_set;         /* false: PCR 7, as systemd 252 */
        const char *tpm2_public_key; /* PEM path; NULL: systemd's tpm2-pcr-public-key.pem search */
        uint32_t tpm2_public_key_pcrs;
        bool tpm2_public_key_pcrs_set; /* false: PCR 11 */
        /* User scope (systemd v256+ --user/--uid=): key is host (or host+tpm2[-with-public-key]) and the AES key
         * is HMAC'ed with flags 7, the UID, the machine ID and the UID's user name. AUTO becomes host + TPM2
         * if one is present; other key types are refused. */
        bool scoped;
        uid_t uid;
};

struct cred_decrypt_params {
        const char *host_key_path;
        const char *expected_name;  /* NULL: no name check */
        uint64_t now;               /* µs, for the not-after check */
        bool allow_expired;
        enum cred_null_policy null_policy;
        bool require_key;           /* the credential must use key type required_key */
        enum cred_key required_key;
        const char *tpm2_device;
        const char *tpm2_signature; /* JSON path; NULL: systemd's tpm2-pcr-signature.json search */
        /* Scope, as systemd: without `scoped` only system credentials open; with it, only credentials
         * scoped to `uid`, plus system ones if `any_scope` (PID1, root's --uid=). */
        bool scoped;
        uid_t uid;
        bool any_scope;
};

/* The scoped AES key: HMAC-SHA256(key, le64(7) ‖ le32(uid) ‖ machine-id ‖ user name ‖ NUL), in place.
 * The user name is the UID's on this machine; -ESRCH if it has none. */
int cred_scope_key(uint8_t key[32], uid_t uid);
/* --uid=: a numeric UID (not -1) or a user name. */
int cred_uid_parse(const char *s, uid_t *ret);

/* Encrypts plaintext (≤ CRED_PLAINTEXT_MAX) into a binary credential. */
int cred_encrypt(const struct cred_encrypt_params *p, const uint8_t *plaintext, size_t size,
                 uint8_t **ret, size_t *ret_size);
/* Decrypts and validates a binary credential; the payload lands in secure memory. */
int cred_decrypt(const struct cred_decrypt_params *p, const uint8_t *blob, size_t size, struct secret **ret);
/* Turns credential file contents (Base64 text or the raw binary form) into the binary form. */
int cred_blob_from_text(const uint8_t *text, size_t size, uint8_t **ret, size_t *ret_size);
/* True if the binary credential's key type needs the host key or the TPM2 (false for null, unknown). */
bool cred_needs_privileged_key(const uint8_t *blob, size_t size);
/* True if the data looks like an encrypted credential (raw or Base64). */
bool cred_looks_encrypted(const uint8_t *text, size_t size);
