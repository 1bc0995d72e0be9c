/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fscrypt backend: a v2 policy on /home/USER.homedir, its 64-byte master key
 * wrapped once per password in slot xattrs, added to the file system keyring
 * while active and removed (through the parent, outside the tree) on deactivate. */
#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fscrypt.h"
#include "home.h"
#include "keyslot.h"
#include "log.h"

static int open_dir(const char *path, int *ret) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s", path);
        *ret = fd;
        return 0;
}

/* The image's parent: key removal must go through an fd outside the encrypted tree. */
static int open_parent(const struct home *h, int *ret) {
        _cleanup_free_ char *parent = strdup(h->record->image_path);
        char *slash;

        if (!parent)
                return log_oom();
        slash = strrchr(parent, '/');
        if (!slash)
                return log_fail(-EINVAL, "%s: not an absolute path", h->record->image_path);
        slash[slash == parent] = '\0';
        return open_dir(parent, ret);
}

/* A fixed cost when asked for (tests, benchmarks), else calibrated to ~1 s as LUKS2 does. */
static int kdf_settings(const struct home *h, struct keyslot_kdf *kdf) {
        int r;

        if (h->kdf) {
                *kdf = (struct keyslot_kdf) { .iterations = 3, .memory_kib = 65536, .lanes = 1 };
                if (keyslot_kdf_from_string(h->kdf, kdf) < 0)
                        return log_fail(-EINVAL, "invalid KDF cost: %s", h->kdf);
                return 0;
        }
        r = keyslot_kdf_calibrate(1000, kdf);
        if (r < 0)
                return log_error_errno(r, "cannot calibrate the key derivation");
        return 0;
}

static int get_policy(int dir_fd, const char *path, struct fscrypt_identifier *id) {
        int r = fscrypt_get_policy(dir_fd, id);
        if (r == -ENODATA)
                return log_fail(-EBADMSG, "%s is not encrypted", path);
        if (r == -ENOLINK)
                return log_fail(-ENOLINK, "%s: the file system has no fscrypt support", path);
        if (r == -EPROTONOSUPPORT)
                return log_fail(-EPROTONOSUPPORT, "%s has a v1 fscrypt policy (systemd-homed); only v2 is supported", path);
        if (r < 0)
                return log_error_errno(r, "cannot read the fscrypt policy of %s", path);
        return 0;
}

/* Finds the slot that password opens: its index and the master key. */
static int open_slot(int dir_fd, const char *password, unsigned *ret_index, struct secret **ret_key) {
        uint32_t mask;
        int r;

        r = fscrypt_slot_list(dir_fd, &mask);
        if (r < 0)
                return log_error_errno(r, "cannot list the key slots");
        for (unsigned i = 0; i < FSCRYPT_SLOTS_MAX; i++) {
                _cleanup_free_ char *text = NULL;
                if (!(mask & (UINT32_C(1) << i)))
                        continue;
                r = fscrypt_slot_read(dir_fd, i, &text);
                if (r < 0)
                        return log_error_errno(r, "cannot read key slot %u", i);
                r = keyslot_unwrap(text, strlen(text), password, strlen(password), ret_key);
                if (r == -ENOKEY)
                        continue;
                if (r == -EBADMSG) {
                        log_warning("key slot %u is malformed, ignoring it", i);
                        continue;
                }
                if (r < 0)
                        return log_error_errno(r, "cannot open key slot %u", i);
                *ret_index = i;
                return 0;
        }
        return log_fail(-ENOKEY, "wrong password: no key slot opens with it");
}

/* Unwraps the master key with password and adds it to the file system keyring. */
static int add_key_with_password(struct home *h, int dir_fd, int parent_fd, const char *password) {
        _cleanup_secret_ struct secret *key = NULL;
        struct fscrypt_identifier want, got;
        unsigned index;
        int r;

        r = get_policy(dir_fd, h->record->image_path, &want);
        if (r < 0)
                return r;
        r = open_slot(dir_fd, password, &index, &key);
        if (r < 0)
                return r;
        r = fscrypt_add_key(parent_fd, key, &got);
        if (r < 0)
                return log_error_errno(r, "cannot add the home's key to the file system");
        if (memcmp(want.bytes, got.bytes, sizeof want.bytes) != 0) {
                (void) fscrypt_remove_key(parent_fd, &got);
                return log_fail(-EBADMSG, "key slot %u holds a key that is not the directory's", index);
        }
        return 0;
}

static int remove_key(struct home *h, int parent_fd) {
        _cleanup_close_ int dir_fd = -1;
        struct fscrypt_identifier id;
        int r;

        r = open_dir(h->record->image_path, &dir_fd);
        if (r >= 0)
                r = get_policy(dir_fd, h->record->image_path, &id);
        if (r < 0)
                return r;
        /* An fd on the tree itself would leave the key "busy": close it first. */
        close(dir_fd);
        dir_fd = -1;
        r = fscrypt_remove_key(parent_fd, &id);
        if (r == -ENOKEY) /* already out (locked, or a crash after removal) */
                return 0;
        if (r < 0)
                return log_error_errno(r, "cannot remove the home's key from the file system");
        if (r > 0)
                log_warning("key of %s removed; files still in use (the mounted top directory among them) "
                            "keep their names until released", h->record->user_name);
        return 0;
}

