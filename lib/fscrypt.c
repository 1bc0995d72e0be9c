/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fscrypt v2 only: v1 keys live in process keyrings and stay cached in inodes
 * after "removal", so a v1 home could never be locked again (spec A3.3, B2).
 *
 * Slots are one xattr each because a single setxattr is atomic: passwd adds
 * the new slot, checks it, then removes the old one, so a kill at any instant
 * leaves at least one working slot. */
#include <errno.h>
#include <linux/fscrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>

#include "fscrypt.h"
#include "keyslot.h"
#include "log.h"

#define SLOT_XATTR_PREFIX "trusted.latchkey.slot"
#define SLOT_XATTR_NAME_MAX (sizeof(SLOT_XATTR_PREFIX) + 10)
/* XATTR_LIST_MAX: no file system lists more than this. */
#define XATTR_LIST_CAP 65536

_Static_assert(FSCRYPT_SLOTS_MAX <= 32, "slot list is a 32-bit mask");

/* ENOTTY/EOPNOTSUPP: the file system has no fscrypt (tmpfs, ext4 without -O encrypt). */
static int fscrypt_errno(void) {
        int e = errno;

        return e == ENOTTY || e == EOPNOTSUPP ? -ENOLINK : negative_errno();
}

static void key_spec_init(struct fscrypt_key_specifier *spec, const struct fscrypt_identifier *id) {
        memset(spec, 0, sizeof(*spec));
        spec->type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
        memcpy(spec->u.identifier, id->bytes, FSCRYPT_KEY_IDENTIFIER_SIZE);
}

int fscrypt_add_key(int fd, const struct secret *key, struct fscrypt_identifier *ret) {
        _cleanup_secret_ struct secret *buf = NULL;
        struct fscrypt_add_key_arg *arg;
        int r;

        if (fd < 0 || !key || !ret || key->size != FSCRYPT_MASTER_KEY_SIZE)
                return -EINVAL;

        /* The argument carries the raw key: build it in locked memory, wiped on free. */
        r = secret_new(sizeof(*arg) + FSCRYPT_MASTER_KEY_SIZE, &buf);
        if (r < 0)
                return r;
        arg = (struct fscrypt_add_key_arg *) buf->data; /* page-aligned */
        arg->key_spec.type = FSCRYPT_KEY_SPEC_TYPE_IDENTIFIER;
        arg->raw_size = FSCRYPT_MASTER_KEY_SIZE;
        memcpy(arg->raw, key->data, FSCRYPT_MASTER_KEY_SIZE);
        buf->size = sizeof(*arg) + FSCRYPT_MASTER_KEY_SIZE;

        if (ioctl(fd, FS_IOC_ADD_ENCRYPTION_KEY, arg) < 0)
                return fscrypt_errno();
        memcpy(ret->bytes, arg->key_spec.u.identifier, sizeof(ret->bytes));
        return 0;
}

int fscrypt_remove_key(int fd, const struct fscrypt_identifier *id) {
        struct fscrypt_remove_key_arg arg = {};

        if (fd < 0 || !id)
                return -EINVAL;
        key_spec_init(&arg.key_spec, id);
        /* ALL_USERS: keys may have been added from other uids (e.g. the user's session). */
        if (ioctl(fd, FS_IOC_REMOVE_ENCRYPTION_KEY_ALL_USERS, &arg) < 0)
                return fscrypt_errno();
        /* Open files keep the key alive; removing again after they close finishes the job. */
        return arg.removal_status_flags & FSCRYPT_KEY_REMOVAL_STATUS_FLAG_FILES_BUSY ? 1 : 0;
}

int fscrypt_key_present(int fd, const struct fscrypt_identifier *id) {
        struct fscrypt_get_key_status_arg arg = {};

        if (fd < 0 || !id)
                return -EINVAL;
        key_spec_init(&arg.key_spec, id);
        if (ioctl(fd, FS_IOC_GET_ENCRYPTION_KEY_STATUS, &arg) < 0)
                return fscrypt_errno();
        /* "Incompletely removed" counts as absent: new opens fail until it is added again. */
        return arg.status == FSCRYPT_KEY_STATUS_PRESENT;
}

int fscrypt_set_policy(int dir_fd, const struct fscrypt_identifier *id) {
        struct fscrypt_policy_v2 policy = {
                .version = FSCRYPT_POLICY_V2,
                .contents_encryption_mode = FSCRYPT_MODE_AES_256_XTS,
                .filenames_encryption_mode = FSCRYPT_MODE_AES_256_CTS,
                .flags = FSCRYPT_POLICY_FLAGS_PAD_32,
        };

        if (dir_fd < 0 || !id)
                return -EINVAL;
        memcpy(policy.master_key_identifier, id->bytes, FSCRYPT_KEY_IDENTIFIER_SIZE);
        /* The kernel wants the directory empty (ENOTEMPTY) and, unless we have
         * CAP_FOWNER, the key added first (ENOKEY). */
        if (ioctl(dir_fd, FS_IOC_SET_ENCRYPTION_POLICY, &policy) < 0)
                return fscrypt_errno();
        return 0;
}

