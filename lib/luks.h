/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* LUKS2 volumes for homes, through libcryptsetup, in the layout of systemd-homed:
 * aes-xts-plain64, label = user name, subsystem "systemd-home", one key slot per
 * password, the user record encrypted under the volume key in a "systemd-homed"
 * token. Everything here but luks_activate() works on an image file without
 * device-mapper. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keyslot.h"
#include "macro.h"
#include "secret.h"

struct crypt_device;

#define LUKS_VOLUME_KEY_SIZE 32        /* aes-xts-plain64 with a 256-bit key (AES-128-XTS), homed's default */
#define LUKS_SECTOR_SIZE     4096
#define LUKS_METADATA_SIZE   (4U << 20) /* homed enlarges the JSON area to 4 MiB */
#define LUKS_SUBSYSTEM       "systemd-home"
#define LUKS_TOKEN_TYPE      "systemd-homed"

void luks_crypt_freep(struct crypt_device **cd);
#define _cleanup_crypt_ _cleanup_(luks_crypt_freep)

/* Routes libcryptsetup's own messages to our debug log (we log the errors we
 * return, once) and turns its own image locking off (see luks_lock_image). Every
 * function here calls it first. */
void luks_setup_logging(void);

/* Opens path O_RDWR|O_NOFOLLOW|O_CLOEXEC and takes an exclusive, non-blocking BSD
 * lock on it, as homed does with SYSTEMD_LUKS_LOCK: -EADDRINUSE if another process
 * holds it (the image is in use elsewhere). */
int luks_lock_image(const char *path, int *ret_fd);

/* crypt_init + crypt_load(LUKS2) on the open image fd: -EMEDIUMTYPE if it is not
 * LUKS2, -EBADMSG if its cipher is not aes-xts-plain64 with a 32/64-byte key. */
int luks_load(int image_fd, struct crypt_device **ret);

/* The key slot cost: kdf NULL = LUKS2's default (argon2id, benchmarked to 2 s);
 * "t=N,m=KIB,p=N" = argon2id with exactly that cost, no benchmark. */
int luks_set_pbkdf(struct crypt_device *cd, const char *kdf);
/* The same cost as key slot slot has (passwd without --kdf keeps the cost). */
int luks_set_pbkdf_from_slot(struct crypt_device *cd, int slot);

/* Formats the open image fd as LUKS2 with volume key vk (random, made here, size
 * LUKS_VOLUME_KEY_SIZE) and adds slot 0 for password. */
int luks_format(int image_fd, const char *label, const char *kdf, const char *password,
                struct crypt_device **ret_cd, struct secret **ret_vk);

/* The volume key from the first slot that password opens, and that slot:
 * -ENOKEY if none. */
int luks_unlock(struct crypt_device *cd, const char *password, struct secret **ret_vk, int *ret_slot);
/* Adds a slot for password (cost set by luks_set_pbkdf) and proves it opens. */
int luks_add_slot(struct crypt_device *cd, const struct secret *vk, const char *password, int *ret_slot);
/* Destroys every active slot except keep. */
int luks_drop_slots_except(struct crypt_device *cd, int keep);

/* The record text encrypted under the volume key, in one "systemd-homed" token
 * that replaces all others of that type. */
int luks_token_write(struct crypt_device *cd, const struct secret *vk, const char *text, size_t size);
/* The decrypted record text of the first "systemd-homed" token that decrypts;
 * -ENOENT if there is none. NUL-terminated. */
int luks_token_read(struct crypt_device *cd, const struct secret *vk, struct secret **ret);

/* Writes the plaintext volume in plain_fd (a file system image of at most the data
 * segment's size; holes stay holes) into the data segment of image_fd, encrypted
 * as dm-crypt would: XTS per sector, plain64 IV in 512-byte units. */
int luks_write_data(struct crypt_device *cd, const struct secret *vk, int image_fd, int plain_fd);

/* Where the data segment starts, in bytes. */
uint64_t luks_data_offset(struct crypt_device *cd);

/* Device-mapper (the only part that needs the kernel's dm-crypt): -ENOLINK with a
 * message if device-mapper is missing. */
int luks_activate(struct crypt_device *cd, const char *name, const struct secret *vk);
/* deferred: removal happens when the last user closes the device (after a lazy unmount). */
int luks_deactivate(const char *name, bool deferred);
/* 1 active, 0 not active (or no device-mapper); locked gets whether it is suspended. */
int luks_active(const char *name, bool *ret_suspended);
int luks_suspend(const char *name);
/* -ENOKEY if password opens no slot. */
int luks_resume(const char *name, const char *password);
