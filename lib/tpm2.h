/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TPM2 sealing of the credential key through tpm2-tss (SAPI, with the session
 * crypto of tpm2-crypt.h), byte-compatible with systemd 252: a KEYEDHASH object
 * holding 32 random bytes under the owner hierarchy's "legacy" primary, bound
 * to PCRs by a policy digest. Every session is salted and parameter-encrypted,
 * and every transient object and session is flushed on every path (no
 * resource manager needed). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPM2_PCRS_MAX 24U
#define TPM2_PCR_MASK_ALL ((UINT32_C(1) << TPM2_PCRS_MAX) - 1)
#define TPM2_SRK_HANDLE 0x81000001U
#define TPM2_SECRET_MAX 128U /* TPM2B_SENSITIVE_DATA */
#define TPM2_BLOB_MAX (16U * 1024U)
#define TPM2_POLICY_HASH_MAX (16U * 1024U)
#define TPM2_PUBKEY_MAX (1024U * 1024U)

/* TPM algorithm IDs as the credential header stores them. */
#define TPM2_BANK_SHA1 0x0004U
#define TPM2_BANK_SHA256 0x000BU
#define TPM2_BANK_SHA384 0x000CU
#define TPM2_BANK_SHA512 0x000DU
#define TPM2_PRIMARY_RSA 0x0001U
#define TPM2_PRIMARY_ECC 0x0023U

/* --tpm2-pcrs= as parsed: a mask, an optional bank shared by all entries, and
 * optional literal values (PCR i has a value if values_mask has bit i). */
struct tpm2_pcr_spec {
        uint32_t mask;
        uint16_t bank;          /* 0: choose as systemd does */
        uint32_t values_mask;
        uint8_t values[TPM2_PCRS_MAX][64];
};

/* Parses "7+11", "7,11", "secure-boot-policy", "7:sha256", "7:sha256=HEX";
 * ORs into *spec (options may repeat). "" leaves the mask unchanged. */
int tpm2_pcrs_parse(const char *s, struct tpm2_pcr_spec *spec);
/* Name of a PCR ("secure-boot-policy") or NULL. */
const char *tpm2_pcr_name(unsigned index);
/* "sha256" etc, or NULL for an unknown bank. */
const char *tpm2_bank_name(uint16_t bank);

/* What systemd's has-tpm2 reports; the exit status is the bitmask of missing parts. */
enum {
        TPM2_SUPPORT_FIRMWARE = 1 << 0,
        TPM2_SUPPORT_DRIVER = 1 << 1,
        TPM2_SUPPORT_SYSTEM = 1 << 2,
        TPM2_SUPPORT_SUBSYSTEM = 1 << 3,
        TPM2_SUPPORT_FULL = TPM2_SUPPORT_FIRMWARE | TPM2_SUPPORT_DRIVER | TPM2_SUPPORT_SYSTEM | TPM2_SUPPORT_SUBSYSTEM,
};
unsigned tpm2_support(void);
/* Checks a --tpm2-device= value (a path, "auto" or DRIVER:CONF; not "list"); logs why not. */
int tpm2_device_arg_check(const char *arg);
/* True if a TPM2 is usable for the auto key types: driver, subsystem and system, not in a container. */
bool tpm2_present(void);

/* Public key for a signed PCR policy (PolicyAuthorize), from PEM text. */
struct tpm2_pubkey {
        const char *pem;        /* verbatim text, stored in the credential */
        size_t pem_size;
        uint32_t pcr_mask;      /* PCRs the signature covers */
        const char *signature_path; /* decrypt: JSON file; NULL = systemd's search path */
};

struct tpm2_sealed {
        uint32_t pcr_mask;
        uint16_t pcr_bank;
        uint16_t primary_alg;
        uint8_t *blob;          /* TPM2B_PRIVATE ‖ TPM2B_PUBLIC, malloc'd */
        size_t blob_size;
        uint8_t policy_hash[32];
        size_t policy_hash_size;
};
void tpm2_sealed_done(struct tpm2_sealed *s);

/* device: NULL/"auto" ($SYSTEMD_TPM2_DEVICE, else device:/dev/tpmrm0), a path, or a TCTI string. */
int tpm2_seal(const char *device, const struct tpm2_pcr_spec *pcrs, const struct tpm2_pubkey *pk,
              struct tpm2_sealed *ret, uint8_t secret[TPM2_SECRET_MAX], size_t *ret_secret_size);
/* pk may be NULL. -EPERM with "PCR policy mismatch" when the PCRs differ. */
int tpm2_unseal(const char *device, const struct tpm2_sealed *sealed, const struct tpm2_pubkey *pk,
                uint8_t secret[TPM2_SECRET_MAX], size_t *ret_secret_size);

/* Pure helpers, exposed for unit tests. */
int tpm2_policy_pcr(uint8_t digest[32], uint16_t bank, uint32_t mask, const uint8_t *values, size_t value_size);
int tpm2_policy_authorize(uint8_t digest[32], const uint8_t *name, size_t name_size);
/* PEM (SPKI or PKCS#1) RSA public key → modulus/exponent, PKCS#1 DER fingerprint, TPM name. */
struct tpm2_rsa_pub {
        uint8_t n[512];
        size_t n_size;
        uint32_t e;
        uint8_t fingerprint[32];  /* SHA-256 of the PKCS#1 RSAPublicKey DER */
        uint8_t name[34];         /* 0x000B ‖ SHA-256(TPMT_PUBLIC) */
};
int tpm2_rsa_pub_from_pem(const char *pem, size_t size, struct tpm2_rsa_pub *ret);
