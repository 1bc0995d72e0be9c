/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* crypt(3) password hashes through libxcrypt: yescrypt for new hashes, any
 * libxcrypt method accepted when testing. */
#pragma once

#include <json-c/json.h>

/* A new yescrypt hash ("$y$…") of password. *ret is malloc'd. */
int password_hash(const char *password, char **ret);
/* 0 if password matches one of the crypt strings in the JSON array hashes,
 * -ENOKEY if none does, -EKEYREVOKED if the array is missing or empty. */
int password_test(json_object *hashes, const char *password);
