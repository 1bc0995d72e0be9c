/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Ed25519 signatures on user records, as systemd-homed makes them (libgcrypt):
 * pure Ed25519 over user_record_canonical(); "signature": [{"data": base64,
 * "key": PEM SPKI}]. The host key pair lives in DIR/local.private (PKCS#8 PEM,
 * 0600) and DIR/local.public (SPKI PEM, 0644); further DIR/ *.public are trusted. */
#pragma once

#include <stdint.h>

#include "userrecord.h"

struct sign_key; /* opaque; the private seed sits in secure memory */
/* Loads DIR/local.private, creating the pair (atomically, 0600/0644) if absent. */
int sign_key_load_or_create(const char *dir, struct sign_key **ret);
void sign_key_free(struct sign_key *k);
static inline void sign_key_freep(struct sign_key **k) { sign_key_free(*k); }
#define _cleanup_sign_key_ _cleanup_(sign_key_freep)

/* Replaces ur's "signature" array with one entry made with k. */
int user_record_sign(struct user_record *ur, const struct sign_key *k);

enum record_signature {
        RECORD_UNSIGNED,         /* no signature entries */
        RECORD_SIGNED_LOCALLY,   /* good with local.public, no bad entries */
        RECORD_SIGNED_TRUSTED,   /* good with another trusted DIR/ *.public */
        RECORD_SIGNED_FOREIGN,   /* entries present, none good with a trusted key */
};
/* Checks ur's signatures against DIR/local.public and DIR/ *.public. Returns the
 * enum value (≥ 0) or a negative errno (unreadable key files, malformed entries
 * are RECORD_SIGNED_FOREIGN, not errors). */
int user_record_verify(const struct user_record *ur, const char *dir);
