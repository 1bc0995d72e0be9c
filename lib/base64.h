/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Base64 as systemd writes and reads it: standard alphabet with padding,
 * optional line wrapping; strict decode that skips only space, tab, CR, LF. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Encodes, inserting "\n" every `width` characters (0 = no wrapping); NUL-terminated. */
int base64_encode(const uint8_t *data, size_t size, size_t width, char **ret, size_t *ret_len);
/* Decodes standard or URL-safe alphabet; rejects bad characters, missing
 * padding, data after padding and non-zero unused bits. */
int base64_decode(const char *text, size_t len, uint8_t **ret, size_t *ret_size);
