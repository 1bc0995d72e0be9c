/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The kernel keyring password cache of systemd-ask-password (--keyname,
 * --accept-cached): a "user" key whose payload is the NUL-joined password list
 * without a trailing NUL, stored in the user keyring (@u) with a 150 s timeout.
 *
 * Password lists here follow systemd's nulstr rule: each password ends at a NUL
 * and the final NUL may be missing, so "a\0b" and "a\0b\0" are both [a, b],
 * "\0" is one empty password and "" is no password at all. This is the format
 * ask_reply_parse() produces.
 *
 * Uses the add_key/request_key/keyctl syscalls directly, as systemd does, so
 * nothing extra needs linking (no libkeyutils). */
#pragma once

#include "secret.h"

#define KEYRING_TIMEOUT_SEC 150
#define KEYRING_TIMEOUT_ENV "SYSTEMD_ASK_PASSWORD_KEYRING_TIMEOUT_SEC"

/* Looks up the "user" key `name` with request_key() over the normal search path
 * (thread, process, session keyring, and what they link, e.g. @u) and returns
 * its payload unchanged (NUL-separated, normally without a trailing NUL) in
 * *ret; ret->data[ret->size] is always NUL. -ENOKEY when there is no key, it is
 * empty, expired or revoked, or keyrings are unavailable (EPERM, EOPNOTSUPP,
 * ENOSYS); other errors (e.g. -EACCES) are returned. Logs nothing. */
int keyring_get(const char *name, struct secret **ret);

/* Appends the passwords in `list` to the key `name` (read first, if any),
 * skipping passwords already present (also duplicates within `list`), and
 * stores the NUL-joined result without a trailing NUL in @u with
 * add_key("user", ...), which replaces an existing key's payload; then sets its
 * timeout to KEYRING_TIMEOUT_SEC, or to $SYSTEMD_ASK_PASSWORD_KEYRING_TIMEOUT_SEC
 * (secure_getenv; a systemd time span, bare numbers are seconds; "infinity" =
 * no timeout; "0" disables caching; invalid values are ignored).
 * Returns 1 when the key was written, 0 when nothing was stored: caching
 * disabled, `list` empty, no new password, or the result would be an empty
 * payload (a lone empty password, which the kernel refuses and lookups treat
 * as "no key" anyway). If the timeout cannot be set the key is invalidated
 * rather than left without expiry. -errno on failure, not logged (an invalid
 * environment value is only noted at debug level). */
int keyring_put(const char *name, const struct secret *list);

/* Sets the mtime of `dir` to now (utimensat UTIME_NOW), so that queriers
 * waiting with --accept-cached (IN_ATTRIB on the ask directory) re-check the
 * keyring. Logs nothing; -errno on failure. */
int keyring_notify(const char *dir);