static int fscrypt_prepare(struct home *h, int dir_fd, const char *password) {
        _cleanup_secret_ struct secret *key = NULL;
        _cleanup_free_ char *slot = NULL;
        struct fscrypt_identifier id;
        struct keyslot_kdf kdf;
        int r;

        r = kdf_settings(h, &kdf);
        if (r < 0)
                return r;
        r = secret_new(FSCRYPT_MASTER_KEY_SIZE, &key);
        if (r < 0)
                return log_oom();
        /* getrandom(): libgcrypt's very-strong pool would stay allocated until exit. */
        if (getrandom(key->data, FSCRYPT_MASTER_KEY_SIZE, 0) != FSCRYPT_MASTER_KEY_SIZE)
                return log_error_errno(-EIO, "cannot get random bytes for the key");
        key->size = FSCRYPT_MASTER_KEY_SIZE;
        r = fscrypt_add_key(dir_fd, key, &id);
        if (r == -ENOTTY || r == -EOPNOTSUPP)
                return log_fail(-ENOLINK, "%s: the file system has no fscrypt support (ext4 needs -O encrypt)",
                                h->record->image_path);
        if (r < 0)
                return log_error_errno(r, "cannot add a key to the file system");
        memcpy(h->key_id, id.bytes, sizeof h->key_id);
        r = fscrypt_set_policy(dir_fd, &id);
        if (r < 0)
                return log_error_errno(r, "cannot set the fscrypt policy");
        r = keyslot_wrap(&kdf, password, strlen(password), key, &slot);
        if (r < 0)
                return log_error_errno(r, "cannot wrap the key");
        r = fscrypt_slot_write(dir_fd, 0, slot);
        if (r < 0)
                return log_error_errno(r, "cannot write key slot 0");
        return 0;
}

static int fscrypt_create(struct home *h, const char *password) {
        _cleanup_close_ int parent_fd = -1;
        struct fscrypt_identifier id;
        int r, k;

        r = open_parent(h, &parent_fd);
        if (r < 0)
                return r;
        memset(h->key_id, 0, sizeof h->key_id);
        r = home_create_directory(h, password, fscrypt_prepare);
        memcpy(id.bytes, h->key_id, sizeof id.bytes);
        /* Created inactive: the key leaves the kernel again, whatever happened. */
        k = fscrypt_remove_key(parent_fd, &id);
        if (k < 0 && r >= 0 && memcmp(id.bytes, (uint8_t[16]) {}, 16) != 0)
                return log_error_errno(k, "cannot remove the new home's key from the file system");
        return r;
}

static int fscrypt_activate(struct home *h, const char *password) {
        _cleanup_close_ int dir_fd = -1, parent_fd = -1;
        int r;

        r = open_dir(h->record->image_path, &dir_fd);
        if (r >= 0)
                r = open_parent(h, &parent_fd);
        if (r >= 0)
                r = add_key_with_password(h, dir_fd, parent_fd, password);
        if (r < 0)
                return r;
        r = home_mount_bind(h);
        if (r < 0)
                (void) remove_key(h, parent_fd);
        return r;
}

static int fscrypt_deactivate(struct home *h, bool force) {
        _cleanup_close_ int parent_fd = -1;
        int r;

        r = home_unmount(h, force);
        if (r >= 0)
                r = open_parent(h, &parent_fd);
        if (r >= 0)
                r = remove_key(h, parent_fd);
        return r;
}

static int fscrypt_lock(struct home *h) {
        _cleanup_close_ int parent_fd = -1;
        int r = open_parent(h, &parent_fd);
        return r < 0 ? r : remove_key(h, parent_fd);
}

static int fscrypt_unlock(struct home *h, const char *password) {
        _cleanup_close_ int dir_fd = -1, parent_fd = -1;
        int r;

        r = open_dir(h->record->image_path, &dir_fd);
        if (r >= 0)
                r = open_parent(h, &parent_fd);
        return r < 0 ? r : add_key_with_password(h, dir_fd, parent_fd, password);
}

static int fscrypt_is_locked(struct home *h) {
        _cleanup_close_ int dir_fd = -1;
        struct fscrypt_identifier id;
        int r;

        r = open_dir(h->record->image_path, &dir_fd);
        if (r >= 0)
                r = get_policy(dir_fd, h->record->image_path, &id);
        if (r >= 0)
                r = fscrypt_key_present(dir_fd, &id);
        if (r < 0)
                return r;
        return !r;
}

/* Removes every key slot but keep. */
static int drop_slots_except(int dir_fd, unsigned keep) {
        uint32_t mask;
        int r;

        r = fscrypt_slot_list(dir_fd, &mask);
        if (r < 0)
                return log_error_errno(r, "cannot list the key slots");
        for (unsigned i = 0; i < FSCRYPT_SLOTS_MAX; i++) {
                if (!(mask & (UINT32_C(1) << i)) || i == keep)
                        continue;
                r = fscrypt_slot_remove(dir_fd, i);
                if (r < 0)
                        return log_error_errno(r, "cannot remove key slot %u", i);
        }
        return 0;
}

