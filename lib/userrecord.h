/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON user record of systemd (docs/USER_RECORD.md) through json-c: parse with
 * field checks, effective fields (regular < perMachine < binding), canonical text
 * for signing, pretty output, and the blocked / password-aging decisions. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"

#define USER_RECORD_MAX (256 * 1024) /* bytes of JSON we ever read */

enum home_storage {
        HOME_STORAGE_DIRECTORY,
        HOME_STORAGE_FSCRYPT,
        HOME_STORAGE_LUKS,
        _HOME_STORAGE_MAX,
        HOME_STORAGE_INVALID = -1,
};
const char *home_storage_to_string(enum home_storage s);
enum home_storage home_storage_from_string(const char *s);

struct user_record {
        json_object *json; /* owned; the whole record as read or built */
        /* Effective values (binding[machine-id] over perMachine over top level),
         * refreshed by user_record_load_fields(). Strings point into json. */
        const char *user_name;
        const char *realm;
        const char *real_name;
        const char *home_directory;
        const char *image_path;
        const char *shell;
        enum home_storage storage;
        uid_t uid;
        gid_t gid;
        bool locked;
        bool mount_nosuid, mount_nodev, mount_noexec;
        unsigned access_mode;
        uint64_t last_change_usec, last_password_change_usec;   /* 0 = unset */
        uint64_t not_before_usec, not_after_usec;                /* 0 / UINT64_MAX = unset */
        uint64_t password_change_min_usec, password_change_max_usec,
                 password_change_warn_usec, password_change_inactive_usec; /* UINT64_MAX = unset */
        bool password_change_now;
};

/* Parses text; checks every known field's type and the user name's syntax. Logs
 * nothing: returns -EBADMSG (not JSON / not an object / bad field) or -ENOMEM;
 * *ret_error (optional) gets a static phrase naming the bad field. */
int user_record_parse(const char *text, size_t size, struct user_record **ret, const char **ret_error);
/* Capped read (USER_RECORD_MAX, O_NOFOLLOW) + parse. Logs "PATH: why" on error. */
int user_record_load(const char *path, struct user_record **ret);
/* A new record with homed's defaults: userName, uid, gid = uid, realName,
 * homeDirectory /home/USER, imagePath, storage, disposition "regular",
 * lastChangeUSec = lastPasswordChangeUSec = now. */
int user_record_new(const char *user_name, uid_t uid, enum home_storage storage, uint64_t now_usec,
                    struct user_record **ret);
/* Re-reads the effective fields from json (after editing json directly). */
int user_record_load_fields(struct user_record *ur);
void user_record_free(struct user_record *ur);
static inline void user_record_freep(struct user_record **ur) { user_record_free(*ur); }
#define _cleanup_user_record_ _cleanup_(user_record_freep)

/* The signed text: record without secret/binding/status/signature, keys sorted
 * recursively, compact, "/" unescaped. *ret is malloc'd, NUL-terminated. */
int user_record_canonical(const struct user_record *ur, char **ret, size_t *ret_size);
/* Pretty text (sorted keys, tab indent, trailing newline) for .identity files. */
int user_record_format(const struct user_record *ur, char **ret, size_t *ret_size);
/* The record without "privileged", "secret" and "signature", pretty: the public
 * USER.user file that the NSS module reads (0644). */
int user_record_format_public(const struct user_record *ur, char **ret, size_t *ret_size);

/* Sets a top-level field (replacing it) and refreshes the effective fields. */
int user_record_set(struct user_record *ur, const char *key, json_object *value /* consumed */);
/* privileged.hashedPassword: the array of crypt(3) strings, or NULL. */
json_object *user_record_hashed_passwords(const struct user_record *ur);

/* Valid user name as homed requires: [a-z_][a-z0-9_-]*, ≤ 31 chars, not root/nobody. */
bool user_name_is_valid(const char *name);

/* The newer of two compatible records (same userName and realm); -EINVAL when
 * not compatible. A record without lastChangeUSec is older than one with it;
 * equal times keep a. Returns 0 for a, 1 for b. */
int user_record_pick_newer(const struct user_record *a, const struct user_record *b);

/* Account decisions with an explicit clock (µs since the epoch). */
enum user_record_blocked {
        USER_RECORD_OK,
        USER_RECORD_LOCKED,         /* "User record is blocked, prohibiting access." */
        USER_RECORD_NOT_YET_VALID,  /* "User record is not valid yet, prohibiting access." */
        USER_RECORD_NO_LONGER_VALID,/* "User record is not valid anymore, prohibiting access." */
};
enum user_record_blocked user_record_check_blocked(const struct user_record *ur, uint64_t now_usec);
const char *user_record_blocked_message(enum user_record_blocked b);

enum user_record_aging {
        PASSWORD_OK,
        PASSWORD_WARN_SOON,        /* "Password will expire soon, please change." (success) */
        PASSWORD_CHANGE_REQUIRED,  /* "Password change required." → PAM_NEW_AUTHTOK_REQD */
        PASSWORD_EXPIRED_CHANGE,   /* "Password expired, change required." → PAM_NEW_AUTHTOK_REQD */
        PASSWORD_EXPIRED_LOCKED,   /* "Password is expired, but can't change, refusing login." → PAM_AUTHTOK_EXPIRED */
        PASSWORD_RECORD_INVALID,   /* "User record not valid, prohibiting access." → PAM_AUTHTOK_EXPIRED */
};
enum user_record_aging user_record_check_password_aging(const struct user_record *ur, uint64_t now_usec);
const char *user_record_aging_message(enum user_record_aging a);
