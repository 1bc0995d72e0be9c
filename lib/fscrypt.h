/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fscrypt v2 through the kernel's ioctls (linux/fscrypt.h): policies on a
 * directory, master keys in the file system keyring, and key slots kept as
 * trusted.latchkey.slot<N> xattrs on the encrypted directory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "secret.h"

#define FSCRYPT_MASTER_KEY_SIZE 64
#define FSCRYPT_SLOTS_MAX 32

struct fscrypt_identifier { uint8_t bytes[16]; };

/* Adds key to the keyring of the file system that fd is on; returns its identifier. */
int fscrypt_add_key(int fd, const struct secret *key, struct fscrypt_identifier *ret);
/* Removes the key for all users through fd (open fd outside the encrypted tree,
 * e.g. its parent). Returns 0, or 1 if files are still busy (incompletely removed). */
int fscrypt_remove_key(int fd, const struct fscrypt_identifier *id);
/* 1 present, 0 absent, <0 error. */
int fscrypt_key_present(int fd, const struct fscrypt_identifier *id);
/* Sets a v2 policy (AES-256-XTS / AES-256-CTS, pad 32) on the empty directory dir_fd. */
int fscrypt_set_policy(int dir_fd, const struct fscrypt_identifier *id);
/* Reads dir_fd's v2 policy identifier: -ENODATA not encrypted, -ENOLINK fs
 * lacks encryption support, -EPROTONOSUPPORT a v1 policy. */
int fscrypt_get_policy(int dir_fd, struct fscrypt_identifier *ret);

/* Slot xattrs on dir_fd. */
int fscrypt_slot_write(int dir_fd, unsigned index, const char *text);   /* atomic setxattr */
int fscrypt_slot_read(int dir_fd, unsigned index, char **ret);         /* -ENOENT if absent */
int fscrypt_slot_remove(int dir_fd, unsigned index);
/* Bitmask of present slot indexes (bit i = slot i). */
int fscrypt_slot_list(int dir_fd, uint32_t *ret_mask);