int fscrypt_get_policy(int dir_fd, struct fscrypt_identifier *ret) {
        struct fscrypt_get_policy_ex_arg arg = { .policy_size = sizeof(arg.policy) };

        if (dir_fd < 0 || !ret)
                return -EINVAL;
        if (ioctl(dir_fd, FS_IOC_GET_ENCRYPTION_POLICY_EX, &arg) < 0)
                return fscrypt_errno(); /* ENODATA: not encrypted */
        if (arg.policy.version != FSCRYPT_POLICY_V2 || arg.policy_size != sizeof(arg.policy.v2))
                return -EPROTONOSUPPORT; /* v1 (version 0), or something newer */
        memcpy(ret->bytes, arg.policy.v2.master_key_identifier, sizeof(ret->bytes));
        return 0;
}

static int slot_name(unsigned index, char buf[static SLOT_XATTR_NAME_MAX]) {
        if (index >= FSCRYPT_SLOTS_MAX)
                return -EINVAL;
        snprintf(buf, SLOT_XATTR_NAME_MAX, SLOT_XATTR_PREFIX "%u", index);
        return 0;
}

int fscrypt_slot_write(int dir_fd, unsigned index, const char *text) {
        char name[SLOT_XATTR_NAME_MAX];
        size_t len;
        int r;

        if (dir_fd < 0 || !text)
                return -EINVAL;
        r = slot_name(index, name);
        if (r < 0)
                return r;
        len = strnlen(text, KEYSLOT_TEXT_MAX + 1);
        if (len == 0)
                return -EINVAL;
        if (len > KEYSLOT_TEXT_MAX)
                return -E2BIG;
        if (fsetxattr(dir_fd, name, text, len, 0) < 0)
                return negative_errno();
        return 0;
}

int fscrypt_slot_read(int dir_fd, unsigned index, char **ret) {
        _cleanup_free_ char *buf = NULL;
        char name[SLOT_XATTR_NAME_MAX];
        ssize_t n;
        int r;

        if (dir_fd < 0 || !ret)
                return -EINVAL;
        r = slot_name(index, name);
        if (r < 0)
                return r;
        buf = malloc(KEYSLOT_TEXT_MAX + 1);
        if (!buf)
                return -ENOMEM;
        n = fgetxattr(dir_fd, name, buf, KEYSLOT_TEXT_MAX);
        if (n < 0)
                return errno == ENODATA ? -ENOENT : errno == ERANGE ? -E2BIG : negative_errno();
        /* Slot text is one line of ASCII: an embedded NUL would cut it short unseen. */
        if (n == 0 || memchr(buf, '\0', (size_t) n))
                return -EBADMSG;
        buf[n] = '\0';
        *ret = TAKE_PTR(buf);
        return 0;
}

int fscrypt_slot_remove(int dir_fd, unsigned index) {
        char name[SLOT_XATTR_NAME_MAX];
        int r;

        if (dir_fd < 0)
                return -EINVAL;
        r = slot_name(index, name);
        if (r < 0)
                return r;
        if (fremovexattr(dir_fd, name) < 0)
                return errno == ENODATA ? -ENOENT : negative_errno();
        return 0;
}

/* Index of a canonical slot name ("slot7", not "slot07"), or -1. */
static int slot_index(const char *name, size_t len) {
        size_t plen = strlen(SLOT_XATTR_PREFIX);
        unsigned v = 0;

        if (len <= plen || len > plen + 2 || memcmp(name, SLOT_XATTR_PREFIX, plen) != 0)
                return -1;
        name += plen;
        len -= plen;
        if (name[0] == '0' && len > 1)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (name[i] < '0' || name[i] > '9')
                        return -1;
                v = v * 10 + (unsigned) (name[i] - '0');
        }
        return v < FSCRYPT_SLOTS_MAX ? (int) v : -1;
}

int fscrypt_slot_list(int dir_fd, uint32_t *ret_mask) {
        _cleanup_free_ char *buf = NULL;
        uint32_t mask = 0;
        ssize_t n;

        if (dir_fd < 0 || !ret_mask)
                return -EINVAL;
        /* Sizing first and retrying on ERANGE would race with writers; the cap is small enough. */
        buf = malloc(XATTR_LIST_CAP);
        if (!buf)
                return -ENOMEM;
        n = flistxattr(dir_fd, buf, XATTR_LIST_CAP);
        if (n < 0)
                return errno == ERANGE ? -E2BIG : negative_errno();
        for (size_t pos = 0; pos < (size_t) n;) {
                const char *name = buf + pos;
                size_t len = strnlen(name, (size_t) n - pos);
                int i = slot_index(name, len);

                if (i >= 0)
                        mask |= UINT32_C(1) << i;
                pos += len + 1;
        }
        *ret_mask = mask;
        return 0;
}