/* Writes new_password's slot in a free index and proves that it opens. */
static int add_slot(int dir_fd, const struct keyslot_kdf *kdf, const struct secret *key,
                    const char *new_password, unsigned *ret_index) {
        _cleanup_secret_ struct secret *check = NULL;
        _cleanup_free_ char *slot = NULL;
        uint32_t mask;
        unsigned j = 0;
        int r;

        r = fscrypt_slot_list(dir_fd, &mask);
        if (r < 0)
                return log_error_errno(r, "cannot list the key slots");
        while (j < FSCRYPT_SLOTS_MAX && (mask & (UINT32_C(1) << j)))
                j++;
        if (j == FSCRYPT_SLOTS_MAX)
                return log_fail(-ENOSPC, "all %d key slots are in use", FSCRYPT_SLOTS_MAX);
        r = keyslot_wrap(kdf, new_password, strlen(new_password), key, &slot);
        if (r < 0)
                return log_error_errno(r, "cannot wrap the key");
        r = fscrypt_slot_write(dir_fd, j, slot);
        if (r < 0)
                return log_error_errno(r, "cannot write key slot %u", j);
        r = keyslot_unwrap(slot, strlen(slot), new_password, strlen(new_password), &check);
        if (r < 0 || check->size != key->size || memcmp(check->data, key->data, key->size) != 0) {
                (void) fscrypt_slot_remove(dir_fd, j);
                return log_fail(-EIO, "the new key slot does not open, keeping the old one");
        }
        *ret_index = j;
        return 0;
}

/* The new slot's cost: --kdf= if given, else the cost of the slot it replaces,
 * which create calibrated (a passwd at login should not calibrate again). */
static int passwd_kdf(const struct home *h, int dir_fd, unsigned old_index, struct keyslot_kdf *ret) {
        _cleanup_free_ char *text = NULL;
        int r;

        if (h->kdf)
                return kdf_settings(h, ret);
        r = fscrypt_slot_read(dir_fd, old_index, &text);
        if (r >= 0)
                r = keyslot_inspect(text, strlen(text), ret);
        if (r < 0)
                return kdf_settings(h, ret);
        return 0;
}

static int fscrypt_passwd(struct home *h, const char *old_password, const char *new_password,
                          int (*commit)(struct home *h)) {
        _cleanup_close_ int dir_fd = -1, parent_fd = -1;
        _cleanup_secret_ struct secret *key = NULL;
        struct fscrypt_identifier id, got;
        struct keyslot_kdf kdf;
        unsigned old_index, new_index = 0;
        int r, present;

        r = open_dir(h->record->image_path, &dir_fd);
        if (r >= 0)
                r = open_parent(h, &parent_fd);
        if (r >= 0)
                r = get_policy(dir_fd, h->record->image_path, &id);
        if (r >= 0)
                r = open_slot(dir_fd, old_password, &old_index, &key);
        if (r < 0)
                return r;
        present = fscrypt_key_present(dir_fd, &id);
        if (present < 0)
                return log_error_errno(present, "cannot query the home's key");
        /* The record holds one password, so any other slot is left over from an
         * interrupted passwd: drop it before it fills the xattr space. */
        r = drop_slots_except(dir_fd, old_index);
        if (r < 0)
                return r;
        r = passwd_kdf(h, dir_fd, old_index, &kdf);
        if (r >= 0)
                r = add_slot(dir_fd, &kdf, key, new_password, &new_index);
        if (r < 0)
                return r;
        /* The embedded record lives inside the tree: it needs the key while written. */
        if (!present) {
                r = fscrypt_add_key(parent_fd, key, &got);
                if (r < 0) {
                        (void) fscrypt_slot_remove(dir_fd, new_index);
                        return log_error_errno(r, "cannot add the home's key to the file system");
                }
        }
        r = commit(h);
        if (!present) {
                close(dir_fd); /* not busy: nothing of the tree may stay open */
                dir_fd = -1;
                (void) fscrypt_remove_key(parent_fd, &id);
                if ((dir_fd = open(h->record->image_path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                        return log_error_errno(-errno, "cannot open %s", h->record->image_path);
        }
        if (r < 0) {
                (void) fscrypt_slot_remove(dir_fd, new_index);
                return r;
        }
        return drop_slots_except(dir_fd, new_index);
}

static int fscrypt_remove(struct home *h) {
        return home_remove_tree(h->record->image_path);
}

const struct home_backend home_backend_fscrypt = {
        .storage = HOME_STORAGE_FSCRYPT,
        .create = fscrypt_create,
        .activate = fscrypt_activate,
        .deactivate = fscrypt_deactivate,
        .passwd = fscrypt_passwd,
        .lock = fscrypt_lock,
        .unlock = fscrypt_unlock,
        .is_locked = fscrypt_is_locked,
        .remove = fscrypt_remove,
};
