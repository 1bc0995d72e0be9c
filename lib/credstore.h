/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The $CREDENTIALS_DIRECTORY protocol: a private directory filled with
 * decrypted credentials, found by path or in the credstore search path. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "cred.h"

struct credstore {
        char *path;          /* the directory, exported as $CREDENTIALS_DIRECTORY */
        int dir_fd;
        bool private_mount;  /* a fresh mount in our own mount namespace */
        uid_t uid;
        gid_t gid;
        struct cred_decrypt_params params; /* expected_name is set per credential */
};

/* As root: a fresh ramfs/tmpfs in a private mount namespace; otherwise a 0700
 * directory under $XDG_RUNTIME_DIR (or /run/latchkey for root without namespaces). */
int credstore_open(struct credstore *s, uid_t uid, gid_t gid);
/* Each returns 1 if added, 0 if the ID was present already (first one wins). */
int credstore_load(struct credstore *s, const char *id, const char *path);      /* path NULL = search */
int credstore_import(struct credstore *s, const char *glob);
int credstore_set(struct credstore *s, const char *id, const char *value, size_t size);
bool credstore_has(struct credstore *s, const char *id);
/* Drops write permission (dir 0500) and remounts read-only; arranges cleanup
 * when not on a private mount. Call after every secret buffer is freed. */
int credstore_seal(struct credstore *s);
/* Removes the directory (on a failed setup). */
void credstore_abandon(struct credstore *s);
