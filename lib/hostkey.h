/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The credential host key, /var/lib/systemd/credential.secret, in systemd's
 * format: 16-byte hashed machine ID, then the key (4096 random bytes). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "secret.h"

#define HOSTKEY_DEFAULT_PATH "/var/lib/systemd/credential.secret"
#define HOSTKEY_HEADER_SIZE 16
#define HOSTKEY_KEY_SIZE 4096
#define HOSTKEY_FILE_MAX (16U * 1024U * 1024U)

/* --host-key= if given, else $SYSTEMD_CREDENTIAL_SECRET (absolute), else the default. */
int hostkey_path(const char *override, const char **ret);
/* Reads the raw 16 bytes of /etc/machine-id. */
int machine_id_get(uint8_t ret[16]);
/* HMAC-SHA256(machine-id, app-id d3acecba…) truncated to a v4 UUID. */
int hostkey_machine_header(const uint8_t machine_id[16], uint8_t ret[16]);
/* Loads the key (bytes after the header), checking type, links, mode 0400 and
 * header. With may_create, a missing file is created as systemd does. */
int hostkey_load(const char *path, bool may_create, struct secret **ret);
/* True if the key file's directory lies on tmpfs or ramfs (auto modes skip it there). */
bool hostkey_on_temporary_fs(const char *path);
