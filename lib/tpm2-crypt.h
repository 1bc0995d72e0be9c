/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TPM2 session cryptography on libgcrypt, for callers of tpm2-tss's SAPI layer
 * (what ESYS does with OpenSSL). SHA-256 sessions with AES-128-CFB only, as
 * systemd uses them. References are to TPM 2.0 Library Part 1 (rev 1.59):
 * KDFa/KDFe §11.4.10, salts Annex B.10.4 (RSA) and C.6.1 (ECC), session HMACs
 * §19.6, parameter encryption §21. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <tss2/tss2_tpm2_types.h>

#define TPM2_SESSION_DIGEST 32U /* SHA-256 */

/* SHA-256 and HMAC-SHA-256 over the concatenation of parts. */
int tpm2_sha256(uint8_t out[TPM2_SESSION_DIGEST], const struct iovec *parts, size_t n_parts);
int tpm2_hmac(const uint8_t *key, size_t key_size, const struct iovec *parts, size_t n_parts,
              uint8_t out[TPM2_SESSION_DIGEST]);

/* KDFa (HMAC-SHA-256 counter mode) and KDFe (SP800-56A concatenation, SHA-256);
 * label is a C string, hashed with its terminating NUL as the TPM does. */
int tpm2_kdfa(const uint8_t *key, size_t key_size, const char *label, const uint8_t *u, size_t u_size,
              const uint8_t *v, size_t v_size, uint8_t *out, size_t out_size);
int tpm2_kdfe(const uint8_t *z, size_t z_size, const char *label, const uint8_t *u, size_t u_size,
              const uint8_t *v, size_t v_size, uint8_t *out, size_t out_size);

/* A fresh session salt for tpmkey (ECC P-256: one-pass ECDH; RSA: OAEP-SHA-256
 * with label "SECRET"), and the form StartAuthSession sends. */
int tpm2_salt_make(const TPMT_PUBLIC *tpmkey, uint8_t salt[TPM2_SESSION_DIGEST], TPM2B_ENCRYPTED_SECRET *ret);

/* AES-128-CFB in place; key_iv is KDFa(sessionValue, "CFB", newer, older, 256 bits). */
int tpm2_cfb(bool encrypt, const uint8_t key_iv[32], uint8_t *buf, size_t size);
